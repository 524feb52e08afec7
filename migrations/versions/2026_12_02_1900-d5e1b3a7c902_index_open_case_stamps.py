"""Index the open cases' stamps (status, id, version, definition_id), which the console's dashboard
reads on every visit to tell which cases changed: answered from the index alone, without walking
each case's serialized state on SQLite."""

from __future__ import annotations

from alembic import op

revision = "d5e1b3a7c902"
down_revision = "a7c3e9f1d2b4"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_instance_status_stamp", "instance", ["status", "id", "version", "definition_id"])


def downgrade() -> None:
    op.drop_index("ix_instance_status_stamp", table_name="instance")
