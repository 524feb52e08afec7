"""The one path every change to an instance's workflow takes (DESIGN §2): lock, load, apply, run,
save, record — one transaction (a store.change.Change, which also writes the history and the
audit entry and wakes waiters after the commit).

    with instance_command(db, actor=actor, task_id=task_id, audit=audit) as cmd:
        task = cmd.user_task(task_id)       # refuses anything but an open human task
        task.data.update(data)
        task.run()
        cmd.finished(task, "task_completed")
    return cmd.result
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import Task

from engine.bpmn import state
from engine.bpmn.sandbox import TimeLimitExceeded
from engine.errors import (
    Conflict,
    InstanceNotActive,
    InstanceNotFound,
    InstanceSuspended,
    TaskNotFound,
    TaskNotOpen,
)
from engine.results import Actor, InstanceInfo
from engine.store import incidents, projection, saving
from engine.store.change import Audit, Change, IdempotencyKey, change
from engine.store.database import Database
from engine.store.tables import history_event

log = logging.getLogger(__name__)

MAX_ENGINE_ROUNDS = 100
UNIQUE_KEY = "businessKeyUnique"      # a process's extension property: its business keys are unique while open

_task_seen = sa.select(history_event.c.instance_id).where(history_event.c.task_id == sa.bindparam("id")).limit(1)


class ProcessFailed(Conflict):
    code = "process_failed"


class Command:
    """One command on one instance. Read what is open (`user_task`, `external_task`), change the
    workflow, and say what was done with the verbs: `finished`, `cancel`, `hold`, `record`,
    `open_incident`, `resolve_incidents`. The command path runs the engine and saves."""

    def __init__(self, ch: Change, row: Any, workflow: BpmnWorkflow, task_row: Any = None) -> None:
        self.change, self.row, self.workflow, self.task_row = ch, row, workflow, task_row
        self.instance_id: str = row.id
        self.definition_id: str = row.definition_id
        self.before = projection.Snapshot(workflow)
        self.finished_tasks: set[str] = set()             # tasks this command itself completed
        self.failures: dict[str, str] = {}                # task id -> error message, from this run
        self.ending: tuple[str, str | None] | None = None  # (status, reason) when the command ends it
        self._run_engine = True
        self._opened_incident = False
        self._result: InstanceInfo | None = None
        ch.touch(self.instance_id)

    @property
    def db(self) -> Database:
        return self.change.db

    @property
    def conn(self) -> sa.Connection:
        return self.change.conn

    @property
    def actor(self) -> Actor:
        return self.change.actor

    # -- what is open ----------------------------------------------------------------------------
    def user_task(self, task_id: str) -> Task:
        """The READY human task with this id, or TaskNotOpen."""
        task = self.before.user_tasks.get(task_id)
        if task is None:
            raise TaskNotOpen(f"user task {task_id} is no longer open")
        return task

    def external_task(self, task_id: str) -> Task:
        task = self.before.external_tasks.get(task_id)
        if task is None:
            raise TaskNotFound(f"external task {task_id} does not exist or is no longer active")
        return task

    # -- verbs -----------------------------------------------------------------------------------
    def record(self, kind: str, /, *, task_id: str | None = None, activity_id: str | None = None,
               **details: Any) -> None:
        self.change.record(self.instance_id, kind, task_id=task_id, activity_id=activity_id, **details)

    def finished(self, task: Task, kind: str, /, **details: Any) -> None:
        """This command completed `task` (its row goes without a "cancelled" event)."""
        task_id = str(task.id)
        self.finished_tasks.add(task_id)
        self.record(kind, task_id=task_id, activity_id=task.task_spec.bpmn_id, **details)

    def cancel(self, reason: str) -> None:
        """End the instance: every open task is cancelled with it."""
        self.workflow.cancel()
        self.ending = ("cancelled", reason)
        self.hold()
        self.record("instance_cancelled", reason=reason)

    def hold(self) -> None:
        """Save what was changed without running the engine on."""
        self._run_engine = False

    def open_incident(self, *, task_id: str, activity_id: str, type_: str, message: str) -> str:
        self._opened_incident = True
        return incidents.open_incident(self.change, instance_id=self.instance_id, task_id=task_id,
                                       activity_id=activity_id, type_=type_, message=message)

    def resolve_incidents(self, *, reason: str, task_id: str | None = None) -> None:
        if self.may_have_incidents:
            incidents.resolve_incidents(self.change, instance_id=self.instance_id, reason=reason, task_id=task_id)

    @property
    def may_have_incidents(self) -> bool:
        """Open incidents may exist: the locked row said so (or could not tell), or this command opened one."""
        return bool(getattr(self.row, "has_incidents", True)) or self._opened_incident

    @property
    def result(self) -> InstanceInfo:
        """The instance as this command left it (once the command has run)."""
        if self._result is None:
            raise RuntimeError("the command has not run yet")
        return self._result

    # -- the command path ------------------------------------------------------------------------
    def conclude(self) -> None:
        """Run the engine to the next wait state, save, and build the result (inside the transaction)."""
        if self._run_engine:
            self._run()
        saved = saving.save(self)
        self._result = saving.result(self, saved)

    def _run(self) -> None:
        """do_engine_steps(); a failing task becomes an incident and the other branches go on."""
        for _ in range(MAX_ENGINE_ROUNDS):
            try:
                self.workflow.do_engine_steps()
                return
            except SpiffWorkflowException as exc:
                task = getattr(exc, "task", None)
                if task is None:
                    raise ProcessFailed(f"the process could not continue: {type(exc).__name__}: {exc}") from exc
                self.failures[str(task.id)] = _failure_message(exc)
                log.warning("task failed", extra={"instance_id": self.instance_id,
                                                   "activity_id": task.task_spec.bpmn_id})
        raise ProcessFailed(f"the process kept failing; gave up after {MAX_ENGINE_ROUNDS} rounds")


def _failure_message(exc: SpiffWorkflowException) -> str:
    """What failed, for the incident: SpiffWorkflow's message and the kind of error underneath. The
    cause's own text is kept only where it is ours (limits); others may quote case data."""
    message = str(exc)
    cause = getattr(exc, "exception", None) or exc.__cause__ or exc.__context__
    if cause is not None and type(cause).__name__ not in message:
        own = isinstance(cause, TimeLimitExceeded | MemoryError)
        message = f"{message.rstrip('. ')}: {type(cause).__name__}" + (f": {cause}" if own else "")
    return message


def locate_task(ch: Change, task_id: str, kind: str, *, lock: bool = False) -> Any:
    """The projection row of an open task (locked when `lock`), or TaskNotOpen (it existed once) /
    TaskNotFound."""
    row = ch.db.dialect.task_row(ch.conn, task_id, kind, lock=lock)
    if row is not None:
        return row
    label = "user task" if kind == "user" else "external task"
    if kind == "user" and ch.conn.execute(_task_seen, {"id": task_id}).first() is not None:
        raise TaskNotOpen(f"{label} {task_id} is no longer open")
    raise TaskNotFound(f"{label} {task_id} does not exist" + ("" if kind == "user" else " or is no longer active"))


def lock_instance(ch: Change, instance_id: str, *, skip_locked: bool = False) -> Any:
    """The instance's row, locked against other writers. Raises InstanceNotFound (or RowLocked)."""
    row = ch.db.dialect.lock_instance(ch.conn, instance_id, skip_locked=skip_locked)
    if row is None:
        raise InstanceNotFound(f"no process instance with id {instance_id}")
    return row


def lock_task_and_instance(ch: Change, task_id: str, kind: str, *, skip_locked: bool = False) -> tuple[Any, Any]:
    """The open task's instance row and the task's row, both locked, instance first (the order
    every writer takes them in)."""
    both = ch.db.dialect.task_with_instance(ch.conn, task_id, kind)
    if both is not None:
        return both, both
    owner = locate_task(ch, task_id, kind)
    row = lock_instance(ch, owner.instance_id, skip_locked=skip_locked)
    return row, locate_task(ch, task_id, kind, lock=True)         # again, under the locks


@contextmanager
def instance_command(db: Database, *, actor: Actor, instance_id: str | None = None, task_id: str | None = None,
                     task_kind: str = "user", require_active: bool = True, allow_suspended: bool = False,
                     skip_locked: bool = False, audit: Audit | None = None,
                     idempotency: IdempotencyKey | None = None) -> Iterator[Command]:
    """Lock the instance (named, or owning the open task `task_id`), load its state, let the caller
    apply one change, run, save — one transaction."""
    with change(db, actor=actor, audit=audit, idempotency=idempotency) as ch:
        if instance_id is not None:
            row, task_row = lock_instance(ch, instance_id, skip_locked=skip_locked), None
        elif task_id is not None:
            row, task_row = lock_task_and_instance(ch, task_id, task_kind, skip_locked=skip_locked)
        else:
            raise ValueError("an instance or a task is required")
        if require_active and row.status != "active":
            if task_id is not None:
                raise (TaskNotOpen if task_kind == "user" else TaskNotFound)(
                    f"task {task_id} is no longer open: its process instance is {row.status}")
            raise InstanceNotActive(f"process instance {row.id} is {row.status}")
        if row.suspended and not allow_suspended:
            raise InstanceSuspended(f"process instance {row.id} is suspended; resume it first")
        cmd = Command(ch, row, state.loads(row.state, row.state_format, db.specs.get), task_row)
        yield cmd
        cmd.conclude()


class _NewRow:
    """The row a new instance will get, before it exists."""

    def __init__(self, instance_id: str, definition_id: str, definition_key: str, business_key: str | None):
        self.id, self.definition_id, self.definition_key = instance_id, definition_id, definition_key
        self.business_key, self.version, self.status = business_key, 0, "active"
        self.variables: dict[str, Any] = {}
        self.has_incidents, self.suspended = False, False
        self.unique_key: str | None = None


class NotClaimed(Exception):
    """new_instance_command's claim found nothing to do; nothing was written."""


@contextmanager
def new_instance_command(db: Database, *, actor: Actor, business_key: str | None,
                         definition_id: str | None = None, definition_key: str | None = None,
                         resolve: Callable[[sa.Connection], tuple[str, str]] | None = None,
                         prepare: Callable[[BpmnWorkflow], None] | None = None,
                         claim: Callable[[sa.Connection], bool] | None = None,
                         audit: Audit | None = None, idempotency: IdempotencyKey | None = None) -> Iterator[Command]:
    """Create an instance in one transaction, of `definition_id` or of what `resolve` finds in that
    transaction; `claim`, if given, runs first and may decline (NotClaimed), e.g. when another
    server already started it. A definition whose process declares `businessKeyUnique` refuses a
    business key another of its open instances has (BusinessKeyInUse)."""
    with change(db, actor=actor, audit=audit, idempotency=idempotency) as ch:
        if claim is not None and not claim(ch.conn):
            raise NotClaimed
        if resolve is not None:
            definition_id, definition_key = resolve(ch.conn)
        if definition_id is None or definition_key is None:
            raise ValueError("a definition is required")
        spec_pair = db.specs.get(definition_id)
        wf = state.new_workflow(spec_pair)
        if prepare is not None:
            prepare(wf)
        row = _NewRow(str(uuid.uuid4()), definition_id, definition_key, business_key)
        if business_key is not None and getattr(spec_pair[0], "rf_properties", {}).get(UNIQUE_KEY) == "true":
            row.unique_key = f"{definition_key}:{business_key}"
        cmd = Command(ch, row, wf)
        yield cmd
        cmd.conclude()
