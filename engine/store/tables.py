"""The schema, as SQLAlchemy Core tables. Alembic migrations create it; `alembic check` keeps both equal."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from engine.store.packed import as_array, at_organisation

metadata = sa.MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

Timestamp = sa.DateTime(timezone=True)

definition = sa.Table(
    "definition", metadata,
    sa.Column("id", sa.String(300), primary_key=True),            # "<key>:<version>"
    sa.Column("key", sa.String(255), nullable=False),              # the BPMN process id
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("name", sa.String(255)),
    sa.Column("resource_name", sa.String(255), nullable=False),   # file it was deployed from
    sa.Column("xml", sa.Text, nullable=False),
    sa.Column("checksum", sa.String(64), nullable=False),          # sha256 of the XML and its forms
    sa.Column("forms", sa.JSON, nullable=False),                   # form key -> JSON Schema
    sa.Column("calls", sa.JSON, nullable=False),                   # called process id -> definition id
    sa.Column("deployment_id", sa.String(36), nullable=False),
    sa.Column("deployed_at", Timestamp, nullable=False),
    sa.Column("deployed_by", sa.String(255), nullable=False),
    sa.UniqueConstraint("key", "version"),
)

instance = sa.Table(
    "instance", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("definition_id", sa.String(300), sa.ForeignKey("definition.id"), nullable=False),
    sa.Column("definition_key", sa.String(255), nullable=False, index=True),
    sa.Column("business_key", sa.String(255)),
    sa.Column("status", sa.String(20), nullable=False),               # active | completed | cancelled
    sa.Column("state_format", sa.Integer, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),                 # bumped by every command
    sa.Column("next_timer_at", Timestamp, index=True),
    sa.Column("started_at", Timestamp, nullable=False),
    sa.Column("started_by", sa.String(255), nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Column("ended_at", Timestamp),
    sa.Column("end_reason", sa.Text),
    sa.Column("suspended", sa.Boolean, nullable=False, server_default=sa.false()),   # no completions, no timers
    sa.Column("unique_key", sa.String(600), unique=True),             # "key:business key" while open, where unique
    # the big values last: on SQLite a value that spills into overflow pages makes every column after
    # it a walk down that chain (migration 0b6d4e2f8a13)
    sa.Column("variables", sa.JSON, nullable=False),                  # projection, for reads and filters
    sa.Column("state", sa.Text, nullable=False),                      # the serialized workflow: the truth
    # lists: each sort column then the id (the tie-break), so a page is read from the index in order
    sa.Index("ix_instance_started_at_id", "started_at", "id"),
    sa.Index("ix_instance_status_started_at_id", "status", "started_at", "id"),
    sa.Index("ix_instance_status_suspended_started_at_id", "status", "suspended", "started_at", "id"),  # "active"
    sa.Index("ix_instance_business_key_id", "business_key", "id"),
    sa.Index("ix_instance_updated_at_id", "updated_at", "id"),
    sa.Index("ix_instance_status_next_timer_at", "status", "next_timer_at"),    # the timer scheduler
    # a count by status and process (the dashboard's "open Rapid Reviews") from the index alone
    sa.Index("ix_instance_status_definition_key", "status", "definition_key"),
    # the open cases' stamps (queries.casework.open_case_stamps) from the index alone (160 ms over
    # 10,000 cases from the table when the serialized state sat before `version`, a few ms from this)
    sa.Index("ix_instance_status_stamp", "status", "id", "version", "definition_id"),
)

# The variable index (as Camunda's ACT_RU_VARIABLE): one row per top-level name of instance.variables,
# written with it by every save (store.variable_index), so filters on variables read this table's
# indexes, never every case's row. A text keeps only its first 200 characters here (text_long says it
# was longer; filters recheck those against instance.variables): index entries stay far below
# PostgreSQL's btree limit (about 2.7 kB). A boolean is kind "boolean" with 1 or 0 in number_value.
instance_variable = sa.Table(
    "instance_variable", metadata,
    sa.Column("instance_id", sa.String(36), sa.ForeignKey("instance.id"), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("kind", sa.String(10), nullable=False),                 # text | number | boolean | null | other
    sa.Column("text_value", sa.String(200)),                          # a text, or its first 200 characters
    sa.Column("text_long", sa.Boolean, nullable=False),               # the text is longer than text_value
    sa.Column("number_value", sa.Numeric(asdecimal=False)),           # a number; a boolean's 1 or 0
    # one index serves every filter, `name = ? AND kind = ? AND value op ?` then the ids: a text's
    # rows by text_value, a number's (text_long false, text_value NULL) by number_value. One index and
    # no rowid on SQLite: a save that writes a variable dirties two B-trees, not four (bench.engine)
    sa.Index("ix_instance_variable_lookup", "name", "kind", "text_long", "text_value", "number_value", "instance_id"),
    sqlite_with_rowid=False,
)

def _task_place(*, business_key_index: bool) -> list[sa.Column[Any]]:
    """The columns that say where an open task stands: its id, case, process and activity."""
    return [
        sa.Column("id", sa.String(36), primary_key=True),             # the SpiffWorkflow task id
        sa.Column("instance_id", sa.String(36), sa.ForeignKey("instance.id"), nullable=False, index=True),
        sa.Column("definition_id", sa.String(300), nullable=False),
        sa.Column("definition_key", sa.String(255), nullable=False),
        sa.Column("business_key", sa.String(255), index=business_key_index),
        sa.Column("activity_id", sa.String(255), nullable=False),
    ]


user_task = sa.Table(
    "user_task", metadata,
    *_task_place(business_key_index=True),
    sa.Column("name", sa.String(255)),
    sa.Column("documentation", sa.Text),
    sa.Column("lane", sa.String(255)),
    sa.Column("candidate_groups", sa.Text, nullable=False),           # ",a,b," so LIKE '%,a,%' finds it
    sa.Column("candidate_users", sa.Text, nullable=False),
    sa.Column("assignee", sa.String(255), index=True),
    sa.Column("form_key", sa.String(255)),
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("claimed_at", Timestamp),
    sa.Column("organisation", sa.String(255)),                         # whose request it is (need-to-know)
    # false: the task's candidates see this task, not the whole case (the diagram's caseAccess=task)
    sa.Column("case_access", sa.Boolean, nullable=False, server_default=sa.true()),
)
# PostgreSQL only (SQLite scans the open tasks, docs/operations): a candidate's tasks found by name
# (store.packed), by organisation and by group at an organisation (an agency lead's), and the task
# lists' default order, which a page that matches many tasks walks and leaves after 50. SQLite has no
# statistics for its LIKE and would walk that order for a member who sees few tasks too, reading every
# open task.
for _packed in ("candidate_groups", "candidate_users"):
    sa.Index(f"ix_user_task_{_packed}_names", as_array(user_task.c[_packed]),
             postgresql_using="gin").ddl_if(dialect="postgresql")
sa.Index("ix_user_task_priority_created_at_id", user_task.c.priority.desc(), user_task.c.created_at,
         user_task.c.id).ddl_if(dialect="postgresql")
sa.Index("ix_user_task_organisation", user_task.c.organisation).ddl_if(dialect="postgresql")   # need-to-know
sa.Index("ix_user_task_candidate_groups_at_organisation",   # _table: the expression starts with a literal
         at_organisation(user_task.c.candidate_groups, user_task.c.organisation),
         postgresql_using="gin", _table=user_task).ddl_if(dialect="postgresql")

external_task = sa.Table(
    "external_task", metadata,
    *_task_place(business_key_index=False),
    sa.Column("topic", sa.String(255), nullable=False),
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("extension_properties", sa.JSON, nullable=False),
    sa.Column("variables", sa.JSON, nullable=False),                  # the data the task sees
    sa.Column("worker_id", sa.String(255)),                           # as the worker calls itself
    sa.Column("lock_owner", sa.String(255)),                          # the authenticated caller holding the lock
    sa.Column("lock_expires_at", Timestamp),
    sa.Column("retries", sa.Integer),                                 # null until the first failure
    sa.Column("error_message", sa.Text),
    sa.Column("error_details", sa.Text),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Index("ix_external_task_fetch", "topic", "retries", "lock_expires_at", "priority"),
)

incident = sa.Table(
    "incident", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("instance_id", sa.String(36), sa.ForeignKey("instance.id"), nullable=False, index=True),
    sa.Column("task_id", sa.String(36), nullable=False),
    sa.Column("activity_id", sa.String(255), nullable=False),
    sa.Column("type", sa.String(40), nullable=False),                 # failedExternalTask | failedTask | ...
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("resolved_at", Timestamp),
    sa.Column("resolved_by", sa.String(255)),
)

message_subscription = sa.Table(
    "message_subscription", metadata,
    sa.Column("task_id", sa.String(36), primary_key=True),            # the waiting task
    sa.Column("message_name", sa.String(255), primary_key=True, index=True),
    sa.Column("instance_id", sa.String(36), sa.ForeignKey("instance.id"), nullable=False, index=True),
    sa.Column("activity_id", sa.String(255), nullable=False),
    sa.Column("business_key", sa.String(255)),
    sa.Column("created_at", Timestamp, nullable=False),
)

message_start = sa.Table(
    "message_start", metadata,                                          # latest version of each key only
    sa.Column("message_name", sa.String(255), primary_key=True),
    sa.Column("definition_key", sa.String(255), primary_key=True),
    sa.Column("definition_id", sa.String(300), sa.ForeignKey("definition.id"), nullable=False),
    sa.Column("activity_id", sa.String(255), nullable=False),
)

timer_start = sa.Table(
    "timer_start", metadata,                                            # latest version of each key only
    sa.Column("definition_key", sa.String(255), primary_key=True),
    sa.Column("activity_id", sa.String(255), primary_key=True),
    sa.Column("definition_id", sa.String(300), sa.ForeignKey("definition.id"), nullable=False),
    sa.Column("next_due_at", Timestamp, index=True),                    # null: no more firings
    sa.Column("interval_seconds", sa.Float),                            # cycles: time between firings
    sa.Column("cycles_left", sa.Integer),                               # cycles: -1 without end
)

history_event = sa.Table(
    "history_event", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("instance_id", sa.String(36), nullable=False, index=True),
    sa.Column("at", Timestamp, nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("actor", sa.String(255), nullable=False),
    sa.Column("task_id", sa.String(36), index=True),
    sa.Column("activity_id", sa.String(255)),
    sa.Column("details", sa.JSON),
    # false for an event of a task that opens only itself (the diagram's caseAccess=task)
    sa.Column("opens_case", sa.Boolean, nullable=False, server_default=sa.true()),
    # need-to-know, "worked on": from this index alone
    sa.Index("ix_history_event_actor_kind_opens_case_instance_id", "actor", "kind", "opens_case", "instance_id"),
)


principal = sa.Table(
    "principal", metadata,                                             # a person or a worker
    sa.Column("id", sa.String(255), primary_key=True),
    sa.Column("display_name", sa.String(255)),
    sa.Column("kind", sa.String(20), nullable=False),                  # user | worker
    sa.Column("roles", sa.JSON, nullable=False),
    sa.Column("groups", sa.JSON, nullable=False),
    sa.Column("organisation", sa.String(255)),
    sa.Column("topics", sa.JSON),                                      # workers: the topics they may serve
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("disabled_at", Timestamp),
)

api_key = sa.Table(
    "api_key", metadata,                                               # only a hash of the secret is kept
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("principal_id", sa.String(255), sa.ForeignKey("principal.id"), nullable=False),
    sa.Column("prefix", sa.String(32), nullable=False, unique=True),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("name", sa.String(255)),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("revoked_at", Timestamp),
)

case_share = sa.Table(
    "case_share", metadata,
    sa.Column("instance_id", sa.String(36), sa.ForeignKey("instance.id"), primary_key=True),
    sa.Column("group_name", sa.String(255), primary_key=True),
    sa.Column("shared_by", sa.String(255), nullable=False),
    sa.Column("shared_at", Timestamp, nullable=False),
)

audit_event = sa.Table(
    "audit_event", metadata,                                           # append-only, hash-chained
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", Timestamp, nullable=False),
    sa.Column("actor", sa.String(255), nullable=False),
    sa.Column("action", sa.String(255), nullable=False),
    sa.Column("target", sa.String(1000), nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("instance_id", sa.String(36), index=True),
    sa.Column("client", sa.String(255)),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)


idempotency_key = sa.Table(
    "idempotency_key", metadata,                                       # retried requests answer as the first did
    sa.Column("scope", sa.String(255), primary_key=True),             # who sent it
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),          # of the request: method, path, body
    sa.Column("instance_id", sa.String(36)),                          # the case it changed
    sa.Column("status", sa.Integer),                                   # the answer, once stored
    sa.Column("content_type", sa.String(100)),
    sa.Column("body", sa.LargeBinary),
    sa.Column("created_at", Timestamp, nullable=False, index=True),
)


document = sa.Table(
    "document", metadata,                                              # files attached to a case or task
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("instance_id", sa.String(36), sa.ForeignKey("instance.id"), nullable=False, index=True),
    sa.Column("task_id", sa.String(36)),
    sa.Column("kind", sa.String(64)),
    sa.Column("filename", sa.String(255), nullable=False),
    sa.Column("content_type", sa.String(128), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=False),
    sa.Column("uploaded_by", sa.String(255), nullable=False),
    sa.Column("uploaded_at", Timestamp, nullable=False),
)


web_session = sa.Table(
    "web_session", metadata,                                           # only a hash of the token is kept
    sa.Column("id", sa.String(64), primary_key=True),                  # sha256 of the token
    sa.Column("principal_id", sa.String(255), nullable=False, index=True),
    sa.Column("via", sa.String(10), nullable=False),                   # key | oidc
    sa.Column("key_id", sa.String(36), sa.ForeignKey("api_key.id", ondelete="CASCADE")),
    sa.Column("roles", sa.JSON),                                       # oidc: the claims at sign-in
    sa.Column("groups", sa.JSON),
    sa.Column("organisation", sa.String(255)),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("last_seen_at", Timestamp, nullable=False),
    sa.Column("expires_at", Timestamp, nullable=False, index=True),
)
