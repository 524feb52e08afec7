"""Claim, unclaim and complete user tasks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsonschema
import sqlalchemy as sa

from engine import clock
from engine.errors import Invalid, TaskClaimedByOther, TaskNotFound, VariablesInvalid
from engine.queries.rows import user_task_info
from engine.queries.visibility import can_see_task
from engine.results import Actor, InstanceInfo, UserTaskInfo
from engine.store.command import check_variables, find_task, instance_command, lock_instance
from engine.store.database import Database
from engine.store.tables import history_event, user_task


def complete_user_task(db: Database, *, actor: Actor, task_id: str,
                       variables: Mapping[str, Any] | None = None) -> InstanceInfo:
    """Complete an open user task with its form data and run the instance to its next wait state.

    Raises: TaskNotFound, TaskNotOpen (completed or cancelled meanwhile), TaskClaimedByOther,
    VariablesInvalid (names the field that fails the task's form schema).
    """
    data = check_variables(variables or {})
    with instance_command(db, actor=actor, task_id=task_id) as cmd:
        if not can_see_task(cmd.conn, actor, task_id):
            raise TaskNotFound(f"user task {task_id} does not exist")
        assignee = cmd.task_row.assignee
        if assignee is not None and assignee != actor.id:
            raise TaskClaimedByOther(f"user task {task_id} is claimed by someone else")
        task = cmd.user_task(task_id)
        form_key = getattr(task.task_spec, "form_key", None)
        if form_key:
            validate_form(db.specs.forms(cmd.definition_id).get(form_key), data)
        task.data.update(data)
        task.run()
        cmd.finished_tasks.add(task_id)
        cmd.record("task_completed", task_id=task_id, activity_id=task.task_spec.bpmn_id)
    return cmd.result  # type: ignore[return-value]


def validate_form(schema: dict[str, Any] | None, data: dict[str, Any]) -> None:
    if schema is None:
        return
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(data), key=lambda e: list(e.path))
    if not errors:
        return
    error = errors[0]
    field = ".".join(str(p) for p in error.absolute_path)
    if error.validator == "required":
        missing = [name for name in error.validator_value if name not in (error.instance or {})]
        field = ".".join(filter(None, [field, missing[0] if missing else ""]))
        raise VariablesInvalid(f"field '{field}' is required", field=field)
    raise VariablesInvalid(f"field '{field or '(form)'}': {error.message}", field=field or None)


def claim_user_task(db: Database, *, actor: Actor, task_id: str, assignee: str | None = None) -> UserTaskInfo:
    """Make `assignee` (default: the actor) the one who works on the task.

    Raises: TaskNotFound, TaskNotOpen, TaskClaimedByOther, Invalid.
    """
    who = assignee if assignee is not None else actor.id
    if not who or len(who) > 255:
        raise Invalid("assignee must be 1 to 255 characters")
    return _set_assignee(db, actor=actor, task_id=task_id, assignee=who)


def unclaim_user_task(db: Database, *, actor: Actor, task_id: str) -> UserTaskInfo:
    """Give the task back to its candidates. Only its assignee may.

    Raises: TaskNotFound, TaskNotOpen, TaskClaimedByOther.
    """
    return _set_assignee(db, actor=actor, task_id=task_id, assignee=None)


def _set_assignee(db: Database, *, actor: Actor, task_id: str, assignee: str | None) -> UserTaskInfo:
    now = clock.now()
    with db.write() as conn:
        owner = find_task(conn, task_id, "user")
        if not can_see_task(conn, actor, task_id):
            raise TaskNotFound(f"user task {task_id} does not exist")
        lock_instance(conn, db, owner.instance_id)            # serialize with completion
        row = conn.execute(sa.select(user_task).where(user_task.c.id == task_id)).one()
        if assignee is None:
            if row.assignee is not None and row.assignee != actor.id:
                raise TaskClaimedByOther(f"user task {task_id} is claimed by someone else")
            kind = "task_unclaimed"
        else:
            if row.assignee is not None and row.assignee != assignee:
                raise TaskClaimedByOther(f"user task {task_id} is already claimed by someone else")
            kind = "task_claimed"
        conn.execute(user_task.update().where(user_task.c.id == task_id)
                     .values(assignee=assignee, claimed_at=now if assignee else None))
        conn.execute(history_event.insert(), [{
            "instance_id": row.instance_id, "at": now, "kind": kind, "actor": actor.id, "task_id": task_id,
            "activity_id": row.activity_id, "details": {"assignee": assignee} if assignee else None}])
        updated = conn.execute(sa.select(user_task).where(user_task.c.id == task_id)).one()
        return user_task_info(updated)
