"""Private data (engine/queries/private_data.py): who may read what the process owners declare private."""

from __future__ import annotations

from pathlib import Path

import pytest

import engine
from engine.queries.private_data import hidden_kinds, names_hidden_everywhere, redact

TOML = """
[[private]]
name = "contact"
variables = ["contact", "contact_log"]
document_kinds = ["contact_letter"]
groups = ["front-office"]
users_named_by = ["case_officer.user"]
"""
CASE = {"contact": {"phone": "0"}, "contact_log": [], "case_officer": {"user": "olu"}, "outcome": "reached"}


@pytest.fixture
def rules(tmp_path: Path) -> tuple[engine.PrivateData, ...]:
    (tmp_path / "need_to_know.toml").write_text(TOML)
    return engine.load_private_data(tmp_path / "need_to_know.toml")


def test_the_groups_and_the_person_the_case_names_read_it(rules: tuple[engine.PrivateData, ...]) -> None:
    assert redact(rules, engine.Actor("fo", frozenset({"front-office"})), CASE) == CASE
    assert redact(rules, engine.Actor("olu"), CASE) == CASE
    assert redact(rules, engine.Actor.system("scheduler"), CASE) == CASE
    assert redact(rules, None, CASE) == CASE


def test_everyone_else_finds_it_missing(rules: tuple[engine.PrivateData, ...]) -> None:
    for actor in (engine.Actor("someone", frozenset({"panel"})), engine.Actor("admin", sees_all_cases=True),
                  engine.Actor("olu-impostor")):
        assert redact(rules, actor, CASE) == {"case_officer": {"user": "olu"}, "outcome": "reached"}
        assert hidden_kinds(rules, actor, CASE) == {"contact_letter"}


def test_a_task_s_variables_are_judged_on_the_case(rules: tuple[engine.PrivateData, ...]) -> None:
    shown = {"contact": {"phone": "0"}}
    assert redact(rules, engine.Actor("olu"), shown, case_variables=CASE) == shown
    assert redact(rules, engine.Actor("olu"), shown) == {}       # without the case: nobody named, hidden


def test_being_named_by_one_case_does_not_open_a_search_of_all(rules: tuple[engine.PrivateData, ...]) -> None:
    assert names_hidden_everywhere(rules, engine.Actor("olu")) == {"contact", "contact_log"}
    assert names_hidden_everywhere(rules, engine.Actor("fo", frozenset({"front-office"}))) == set()


@pytest.mark.parametrize("text, fault", [
    ("[[private]]\nvariables = ['x']\n", "groups or users_named_by"),
    ("[[private]]\nvariables = 'x'\ngroups = ['g']\n", "variables is a list"),
    ("[[private]]\nvariables = ['x']\ngroups = ['g']\nreaders = ['y']\n", "unknown keys"),
    ("[[private]\n", "need_to_know.toml"),
])
def test_a_faulty_file_is_refused(tmp_path: Path, text: str, fault: str) -> None:
    (tmp_path / "need_to_know.toml").write_text(text)
    with pytest.raises(engine.Invalid, match=fault):
        engine.load_private_data(tmp_path / "need_to_know.toml")


def test_the_partnership_s_declaration_loads() -> None:
    [family] = engine.load_private_data(Path(__file__).resolve().parents[2] / "bpmn" / "need_to_know.toml")
    assert "family_contact" in family.variables and family.groups == {"business-unit"}
    assert family.users_named_by == ("lead_reviewer.user",)
