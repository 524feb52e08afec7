"""Add timer_start: when each deployed timer start event next starts an instance."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "8d3f1e6b2a90"
down_revision = "5b2e8f4a1c77"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "timer_start",
        sa.Column("definition_key", sa.String(255), nullable=False),
        sa.Column("activity_id", sa.String(255), nullable=False),
        sa.Column("definition_id", sa.String(300), nullable=False),
        sa.Column("next_due_at", sa.DateTime(timezone=True)),
        sa.Column("interval_seconds", sa.Float),
        sa.Column("cycles_left", sa.Integer),
        sa.ForeignKeyConstraint(["definition_id"], ["definition.id"], name="fk_timer_start_definition_id_definition"),
        sa.PrimaryKeyConstraint("definition_key", "activity_id", name="pk_timer_start"),
    )
    with op.batch_alter_table("timer_start") as batch:
        batch.create_index("ix_timer_start_next_due_at", ["next_due_at"])


def downgrade() -> None:
    op.drop_table("timer_start")
