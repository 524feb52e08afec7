"""Add task_candidate, an open task's candidate groups and users one row each (as Camunda's
ACT_RU_IDENTITYLINK), so that a group's task list and need-to-know read a primary key instead of
LIKE '%,X,%' over every open task; filled from user_task's packed ",a,b," columns, a batch of tasks
at a time (as engine.store.projection.candidate_rows does today: a revision never imports the engine)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "c9c96b773703"
down_revision = "5d8e1f3a7c94"
branch_labels = None
depends_on = None

BATCH = 1000
NAME_MAX = 255

user_task = sa.table("user_task", sa.column("id", sa.String), sa.column("candidate_groups", sa.Text),
                     sa.column("candidate_users", sa.Text))
task_candidate = sa.table("task_candidate", sa.column("kind", sa.String), sa.column("name", sa.String),
                          sa.column("task_id", sa.String))


def _rows(task: Any) -> list[dict[str, str]]:
    return [{"kind": kind, "name": name, "task_id": task.id}
            for kind, packed in (("group", task.candidate_groups), ("user", task.candidate_users))
            for name in dict.fromkeys(v for v in (packed or "").split(",") if v) if len(name) <= NAME_MAX]


def upgrade() -> None:
    op.create_table(
        "task_candidate",
        sa.Column("kind", sa.String(5), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("task_id", sa.String(36), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["user_task.id"], name="fk_task_candidate_task_id_user_task"),
        sa.PrimaryKeyConstraint("kind", "name", "task_id", name="pk_task_candidate"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_task_candidate_task_id", "task_candidate", ["task_id"])
    conn = op.get_bind()
    last = ""
    while True:
        batch = conn.execute(sa.select(user_task.c.id, user_task.c.candidate_groups, user_task.c.candidate_users)
                             .where(user_task.c.id > last).order_by(user_task.c.id).limit(BATCH)).all()
        if not batch:
            break
        if rows := [row for task in batch for row in _rows(task)]:
            conn.execute(task_candidate.insert(), rows)
        last = batch[-1].id


def downgrade() -> None:
    op.drop_index("ix_task_candidate_task_id", table_name="task_candidate")
    op.drop_table("task_candidate")
