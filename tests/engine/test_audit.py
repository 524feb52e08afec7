"""A change's audit entry rides on the change's own transaction (SQLite), and the chain stays sound."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

import engine
from engine.store.tables import audit_event
from tests.conftest import Deployer
from tests.engine.test_concurrency import race


def entries(db: engine.Database) -> list[Any]:
    with db.read() as conn:
        return conn.execute(sa.select(audit_event).order_by(audit_event.c.seq)).all()


def note_for(actor: str, *, task_id: str | None = None, status: int = 200) -> engine.AuditNote:
    return engine.AuditNote(lambda: {"actor": actor, "action": "POST /x", "target": "/x", "status": status,
                                     "client": "127.0.0.1", "task_id": task_id})


def test_the_entry_commits_with_the_change_once_and_names_the_instance(db: engine.Database, deploy: Deployer,
                                                                       actor: engine.Actor) -> None:
    deploy("one_user_task.bpmn")
    engine.append_audit(db, actor="before", action="GET /x", target="/x", status=200)
    note = note_for("alice", status=201)
    with engine.note_next_write(note):
        started = engine.start_instance(db, actor=actor, definition_key="one_user_task")
        engine.complete_user_task(db, actor=actor, task_id=started.user_tasks[0].id)   # a second write
    rows = entries(db)
    assert note.instance_id == started.id
    if not db.is_sqlite:             # PostgreSQL: the caller appends after the answer (see AuditNote)
        assert note.written_status is None and [r.actor for r in rows] == ["before"]
        return
    assert [(r.actor, r.status, r.instance_id) for r in rows] == [("before", 200, None),
                                                                  ("alice", 201, started.id)]
    assert note.written_status == 201 and note.instance_id == started.id
    engine.append_audit(db, actor="after", action="GET /x", target="/x", status=200)
    verified = engine.verify_audit(db)
    assert verified.ok and verified.checked == 3


def test_a_change_that_fails_leaves_no_entry_and_the_note_unwritten(db: engine.Database, deploy: Deployer,
                                                                   actor: engine.Actor) -> None:
    deploy("one_user_task.bpmn")
    started = engine.start_instance(db, actor=actor, definition_key="one_user_task")
    task_id = started.user_tasks[0].id
    engine.complete_user_task(db, actor=actor, task_id=task_id)
    note = note_for("alice", task_id=task_id)
    with engine.note_next_write(note), pytest.raises(engine.TaskNotOpen):
        engine.complete_user_task(db, actor=actor, task_id=task_id)                # rolled back
    assert note.written_status is None and entries(db) == []


def test_a_write_outside_any_command_finds_the_instance_by_its_task(db: engine.Database, deploy: Deployer,
                                                                    actor: engine.Actor) -> None:
    deploy("one_user_task.bpmn")
    started = engine.start_instance(db, actor=actor, definition_key="one_user_task")
    task_id = started.user_tasks[0].id
    note = note_for("bob", task_id=task_id)
    with engine.note_next_write(note):
        engine.claim_user_task(db, actor=actor, task_id=task_id)
    if db.is_sqlite:
        assert [(r.actor, r.instance_id) for r in entries(db)] == [("bob", started.id)]
        assert note.written_status == 200 and note.instance_id == started.id
    else:                            # PostgreSQL: the caller appends after the answer (see AuditNote)
        assert entries(db) == [] and note.written_status is None


def test_notes_and_plain_appends_from_several_threads_keep_one_chain(db: engine.Database, deploy: Deployer,
                                                                     actor: engine.Actor) -> None:
    deploy("one_user_task.bpmn")

    def work(i: int) -> None:
        for n in range(4):
            if n % 2:
                engine.append_audit(db, actor=f"reader-{i}", action="GET /x", target=f"/x/{n}", status=200)
            else:
                with engine.note_next_write(note_for(f"writer-{i}", status=201)):
                    engine.start_instance(db, actor=actor, definition_key="one_user_task")

    assert all(r is None for r in race(4, work))
    verified = engine.verify_audit(db)
    assert verified.ok
    assert verified.checked == (16 if db.is_sqlite else 8)


@pytest.mark.parametrize("durability", ["fast", "full"])
def test_an_entry_appended_on_its_own_does_not_carry_the_pending_note(db: engine.Database, durability: str) -> None:
    """A refused change writes nothing, so its entry is appended after the answer: only that entry."""
    db.audit_fast = durability == "fast"
    note = note_for("alice")
    with engine.note_next_write(note):
        engine.append_audit(db, actor="alice", action="POST /x", target="/x", status=409)
    assert [(r.actor, r.status) for r in entries(db)] == [("alice", 409)]
    assert note.written_status is None


def test_a_closed_note_rides_on_nothing(db: engine.Database, deploy: Deployer, actor: engine.Actor) -> None:
    """After the answer, a task the request left behind may still carry the note in its context."""
    deploy("one_user_task.bpmn")
    note = note_for("alice", status=201)
    note.closed = True
    with engine.note_next_write(note):
        engine.start_instance(db, actor=actor, definition_key="one_user_task")
    assert entries(db) == [] and note.written_status is None
