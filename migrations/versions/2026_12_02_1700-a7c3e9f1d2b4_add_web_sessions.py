"""Add web_session: the console's sign-in sessions (only a hash of each token), bound to a key or
an identity provider's claims."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "a7c3e9f1d2b4"
down_revision = "c9e85a1f3d47"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_session",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("principal_id", sa.String(255), nullable=False),
        sa.Column("via", sa.String(10), nullable=False),
        sa.Column("key_id", sa.String(36)),
        sa.Column("roles", sa.JSON),
        sa.Column("groups", sa.JSON),
        sa.Column("organisation", sa.String(255)),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["key_id"], ["api_key.id"], name="fk_web_session_key_id_api_key", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_web_session"),
    )
    with op.batch_alter_table("web_session") as batch:
        batch.create_index("ix_web_session_principal_id", ["principal_id"])
        batch.create_index("ix_web_session_expires_at", ["expires_at"])


def downgrade() -> None:
    op.drop_table("web_session")
