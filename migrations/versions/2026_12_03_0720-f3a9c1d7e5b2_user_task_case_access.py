"""A user task can open itself alone, not its whole case (the diagram's caseAccess=task): the open
task's row says so, for need-to-know. Every existing task keeps opening its case."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "f3a9c1d7e5b2"
down_revision = "e8f2a4c6b913"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("user_task") as batch:
        batch.add_column(sa.Column("case_access", sa.Boolean, nullable=False, server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table("user_task") as batch:
        batch.drop_column("case_access")
