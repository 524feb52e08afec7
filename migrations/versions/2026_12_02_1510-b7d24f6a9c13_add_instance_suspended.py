"""Add instance.suspended: a suspended case accepts no completions and fires no timers until resumed."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "b7d24f6a9c13"
down_revision = "a3c91e0d5b21"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("instance") as batch:
        batch.add_column(sa.Column("suspended", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("instance") as batch:
        batch.drop_column("suspended")
