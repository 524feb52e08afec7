"""The schema comes from Alembic only: up from empty, down to nothing, and no drift from the models."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import engine
from engine.store.tables import metadata
from tests.conftest import BACKENDS, BPMN, create_schema, drop_schema, pg_database


@pytest.fixture(params=BACKENDS)
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[engine.Database]:
    if request.param == "sqlite":
        db = engine.Database(f"sqlite:///{tmp_path / 'empty.db'}")
        yield db
        db.dispose()
    else:
        schema = f"rf_migr_{uuid.uuid4().hex[:8]}"
        create_schema(schema)
        db = pg_database(schema)
        yield db
        db.dispose()
        drop_schema(schema)


def _connect_args(db: engine.Database) -> dict[str, Any]:
    """A second handle on the same database (the same search path on PostgreSQL)."""
    if db.dialect.name == "sqlite":
        return {}
    with db.engine.connect() as conn:
        return {"options": f"-csearch_path={conn.exec_driver_sql('SHOW search_path').scalar()}"}


def tables(db: engine.Database) -> set[str]:
    with db.engine.connect() as conn:
        return set(sa.inspect(conn).get_table_names()) - {"alembic_version"}


def test_upgrade_from_empty_check_downgrade_to_base_and_up_again(empty_db: engine.Database) -> None:
    assert engine.current_revision(empty_db) is None
    engine.upgrade(empty_db)
    assert tables(empty_db) == set(metadata.tables)
    assert engine.current_revision(empty_db) is not None
    engine.check_schema(empty_db)                       # autogenerate finds no difference
    engine.downgrade(empty_db, "base")
    assert tables(empty_db) == set()
    assert engine.current_revision(empty_db) is None
    engine.upgrade(empty_db)
    engine.check_schema(empty_db)


def test_a_model_change_without_migration_is_detected(empty_db: engine.Database) -> None:
    engine.upgrade(empty_db)
    extra = sa.Column("unmigrated", sa.Integer)
    metadata.tables["instance"].append_column(extra)
    try:
        with pytest.raises(Exception, match="unmigrated|New upgrade operations"):
            engine.check_schema(empty_db)
    finally:
        metadata.tables["instance"]._columns.remove(extra)


def test_a_downgrade_that_would_drop_the_audit_trail_is_refused_unless_asked(empty_db: engine.Database) -> None:
    engine.upgrade(empty_db)
    engine.create_principal(empty_db, principal_id="alice", roles=["admin"])
    engine.append_audit(empty_db, actor="alice", action="GET /x", target="/x", status=200)
    assert engine.would_drop_audit(empty_db, "8d3f1e6b2a90") == {"audit_event": 1, "principal": 1}
    assert engine.would_drop_audit(empty_db, "e7b2c5d8a413") == {}        # later revisions keep them
    with pytest.raises(engine.Invalid, match="--drop-audit"):
        engine.downgrade(empty_db, "base")
    assert "audit_event" in tables(empty_db)
    engine.downgrade(empty_db, "base", drop_audit=True)
    assert tables(empty_db) == set()


def test_servers_starting_at_once_migrate_an_empty_database_once(empty_db: engine.Database) -> None:
    url = empty_db.url.replace("postgresql+psycopg://", "postgresql://")
    env = {**os.environ, "REVIEWFLOW_DATABASE_URL": url}
    if empty_db.dialect.name != "sqlite":
        env["PGOPTIONS"] = _connect_args(empty_db)["options"]
    starts = [subprocess.Popen([sys.executable, "-m", "api.cli", "db", "upgrade"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2]) for _ in range(3)]
    outcomes = [(p.wait(timeout=120), p.stderr.read()) for p in starts]   # type: ignore[union-attr]
    assert [code for code, _ in outcomes] == [0, 0, 0], outcomes
    assert engine.current_revision(empty_db) == engine.schema_head()
    engine.check_schema(empty_db)


def test_the_cli_says_what_a_downgrade_would_drop_and_refuses(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    db = engine.Database(url)
    engine.upgrade(db)
    engine.append_audit(db, actor="alice", action="GET /x", target="/x", status=200)
    db.dispose()
    env = {**os.environ, "REVIEWFLOW_DATABASE_URL": url}
    refused = subprocess.run([sys.executable, "-m", "api.cli", "db", "downgrade", "base"], env=env,
                             capture_output=True, text=True, cwd=Path(__file__).parents[2])
    assert refused.returncode == 2 and "1 rows of audit_event" in refused.stderr and "--drop-audit" in refused.stderr
    done = subprocess.run([sys.executable, "-m", "api.cli", "db", "downgrade", "base", "--drop-audit"], env=env,
                          capture_output=True, text=True, cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stderr


def test_history_events_of_task_only_tasks_are_marked_as_not_opening_their_case(empty_db: engine.Database) -> None:
    engine.upgrade(empty_db, "0b6d4e2f8a13")                 # before history_event.opens_case
    rows = [{"instance_id": f"case-{n}", "at": "2026-12-01 10:00:00", "kind": "task_completed", "actor": "r",
             "details": details} for n, details in enumerate(['{"case_access": "task"}', '{"assignee": "r"}', None])]
    with empty_db.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO history_event (instance_id, at, kind, actor, details) "
                             "VALUES (:instance_id, :at, :kind, :actor, :details)"), rows)
    engine.upgrade(empty_db)
    with empty_db.engine.connect() as conn:
        marks = dict(conn.execute(sa.text("SELECT instance_id, opens_case FROM history_event")).all())
    assert marks == {"case-0": False, "case-1": True, "case-2": True}


def test_the_variable_index_is_filled_from_every_case_s_variables(empty_db: engine.Database) -> None:
    from tests.engine.test_variable_index import LONG, in_step  # noqa: PLC0415

    engine.upgrade(empty_db)
    actor = engine.Actor("admin", frozenset({"case-review-group"}), sees_all_cases=True)
    bpmn = Path(__file__).parents[1] / "data" / "bpmn" / "one_user_task.bpmn"
    engine.deploy(empty_db, files=[engine.DeployFile("one_user_task.bpmn", bpmn.read_bytes())], actor=actor)
    case = engine.start_instance(empty_db, actor=actor, definition_key="one_user_task", variables={
        "child_age": 7, "ref": "CR-1", "urgent": True, "nothing": None, "agencies": ["police"], "note": LONG})
    instance = metadata.tables["instance"]
    with empty_db.engine.begin() as conn:                 # more cases than one batch of the fill
        row = dict(conn.execute(sa.select(instance).where(instance.c.id == case.id)).one()._mapping)
        conn.execute(instance.insert(), [{**row, "id": str(uuid.uuid4()), "unique_key": None,
                                          "variables": {"n": n, "ref": f"CR-{n}", "flag": n % 2 == 0}}
                                         for n in range(2100)])
    engine.downgrade(empty_db, "2670d58db311")            # the table exists, empty
    with empty_db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM instance_variable")).scalar_one() == 0
    engine.upgrade(empty_db)
    with empty_db.engine.connect() as conn:
        ids = list(conn.execute(sa.select(instance.c.id)).scalars())
        assert conn.execute(sa.text("SELECT count(*) FROM instance_variable")).scalar_one() == 6 + 3 * 2100
    for instance_id in [case.id, *ids[::97]]:
        in_step(empty_db, instance_id)
    assert [i.id for i in engine.list_instances(empty_db, variables=[engine.VariableFilter("ref", "eq", "CR-2099")])
            .data] != []
    engine.check_schema(empty_db)


def test_an_index_added_to_an_analysed_sqlite_database_is_analysed_too(tmp_path: Path) -> None:
    """SQLite's planner, given statistics for every index but a new one, takes the new one for the
    most selective: with (status, definition_key) unanalysed, a page of completed cases at 100,000
    cases sorted 90,000 of them (203 ms) instead of walking the status and start-date index. Without
    any statistics it ranks the indexes alike; so the revision analyses its index only where the
    others have statistics, and creates none where there were none."""
    db = engine.Database(f"sqlite:///{tmp_path / 'analysed.db'}")
    try:
        engine.upgrade(db, "7e2a9c4b6d18")
        system = engine.Actor.system("bu")
        engine.deploy(db, files=[engine.DeployFile("one_user_task.bpmn", (BPMN / "one_user_task.bpmn").read_bytes())],
                      actor=system)
        for _ in range(3):
            engine.start_instance(db, actor=system, definition_key="one_user_task")
        with db.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
        engine.upgrade(db)
        with db.engine.connect() as conn:
            analysed = {r[0] for r in conn.exec_driver_sql("SELECT idx FROM sqlite_stat1")}
        assert {"ix_instance_status_definition_key", "ix_instance_status_started_at_id"} <= analysed
    finally:
        db.dispose()
    fresh = engine.Database(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        engine.upgrade(fresh)
        with fresh.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'").first() is None
    finally:
        fresh.dispose()
