"""The schema comes from Alembic only: up from empty, down to nothing, and no drift from the models."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

import engine
from engine.store.tables import metadata
from tests.conftest import BACKENDS, create_schema, drop_schema, pg_database


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
