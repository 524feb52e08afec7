"""SQLite: move `variables` and `state` to the end of the `instance` row.

SQLite stores a row's columns in order, and a value too big for its page spills into a chain of
overflow pages that is walked to reach any column after it. With the serialized workflow (up to
250 kB for a completed LCSPR) in the middle of the row, a list of 50 cases read megabytes to get
their start dates. Each column is added at the end, filled, the old one dropped and the new one
renamed, inside the migration's transaction (foreign keys stay on: no table is dropped).

The table is rewritten twice (UPDATE, then DROP COLUMN): on a large database expect minutes and
free disk of about twice the table's size (docs/operations.md). PostgreSQL keeps large values out of
line (TOAST) whatever the column order, so nothing changes there. The downgrade leaves the order
as it is: the older code names its columns and does not mind.
"""

from __future__ import annotations

from alembic import op

revision = "0b6d4e2f8a13"
down_revision = "f3a9c1d7e5b2"
branch_labels = None
depends_on = None

# (column, its type, a default only for the ADD COLUMN of a NOT NULL column on rows that exist)
_LAST = (("variables", "JSON", "'{}'"), ("state", "TEXT", "''"))


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name, kind, default in _LAST:
        op.execute(f"ALTER TABLE instance ADD COLUMN {name}_moved {kind} NOT NULL DEFAULT {default}")
    op.execute("UPDATE instance SET " + ", ".join(f"{name}_moved = {name}" for name, _, _ in _LAST))
    for name, _, _ in _LAST:
        op.execute(f"ALTER TABLE instance DROP COLUMN {name}")
        op.execute(f"ALTER TABLE instance RENAME COLUMN {name}_moved TO {name}")


def downgrade() -> None:
    pass
