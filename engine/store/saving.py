"""Saving an instance after a command (DESIGN §2, steps 5 and 6): serialize the state, write the row,
derive the projections — open user and external tasks, message subscriptions, the next timer,
the variables and their index (store.variable_index), incidents of tasks that failed — and record what happened."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from SpiffWorkflow.task import Task

from engine.bpmn import state
from engine.errors import BusinessKeyInUse, VersionConflict
from engine.results import InstanceInfo
from engine.store import projection, variable_index
from engine.store.rows import OPEN_INCIDENTS_OF, aware, external_task_info, incident_info, user_task_info
from engine.store.tables import external_task, instance, message_subscription, user_task

if TYPE_CHECKING:
    from engine.store.command import Command

_update_instance = (instance.update()
                    .where(instance.c.id == sa.bindparam("b_id"), instance.c.version == sa.bindparam("b_version")))
_insert_instance = instance.insert()
_insert_row = {t.name: t.insert() for t in (user_task, external_task, message_subscription)}
_delete_by_id = {t.name: t.delete().where(t.c.id == sa.bindparam("b_id")) for t in (user_task, external_task)}
_select_by_ids = {t.name: sa.select(t).where(t.c.id.in_(sa.bindparam("ids", expanding=True)))
                  for t in (user_task, external_task)}
_delete_subscription = message_subscription.delete().where(
    message_subscription.c.task_id == sa.bindparam("b_task_id"),
    message_subscription.c.message_name == sa.bindparam("b_name"))


@dataclass
class Saved:
    """What saving wrote: the instance's new column values and the task rows it inserted."""

    values: dict[str, Any]
    after: projection.Snapshot
    new_rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def save(cmd: Command) -> Saved:
    """Serialize, write the instance, derive the projections, record history."""
    wf, ch = cmd.workflow, cmd.change
    dialect, now = ch.db.dialect, ch.now
    after = projection.Snapshot(wf)
    status = cmd.ending[0] if cmd.ending else ("completed" if wf.is_completed() else None)
    ended = status in {"completed", "cancelled"}
    plain = cmd.row.variables if status == "cancelled" else state.to_plain(projection.variables(wf, after))
    state.prune(wf)                                        # finished history leaves the live state
    values: dict[str, Any] = {
        "state": state.dumps(wf), "version": cmd.row.version + 1, "updated_at": now, "variables": plain,
        "next_timer_at": None if ended else projection.next_timer_at(after),
    }
    if status is not None:
        values.update(status=status, ended_at=now, end_reason=cmd.ending[1] if cmd.ending else None)
    saved = Saved(values, after)
    if ended:
        values["unique_key"] = None                        # an ended case frees its business key
    if cmd.row.version == 0:
        try:
            dialect.execute(ch.conn, _insert_instance, {
                "id": cmd.instance_id, "definition_id": cmd.definition_id, "definition_key": cmd.row.definition_key,
                "business_key": cmd.row.business_key, "status": "active", "ended_at": None, "end_reason": None,
                "state_format": state.STATE_FORMAT, "started_at": now, "started_by": ch.actor.id, "suspended": False,
                "unique_key": None, **values} | ({"unique_key": cmd.row.unique_key} if not ended else {}))
        except sa.exc.IntegrityError as exc:
            raise BusinessKeyInUse(f"process {cmd.row.definition_key} already has an open case with business key "
                                   f"{cmd.row.business_key}; its business keys are unique while open") from exc
    elif dialect.execute(ch.conn, _update_instance, {"b_id": cmd.instance_id, "b_version": cmd.row.version,
                                                     **values}) != 1:
        raise VersionConflict(f"instance {cmd.instance_id} was changed by someone else; try again")
    variable_index.write(dialect, ch.conn, cmd.instance_id, cmd.row.variables, plain)

    common = {"instance_id": cmd.instance_id, "definition_id": cmd.definition_id,
              "definition_key": cmd.row.definition_key, "business_key": cmd.row.business_key, "created_at": now}
    org = ch.db.organisation_variable
    _sync(cmd, saved, common, cmd.before.user_tasks, after.user_tasks, user_task,
          lambda t: projection.user_task_row(t, org), "task")
    _sync(cmd, saved, common, cmd.before.external_tasks, after.external_tasks, external_task,
          projection.external_task_row, "external_task")
    _sync_subscriptions(cmd, cmd.before.messages, after.messages)
    for tid, task in after.errors.items():
        if tid not in cmd.before.errors:
            cmd.open_incident(task_id=tid, activity_id=task.task_spec.bpmn_id, type_="failedTask",
                              message=cmd.failures.get(tid) or _error_message(task))
    for task_id, activity_id, due in projection.fired_timers(wf, cmd.before, after):
        cmd.record("timer_fired", task_id=task_id, activity_id=activity_id, due=due)
    if status == "completed":
        cmd.record("instance_completed")
    if ended:
        cmd.resolve_incidents(reason=f"instance {status}")
    if topics := [r["topic"] for r in saved.new_rows.get("external_task", [])]:
        ch.wake_workers(*topics)
    due = values["next_timer_at"]
    if due is not None and due != aware(getattr(cmd.row, "next_timer_at", None)):
        ch.wake_timers(due)
    return saved


def _sync_subscriptions(cmd: Command, before: dict[tuple[str, str], Task], after: dict[tuple[str, str], Task]) -> None:
    ch = cmd.change
    new = [projection.subscription_row(key, t) | {"instance_id": cmd.instance_id,
                                                  "business_key": cmd.row.business_key, "created_at": ch.now}
           for key, t in after.items() if key not in before]
    gone = [key for key in before if key not in after]
    if new:
        ch.db.dialect.execute(ch.conn, _insert_row["message_subscription"], new)
    if gone:
        ch.db.dialect.execute(ch.conn, _delete_subscription,
                              [{"b_task_id": task_id, "b_name": name} for task_id, name in gone])


def _sync(cmd: Command, saved: Saved, common: dict[str, Any], before: dict[str, Task], after: dict[str, Task],
          table: sa.Table, to_row: Callable[[Task], dict[str, Any]], noun: str) -> None:
    """Insert rows for tasks that opened, delete rows of tasks that closed; rows of tasks still open
    keep what was written to them (claims, locks, retries)."""
    ch = cmd.change
    new = [to_row(t) | common for tid, t in after.items() if tid not in before]
    gone = [tid for tid in before if tid not in after]
    saved.new_rows[noun] = new
    if new:
        ch.db.dialect.execute(ch.conn, _insert_row[table.name], new)
        for r in new:
            cmd.record(f"{noun}_created", task_id=r["id"], activity_id=r["activity_id"],
                       name=r.get("name"), topic=r.get("topic"))
    if gone:
        ch.db.dialect.execute(ch.conn, _delete_by_id[table.name], [{"b_id": tid} for tid in gone])
        for tid in gone:
            if tid not in cmd.finished_tasks:
                cmd.record(f"{noun}_cancelled", task_id=tid, activity_id=before[tid].task_spec.bpmn_id)
                if noun == "external_task":
                    cmd.resolve_incidents(reason="task cancelled", task_id=tid)


def _error_message(task: Task) -> str:
    err = task.internal_data.get("error") if isinstance(task.internal_data, dict) else None
    return str(err) if err else f"task {task.task_spec.bpmn_id} failed"


def result(cmd: Command, saved: Saved) -> InstanceInfo:
    """The instance as the command left it, built from what it wrote; only rows it did not write
    itself (tasks that stayed open keep their claims and locks) are read back."""
    v, row, ch = saved.values, cmd.row, cmd.change
    tasks: dict[str, list[Any]] = {}
    for noun, table, still_open in (("task", user_task, saved.after.user_tasks),
                                    ("external_task", external_task, saved.after.external_tasks)):
        rows: list[Any] = [SimpleNamespace(**r, worker_id=None, lock_owner=None, lock_expires_at=None, retries=None,
                                           error_message=None, claimed_at=None)
                           for r in saved.new_rows.get(noun, [])]
        kept = [tid for tid in still_open if tid not in {r.id for r in rows}]
        if kept:
            rows += ch.conn.execute(_select_by_ids[table.name], {"ids": kept}).all()
        tasks[noun] = sorted(rows, key=lambda r: (aware(r.created_at), r.id))
    incidents = [] if not cmd.may_have_incidents else [
        incident_info(r) for r in ch.conn.execute(OPEN_INCIDENTS_OF, {"id": cmd.instance_id})]
    started = getattr(row, "started_at", None)
    return InstanceInfo(
        id=cmd.instance_id, definition_id=cmd.definition_id, definition_key=row.definition_key,
        business_key=row.business_key, status=v.get("status", row.status), version=v["version"],
        started_at=aware(started) if started is not None else ch.now,
        started_by=getattr(row, "started_by", ch.actor.id), updated_at=ch.now,
        ended_at=v.get("ended_at"), end_reason=v.get("end_reason"), next_timer_at=v["next_timer_at"],
        variables=v["variables"], user_tasks=[user_task_info(r) for r in tasks["task"]],
        external_tasks=[external_task_info(r) for r in tasks["external_task"]], incidents=incidents,
        suspended=bool(getattr(row, "suspended", False)))
