"""`reviewflow migrate KEY --from V --to W [--instance ID...] [--map OLD=NEW] [--dry-run]` on a real
database file, as a process owner runs it on the server."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

import engine
from api.cli import main
from tests.migration_of_cases.conftest import DATA
from tests.test_cli import run as run_process

OWNER = engine.Actor.system("pat")
Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    """The command line in this process (as `reviewflow …` runs it, faster than a process each time)."""

    def _run(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
        monkeypatch.setenv("REVIEWFLOW_DATABASE_URL", f"sqlite:///{db}")
        capsys.readouterr()
        code = main(list(args))
        out = capsys.readouterr()
        return subprocess.CompletedProcess(list(args), code, out.out, out.err)

    return _run


def two_versions(path: Path) -> tuple[engine.Database, dict[str, str]]:
    db = engine.Database(f"sqlite:///{path}")
    engine.upgrade(db)
    for name in ("case_review_v1.bpmn", "case_review_v2.bpmn"):
        engine.deploy(db, files=[engine.DeployFile("case_review.bpmn", (DATA / name).read_bytes())], actor=OWNER)
    cases = {p: engine.start_instance(db, actor=OWNER, definition_id="case_review:1", variables={"path": p}).id
             for p in ("review", "reports", "wait")}
    return db, cases


def test_dry_run_then_migrate_then_map_the_renamed_activity(tmp_path: Path, run: Run) -> None:
    path = tmp_path / "cli.db"
    db, cases = two_versions(path)
    dry = run_process("migrate", "case_review", "--from", "1", "--to", "2", "--dry-run", db=path)   # the real command
    assert dry.returncode == 1, dry.stderr                                   # one case cannot move
    lines = dry.stdout.splitlines()
    assert lines[0] == "case_review:1 → case_review:2"
    assert "unmapped (cases waiting there cannot move): review" in lines
    assert f"refused   {cases['review']}  review: There is no migration instruction for this instance's activity" \
        in lines
    assert f"can move  {cases['wait']}  (at cooling_off)" in lines
    assert lines[-1] == "2 cases can move, 1 cannot (dry run: nothing changed)"
    assert {i.definition_id for i in engine.list_instances(db, limit=10).data} == {"case_review:1"}

    moved = run("migrate", "case_review", "--from", "1", "--to", "2", "--instance", cases["wait"],
                "--instance", cases["review"], "--actor", "pat", db=path)
    assert moved.returncode == 1 and f"moved     {cases['wait']}  (at cooling_off)" in moved.stdout
    assert engine.get_instance(db, instance_id=cases["wait"]).definition_id == "case_review:2"
    assert engine.get_instance(db, instance_id=cases["reports"]).definition_id == "case_review:1"   # not named

    mapped = run("migrate", "case_review", "--from", "1", "--to", "2", "--map", "review=review_case",
                 "--format", "json", db=path)
    assert mapped.returncode == 0, mapped.stdout + mapped.stderr
    report = json.loads(mapped.stdout)
    assert (report["moved"], report["refused"]) == (2, 0)
    assert {i.definition_id for i in engine.list_instances(db, limit=10).data} == {"case_review:2"}
    [event] = [e for e in engine.instance_history(db, instance_id=cases["wait"]) if e.kind == "instance_migrated"]
    assert event.actor == "pat"
    audit = engine.case_audit(db, instance_id=cases["review"])
    assert [(e.action, e.target, e.client) for e in audit][-1] == (
        "reviewflow migrate", "case_review:1 -> case_review:2", "cli")
    db.dispose()


def test_a_plan_that_cannot_work_or_an_unknown_version_is_trouble(tmp_path: Path, run: Run) -> None:
    path = tmp_path / "cli.db"
    db, _ = two_versions(path)
    wrong = run("migrate", "case_review", "--from", "1", "--to", "2", "--map", "review=gather_reports", db=path)
    assert wrong.returncode == 2 and "nothing moved: correct the plan" in wrong.stdout
    assert "'review' is a HumanTask but 'gather_reports' is a ExternalServiceTask" in wrong.stdout
    missing = run("migrate", "case_review", "--from", "1", "--to", "7", db=path)
    assert missing.returncode == 2 and "no process definition with id case_review:7" in missing.stderr
    assert run("migrate", "case_review", "--from", "1", "--to", "2", "--map", "review", db=path).returncode == 2
    assert {i.definition_id for i in engine.list_instances(db, limit=10).data} == {"case_review:1"}
    db.dispose()
