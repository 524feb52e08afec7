"""Claim, give, unclaim and complete user tasks.

Only a candidate of a task can become its assignee: someone the task names among its candidate
users, or a member of one of its candidate groups (of the task's organisation, when it has one).
An actor who manages tasks (a role grants it) may give a task it sees to another candidate — a
person known to the service — or take it back from whoever holds it, so a task is never stuck with
an assignee who cannot work it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsonschema
import sqlalchemy as sa

from engine.commands.variables import check_variables
from engine.errors import Invalid, NotACandidate, TaskClaimedByOther, TaskNotFound, TaskNotOpen, VariablesInvalid
from engine.queries.visibility import answer_for, can_see_task, exposed_names, is_candidate, task_only
from engine.results import Actor, InstanceInfo, UserTaskInfo
from engine.store.change import Audit, Change, IdempotencyKey, change
from engine.store.command import instance_command, lock_task_and_instance
from engine.store.database import Database
from engine.store.rows import user_task_info
from engine.store.tables import principal, user_task

MAX_ID = 255

_task = sa.select(user_task).where(user_task.c.id == sa.bindparam("id"))
_principal = sa.select(principal.c.id, principal.c.groups, principal.c.organisation, principal.c.disabled_at).where(
    principal.c.id == sa.bindparam("id"))


def complete_user_task(db: Database, *, actor: Actor, task_id: str, variables: Mapping[str, Any] | None = None,
                       audit: Audit | None = None, idempotency: IdempotencyKey | None = None) -> InstanceInfo:
    """Complete an open user task with its form data and run the instance to its next wait state.
    The answer shows what the task exposes (see queries.visibility.answer_for).

    Raises: TaskNotFound, TaskNotOpen (completed or cancelled meanwhile), TaskClaimedByOther,
    VariablesInvalid (names the field that fails the task's form schema).
    """
    data = check_variables(variables or {})
    with instance_command(db, actor=actor, task_id=task_id, audit=audit, idempotency=idempotency) as cmd:
        if not can_see_task(cmd.conn, actor, task_id):
            raise TaskNotFound(f"user task {task_id} does not exist")
        assignee = cmd.task_row.assignee
        if assignee is not None and assignee != actor.id:
            raise TaskClaimedByOther(f"user task {task_id} is claimed by someone else")
        task = cmd.user_task(task_id)
        form_key = getattr(task.task_spec, "form_key", None)
        schema = db.specs.forms(cmd.definition_id).get(form_key) if form_key else None
        validate_form(schema, data)
        exposed = exposed_names(task.task_spec, schema, db.organisation_variable)
        task.data.update(data)
        task.run()
        cmd.finished(task, "task_completed", case_access=task_only(task.task_spec))
    if actor.sees_all_cases:
        return answer_for(None, actor, cmd.result, exposed, db.private_data)
    with db.read() as conn:
        return answer_for(conn, actor, cmd.result, exposed, db.private_data)


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


def claim_user_task(db: Database, *, actor: Actor, task_id: str, assignee: str | None = None,
                    audit: Audit | None = None) -> UserTaskInfo:
    """Take the task (or, for an actor who manages tasks, give it to `assignee`). Refused when
    someone else holds it already.

    Raises: TaskNotFound, TaskNotOpen, TaskClaimedByOther, NotACandidate, Invalid.
    """
    return _assign(db, actor=actor, task_id=task_id, assignee=assignee or actor.id, audit=audit, take_over=False)


def assign_user_task(db: Database, *, actor: Actor, task_id: str, assignee: str | None,
                     audit: Audit | None = None) -> UserTaskInfo:
    """An actor who manages tasks gives the task to `assignee` — a candidate — whoever holds it now;
    None gives it back to its candidates.

    Raises: TaskNotFound, TaskNotOpen, NotACandidate (not a manager, or `assignee` is not a
    candidate), Invalid.
    """
    if not actor.manages_tasks:
        raise NotACandidate("only a task's managers may give it to someone else")
    return _assign(db, actor=actor, task_id=task_id, assignee=assignee, audit=audit, take_over=True)


def unclaim_user_task(db: Database, *, actor: Actor, task_id: str, audit: Audit | None = None) -> UserTaskInfo:
    """Give the task back to its candidates: its assignee may, and so may its managers.

    Raises: TaskNotFound, TaskNotOpen, TaskClaimedByOther.
    """
    return _assign(db, actor=actor, task_id=task_id, assignee=None, audit=audit, take_over=actor.manages_tasks)


def _assign(db: Database, *, actor: Actor, task_id: str, assignee: str | None, audit: Audit | None,
            take_over: bool) -> UserTaskInfo:
    if assignee is not None and (not assignee or len(assignee) > MAX_ID):
        raise Invalid(f"assignee must be 1 to {MAX_ID} characters")
    with change(db, actor=actor, audit=audit) as ch:
        lock_task_and_instance(ch, task_id, "user")            # serialize with completion
        row = ch.conn.execute(_task, {"id": task_id}).first()
        if row is None:
            raise TaskNotOpen(f"user task {task_id} is no longer open")
        if not can_see_task(ch.conn, actor, task_id):
            raise TaskNotFound(f"user task {task_id} does not exist")
        if row.assignee is not None and row.assignee not in (actor.id, assignee) and not take_over:
            raise TaskClaimedByOther(f"user task {task_id} is claimed by someone else")
        if assignee is not None:
            _require_candidate(ch, actor, row, assignee)
        if row.assignee == assignee:
            return user_task_info(row)                        # nothing to change
        ch.conn.execute(user_task.update().where(user_task.c.id == task_id)
                        .values(assignee=assignee, claimed_at=ch.now if assignee else None))
        kind = "task_unclaimed" if assignee is None else ("task_claimed" if assignee == actor.id else "task_assigned")
        ch.record(row.instance_id, kind, task_id=task_id, activity_id=row.activity_id, assignee=assignee,
                  previous=row.assignee if row.assignee not in (None, actor.id) else None,
                  case_access=None if row.case_access else "task")
        updated = ch.conn.execute(_task, {"id": task_id}).one()
    return user_task_info(updated)


def _require_candidate(ch: Change, actor: Actor, row: Any, assignee: str) -> None:
    if assignee == actor.id:
        if not is_candidate(row, actor.id, actor.groups, actor.organisation):
            raise NotACandidate(f"you are not a candidate for user task {row.id}: only its candidates may take it")
        return
    if not actor.manages_tasks:
        raise NotACandidate("only a task's managers may give it to someone else")
    person = ch.conn.execute(_principal, {"id": assignee}).first()
    if person is None or person.disabled_at is not None:
        raise Invalid(f"{assignee!r} is not a known, active user", field="assignee")
    if not is_candidate(row, person.id, person.groups or [], person.organisation):
        raise NotACandidate(f"{assignee!r} is not a candidate for user task {row.id}")
