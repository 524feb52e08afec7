"""PostgreSQL: GIN indexes on a task's candidate names read as arrays (and groups at an organisation), an
index in the task lists' order and one on the organisation (issue 16).

A group's task list, its count and a member's need-to-know used to read every open task, matching
`LIKE '%,group,%'` against the packed names: at 100,000 cases, 21,665 open tasks, three times per
request (the estimate, the count, the page). The queries now ask
`string_to_array(candidate_groups, ',') && ARRAY[...]` on PostgreSQL (engine.store.packed), which these
indexes answer with the matching tasks alone; ANALYZE gives the planner the names' frequencies. With
those, the planner also knows when a name is common enough to walk the lists' order (priority
descending, created, id) and stop after a page: 0.6 ms for the business unit's page, where reading its
3,334 tasks and sorting them took 5 to 8. An agency lead sees their groups' tasks of their organisation or
of none: a GIN index of each group joined to its task's organisation (store.packed.at_organisation)
answers that, with statistics of its own; taken apart, the planner multiplied the groups' share by the
organisations' and expected 28,000 tasks for a lead whose organisation had none, then walked all
216,660 open tasks in order for them (258 ms). An index on the organisation serves the lead's tasks
by name or assignment. Nothing on SQLite, which keeps the LIKE (docs/operations)."""

from __future__ import annotations

from alembic import op

revision = "7e2a9c4b6d18"
down_revision = "5d8e1f3a7c94"
branch_labels = None
depends_on = None

COLUMNS = ("candidate_groups", "candidate_users")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for column in COLUMNS:
        op.execute(f"CREATE INDEX IF NOT EXISTS ix_user_task_{column}_names ON user_task "
                   f"USING gin (string_to_array({column}, ','))")
    op.execute("CREATE INDEX IF NOT EXISTS ix_user_task_priority_created_at_id ON user_task "
               "(priority DESC, created_at, id)")
    op.execute("CREATE INDEX IF NOT EXISTS ix_user_task_organisation ON user_task (organisation)")
    op.execute("CREATE INDEX IF NOT EXISTS ix_user_task_candidate_groups_at_organisation ON user_task USING gin "
               "(string_to_array(replace(candidate_groups, ',', chr(31) || coalesce(organisation, '') || ','), ','))")
    op.execute("ANALYZE user_task")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_user_task_candidate_groups_at_organisation")
    op.execute("DROP INDEX IF EXISTS ix_user_task_organisation")
    op.execute("DROP INDEX IF EXISTS ix_user_task_priority_created_at_id")
    for column in COLUMNS:
        op.execute(f"DROP INDEX IF EXISTS ix_user_task_{column}_names")
