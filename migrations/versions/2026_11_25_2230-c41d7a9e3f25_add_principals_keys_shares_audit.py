"""Add principals and their API keys, case shares, and the hash-chained audit trail."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "c41d7a9e3f25"
down_revision = "8d3f1e6b2a90"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "principal",
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column("display_name", sa.String(255)),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("roles", sa.JSON, nullable=False),
        sa.Column("groups", sa.JSON, nullable=False),
        sa.Column("organisation", sa.String(255)),
        sa.Column("topics", sa.JSON),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("disabled_at", TS),
        sa.PrimaryKeyConstraint("id", name="pk_principal"),
    )
    op.create_table(
        "api_key",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("principal_id", sa.String(255), nullable=False),
        sa.Column("prefix", sa.String(32), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255)),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("revoked_at", TS),
        sa.ForeignKeyConstraint(["principal_id"], ["principal.id"], name="fk_api_key_principal_id_principal"),
        sa.PrimaryKeyConstraint("id", name="pk_api_key"),
        sa.UniqueConstraint("prefix", name="uq_api_key_prefix"),
    )
    op.create_table(
        "case_share",
        sa.Column("instance_id", sa.String(36), nullable=False),
        sa.Column("group_name", sa.String(255), nullable=False),
        sa.Column("shared_by", sa.String(255), nullable=False),
        sa.Column("shared_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["instance.id"], name="fk_case_share_instance_id_instance"),
        sa.PrimaryKeyConstraint("instance_id", "group_name", name="pk_case_share"),
    )
    op.create_table(
        "audit_event",
        sa.Column("seq", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("action", sa.String(255), nullable=False),
        sa.Column("target", sa.String(1000), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("instance_id", sa.String(36)),
        sa.Column("client", sa.String(255)),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_event"),
    )
    with op.batch_alter_table("audit_event") as batch:
        batch.create_index("ix_audit_event_instance_id", ["instance_id"])
    with op.batch_alter_table("user_task") as batch:
        batch.add_column(sa.Column("organisation", sa.String(255)))


def downgrade() -> None:
    with op.batch_alter_table("user_task") as batch:
        batch.drop_column("organisation")
    with op.batch_alter_table("audit_event") as batch:
        batch.drop_index("ix_audit_event_instance_id")
    op.drop_table("audit_event")
    op.drop_table("case_share")
    op.drop_table("api_key")
    op.drop_table("principal")
