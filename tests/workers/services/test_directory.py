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
    (('[[people]]\nid = "luke"', '[[people]]\nid = "lara"'),
     r"\[\[people\]\] #5: id 'lara' is used twice \(also by \[\[people\]\] #4\)"),
    (('agency = "school"', 'agency = "academy"'), r"\[\[people\]\] #8: agency 'academy' is not the id of an agency"),
    (('roles = ["senior_manager"]\ninvolved_in = ["NB-TEST-2"]', 'roles = ["senoir_manager"]'),
     r"\[\[people\]\] #8: roles\[1\]: Input should be 'senior_manager', 'business_unit'"),
    (('statutory_partner = "icb"', 'statutory_partner = "ccg"'),
     r"\[\[agencies\]\] #2: statutory_partner: Input should be 'local_authority', 'icb' or 'police'"),
    (('email = "ina@icb.example"', 'email = "ina at icb"'), r"\[\[people\]\] #6: email: value is not a valid email"),
    (('meetings = 4', 'meetings = 5'), r"\[panel\]: meetings: Input should be 3 or 4"),
    (('meeting_minutes = 90', 'meeting_minutes = 90\ncolour = "blue"'), r"\[panel\]: colour: unknown key"),
    (('meeting_time = "10:00"', 'meeting_time = "25:00"'), r"\[panel\]: meeting_time: Input should be in a valid time"),
    (('also_known_as = ["Police"]', 'also_known_as = ["Health"]'), r"the name 'Health' is used by two agencies"),
    (('task_list_url = "https://', 'task_list_url = "ftp://'),
     r"\[partnership\]: task_list_url: URL scheme should be 'http' or 'https'"),
    (('available = false', 'available = "no"'), r"\[\[reviewers\]\] #2: available: Input should be a valid boolean"),
    (('name = "Northbridge Safeguarding Children Partnership"', ''), r"\[partnership\]: name is required"),
    (('[mail]\nfrom', '[mail.smtp]\nport = 25\n[mail]\nfrom'), r"\[mail.smtp\]: host is required"),
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


def test_every_mistake_is_named_at_once(tmp_path: Path) -> None:
    path = write_directory(tmp_path)
    path.write_text(path.read_text().replace('meetings = 4', 'meetings = 5').replace('available = false',
                                                                                    'available = 0'))
    with pytest.raises(DirectoryError) as raised:
        load_directory(path, environ=ENVIRONMENT)
    assert "[panel]: meetings" in str(raised.value) and "[[reviewers]] #2: available" in str(raised.value)


def test_secrets_cannot_be_written_in_the_file(tmp_path: Path) -> None:
    path = write_directory(tmp_path, national_panel_url="https://panel.example/submissions")
    path.write_text(path.read_text().replace('token_env = "TEST_PANEL_TOKEN"', 'token = "written-down"', 1))
    with pytest.raises(DirectoryError, match=r"\[national_panel\]: token: unknown key"):
        load_directory(path, environ=ENVIRONMENT)


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


def test_the_partnership_s_word_templates_folder_is_read(tmp_path: Path) -> None:
    path = write_directory(tmp_path)
    assert load_directory(path, environ=ENVIRONMENT).templates is None          # the defaults in bpmn/templates
    path.write_text(path.read_text() + '\n[documents]\ntemplates = "partnership-templates"\n')
    assert load_directory(path, environ=ENVIRONMENT).templates == Path("partnership-templates")
    path.write_text(path.read_text().replace('templates = "partnership-templates"', 'template = "x"'))
    with pytest.raises(DirectoryError, match=r"\[documents\]: template: unknown key"):
        load_directory(path, environ=ENVIRONMENT)
