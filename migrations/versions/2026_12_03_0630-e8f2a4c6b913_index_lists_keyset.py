"""Index every instance-list sort with the id as its tie-break (started, status + started, status +
suspended + started for Camunda's `active`, business key, updated), so a page of the list comes from an index in order at 100,000 cases and more; and the
history by actor and kind, which need-to-know reads for every list a person without "sees all cases"
asks for."""

from __future__ import annotations

from alembic import op

revision = "e8f2a4c6b913"
down_revision = "d5e1b3a7c902"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_instance_started_at_id", "instance", ["started_at", "id"])
    op.create_index("ix_instance_status_started_at_id", "instance", ["status", "started_at", "id"])
    op.drop_index("ix_instance_status_started_at", table_name="instance")
    op.create_index("ix_instance_status_suspended_started_at_id", "instance", ["status", "suspended", "started_at", "id"])
    op.create_index("ix_instance_business_key_id", "instance", ["business_key", "id"])
    op.drop_index("ix_instance_business_key", table_name="instance")
    op.create_index("ix_instance_updated_at_id", "instance", ["updated_at", "id"])
    op.create_index("ix_history_event_actor_kind_instance_id", "history_event", ["actor", "kind", "instance_id"])


def downgrade() -> None:
    op.drop_index("ix_history_event_actor_kind_instance_id", table_name="history_event")
    op.drop_index("ix_instance_updated_at_id", table_name="instance")
    op.create_index("ix_instance_business_key", "instance", ["business_key"])
    op.drop_index("ix_instance_business_key_id", table_name="instance")
    op.create_index("ix_instance_status_started_at", "instance", ["status", "started_at"])
    op.drop_index("ix_instance_status_suspended_started_at_id", table_name="instance")
    op.drop_index("ix_instance_status_started_at_id", table_name="instance")
    op.drop_index("ix_instance_started_at_id", table_name="instance")
