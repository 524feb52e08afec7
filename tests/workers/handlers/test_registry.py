"""The handler registry: every module in the package is imported and checked; one handler per topic."""

from __future__ import annotations

import itertools
import textwrap
from pathlib import Path

import pytest

from workers.handlers import discover
from workers.runtime import HandlerDefinitionError

_packages = itertools.count()

HEADER = """\
from dataclasses import dataclass
from datetime import timedelta
from workers.runtime import Complete, ExternalTask, handler
"""


def handler_module(topic: str, *, with_input: bool = True) -> str:
    text = HEADER + f'TOPIC = "{topic}"\nLOCK = timedelta(minutes=1)\n'
    if with_input:
        text += "@dataclass(frozen=True)\nclass Input:\n    case_ref: str\n"
    return text + "def handle(task, services):\n    return Complete()\n"


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """package({"module_name": source, ...}) → the name of a fresh importable package holding them."""
    monkeypatch.syspath_prepend(str(tmp_path))

    def make(modules: dict[str, str]) -> str:
        name = f"handlers_under_test_{next(_packages)}"
        root = tmp_path / name
        root.mkdir()
        (root / "__init__.py").write_text("")
        for module, source in modules.items():
            (root / f"{module}.py").write_text(textwrap.dedent(source))
        return name

    return make


def test_the_partnership_package_imports_cleanly() -> None:
    assert isinstance(discover(), list)


def test_every_module_is_found_sorted_by_topic(package) -> None:  # type: ignore[no-untyped-def]
    name = package({
        "rapid_review": handler_module("rapid-review"),
        "panel_formation": handler_module("panel-formation"),
        "_shared": "HELPER = True\n",  # helpers start with _ and are not read
        "reminders": HEADER + textwrap.dedent("""
            @handler(topic="send-reminder", lock=timedelta(seconds=30))
            def send_reminder(task, services):
                return Complete()
        """),
    })
    found = discover(name)
    assert [h.topic for h in found] == ["panel-formation", "rapid-review", "send-reminder"]
    assert found[0].name == f"{name}.panel_formation"


def test_two_handlers_of_one_topic_are_refused(package) -> None:  # type: ignore[no-untyped-def]
    name = package({"first": handler_module("rapid-review"), "second": handler_module("rapid-review")})
    with pytest.raises(HandlerDefinitionError, match="'rapid-review' has two handlers"):
        discover(name)


def test_a_module_without_input_is_refused(package) -> None:  # type: ignore[no-untyped-def]
    name = package({"rapid_review": handler_module("rapid-review", with_input=False)})
    with pytest.raises(HandlerDefinitionError, match=r"rapid_review: .*missing Input"):
        discover(name)


def test_a_module_that_is_no_handler_is_refused(package) -> None:  # type: ignore[no-untyped-def]
    name = package({"utilities": "def helper():\n    return 1\n"})
    with pytest.raises(HandlerDefinitionError, match="not a handler module"):
        discover(name)
