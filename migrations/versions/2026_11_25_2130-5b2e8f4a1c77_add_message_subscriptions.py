"""Add message_subscription (instances waiting for a message) and message_start (definitions a message starts)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "5b2e8f4a1c77"
down_revision = "0a1c5e7d9b01"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "message_subscription",
        sa.Column("task_id", sa.String(36), nullable=False),
        sa.Column("message_name", sa.String(255), nullable=False),
        sa.Column("instance_id", sa.String(36), nullable=False),
        sa.Column("activity_id", sa.String(255), nullable=False),
        sa.Column("business_key", sa.String(255)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["instance.id"],
                                name="fk_message_subscription_instance_id_instance"),
        sa.PrimaryKeyConstraint("task_id", "message_name", name="pk_message_subscription"),
    )
    with op.batch_alter_table("message_subscription") as batch:
        batch.create_index("ix_message_subscription_instance_id", ["instance_id"])
        batch.create_index("ix_message_subscription_message_name", ["message_name"])
    op.create_table(
        "message_start",
        sa.Column("message_name", sa.String(255), nullable=False),
        sa.Column("definition_key", sa.String(255), nullable=False),
        sa.Column("definition_id", sa.String(300), nullable=False),
        sa.Column("activity_id", sa.String(255), nullable=False),
        sa.ForeignKeyConstraint(["definition_id"], ["definition.id"], name="fk_message_start_definition_id_definition"),
        sa.PrimaryKeyConstraint("message_name", "definition_key", name="pk_message_start"),
    )


def downgrade() -> None:
    op.drop_table("message_start")
    op.drop_table("message_subscription")
