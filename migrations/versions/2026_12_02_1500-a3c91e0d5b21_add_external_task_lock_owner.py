"""Add external_task.lock_owner: the authenticated caller holding a lock, not the worker id it sends."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "a3c91e0d5b21"
down_revision = "f1a9d3c6b7e2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("external_task") as batch:
        batch.add_column(sa.Column("lock_owner", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("external_task") as batch:
        batch.drop_column("lock_owner")
