"""On SQLite a row's columns are stored in order, and a value too big for the page spills into a
chain of overflow pages that must be walked to reach any column after it. The serialized workflow
(up to 250 kB for a completed LCSPR) and the variables therefore sit last in `instance`, so lists,
counts and need-to-know checks read every other column from the row's first page."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

import engine
from engine.store.tables import metadata

ROOT = Path(__file__).resolve().parents[2]
DIAGRAM = ROOT / "tests" / "data" / "bpmn" / "one_user_task.bpmn"
ACTOR = engine.Actor.system("test")
BEFORE = "f3a9c1d7e5b2"                  # the last revision with the state in the middle of the row


def columns(db: engine.Database) -> list[str]:
    with db.engine.connect() as conn:
        return [c["name"] for c in sa.inspect(conn).get_columns("instance")]


def test_the_state_and_the_variables_are_the_last_columns_on_sqlite(tmp_path: Path) -> None:
    db = engine.Database(f"sqlite:///{tmp_path / 'layout.db'}")
    try:
        engine.upgrade(db)
        assert columns(db)[-2:] == ["variables", "state"]
    finally:
        db.dispose()


def test_moving_them_keeps_every_case_as_it_was(tmp_path: Path) -> None:
    db = engine.Database(f"sqlite:///{tmp_path / 'moved.db'}")
    try:
        engine.upgrade(db, BEFORE)
        assert columns(db)[-2:] != ["variables", "state"]
        case_id = _a_case_written_at_that_revision(db, tmp_path)
        engine.upgrade(db)
        assert columns(db)[-2:] == ["variables", "state"]
        engine.check_schema(db)
        moved = engine.get_instance(db, instance_id=case_id)
        assert moved.variables["case_reference"] == "CR-7"
        assert moved.variables["agencies"] == ["Police", "Health"]
        done = engine.complete_user_task(db, actor=ACTOR, task_id=moved.user_tasks[0].id,
                                         variables={"approved": True})
        assert done.status == "completed"
    finally:
        db.dispose()


def _a_case_written_at_that_revision(db: engine.Database, tmp_path: Path) -> str:
    """A case started by today's code, its rows copied into `db` (at an older revision) column by
    column, as that revision's code would have written them."""
    source = engine.Database(f"sqlite:///{tmp_path / 'source.db'}")
    try:
        engine.upgrade(source)
        engine.deploy(source, files=[engine.DeployFile(DIAGRAM.name, DIAGRAM.read_bytes())], actor=ACTOR)
        case = engine.start_instance(source, actor=ACTOR, definition_key="one_user_task",
                                     variables={"case_reference": "CR-7", "agencies": ["Police", "Health"]})
        old = sa.MetaData()
        with source.engine.connect() as read, db.engine.begin() as write:
            old.reflect(write)
            for table in metadata.sorted_tables:
                rows = [dict(r._mapping) for r in read.execute(sa.select(table))]
                if rows and table.name in old.tables:
                    target = old.tables[table.name]
                    write.execute(target.insert(), [{k: v for k, v in r.items() if k in target.c} for r in rows])
        return case.id
    finally:
        source.dispose()
