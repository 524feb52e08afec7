"""External tasks: service tasks waiting for workers (the Camunda 7 external-task protocol's engine side).

Locks, retries and error details live on the external_task row, beside the instance state: a worker
taking or extending a lock changes no workflow state. Completing, and BPMN errors, are instance
commands like any other.
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
from engine.errors import Invalid, LockedByAnotherWorker, TaskNotFound
from engine.queries.rows import aware, external_task_info
from engine.results import Actor, ExternalTaskInfo
from engine.store.command import (
    check_variables,
    instance_command,
    lock_instance,
    open_incident_row,
    resolve_incident_rows,
    resolve_incidents,
)
from engine.store.database import Database
from engine.store.signals import EXTERNAL_TASK, Signals
from engine.store.tables import external_task, history_event

MAX_LOCK = timedelta(days=7)
MAX_ERROR_MESSAGE = 666          # Camunda's cap


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


def _fetchable(now: datetime) -> Any:
    return sa.and_(sa.or_(external_task.c.lock_expires_at.is_(None), external_task.c.lock_expires_at <= now),
                   sa.or_(external_task.c.retries.is_(None), external_task.c.retries > 0))


def fetch_and_lock(db: Database, *, worker_id: str, topics: list[TopicRequest], max_tasks: int,
                   use_priority: bool = False) -> FetchResult:
    """Lock up to `max_tasks` fetchable tasks of these topics for `worker_id`; never waits.

    On PostgreSQL candidate rows are taken with FOR UPDATE SKIP LOCKED, so concurrent fetches never
    lock the same task and never wait on each other. Raises: Invalid.
    """
    if not worker_id:
        raise Invalid("workerId is required")
    if max_tasks < 1 or not topics:
        return FetchResult([], None)
    for t in topics:
        if t.lock_duration_ms <= 0 or timedelta(milliseconds=t.lock_duration_ms) > MAX_LOCK:
            raise Invalid(f"lockDuration of topic {t.name!r} must be between 1 ms and {MAX_LOCK.days} days")
    now = clock.now()
    by_name = {t.name: t for t in topics}
    locked: list[LockedTask] = []
    with db.write() as conn:
        query = sa.select(external_task).where(external_task.c.topic.in_(list(by_name)), _fetchable(now))
        order = [external_task.c.priority.desc()] if use_priority else []
        query = query.order_by(*order, external_task.c.created_at, external_task.c.id)
        query = query.limit(max(max_tasks * 4, 32))
        if not db.is_sqlite:
            query = query.with_for_update(skip_locked=True, of=external_task)
        for row in conn.execute(query):
            topic = by_name[row.topic]
            if not _matches(row, topic):
                continue
            expires = now + timedelta(milliseconds=topic.lock_duration_ms)
            conn.execute(external_task.update().where(external_task.c.id == row.id)
                         .values(worker_id=worker_id, lock_expires_at=expires))
            info = external_task_info(SimpleNamespace(**{**row._asdict(), "worker_id": worker_id,
                                                         "lock_expires_at": expires}))
            variables = row.variables or {}
            if topic.variables is not None:
                variables = {k: v for k, v in variables.items() if k in topic.variables}
            locked.append(LockedTask(info, variables, row.error_details))
            if len(locked) >= max_tasks:
                break
        next_at = None
        if not locked:
            next_at = conn.execute(sa.select(sa.func.min(external_task.c.lock_expires_at)).where(
                external_task.c.topic.in_(list(by_name)), external_task.c.lock_expires_at > now,
                sa.or_(external_task.c.retries.is_(None), external_task.c.retries > 0))).scalar_one_or_none()
    return FetchResult(locked, aware(next_at))


def _matches(row: Any, topic: TopicRequest) -> bool:
    if topic.business_key is not None and row.business_key != topic.business_key:
        return False
    if topic.definition_keys is not None and row.definition_key not in topic.definition_keys:
        return False
    if topic.definition_ids is not None and row.definition_id not in topic.definition_ids:
        return False
    variables = row.variables or {}
    return all(variables.get(k) == v for k, v in topic.process_variables.items())


def _locked_row(conn: sa.Connection, db: Database, task_id: str, worker_id: str) -> Any:
    """The task's row after locking its instance; refuses a task locked by another worker."""
    owner = conn.execute(sa.select(external_task.c.instance_id).where(external_task.c.id == task_id)).one_or_none()
    if owner is None:
        raise TaskNotFound(f"External task with id {task_id} does not exist")
    lock_instance(conn, db, owner.instance_id)
    row = conn.execute(sa.select(external_task).where(external_task.c.id == task_id)).one()
    _require_holder(row, task_id, worker_id)
    return row


def _require_holder(row: Any, task_id: str, worker_id: str) -> None:
    """Only the worker holding the lock may report on a task (Camunda compares the worker id only)."""
    if row.worker_id != worker_id:
        holder = f"It is locked by worker '{row.worker_id}'." if row.worker_id else "It is not locked."
        raise LockedByAnotherWorker(f"External task {task_id} cannot be reported by worker '{worker_id}'. {holder}")


def complete_external_task(db: Database, *, task_id: str, worker_id: str,
                           variables: Mapping[str, Any] | None = None,
                           local_variables: Mapping[str, Any] | None = None) -> None:
    """A worker finished the task: merge its variables and run the instance on.

    Raises: TaskNotFound (unknown, finished, or cancelled meanwhile — e.g. by an interrupting timer),
    LockedByAnotherWorker, VariablesInvalid.
    """
    data = check_variables({**(local_variables or {}), **(variables or {})})
    actor = Actor(f"worker:{worker_id}")
    with instance_command(db, actor=actor, task_id=task_id, task_kind="external") as cmd:
        _require_holder(cmd.task_row, task_id, worker_id)
        task = cmd.external_task(task_id)
        task.data.update(data)
        task.complete()
        cmd.finished_tasks.add(task_id)
        cmd.record("external_task_completed", task_id=task_id, activity_id=task.task_spec.bpmn_id,
                   worker_id=worker_id)
        resolve_incidents(cmd, reason="completed", task_id=task_id)


def handle_failure(db: Database, *, task_id: str, worker_id: str, error_message: str | None,
                   error_details: str | None, retries: int, retry_timeout_ms: int) -> None:
    """Record a failed attempt. `retries` is the worker's count of attempts left (Camunda semantics):
    at 0 or below an incident opens and the task is no longer fetchable; otherwise it becomes
    fetchable again after `retry_timeout_ms`.

    Raises: TaskNotFound, LockedByAnotherWorker, Invalid.
    """
    if retries is None or retry_timeout_ms is None or retry_timeout_ms < 0:
        raise Invalid("retries and a retryTimeout of 0 or more are required")
    now = clock.now()
    message = (error_message or "external task failed")[:MAX_ERROR_MESSAGE]
    with db.write() as conn:
        row = _locked_row(conn, db, task_id, worker_id)
        retries = max(retries, 0)
        conn.execute(external_task.update().where(external_task.c.id == task_id).values(
            retries=retries, error_message=message, error_details=error_details,
            lock_expires_at=now + timedelta(milliseconds=retry_timeout_ms)))
        events: list[dict[str, Any]] = [_event(row, now, f"worker:{worker_id}", "external_task_failed",
                                               retries=retries)]
        if retries == 0:
            open_incident_row(conn, instance_id=row.instance_id, task_id=task_id, activity_id=row.activity_id,
                              type_="failedExternalTask", message=message, now=now,
                              actor=f"worker:{worker_id}", events=events)
        conn.execute(history_event.insert(), events)
        Signals.notify_in_transaction(conn, EXTERNAL_TASK, [row.topic])
    db.signals.emit(EXTERNAL_TASK, [row.topic])


def handle_bpmn_error(db: Database, *, task_id: str, worker_id: str, error_code: str,
                      error_message: str | None = None, variables: Mapping[str, Any] | None = None) -> None:
    """A worker reports a business error. An error boundary event on this task whose code matches
    catches it (the variables go with it); if none does, an incident opens — unlike Camunda 7,
    a failed step never passes silently.

    Raises: TaskNotFound, LockedByAnotherWorker, Invalid, VariablesInvalid.
    """
    if not error_code:
        raise Invalid("errorCode is required")
    data = check_variables(variables or {})
    actor = Actor(f"worker:{worker_id}")
    with instance_command(db, actor=actor, task_id=task_id, task_kind="external") as cmd:
        row = cmd.task_row
        _require_holder(row, task_id, worker_id)
        task = cmd.external_task(task_id)
        event = BpmnEvent(ErrorEventDefinition(error_code, code=error_code), payload=data)
        caught = False
        for boundary in task.parent.children:
            if isinstance(boundary.task_spec, BoundaryEvent) and boundary.task_spec.catches(boundary, event):
                boundary.task_spec.catch(boundary, event)
                boundary.task_spec._update(boundary)
                caught = True
                break
        cmd.record("external_task_bpmn_error", task_id=task_id, activity_id=task.task_spec.bpmn_id,
                   error_code=error_code, caught=caught)
        if caught:
            cmd.finished_tasks.add(task_id)
        else:
            message = f"BPMN error {error_code} was not caught" + (f": {error_message}" if error_message else "")
            cmd.conn.execute(external_task.update().where(external_task.c.id == task_id).values(
                retries=0, error_message=message[:MAX_ERROR_MESSAGE]))
            open_incident_row(cmd.conn, instance_id=cmd.instance_id, task_id=task_id, activity_id=row.activity_id,
                              type_="unhandledBpmnError", message=message[:MAX_ERROR_MESSAGE], now=cmd.now,
                              actor=actor.id, events=cmd.events)
            cmd.run_engine = False


def extend_lock(db: Database, *, task_id: str, worker_id: str, new_duration_ms: int) -> None:
    """Extend this worker's lock from now. A lock that ran out can still be extended while no other
    worker has taken the task (as Camunda compares only the worker id).

    Raises: TaskNotFound, LockedByAnotherWorker (the task is not this worker's), Invalid.
    """
    if new_duration_ms is None or new_duration_ms <= 0 or timedelta(milliseconds=new_duration_ms) > MAX_LOCK:
        raise Invalid("newDuration must be a positive number of milliseconds")
    now = clock.now()
    with db.write() as conn:
        _locked_row(conn, db, task_id, worker_id)
        conn.execute(external_task.update().where(external_task.c.id == task_id)
                     .values(lock_expires_at=now + timedelta(milliseconds=new_duration_ms)))


def unlock(db: Database, *, task_id: str, actor: Actor) -> None:
    """Release the lock so any worker can fetch the task at once. Raises: TaskNotFound."""
    with db.write() as conn:
        row = conn.execute(sa.select(external_task.c.topic).where(external_task.c.id == task_id)).one_or_none()
        if row is None:
            raise TaskNotFound(f"External task with id {task_id} does not exist")
        conn.execute(external_task.update().where(external_task.c.id == task_id)
                     .values(worker_id=None, lock_expires_at=None))
        Signals.notify_in_transaction(conn, EXTERNAL_TASK, [row.topic])
    db.signals.emit(EXTERNAL_TASK, [row.topic])


def set_retries(db: Database, *, task_id: str, retries: int, actor: Actor) -> None:
    """Set the attempts left; above 0 this resolves the task's open incident and makes it fetchable.

    Raises: TaskNotFound, Invalid.
    """
    if retries is None or retries < 0:
        raise Invalid("retries must be 0 or more")
    now = clock.now()
    with db.write() as conn:
        owner = conn.execute(sa.select(external_task.c.instance_id).where(external_task.c.id == task_id)).one_or_none()
        if owner is None:
            raise TaskNotFound(f"External task with id {task_id} does not exist")
        lock_instance(conn, db, owner.instance_id)
        row = conn.execute(sa.select(external_task).where(external_task.c.id == task_id)).one()
        values: dict[str, Any] = {"retries": retries}
        if retries > 0:
            values.update(lock_expires_at=None, worker_id=None)
        conn.execute(external_task.update().where(external_task.c.id == task_id).values(**values))
        events = [_event(row, now, actor.id, "external_task_retries_set", retries=retries)]
        if retries > 0:
            resolve_incident_rows(conn, instance_id=row.instance_id, task_id=task_id, actor=actor.id, now=now,
                                  reason="retries set", events=events)
        conn.execute(history_event.insert(), events)
        if retries > 0:
            Signals.notify_in_transaction(conn, EXTERNAL_TASK, [row.topic])
    if retries > 0:
        db.signals.emit(EXTERNAL_TASK, [row.topic])


def _event(row: Any, now: datetime, actor: str, kind: str, **details: Any) -> dict[str, Any]:
    return {"instance_id": row.instance_id, "at": now, "kind": kind, "actor": actor, "task_id": row.id,
            "activity_id": row.activity_id, "details": details or None}


def get_external_task(db: Database, *, task_id: str) -> LockedTask:
    """Raises: TaskNotFound."""
    with db.read() as conn:
        row = conn.execute(sa.select(external_task).where(external_task.c.id == task_id)).one_or_none()
    if row is None:
        raise TaskNotFound(f"External task with id {task_id} does not exist")
    return LockedTask(external_task_info(row), row.variables or {}, row.error_details)


def list_external_tasks(db: Database, *, topic: str | None = None, worker_id: str | None = None,
                        locked: bool | None = None, with_retries_left: bool | None = None,
                        no_retries_left: bool | None = None, instance_id: str | None = None,
                        activity_id: str | None = None, definition_id: str | None = None,
                        business_key: str | None = None, task_id: str | None = None,
                        limit: int = 50, offset: int = 0) -> tuple[list[LockedTask], int]:
    now = clock.now()
    where: list[Any] = []
    for column, value in ((external_task.c.topic, topic), (external_task.c.worker_id, worker_id),
                          (external_task.c.instance_id, instance_id), (external_task.c.activity_id, activity_id),
                          (external_task.c.definition_id, definition_id),
                          (external_task.c.business_key, business_key), (external_task.c.id, task_id)):
        if value is not None:
            where.append(column == value)
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
        return [LockedTask(external_task_info(r), r.variables or {}, r.error_details) for r in rows], count


__all__ = ["FetchResult", "LockedTask", "TopicRequest", "complete_external_task", "extend_lock",
           "fetch_and_lock", "get_external_task", "handle_bpmn_error", "handle_failure", "list_external_tasks",
           "set_retries", "unlock"]
