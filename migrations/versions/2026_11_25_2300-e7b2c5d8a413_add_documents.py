"""Add document: files attached to a case or a task (IMRs, chronologies, reports, briefings)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "e7b2c5d8a413"
down_revision = "c41d7a9e3f25"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "document",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("instance_id", sa.String(36), nullable=False),
        sa.Column("task_id", sa.String(36)),
        sa.Column("kind", sa.String(64)),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(128), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("uploaded_by", sa.String(255), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["instance.id"], name="fk_document_instance_id_instance"),
        sa.PrimaryKeyConstraint("id", name="pk_document"),
    )
    with op.batch_alter_table("document") as batch:
        batch.create_index("ix_document_instance_id", ["instance_id"])


def downgrade() -> None:
    op.drop_table("document")
