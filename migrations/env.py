"""Alembic environment: runs against the connection the engine hands over, or REVIEWFLOW_DATABASE_URL."""

from __future__ import annotations

import warnings

from alembic import context

from engine.store.database import Database
from engine.store.tables import metadata

config = context.config

# tables.py declares the GIN indexes on a task's candidate names for PostgreSQL only (ddl_if); on
# SQLite, where they never exist, autogenerate would warn on every check that it cannot compare them
warnings.filterwarnings("ignore", message=r"autogenerate skipping metadata-specified expression-based index "
                        r"'ix_user_task_candidate_(groups_names|users_names|groups_at_organisation)'; dialect 'sqlite'")


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:                        # run from the alembic CLI: the server's own setting
        from api.settings import ServerSettings  # noqa: PLC0415
        url = ServerSettings().database_url
    db = Database(url)
    try:
        with db.engine.connect() as conn:
            _migrate(conn)
    finally:
        db.dispose()


def _migrate(connection) -> None:  # type: ignore[no-untyped-def]
    def for_this_database(obj, _name, kind, _reflected, _compare_to) -> bool:  # type: ignore[no-untyped-def]
        """An index declared for one database only (tables.py's `ddl_if`) is compared on that one."""
        only = getattr(obj, "_ddl_if", None) if kind == "index" else None
        return only is None or only.dialect is None or only.dialect == connection.dialect.name

    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                      compare_type=True, include_object=for_this_database)
    with context.begin_transaction():
        context.run_migrations()
    if connection.in_transaction():
        connection.commit()


run()
