"""Add idempotency_key (retried requests answer as the first did) and instance.unique_key (a business
key unique among a definition's open instances, where the definition asks for it)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "c9e85a1f3d47"
down_revision = "b7d24f6a9c13"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "idempotency_key",
        sa.Column("scope", sa.String(255), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("instance_id", sa.String(36), nullable=True),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("content_type", sa.String(100), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name="pk_idempotency_key"),
    )
    op.create_index("ix_idempotency_key_created_at", "idempotency_key", ["created_at"])
    with op.batch_alter_table("instance") as batch:
        batch.add_column(sa.Column("unique_key", sa.String(600), nullable=True))
        batch.create_unique_constraint("uq_instance_unique_key", ["unique_key"])


def downgrade() -> None:
    with op.batch_alter_table("instance") as batch:
        batch.drop_constraint("uq_instance_unique_key", type_="unique")
        batch.drop_column("unique_key")
    op.drop_index("ix_idempotency_key_created_at", table_name="idempotency_key")
    op.drop_table("idempotency_key")
