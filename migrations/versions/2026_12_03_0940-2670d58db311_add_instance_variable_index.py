"""Add instance_variable, the variable index (as Camunda's ACT_RU_VARIABLE) that filters on variables
read instead of every case's row (issue 16); the next revision fills it."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "2670d58db311"
down_revision = "1c7e9a3d5f20"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "instance_variable",
        sa.Column("instance_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("text_value", sa.String(200)),
        sa.Column("text_long", sa.Boolean, nullable=False),
        sa.Column("number_value", sa.Numeric(asdecimal=False)),
        sa.ForeignKeyConstraint(["instance_id"], ["instance.id"], name="fk_instance_variable_instance_id_instance"),
        sa.PrimaryKeyConstraint("instance_id", "name", name="pk_instance_variable"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_instance_variable_lookup", "instance_variable",
                    ["name", "kind", "text_long", "text_value", "number_value", "instance_id"])


def downgrade() -> None:
    op.drop_index("ix_instance_variable_lookup", table_name="instance_variable")
    op.drop_table("instance_variable")
