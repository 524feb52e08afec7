"""External tasks: service tasks waiting for workers (the Camunda 7 external-task protocol's engine side).

Locks, retries and error details live on the external_task row, beside the instance state: taking
or extending a lock changes no workflow state, but it is a change like any other — it goes through
store.change (history event, audit entry, wake-ups). Completing, and BPMN errors, are instance
commands. A lock belongs to the authenticated caller that took it (`lock_owner`) as well as to the
worker id it sent: another key cannot report on the task, whatever worker id it sends.

Every state change locks the task row it changes (instance row first, then the task row, the order
every writer takes them in); a fetch takes task rows with SKIP LOCKED, so it never hands out a task
that a completion is removing, and never waits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from SpiffWorkflow.bpmn import BpmnEvent
from SpiffWorkflow.bpmn.specs.event_definitions import ErrorEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent

from engine import clock
from engine.bpmn import compat
from engine.commands.variables import check_variables
from engine.errors import Invalid, LockedByAnotherWorker, TaskNotFound
from engine.queries.filters import NAME
from engine.results import Actor, ExternalTaskInfo
from engine.store.change import Audit, Change, change
from engine.store.command import instance_command, lock_task_and_instance
from engine.store.database import Database
from engine.store.dialects import Dialect
from engine.store.incidents import open_incident, resolve_incidents
from engine.store.rows import aware, external_task_info
from engine.store.tables import external_task, instance

MAX_LOCK = timedelta(days=7)
MAX_LOCK_MS = int(MAX_LOCK.total_seconds() * 1000)
MAX_RETRIES = 2**31 - 1          # Camunda's int
MAX_ERROR_MESSAGE = 666          # Camunda's cap
MAX_TASKS = 100


@dataclass(frozen=True)
class TopicRequest:
    """One topic a worker asks for, with Camunda's filters."""

    name: str
    lock_duration_ms: int
    variables: list[str] | None = None                   # None: all variables
    process_variables: dict[str, Any] = field(default_factory=dict)   # equality filter
    business_key: str | None = None
    definition_keys: list[str] | None = None
    definition_ids: list[str] | None = None


@dataclass(frozen=True)
class LockedTask:
    task: ExternalTaskInfo
    variables: dict[str, Any]
    error_details: str | None


@dataclass(frozen=True)
class FetchResult:
    tasks: list[LockedTask]
    next_available_at: datetime | None     # when a locked or backing-off task of these topics frees up


_suspended_case = sa.exists().where(instance.c.id == external_task.c.instance_id, instance.c.suspended.is_(True))


def _fetchable(now: datetime) -> Any:
    """Unlocked (or the lock expired), retries left, and not in a suspended case."""
    return sa.and_(sa.or_(external_task.c.lock_expires_at.is_(None), external_task.c.lock_expires_at <= now),
                   sa.or_(external_task.c.retries.is_(None), external_task.c.retries > 0), ~_suspended_case)


def _variable_equals(dialect: Dialect, name: str, value: Any) -> Any:
    """`variables[name] == value` in SQL, of the same JSON kind (objects and lists: compared in
    Python after, see _matches)."""
    if not NAME.match(name):
        raise Invalid(f"processVariables name {name!r} is not a variable name")
    field = dialect.json_field(external_task.c.variables, name)
    if value is None:
        return field.is_null
    if isinstance(value, bool):
        return field.boolean == value
    if isinstance(value, int | float):
        return field.number == value
    if isinstance(value, str):
        return field.text == value
    return field.exists


def _topic_clause(dialect: Dialect, t: TopicRequest) -> Any:
    clause = [external_task.c.topic == t.name]
    if t.business_key is not None:
        clause.append(external_task.c.business_key == t.business_key)
    if t.definition_keys is not None:
        clause.append(external_task.c.definition_key.in_(t.definition_keys))
    if t.definition_ids is not None:
        clause.append(external_task.c.definition_id.in_(t.definition_ids))
    clause += [_variable_equals(dialect, k, v) for k, v in t.process_variables.items()]
    return sa.and_(*clause)


def _matches(row: Any, topic: TopicRequest) -> bool:
    variables = row.variables or {}
    return all(k in variables and variables[k] == v and type(variables[k]) is type(v)
               for k, v in topic.process_variables.items())


def fetch_and_lock(db: Database, *, worker_id: str, topics: list[TopicRequest], max_tasks: int, actor: Actor,
                   use_priority: bool = False, audit: Audit | None = None) -> FetchResult:
    """Lock up to `max_tasks` fetchable tasks of these topics for `worker_id` of `actor`; never waits.
    Every filter is applied in the query, before the limit. On PostgreSQL candidate rows are taken
    with FOR UPDATE SKIP LOCKED, so concurrent fetches never lock the same task and never wait on
    each other. Raises: Invalid.
    """
    if not worker_id or len(worker_id) > 255:
        raise Invalid("workerId is required (at most 255 characters)")
    max_tasks = min(max_tasks, MAX_TASKS)
    if max_tasks < 1 or not topics:
        return FetchResult([], None)
    for t in topics:
        if not 0 < t.lock_duration_ms <= MAX_LOCK_MS:
            raise Invalid(f"lockDuration of topic {t.name!r} must be between 1 ms and {MAX_LOCK.days} days")
    by_name = {t.name: t for t in topics}
    hidden = _private_names(db)
    locked: list[LockedTask] = []
    with change(db, actor=actor, audit=audit) as ch:
        now = ch.now
        query = sa.select(external_task).where(sa.or_(*[_topic_clause(db.dialect, t) for t in topics]),
                                               _fetchable(now))
        order = [external_task.c.priority.desc()] if use_priority else []
        query = query.order_by(*order, external_task.c.created_at, external_task.c.id).limit(max_tasks * 2)
        for row in ch.conn.execute(db.dialect.for_update(query, skip_locked=True, of=external_task)):
            topic = by_name[row.topic]
            if not _matches(row, topic) or hidden & set(topic.process_variables):
                continue
            expires = now + timedelta(milliseconds=topic.lock_duration_ms)
            ch.conn.execute(external_task.update().where(external_task.c.id == row.id)
                            .values(worker_id=worker_id, lock_owner=actor.id, lock_expires_at=expires))
            ch.record(row.instance_id, "external_task_locked", task_id=row.id, activity_id=row.activity_id,
                      worker_id=worker_id)
            info = external_task_info(SimpleNamespace(**{**row._asdict(), "worker_id": worker_id,
                                                         "lock_owner": actor.id, "lock_expires_at": expires}))
            variables = _without_private(hidden, row.variables or {})
            if topic.variables is not None:
                variables = {k: v for k, v in variables.items() if k in topic.variables}
            locked.append(LockedTask(info, variables, row.error_details))
            if len(locked) >= max_tasks:
                break
        next_at = None
        if not locked:
            next_at = ch.conn.execute(sa.select(sa.func.min(external_task.c.lock_expires_at)).where(
                external_task.c.topic.in_(list(by_name)), external_task.c.lock_expires_at > now,
                sa.or_(external_task.c.retries.is_(None), external_task.c.retries > 0))).scalar_one_or_none()
    return FetchResult(locked, aware(next_at))


def _require_holder(row: Any, task_id: str, worker_id: str, actor: Actor) -> None:
    """Only the worker holding the lock — the same worker id, sent with the same key — may report
    on a task. The refusal does not say who holds it."""
    owner = getattr(row, "lock_owner", None)
    if row.worker_id != worker_id or (owner is not None and owner != actor.id):
        raise LockedByAnotherWorker(f"External task {task_id} cannot be reported by worker '{worker_id}': "
                                    "it is not locked by this worker")


def _locked(ch: Change, task_id: str) -> Any:
    """The task's row, with its instance and itself locked. Raises TaskNotFound."""
    _, row = lock_task_and_instance(ch, task_id, "external")
    if row is None:
        raise TaskNotFound(f"External task with id {task_id} does not exist")
    return row


def complete_external_task(db: Database, *, task_id: str, worker_id: str, actor: Actor,
                           variables: Mapping[str, Any] | None = None,
                           local_variables: Mapping[str, Any] | None = None, audit: Audit | None = None) -> None:
    """A worker finished the task: merge its variables and run the instance on.

    Raises: TaskNotFound (unknown, finished, or cancelled meanwhile — e.g. by an interrupting timer),
    LockedByAnotherWorker, VariablesInvalid.
    """
    data = check_variables({**(local_variables or {}), **(variables or {})})
    with instance_command(db, actor=actor, task_id=task_id, task_kind="external", audit=audit) as cmd:
        _require_holder(cmd.task_row, task_id, worker_id, actor)
        task = cmd.external_task(task_id)
        task.data.update(data)
        task.complete()
        cmd.finished(task, "external_task_completed", worker_id=worker_id)
        cmd.resolve_incidents(reason="completed", task_id=task_id)


def handle_failure(db: Database, *, task_id: str, worker_id: str, actor: Actor, error_message: str | None,
                   error_details: str | None, retries: int, retry_timeout_ms: int, audit: Audit | None = None) -> None:
    """Record a failed attempt. `retries` is the worker's count of attempts left (Camunda semantics):
    at 0 or below an incident opens and the task is no longer fetchable; otherwise it becomes
    fetchable again after `retry_timeout_ms`.

    Raises: TaskNotFound, LockedByAnotherWorker, Invalid.
    """
    if retries is None or retry_timeout_ms is None or retry_timeout_ms < 0:
        raise Invalid("retries and a retryTimeout of 0 or more are required")
    if retry_timeout_ms > MAX_LOCK_MS or retries > MAX_RETRIES:
        raise Invalid(f"retryTimeout must be at most {MAX_LOCK.days} days and retries at most {MAX_RETRIES}")
    message = (error_message or "external task failed")[:MAX_ERROR_MESSAGE]
    retries = max(retries, 0)
    with change(db, actor=actor, audit=audit) as ch:
        row = _locked(ch, task_id)
        _require_holder(row, task_id, worker_id, actor)
        ch.conn.execute(external_task.update().where(external_task.c.id == task_id).values(
            retries=retries, error_message=message, error_details=error_details,
            lock_expires_at=ch.now + timedelta(milliseconds=retry_timeout_ms)))
        ch.record(row.instance_id, "external_task_failed", task_id=task_id, activity_id=row.activity_id,
                  worker_id=worker_id, retries=retries)
        if retries == 0:
            open_incident(ch, instance_id=row.instance_id, task_id=task_id, activity_id=row.activity_id,
                          type_="failedExternalTask", message=message)
        ch.wake_workers(row.topic)


def handle_bpmn_error(db: Database, *, task_id: str, worker_id: str, actor: Actor, error_code: str,
                      error_message: str | None = None, variables: Mapping[str, Any] | None = None,
                      audit: Audit | None = None) -> None:
    """A worker reports a business error. An error boundary event on this task whose code matches
    catches it (the variables go with it); if none does, an incident opens — unlike Camunda 7,
    a failed step never passes silently.

    Raises: TaskNotFound, LockedByAnotherWorker, Invalid, VariablesInvalid.
    """
    if not error_code:
        raise Invalid("errorCode is required")
    data = check_variables(variables or {})
    with instance_command(db, actor=actor, task_id=task_id, task_kind="external", audit=audit) as cmd:
        row = cmd.task_row
        _require_holder(row, task_id, worker_id, actor)
        task = cmd.external_task(task_id)
        event = BpmnEvent(ErrorEventDefinition(error_code, code=error_code), payload=data)
        caught = False
        for boundary in task.parent.children:
            if isinstance(boundary.task_spec, BoundaryEvent) and boundary.task_spec.catches(boundary, event):
                boundary.task_spec.catch(boundary, event)
                compat.update(boundary)
                caught = True
                break
        if caught:
            cmd.finished(task, "external_task_bpmn_error", error_code=error_code, caught=True, worker_id=worker_id)
        else:
            cmd.record("external_task_bpmn_error", task_id=task_id, activity_id=task.task_spec.bpmn_id,
                       error_code=error_code, caught=False, worker_id=worker_id)
            message = f"BPMN error {error_code} was not caught" + (f": {error_message}" if error_message else "")
            cmd.conn.execute(external_task.update().where(external_task.c.id == task_id).values(
                retries=0, error_message=message[:MAX_ERROR_MESSAGE]))
            cmd.open_incident(task_id=task_id, activity_id=row.activity_id, type_="unhandledBpmnError",
                              message=message[:MAX_ERROR_MESSAGE])
            cmd.hold()


def extend_lock(db: Database, *, task_id: str, worker_id: str, actor: Actor, new_duration_ms: int,
                audit: Audit | None = None) -> None:
    """Extend this worker's lock from now. A lock that ran out can still be extended while no other
    worker has taken the task (as Camunda compares only the worker id).

    Raises: TaskNotFound, LockedByAnotherWorker (the task is not this worker's), Invalid.
    """
    if new_duration_ms is None or not 0 < new_duration_ms <= MAX_LOCK_MS:
        raise Invalid("newDuration must be a positive number of milliseconds, at most 7 days")
    with change(db, actor=actor, audit=audit) as ch:
        row = _locked(ch, task_id)
        _require_holder(row, task_id, worker_id, actor)
        ch.conn.execute(external_task.update().where(external_task.c.id == task_id)
                        .values(lock_expires_at=ch.now + timedelta(milliseconds=new_duration_ms)))
        ch.record(row.instance_id, "external_task_lock_extended", task_id=task_id, activity_id=row.activity_id,
                  worker_id=worker_id)


def unlock(db: Database, *, task_id: str, actor: Actor, audit: Audit | None = None) -> None:
    """Release the lock so any worker can fetch the task at once. A worker may release only its own
    locks; an actor who manages tasks, any. Raises: TaskNotFound, LockedByAnotherWorker."""
    with change(db, actor=actor, audit=audit) as ch:
        row = _locked(ch, task_id)
        if row.lock_owner not in (None, actor.id) and not actor.manages_tasks:
            raise LockedByAnotherWorker(f"External task {task_id} is not locked by this worker")
        ch.conn.execute(external_task.update().where(external_task.c.id == task_id)
                        .values(worker_id=None, lock_owner=None, lock_expires_at=None))
        ch.record(row.instance_id, "external_task_unlocked", task_id=task_id, activity_id=row.activity_id)
        ch.wake_workers(row.topic)


def set_retries(db: Database, *, task_id: str, retries: int, actor: Actor, audit: Audit | None = None) -> None:
    """Set the attempts left; above 0 this resolves the task's open incident and makes it fetchable.

    Raises: TaskNotFound, Invalid.
    """
    if retries is None or not 0 <= retries <= MAX_RETRIES:
        raise Invalid("retries must be 0 or more")
    with change(db, actor=actor, audit=audit) as ch:
        row = _locked(ch, task_id)
        values: dict[str, Any] = {"retries": retries}
        if retries > 0:
            values.update(lock_expires_at=None, worker_id=None, lock_owner=None)
        ch.conn.execute(external_task.update().where(external_task.c.id == task_id).values(**values))
        ch.record(row.instance_id, "external_task_retries_set", task_id=task_id, activity_id=row.activity_id,
                  retries=retries)
        if retries > 0:
            resolve_incidents(ch, instance_id=row.instance_id, reason="retries set", task_id=task_id)
            ch.wake_workers(row.topic)


def get_external_task(db: Database, *, task_id: str, topics: frozenset[str] | None = None) -> LockedTask:
    """Raises: TaskNotFound (also for a task of a topic outside `topics`, when given)."""
    with db.read() as conn:
        row = conn.execute(sa.select(external_task).where(external_task.c.id == task_id)).one_or_none()
    if row is None or (topics is not None and row.topic not in topics):
        raise TaskNotFound(f"External task with id {task_id} does not exist")
    return LockedTask(external_task_info(row), _without_private(_private_names(db), row.variables or {}),
                      row.error_details)


def list_external_tasks(db: Database, *, topic: str | None = None, worker_id: str | None = None,
                        locked: bool | None = None, with_retries_left: bool | None = None,
                        no_retries_left: bool | None = None, instance_id: str | None = None,
                        activity_id: str | None = None, definition_id: str | None = None,
                        business_key: str | None = None, task_id: str | None = None,
                        topics: frozenset[str] | None = None, limit: int = 50,
                        offset: int = 0) -> tuple[list[LockedTask], int]:
    """External tasks by Camunda's filters; only those of `topics` when given (a worker key's)."""
    now = clock.now()
    where: list[Any] = []
    for column, value in ((external_task.c.topic, topic), (external_task.c.worker_id, worker_id),
                          (external_task.c.instance_id, instance_id), (external_task.c.activity_id, activity_id),
                          (external_task.c.definition_id, definition_id),
                          (external_task.c.business_key, business_key), (external_task.c.id, task_id)):
        if value is not None:
            where.append(column == value)
    if topics is not None:
        where.append(external_task.c.topic.in_(sorted(topics)))
    if locked is True:
        where.append(external_task.c.lock_expires_at > now)
    elif locked is False:
        where.append(sa.or_(external_task.c.lock_expires_at.is_(None), external_task.c.lock_expires_at <= now))
    if with_retries_left:
        where.append(sa.or_(external_task.c.retries.is_(None), external_task.c.retries > 0))
    if no_retries_left:
        where.append(external_task.c.retries == 0)
    limit, offset = max(1, min(limit, 200)), max(0, offset)
    with db.read() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(external_task).where(*where)).scalar_one()
        rows = conn.execute(sa.select(external_task).where(*where)
                            .order_by(external_task.c.created_at, external_task.c.id).limit(limit).offset(offset))
        hidden = _private_names(db)
        return [LockedTask(external_task_info(r), _without_private(hidden, r.variables or {}), r.error_details)
                for r in rows], count


def _private_names(db: Database) -> set[str]:
    return {name for rule in db.private_data for name in rule.variables}


def _without_private(hidden: set[str], variables: dict[str, Any]) -> dict[str, Any]:
    """Workers never receive private data (queries.private_data, whose names are `hidden`): no topic
    needs it."""
    return {k: v for k, v in variables.items() if k not in hidden} if hidden else variables


__all__ = ["FetchResult", "LockedTask", "TopicRequest", "complete_external_task", "extend_lock",
           "fetch_and_lock", "get_external_task", "handle_bpmn_error", "handle_failure", "list_external_tasks",
           "set_retries", "unlock"]
