"""engine.store.fast stores exactly what SQLAlchemy's own execute stores, in the same transaction."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

import engine
from engine.commands.instances import _latest
from engine.store import fast
from engine.store.dialects import _task_and_instance
from engine.store.tables import history_event
from tests.conftest import Deployer

_insert = history_event.insert()
_delete = history_event.delete().where(history_event.c.instance_id == sa.bindparam("b_instance"))
_raw = sa.text("SELECT instance_id, at, kind, actor, task_id, activity_id, details FROM history_event "
               "WHERE instance_id = :i")


def rows(at: datetime, instance_id: str) -> list[dict[str, object]]:
    return [{"instance_id": instance_id, "at": at, "kind": "task_created", "actor": "alice", "task_id": f"t{i}",
             "activity_id": "a", "details": {"name": "Décision", "n": i, "nested": [1, None]}} for i in range(3)]


def test_the_same_stored_values_as_sqlalchemy(db: engine.Database) -> None:
    at = engine.clock.now().replace(microsecond=123456)
    with db.write() as conn:
        conn.execute(_insert, rows(at, "by-sqlalchemy"))
        fast.execute(conn, _insert, rows(at, "by-fast"))
    with db.read() as conn:                   # compared as the driver returns them, not as SQLAlchemy reads them
        mine = [tuple(r)[1:] for r in conn.execute(_raw, {"i": "by-fast"})]
        theirs = [tuple(r)[1:] for r in conn.execute(_raw, {"i": "by-sqlalchemy"})]
    assert mine == theirs and len(mine) == 3


def test_rolled_back_with_the_transaction_and_counts_rows(db: engine.Database) -> None:
    at = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    with pytest.raises(RuntimeError), db.write() as conn:
        fast.execute(conn, _insert, rows(at, "gone"))
        raise RuntimeError("the command failed")
    with db.write() as conn:
        assert fast.execute(conn, _delete, {"b_instance": "gone"}) == 0
        fast.execute(conn, _insert, rows(at, "kept"))
        assert fast.execute(conn, _delete, {"b_instance": "kept"}) == 3


def test_a_missing_value_is_an_error_not_a_null(db: engine.Database) -> None:
    with pytest.raises((KeyError, sa.exc.StatementError), match="b_instance"), db.write() as conn:
        fast.execute(conn, _delete, {"instance": "x"})


def test_a_select_reads_what_sqlalchemy_reads(db: engine.Database, deploy: Deployer, actor: engine.Actor) -> None:
    deploy("one_user_task.bpmn")
    started = engine.start_instance(db, actor=actor, definition_key="one_user_task", variables={"n": [1, "é"]})
    with db.write() as conn:
        for statement, params in ((_task_and_instance["user"], {"id": started.user_tasks[0].id}),
                                  (_latest, {"key": "one_user_task"}),             # LIMIT 1: a constant
                                  (_latest, {"key": "no-such-process"})):
            mine = fast.first(conn, statement, params)
            theirs = conn.execute(statement, params).first()
            assert mine == (tuple(theirs) if theirs is not None else None)
            if theirs is not None:
                assert list(mine._fields) == list(theirs._fields)
    assert mine is None
    with db.read() as conn:
        row = fast.first(conn, _task_and_instance["user"], {"id": started.user_tasks[0].id})
    assert row.variables == {"n": [1, "é"]} and row.started_at.year >= 2026 and row.has_incidents is False
