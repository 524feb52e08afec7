"""The one path every change to an instance takes (DESIGN §2): lock, load, apply, run, save, record."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import orjson
import sqlalchemy as sa
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import Task

from engine import clock
from engine.bpmn import state
from engine.errors import (
    Conflict,
    InstanceNotActive,
    InstanceNotFound,
    TaskNotFound,
    TaskNotOpen,
    VariablesInvalid,
    VersionConflict,
)
from engine.queries.rows import OPEN_INCIDENTS_OF, aware, external_task_info, incident_info, user_task_info
from engine.results import Actor, InstanceInfo
from engine.store import fast, projection
from engine.store.database import Database, pending_note
from engine.store.signals import EXTERNAL_TASK, TIMER, Signals
from engine.store.tables import external_task, history_event, incident, instance, message_subscription, user_task

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
MAX_ENGINE_ROUNDS = 100
MAX_VARIABLES_BYTES = 1024 * 1024

_INSTANCE_COLUMNS = (instance.c.id, instance.c.definition_id, instance.c.definition_key, instance.c.business_key,
                     instance.c.status, instance.c.state, instance.c.state_format, instance.c.version,
                     instance.c.variables, instance.c.started_at, instance.c.started_by, instance.c.next_timer_at)
# SQLite only (one writer at a time, so the answer cannot go stale before the commit): whether the
# instance has open incidents, read with the row. On PostgreSQL a statement waiting on FOR UPDATE
# would evaluate it on its old snapshot, so there the incident table is read after the lock instead.
_has_incidents = sa.exists().where(incident.c.instance_id == instance.c.id,
                                   incident.c.resolved_at.is_(None)).label("has_incidents")
_lock_instance = sa.select(*_INSTANCE_COLUMNS).where(instance.c.id == sa.bindparam("id"))
_lock_instance_sqlite = sa.select(*_INSTANCE_COLUMNS, _has_incidents).where(instance.c.id == sa.bindparam("id"))
# SQLite: the open task and its instance in one statement (the writer lock is already held)
_user_task_and_instance = (sa.select(*_INSTANCE_COLUMNS, _has_incidents, user_task.c.instance_id,
                                     user_task.c.assignee)
                           .join_from(user_task, instance, instance.c.id == user_task.c.instance_id)
                           .where(user_task.c.id == sa.bindparam("id")))
_external_task_and_instance = (sa.select(*_INSTANCE_COLUMNS, _has_incidents, external_task.c.instance_id,
                                         external_task.c.worker_id, external_task.c.activity_id)
                               .join_from(external_task, instance, instance.c.id == external_task.c.instance_id)
                               .where(external_task.c.id == sa.bindparam("id")))
_update_instance = (instance.update()
                    .where(instance.c.id == sa.bindparam("b_id"), instance.c.version == sa.bindparam("b_version")))
_insert_instance = instance.insert()
_insert_history = history_event.insert()
_insert_incident = incident.insert()
_open_incidents_for_update = sa.select(incident.c.id, incident.c.task_id, incident.c.activity_id).where(
    incident.c.instance_id == sa.bindparam("instance_id"), incident.c.resolved_at.is_(None))
_open_incidents_of_task = _open_incidents_for_update.where(incident.c.task_id == sa.bindparam("task_id"))
_resolve_incident = (incident.update().where(incident.c.id == sa.bindparam("b_id"))
                     .values(resolved_at=sa.bindparam("b_at"), resolved_by=sa.bindparam("b_by")))
_insert_row = {t.name: t.insert() for t in (user_task, external_task, message_subscription)}
_delete_by_id = {t.name: t.delete().where(t.c.id == sa.bindparam("b_id")) for t in (user_task, external_task)}
_select_by_ids = {t.name: sa.select(t).where(t.c.id.in_(sa.bindparam("ids", expanding=True)))
                  for t in (user_task, external_task)}
_delete_subscription = message_subscription.delete().where(
    message_subscription.c.task_id == sa.bindparam("b_task_id"),
    message_subscription.c.message_name == sa.bindparam("b_name"))


class Command:
    """One command on one instance, inside one transaction."""

    def __init__(self, conn: sa.Connection, actor: Actor, now: datetime, row: Any, workflow: BpmnWorkflow) -> None:
        self.conn, self.actor, self.now = conn, actor, now
        self.organisation_variable: str | None = None
        self.row = row
        self.instance_id: str = row.id
        self.definition_id: str = row.definition_id
        self.workflow = workflow
        self.events: list[dict[str, Any]] = []
        self.finished_tasks: set[str] = set()        # tasks this command itself completed
        self.new_status: str | None = None
        self.end_reason: str | None = None
        self.run_engine = True
        self.before = projection.Snapshot(workflow)
        self.after: projection.Snapshot | None = None
        self.result: InstanceInfo | None = None
        self.task_row: Any = None
        self.written: dict[str, Any] = {}
        self.failures: dict[str, str] = {}                # task id -> error message, from this run
        self.new_rows: dict[str, list[dict[str, Any]]] = {}

    def record(self, kind: str, *, task_id: str | None = None, activity_id: str | None = None,
               **details: Any) -> None:
        self.events.append({"instance_id": self.instance_id, "at": self.now, "kind": kind,
                            "actor": self.actor.id, "task_id": task_id, "activity_id": activity_id,
                            "details": {k: v for k, v in details.items() if v is not None} or None})

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

    @property
    def may_have_incidents(self) -> bool:
        """Open incidents may exist: the locked row said so (or could not tell), or this command opened one."""
        return (bool(getattr(self.row, "has_incidents", True))
                or any(e["kind"] == "incident_opened" for e in self.events))

    def timer_moved(self) -> bool:
        """A timer now comes due at a moment the scheduler may not know yet."""
        due = self.written.get("next_timer_at")
        return due is not None and due != aware(getattr(self.row, "next_timer_at", None))

    def new_topics(self) -> list[str]:
        return [r["topic"] for r in self.new_rows.get("external_task", [])]



def check_variables(variables: Mapping[str, Any]) -> dict[str, Any]:
    """Variables from outside: names a diagram can use, and no `typename` key anywhere (it would
    break SpiffWorkflow's deserializer)."""
    if not isinstance(variables, Mapping):
        raise VariablesInvalid("variables must be a JSON object")
    for name in variables:
        if not isinstance(name, str) or not _NAME.match(name):
            raise VariablesInvalid(f"variable name {name!r} must start with a letter and contain only "
                                   "letters, digits and underscores", field=str(name))
    _refuse_typename(variables, "")
    size = len(orjson.dumps(dict(variables), default=str, option=orjson.OPT_NON_STR_KEYS))
    if size > MAX_VARIABLES_BYTES:
        raise VariablesInvalid(f"the variables take {size} bytes; at most {MAX_VARIABLES_BYTES} are accepted "
                               "(attach documents as files instead)")
    return dict(variables)


def _refuse_typename(value: Any, path: str) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key == "typename":
                raise VariablesInvalid("the key 'typename' is reserved", field=f"{path}{key}")
            _refuse_typename(item, f"{path}{key}.")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _refuse_typename(item, f"{path}{i}.")


def run_engine(cmd: Command) -> None:
    """do_engine_steps(); a failing task becomes an incident and the other branches go on."""
    for _ in range(MAX_ENGINE_ROUNDS):
        try:
            cmd.workflow.do_engine_steps()
            return
        except SpiffWorkflowException as exc:
            task = getattr(exc, "task", None)
            if task is None:
                raise ProcessFailed(f"the process could not continue: {type(exc).__name__}: {exc}") from exc
            cmd.failures[str(task.id)] = str(exc)
            log.warning("task failed", extra={"instance_id": cmd.instance_id,
                                               "activity_id": task.task_spec.bpmn_id})
    raise ProcessFailed(f"the process kept failing; gave up after {MAX_ENGINE_ROUNDS} rounds")


class ProcessFailed(Conflict):
    code = "process_failed"


def save(cmd: Command) -> None:
    """Serialize, write the instance, derive the projections, append history."""
    wf, conn, now = cmd.workflow, cmd.conn, cmd.now
    after = cmd.after = projection.Snapshot(wf)

    status = cmd.new_status
    if status is None and wf.is_completed():
        status = "completed"
    ended = status in {"completed", "cancelled"}
    values: dict[str, Any] = {
        "state": state.dumps(wf), "version": cmd.row.version + 1, "updated_at": now,
        "variables": cmd.row.variables if status == "cancelled" else state.to_plain(projection.variables(wf, after)),
        "next_timer_at": None if ended else projection.next_timer_at(after),
    }
    if status is not None:
        values.update(status=status, ended_at=now, end_reason=cmd.end_reason)
    cmd.written = values
    if cmd.row.version == 0:
        fast.execute(conn, _insert_instance, {
            "id": cmd.instance_id, "definition_id": cmd.definition_id, "definition_key": cmd.row.definition_key,
            "business_key": cmd.row.business_key, "status": "active", "ended_at": None, "end_reason": None,
            "state_format": state.STATE_FORMAT, "started_at": now, "started_by": cmd.actor.id, **values})
    else:
        updated = fast.execute(conn, _update_instance, {"b_id": cmd.instance_id, "b_version": cmd.row.version,
                                                        **values})
        if updated != 1:
            raise VersionConflict(f"instance {cmd.instance_id} was changed by someone else; try again")

    common = {"instance_id": cmd.instance_id, "definition_id": cmd.definition_id,
              "definition_key": cmd.row.definition_key, "business_key": cmd.row.business_key,
              "created_at": now}
    org = cmd.organisation_variable
    _sync(cmd, common, cmd.before.user_tasks, after.user_tasks, user_task,
          lambda t: projection.user_task_row(t, org), "task")
    _sync(cmd, common, cmd.before.external_tasks, after.external_tasks, external_task,
          projection.external_task_row, "external_task")
    _sync_subscriptions(cmd, cmd.before.messages, after.messages)
    for tid, task in after.errors.items():
        if tid not in cmd.before.errors:
            open_incident(cmd, task_id=tid, activity_id=task.task_spec.bpmn_id, type_="failedTask",
                          message=cmd.failures.get(tid) or _error_message(task))
    for task_id, activity_id, due in projection.fired_timers(wf, cmd.before, after):
        cmd.record("timer_fired", task_id=task_id, activity_id=activity_id, due=due)
    if status == "completed":
        cmd.record("instance_completed")
    if ended:
        resolve_incidents(cmd, reason=f"instance {status}")
    if cmd.events:
        fast.execute(conn, _insert_history, cmd.events)
    if topics := cmd.new_topics():
        Signals.notify_in_transaction(conn, EXTERNAL_TASK, topics)
    if cmd.timer_moved():
        Signals.notify_in_transaction(conn, TIMER, [values["next_timer_at"].isoformat()])


def after_commit(db: Database, cmd: Command) -> None:
    """Wake long-polling workers and the timer scheduler in this process (other processes hear
    the NOTIFY)."""
    if topics := cmd.new_topics():
        db.signals.emit(EXTERNAL_TASK, topics)
    if cmd.timer_moved():
        db.signals.emit(TIMER, [cmd.written["next_timer_at"].isoformat()])


def _sync_subscriptions(cmd: Command, before: dict[tuple[str, str], Task],
                        after: dict[tuple[str, str], Task]) -> None:
    new = [projection.subscription_row(key, t) | {"instance_id": cmd.instance_id,
                                                  "business_key": cmd.row.business_key, "created_at": cmd.now}
           for key, t in after.items() if key not in before]
    gone = [key for key in before if key not in after]
    if new:
        fast.execute(cmd.conn, _insert_row["message_subscription"], new)
    if gone:
        fast.execute(cmd.conn, _delete_subscription, [{"b_task_id": task_id, "b_name": name} for task_id, name in gone])


def _sync(cmd: Command, common: dict[str, Any], before: dict[str, Task], after: dict[str, Task],
          table: sa.Table, to_row: Callable[[Task], dict[str, Any]], noun: str) -> None:
    """Insert rows for tasks that opened, delete rows of tasks that closed; rows of tasks still open
    keep what was written to them (claims, locks, retries)."""
    new = [to_row(t) | common for tid, t in after.items() if tid not in before]
    gone = [tid for tid in before if tid not in after]
    cmd.new_rows[noun] = new
    if new:
        fast.execute(cmd.conn, _insert_row[table.name], new)
        for r in new:
            cmd.record(f"{noun}_created", task_id=r["id"], activity_id=r["activity_id"],
                       name=r.get("name"), topic=r.get("topic"))
    if gone:
        fast.execute(cmd.conn, _delete_by_id[table.name], [{"b_id": tid} for tid in gone])
        for tid in gone:
            if tid not in cmd.finished_tasks:
                cmd.record(f"{noun}_cancelled", task_id=tid, activity_id=before[tid].task_spec.bpmn_id)
                if noun == "external_task":
                    resolve_incidents(cmd, reason="task cancelled", task_id=tid)


def _error_message(task: Task) -> str:
    err = task.internal_data.get("error") if isinstance(task.internal_data, dict) else None
    return str(err) if err else f"task {task.task_spec.bpmn_id} failed"


def open_incident_row(conn: sa.Connection, *, instance_id: str, task_id: str, activity_id: str, type_: str,
                      message: str, now: datetime, actor: str, events: list[dict[str, Any]]) -> str:
    incident_id = str(uuid.uuid4())
    conn.execute(_insert_incident, [{"id": incident_id, "instance_id": instance_id, "task_id": task_id,
                                      "activity_id": activity_id, "type": type_, "message": message,
                                      "created_at": now}])
    events.append({"instance_id": instance_id, "at": now, "kind": "incident_opened", "actor": actor,
                   "task_id": task_id, "activity_id": activity_id,
                   "details": {"incident_id": incident_id, "incident_type": type_}})
    return incident_id


def resolve_incident_rows(conn: sa.Connection, *, instance_id: str, actor: str, now: datetime, reason: str,
                          events: list[dict[str, Any]], task_id: str | None = None) -> None:
    if task_id is None:
        rows = conn.execute(_open_incidents_for_update, {"instance_id": instance_id}).all()
    else:
        rows = conn.execute(_open_incidents_of_task, {"instance_id": instance_id, "task_id": task_id}).all()
    if rows:
        conn.execute(_resolve_incident, [{"b_id": r.id, "b_at": now, "b_by": actor} for r in rows])
        events.extend({"instance_id": instance_id, "at": now, "kind": "incident_resolved", "actor": actor,
                       "task_id": r.task_id, "activity_id": r.activity_id,
                       "details": {"incident_id": r.id, "reason": reason}} for r in rows)


def open_incident(cmd: Command, *, task_id: str, activity_id: str, type_: str, message: str) -> str:
    return open_incident_row(cmd.conn, instance_id=cmd.instance_id, task_id=task_id, activity_id=activity_id,
                             type_=type_, message=message, now=cmd.now, actor=cmd.actor.id, events=cmd.events)


def resolve_incidents(cmd: Command, *, reason: str, task_id: str | None = None) -> None:
    if not cmd.may_have_incidents:
        return
    resolve_incident_rows(cmd.conn, instance_id=cmd.instance_id, actor=cmd.actor.id, now=cmd.now, reason=reason,
                          events=cmd.events, task_id=task_id)


class RowLocked(Exception):
    """skip_locked: another transaction holds the instance; nothing was done."""


def lock_instance(conn: sa.Connection, db: Database, instance_id: str, *, skip_locked: bool = False) -> Any:
    if db.is_sqlite:
        query = _lock_instance_sqlite
    else:
        query = _lock_instance.with_for_update(skip_locked=skip_locked)
    row = conn.execute(query, {"id": instance_id}).one_or_none()
    if row is None:
        if skip_locked and not db.is_sqlite:
            exists = conn.execute(sa.select(instance.c.id).where(instance.c.id == instance_id)).first()
            if exists is not None:
                raise RowLocked(instance_id)
        raise InstanceNotFound(f"no process instance with id {instance_id}")
    return row


_user_task_owner = sa.select(user_task.c.instance_id, user_task.c.assignee).where(
    user_task.c.id == sa.bindparam("id"))
_external_task_owner = sa.select(external_task.c.instance_id, external_task.c.worker_id,
                                 external_task.c.activity_id).where(external_task.c.id == sa.bindparam("id"))
_task_seen = sa.select(history_event.c.instance_id).where(history_event.c.task_id == sa.bindparam("id")).limit(1)


def find_task(conn: sa.Connection, task_id: str, kind: str) -> Any:
    """The projection row of an open task, or TaskNotOpen (it existed once) / TaskNotFound."""
    row = conn.execute(_user_task_owner if kind == "user" else _external_task_owner, {"id": task_id}).one_or_none()
    if row is not None:
        return row
    label = "user task" if kind == "user" else "external task"
    if kind == "user" and conn.execute(_task_seen, {"id": task_id}).first() is not None:
        raise TaskNotOpen(f"{label} {task_id} is no longer open")
    raise TaskNotFound(f"{label} {task_id} does not exist" + ("" if kind == "user" else " or is no longer active"))


@contextmanager
def instance_command(db: Database, *, actor: Actor, instance_id: str | None = None,
                     task_id: str | None = None, task_kind: str = "user",
                     require_active: bool = True, skip_locked: bool = False) -> Iterator[Command]:
    """Lock the instance (named, or owning the open task `task_id`), load its state, let the caller
    apply one change, run, save — one transaction."""
    with db.write() as conn:
        task_row = row = None
        if instance_id is None and db.is_sqlite:
            row = task_row = fast.first(conn, _user_task_and_instance if task_kind == "user"
                                        else _external_task_and_instance, {"id": task_id})
        if row is None:
            if instance_id is None:
                task_row = find_task(conn, task_id, task_kind)  # type: ignore[arg-type]
                instance_id = task_row.instance_id
            row = lock_instance(conn, db, instance_id, skip_locked=skip_locked)
        instance_id = row.id
        if require_active and row.status != "active":
            if task_id is not None:
                raise (TaskNotOpen if task_kind == "user" else TaskNotFound)(
                    f"task {task_id} is no longer open: its process instance is {row.status}")
            raise InstanceNotActive(f"process instance {instance_id} is {row.status}")
        if task_row is not None and not db.is_sqlite:
            task_row = find_task(conn, task_id, task_kind)  # type: ignore[arg-type]  # re-read under the lock
        wf = state.loads(row.state, row.state_format, db.specs.get)
        cmd = Command(conn, actor, clock.now(), row, wf)
        cmd.organisation_variable = db.organisation_variable
        cmd.task_row = task_row
        yield cmd
        if cmd.run_engine:
            run_engine(cmd)
        save(cmd)
        cmd.result = _result(cmd)
        _note_instance(cmd)
    after_commit(db, cmd)


def _note_instance(cmd: Command) -> None:
    """Tell a note riding on this transaction (the request's audit entry) which instance changed."""
    note = pending_note()
    if note is not None and note.instance_id is None:
        note.instance_id = cmd.instance_id


def _result(cmd: Command) -> InstanceInfo:
    """The instance as this command left it, built from what it wrote; only rows it did not write
    itself (tasks that stayed open keep their claims and locks) are read back."""
    v, row, now = cmd.written, cmd.row, cmd.now
    assert cmd.after is not None
    tasks: dict[str, list[Any]] = {}
    for noun, table, still_open in (("task", user_task, cmd.after.user_tasks),
                                    ("external_task", external_task, cmd.after.external_tasks)):
        rows: list[Any] = [SimpleNamespace(**r, worker_id=None, lock_expires_at=None, retries=None,
                                           error_message=None, claimed_at=None)
                           for r in cmd.new_rows.get(noun, [])]
        kept = [tid for tid in still_open if tid not in {r.id for r in rows}]
        if kept:
            rows += cmd.conn.execute(_select_by_ids[table.name], {"ids": kept}).all()
        tasks[noun] = sorted(rows, key=lambda r: (aware(r.created_at), r.id))
    incidents = [] if not cmd.may_have_incidents else [
        incident_info(r) for r in cmd.conn.execute(OPEN_INCIDENTS_OF, {"id": cmd.instance_id})]
    started = getattr(row, "started_at", None)
    return InstanceInfo(
        id=cmd.instance_id, definition_id=cmd.definition_id, definition_key=row.definition_key,
        business_key=row.business_key, status=v.get("status", row.status), version=v["version"],
        started_at=aware(started) if started is not None else now,
        started_by=getattr(row, "started_by", cmd.actor.id), updated_at=now,
        ended_at=v.get("ended_at"), end_reason=v.get("end_reason"), next_timer_at=v["next_timer_at"],
        variables=v["variables"], user_tasks=[user_task_info(r) for r in tasks["task"]],
        external_tasks=[external_task_info(r) for r in tasks["external_task"]], incidents=incidents)


class _NewRow:
    """The row a new instance will get, before it exists."""

    def __init__(self, instance_id: str, definition_id: str, definition_key: str, business_key: str | None):
        self.id, self.definition_id, self.definition_key = instance_id, definition_id, definition_key
        self.business_key, self.version, self.status, self.variables = business_key, 0, "active", {}
        self.has_incidents = False


class NotClaimed(Exception):
    """new_instance_command's claim found nothing to do; nothing was written."""


@contextmanager
def new_instance_command(db: Database, *, actor: Actor, business_key: str | None,
                         definition_id: str | None = None, definition_key: str | None = None,
                         resolve: Callable[[sa.Connection], tuple[str, str]] | None = None,
                         prepare: Callable[[BpmnWorkflow], None] | None = None,
                         claim: Callable[[sa.Connection], bool] | None = None) -> Iterator[Command]:
    """Create an instance in one transaction, of `definition_id` or of what `resolve` finds in that
    transaction; `claim`, if given, runs first and may decline (NotClaimed), e.g. when another
    server already started it."""
    with db.write() as conn:
        if claim is not None and not claim(conn):
            raise NotClaimed
        if resolve is not None:
            definition_id, definition_key = resolve(conn)
        assert definition_id is not None and definition_key is not None
        wf = state.new_workflow(db.specs.get(definition_id))
        if prepare is not None:
            prepare(wf)
        row = _NewRow(str(uuid.uuid4()), definition_id, definition_key, business_key)
        cmd = Command(conn, actor, clock.now(), row, wf)
        cmd.organisation_variable = db.organisation_variable
        yield cmd
        if cmd.run_engine:
            run_engine(cmd)
        save(cmd)
        cmd.result = _result(cmd)
        _note_instance(cmd)
    after_commit(db, cmd)

