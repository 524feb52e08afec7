"""Fill the variable index from every case's instance.variables, a batch of cases at a time; from
now on each save keeps it in step (engine.store.variable_index, whose rules this copies as they are
today: a revision never imports the engine)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "9b4e7c2d1a06"
down_revision = "2670d58db311"
branch_labels = None
depends_on = None

BATCH = 1000
PREFIX = 200
NAME_MAX = 255

instance = sa.table("instance", sa.column("id", sa.String), sa.column("variables", sa.JSON))
instance_variable = sa.table(
    "instance_variable", sa.column("instance_id", sa.String), sa.column("name", sa.String),
    sa.column("kind", sa.String), sa.column("text_value", sa.String), sa.column("text_long", sa.Boolean),
    sa.column("number_value", sa.Numeric(asdecimal=False)))


def _row(instance_id: str, name: str, value: Any) -> dict[str, Any]:
    kind, text, number = "other", None, None
    if value is None:
        kind = "null"
    elif isinstance(value, bool):
        kind, number = "boolean", int(value)
    elif isinstance(value, int):
        kind, number = "number", value if -2 ** 63 <= value < 2 ** 63 else float(value)
    elif isinstance(value, float):
        kind, number = "number", value
    elif isinstance(value, str):
        kind, text = "text", value[:PREFIX]
    return {"instance_id": instance_id, "name": name, "kind": kind, "text_value": text,
            "text_long": isinstance(value, str) and len(value) > PREFIX, "number_value": number}


def upgrade() -> None:
    conn = op.get_bind()
    last = ""
    while True:
        batch = conn.execute(sa.select(instance.c.id, instance.c.variables).where(instance.c.id > last)
                             .order_by(instance.c.id).limit(BATCH)).all()
        if not batch:
            break
        rows = [_row(r.id, name, value) for r in batch for name, value in (r.variables or {}).items()
                if len(name) <= NAME_MAX]
        if rows:
            conn.execute(instance_variable.insert(), rows)
        last = batch[-1].id


def downgrade() -> None:
    op.execute(instance_variable.delete())
