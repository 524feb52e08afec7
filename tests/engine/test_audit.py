"""A change's audit entry is an argument of the command and commits with it — on SQLite and on
PostgreSQL alike — and the chain stays sound, numbered without gaps."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

import engine
from engine.store.tables import audit_event
from tests.conftest import BPMN, Deployer
from tests.engine.test_concurrency import race


def entries(db: engine.Database) -> list[Any]:
    with db.read() as conn:
        return conn.execute(sa.select(audit_event).order_by(audit_event.c.seq)).all()


def audit(status: int = 200, **kwargs: Any) -> engine.Audit:
    return engine.Audit(action="POST /x", target="/x", client="127.0.0.1", status=status, **kwargs)


def test_the_entry_commits_with_the_change_and_names_the_instance(db: engine.Database, deploy: Deployer,
                                                                  actor: engine.Actor) -> None:
    deploy("one_user_task.bpmn")
    engine.append_audit(db, actor="before", action="GET /x", target="/x", status=200)
    written: list[bool] = []
    started = engine.start_instance(db, actor=actor, definition_key="one_user_task",
                                    audit=audit(201, on_written=lambda: written.append(True)))
    engine.complete_user_task(db, actor=actor, task_id=started.user_tasks[0].id)      # no audit given: none
    assert [(r.seq, r.actor, r.status, r.instance_id) for r in entries(db)] == [
        (1, "before", 200, None), (2, "alice", 201, started.id)]
    assert written == [True]
    engine.append_audit(db, actor="after", action="GET /x", target="/x", status=200)
    verified = engine.verify_audit(db)
    assert verified.ok and verified.checked == 3 and verified.head_seq == 3


def test_a_change_that_fails_leaves_no_entry(db: engine.Database, deploy: Deployer, actor: engine.Actor) -> None:
    deploy("one_user_task.bpmn")
    started = engine.start_instance(db, actor=actor, definition_key="one_user_task")
    task_id = started.user_tasks[0].id
    engine.complete_user_task(db, actor=actor, task_id=task_id)
    written: list[bool] = []
    with pytest.raises(engine.TaskNotOpen):
        engine.complete_user_task(db, actor=actor, task_id=task_id,
                                  audit=audit(on_written=lambda: written.append(True)))      # rolled back
    assert entries(db) == [] and written == []


def test_a_claim_is_a_change_with_its_entry(db: engine.Database, deploy: Deployer, actor: engine.Actor) -> None:
    deploy("one_user_task.bpmn")
    started = engine.start_instance(db, actor=actor, definition_key="one_user_task")
    engine.claim_user_task(db, actor=actor, task_id=started.user_tasks[0].id, audit=audit())
    assert [(r.actor, r.instance_id) for r in entries(db)] == [("alice", started.id)]
    kinds = [e.kind for e in engine.instance_history(db, instance_id=started.id)]
    assert kinds[-1] == "task_claimed"


def test_a_deployment_that_changes_nothing_is_audited_with_the_unchanged_status(db: engine.Database,
                                                                                deploy: Deployer) -> None:
    first = deploy("one_user_task.bpmn")
    again = engine.deploy(db, files=[engine.DeployFile("one_user_task.bpmn",
                                                       (BPMN / "one_user_task.bpmn").read_bytes())],
                          actor=engine.Actor.system("po"), audit=audit(201, status_if_unchanged=200))
    assert first.definitions[0].created and not again.definitions[0].created
    assert [r.status for r in entries(db)] == [200]


def test_commands_and_plain_appends_from_several_threads_keep_one_gapless_chain(
        db: engine.Database, deploy: Deployer, actor: engine.Actor) -> None:
    deploy("one_user_task.bpmn")

    def work(i: int) -> None:
        for n in range(4):
            if n % 2:
                engine.append_audit(db, actor=f"reader-{i}", action="GET /x", target=f"/x/{n}", status=200)
            else:
                engine.start_instance(db, actor=actor, definition_key="one_user_task", audit=audit(201))

    assert all(r is None for r in race(4, work))
    verified = engine.verify_audit(db)
    assert verified.ok and verified.checked == 16
    assert [r.seq for r in entries(db)] == list(range(1, 17))


def test_an_entry_per_case_a_read_touched(db: engine.Database) -> None:
    engine.append_audit(db, actor="alice", action="POST /message", target="/message", status=200,
                        instance_ids=["a", "b", "a"])
    assert [(r.instance_id, r.status) for r in entries(db)] == [("a", 200), ("b", 200)]
    assert engine.verify_audit(db).ok


@pytest.mark.parametrize("durability", ["fast", "full"])
def test_read_entries_chain_at_either_durability(db: engine.Database, durability: str) -> None:
    db.audit_fast = durability == "fast"
    for i in range(3):
        engine.append_audit(db, actor="alice", action="GET /x", target=f"/x/{i}", status=200)
    assert engine.verify_audit(db).checked == 3


def test_two_processes_on_one_database_extend_one_chain(db: engine.Database, reopen: Any) -> None:
    """A second process on the same database (a `reviewflow users add` while the server runs, two
    servers overlapping during a restart) appends in between: neither reuses a number."""
    other = reopen()
    for who in ("server", "cli", "server", "cli", "server"):
        engine.append_audit(db if who == "server" else other, actor=who, action="GET /x", target="/x", status=200)
    assert [(r.seq, r.actor) for r in entries(db)] == [
        (1, "server"), (2, "cli"), (3, "server"), (4, "cli"), (5, "server")]
    assert engine.verify_audit(db).ok
