"""Create the engine's tables: definitions, instances, open user and external tasks, incidents, history."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0a1c5e7d9b01"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "definition",
        sa.Column("id", sa.String(300), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("name", sa.String(255)),
        sa.Column("resource_name", sa.String(255), nullable=False),
        sa.Column("xml", sa.Text, nullable=False),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.Column("forms", sa.JSON, nullable=False),
        sa.Column("calls", sa.JSON, nullable=False),
        sa.Column("deployment_id", sa.String(36), nullable=False),
        sa.Column("deployed_at", TS, nullable=False),
        sa.Column("deployed_by", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_definition"),
        sa.UniqueConstraint("key", "version", name="uq_definition_key_version"),
    )
    op.create_table(
        "instance",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("definition_id", sa.String(300), nullable=False),
        sa.Column("definition_key", sa.String(255), nullable=False),
        sa.Column("business_key", sa.String(255)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("state_format", sa.Integer, nullable=False),
        sa.Column("variables", sa.JSON, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("next_timer_at", TS),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("started_by", sa.String(255), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("ended_at", TS),
        sa.Column("end_reason", sa.Text),
        sa.ForeignKeyConstraint(["definition_id"], ["definition.id"], name="fk_instance_definition_id_definition"),
        sa.PrimaryKeyConstraint("id", name="pk_instance"),
    )
    with op.batch_alter_table("instance") as batch:
        batch.create_index("ix_instance_definition_key", ["definition_key"])
        batch.create_index("ix_instance_business_key", ["business_key"])
        batch.create_index("ix_instance_status", ["status"])
        batch.create_index("ix_instance_next_timer_at", ["next_timer_at"])

    op.create_table(
        "user_task",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("instance_id", sa.String(36), nullable=False),
        sa.Column("definition_id", sa.String(300), nullable=False),
        sa.Column("definition_key", sa.String(255), nullable=False),
        sa.Column("business_key", sa.String(255)),
        sa.Column("activity_id", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255)),
        sa.Column("documentation", sa.Text),
        sa.Column("lane", sa.String(255)),
        sa.Column("candidate_groups", sa.Text, nullable=False),
        sa.Column("candidate_users", sa.Text, nullable=False),
        sa.Column("assignee", sa.String(255)),
        sa.Column("form_key", sa.String(255)),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("claimed_at", TS),
        sa.ForeignKeyConstraint(["instance_id"], ["instance.id"], name="fk_user_task_instance_id_instance"),
        sa.PrimaryKeyConstraint("id", name="pk_user_task"),
    )
    with op.batch_alter_table("user_task") as batch:
        batch.create_index("ix_user_task_instance_id", ["instance_id"])
        batch.create_index("ix_user_task_business_key", ["business_key"])
        batch.create_index("ix_user_task_assignee", ["assignee"])

    op.create_table(
        "external_task",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("instance_id", sa.String(36), nullable=False),
        sa.Column("definition_id", sa.String(300), nullable=False),
        sa.Column("definition_key", sa.String(255), nullable=False),
        sa.Column("business_key", sa.String(255)),
        sa.Column("activity_id", sa.String(255), nullable=False),
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("extension_properties", sa.JSON, nullable=False),
        sa.Column("variables", sa.JSON, nullable=False),
        sa.Column("worker_id", sa.String(255)),
        sa.Column("lock_expires_at", TS),
        sa.Column("retries", sa.Integer),
        sa.Column("error_message", sa.Text),
        sa.Column("error_details", sa.Text),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["instance.id"], name="fk_external_task_instance_id_instance"),
        sa.PrimaryKeyConstraint("id", name="pk_external_task"),
    )
    with op.batch_alter_table("external_task") as batch:
        batch.create_index("ix_external_task_instance_id", ["instance_id"])
        batch.create_index("ix_external_task_fetch", ["topic", "retries", "lock_expires_at", "priority"])

    op.create_table(
        "incident",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("instance_id", sa.String(36), nullable=False),
        sa.Column("task_id", sa.String(36), nullable=False),
        sa.Column("activity_id", sa.String(255), nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("resolved_at", TS),
        sa.Column("resolved_by", sa.String(255)),
        sa.ForeignKeyConstraint(["instance_id"], ["instance.id"], name="fk_incident_instance_id_instance"),
        sa.PrimaryKeyConstraint("id", name="pk_incident"),
    )
    with op.batch_alter_table("incident") as batch:
        batch.create_index("ix_incident_instance_id", ["instance_id"])

    op.create_table(
        "history_event",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("instance_id", sa.String(36), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("task_id", sa.String(36)),
        sa.Column("activity_id", sa.String(255)),
        sa.Column("details", sa.JSON),
        sa.PrimaryKeyConstraint("id", name="pk_history_event"),
    )
    with op.batch_alter_table("history_event") as batch:
        batch.create_index("ix_history_event_instance_id", ["instance_id"])
        batch.create_index("ix_history_event_task_id", ["task_id"])


def downgrade() -> None:
    op.drop_table("history_event")
    op.drop_table("incident")
    op.drop_table("external_task")
    op.drop_table("user_task")
    op.drop_table("instance")
    op.drop_table("definition")
