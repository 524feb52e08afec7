"""The partnership directory: the example loads; mistakes are refused at load, naming the file and key."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.workers.services.fakes import ENVIRONMENT, write_directory
from workers.runtime import Incident
from workers.services import DirectoryError, load_directory, resolve_directory_path

REPO = Path(__file__).resolve().parents[3]


def test_the_example_directory_loads_and_has_the_three_safeguarding_partners() -> None:
    directory = load_directory(REPO / "partnership.example.toml", environ={})
    assert directory.name == "Northbridge Safeguarding Children Partnership"
    assert {a.statutory_partner for a in directory.agencies} >= {"local_authority", "icb", "police"}
    assert directory.national_panel.url is None and directory.publishing.url is None and directory.smtp is None
    assert directory.outbox == Path("var/outbox") and directory.site == Path("var/site")
    assert directory.agency("police") is not None and directory.agency("HEALTH") is not None


def test_the_test_directory_loads(tmp_path: Path) -> None:
    directory = load_directory(write_directory(tmp_path), environ=ENVIRONMENT)
    assert [p.id for p in directory.people_with_role("senior_manager", "council")] == ["lara", "luke"]
    assert directory.people[3].is_involved_in(["nb-test-1"])            # any case
    assert directory.business_unit_emails() == ["una@scp.example"]


@pytest.mark.parametrize(("change", "message"), [
    (('[[people]]\nid = "luke"', '[[people]]\nid = "lara"'), r"\[\[people\]\] #5: id 'lara' is used twice"),
    (('agency = "school"', 'agency = "academy"'), r"agency 'academy' is not the id of an agency"),
    (('roles = ["senior_manager"]\ninvolved_in = ["NB-TEST-2"]', 'roles = ["senoir_manager"]'),
     r"unknown role\(s\) senoir_manager"),
    (('statutory_partner = "icb"', 'statutory_partner = "ccg"'), r"statutory_partner must be one of"),
    (('email = "ina@icb.example"', 'email = "ina at icb"'), r"\[\[people\]\] #6: email is not an email address"),
    (('meetings = 4', 'meetings = 5'), r"\[panel\]: meetings must be 3 or 4"),
    (('meeting_minutes = 90', 'meeting_minutes = 90\ncolour = "blue"'), r"\[panel\]: unknown key\(s\) colour"),
    (('also_known_as = ["Police"]', 'also_known_as = ["Health"]'), r"the name 'Health' is used by two agencies"),
    (('task_list_url = "https://', 'task_list_url = "ftp://'), r"task_list_url must start with http"),
    (('[partnership]', '[partnership'), r"not valid TOML"),
])
def test_mistakes_are_refused_at_load(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    path = write_directory(tmp_path)
    text = path.read_text()
    assert change[0] in text
    path.write_text(text.replace(change[0], change[1], 1))
    with pytest.raises(DirectoryError, match=message) as raised:
        load_directory(path, environ=ENVIRONMENT)
    assert str(path) in str(raised.value)
    assert isinstance(raised.value, Incident)                         # a person must fix it


def test_a_configured_endpoint_needs_its_token_in_the_environment(tmp_path: Path) -> None:
    path = write_directory(tmp_path, national_panel_url="https://panel.example/submissions")
    with pytest.raises(DirectoryError, match=r"\[national_panel\]: the token is read from the environment variable "
                                             "TEST_PANEL_TOKEN, which is not set"):
        load_directory(path, environ={})
    directory = load_directory(path, environ=ENVIRONMENT)
    assert directory.national_panel.token == ENVIRONMENT["TEST_PANEL_TOKEN"]
    assert ENVIRONMENT["TEST_PANEL_TOKEN"] not in repr(directory)       # secrets stay out of reprs


def test_the_directory_file_is_found_or_the_example_used_with_a_warning(tmp_path: Path,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(DirectoryError, match="no partnership directory"):
        resolve_directory_path(None, tmp_path)
    (tmp_path / "partnership.example.toml").write_text("")
    with caplog.at_level(logging.WARNING):
        assert resolve_directory_path(None, tmp_path) == tmp_path / "partnership.example.toml"
    assert "partnership.example.toml, a fictional partnership" in caplog.text
    (tmp_path / "partnership.toml").write_text("")
    assert resolve_directory_path(None, tmp_path) == tmp_path / "partnership.toml"
    assert resolve_directory_path(Path("partnership.toml"), tmp_path) == tmp_path / "partnership.toml"
    with pytest.raises(DirectoryError, match="does not exist"):
        resolve_directory_path(Path("elsewhere.toml"), tmp_path)
