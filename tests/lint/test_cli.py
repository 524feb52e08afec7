"""`reviewflow lint PATH...`: one line per problem, exit 1 on errors and 0 on warnings only, --format json."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

import engine
from api.cli import main
from tests.conftest import BPMN

ROOT = Path(__file__).parents[2]
LINT = BPMN / "lint"


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def lint(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """`reviewflow lint ARGS` in this process (the entry point's own main), with its output and status."""
    def run(*args: str, env: dict[str, str] | None = None) -> Done:
        with monkeypatch.context() as m:
            for name, value in (env or {}).items():
                m.setenv(name, value)
            status = main(["lint", *args])
        out = capsys.readouterr()
        return Done(status, out.out, out.err)
    return run


def test_errors_exit_1_with_one_line_per_problem(lint) -> None:  # type: ignore[no-untyped-def]
    done = lint(str(LINT / "many_problems.bpmn"), str(LINT / "unreachable.bpmn"))
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    path = str(LINT / "many_problems.bpmn")
    assert f"{path}:7: decide: error: has several outgoing flows, but f4, f5 have neither a condition nor is the " \
           "default flow: give each a condition, or mark one as the default" in lines
    assert f"{LINT / 'unreachable.bpmn'}:6: forgotten: error: cannot be reached from a start event: it never runs" \
        in lines
    assert len([line for line in lines if ": error: " in line]) == 6
    assert "2 files checked: 6 errors" in done.stderr


def test_warnings_only_exit_0(lint) -> None:  # type: ignore[no-untyped-def]
    done = lint(str(LINT / "unknown_topic.bpmn"))
    assert done.returncode == 0
    assert f"{LINT / 'unknown_topic.bpmn'}:5: task: warning: topic 'nobody-serves-this' has no handler" in done.stdout


def test_the_json_report_is_the_same_report_as_data(lint) -> None:  # type: ignore[no-untyped-def]
    done = lint(str(LINT / "many_problems.bpmn"), "--format", "json")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert (report["errors"], report["files"]) == (5, [str(LINT / "many_problems.bpmn")])
    first = report["problems"][0]
    assert first == {"severity": "error", "file": str(LINT / "many_problems.bpmn"), "line": 5, "element_id": "record",
                     "message": first["message"], "code": "form-missing", "related_ids": []}


def test_a_folder_is_linted_as_serve_deploys_it(lint) -> None:  # type: ignore[no-untyped-def]
    done = lint(str(ROOT / "bpmn"))
    assert done.returncode == 0, done.stdout
    assert done.stdout == ""
    files = len(list((ROOT / "bpmn").glob("*.bpmn"))) + len(list((ROOT / "bpmn" / "forms").glob("*.json")))
    assert f"{files} files checked: 0 errors, 0 warnings" in done.stderr


def test_a_path_that_does_not_exist_exits_2(lint) -> None:  # type: ignore[no-untyped-def]
    assert lint("nowhere.bpmn").returncode == 2


def test_with_database_it_knows_what_is_deployed(lint, tmp_path: Path, actor: engine.Actor) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'rf.db'}"
    parent = str(BPMN / "parent_calls_child.bpmn")
    assert lint(parent).returncode == 1                                  # child_process is nowhere
    assert lint(parent, "--database", env={"REVIEWFLOW_DATABASE_URL": url}).returncode == 2    # no database yet
    db = engine.Database(url)
    engine.upgrade(db)
    engine.deploy(db, files=[engine.DeployFile("child_process.bpmn", (BPMN / "child_process.bpmn").read_bytes())],
                  actor=actor)
    db.dispose()
    done = lint(parent, "--database", env={"REVIEWFLOW_DATABASE_URL": url})
    assert done.returncode == 0, done.stdout


def test_the_timer_minimum_comes_from_the_environment(lint) -> None:  # type: ignore[no-untyped-def]
    fast = str(LINT / "timer_cycle_too_fast.bpmn")                       # R/PT10S
    assert lint(fast).returncode == 1
    assert lint(fast, env={"REVIEWFLOW_MIN_TIMER_CYCLE": "PT5S"}).returncode == 0
