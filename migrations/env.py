"""Alembic environment: runs against the connection the engine hands over, or REVIEWFLOW_DATABASE_URL."""

from __future__ import annotations

from alembic import context

from engine.store.database import Database
from engine.store.tables import metadata

config = context.config


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
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()
    if connection.in_transaction():
        connection.commit()


run()
