"""Index instances by (status, started_at) for lists and (status, next_timer_at) for the timer scheduler."""

from __future__ import annotations

from alembic import op

revision = "f1a9d3c6b7e2"
down_revision = "e7b2c5d8a413"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("instance") as batch:
        batch.create_index("ix_instance_status_started_at", ["status", "started_at"])
        batch.create_index("ix_instance_status_next_timer_at", ["status", "next_timer_at"])


def downgrade() -> None:
    with op.batch_alter_table("instance") as batch:
        batch.drop_index("ix_instance_status_next_timer_at")
        batch.drop_index("ix_instance_status_started_at")
