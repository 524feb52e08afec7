"""What is derived from an instance's state after every command: open work, next timer, variables."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.defaults import StartEvent
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.bpmn import state
from engine.bpmn.parser import REFERENCE, group_for_lane
from engine.bpmn.specs import ExternalServiceTask, HumanTask

_LIVE = TaskState.READY | TaskState.STARTED | TaskState.WAITING | TaskState.ERROR


class Snapshot:
    """The open work of one workflow at one moment, keyed by task id (str)."""

    __slots__ = ("user_tasks", "external_tasks", "errors", "live", "timers", "messages")

    def __init__(self, wf: BpmnWorkflow) -> None:
        self.user_tasks: dict[str, Task] = {}
        self.external_tasks: dict[str, Task] = {}
        self.errors: dict[str, Task] = {}
        self.live: list[Task] = []
        self.timers: dict[str, tuple[str, Any]] = {}             # waiting timer: (activity id, due value)
        self.messages: dict[tuple[str, str], Task] = {}          # (task id, message name): waits for it
        for task in wf.get_tasks(state=_LIVE):
            self.live.append(task)
            spec, st = task.task_spec, task.state
            if st == TaskState.WAITING:
                definition = getattr(spec, "event_definition", None)
                parts = getattr(definition, "event_definitions", None) or [definition]
                value = task.internal_data.get("event_value")
                exhausted = isinstance(value, dict) and value.get("cycles") == 0   # a cycle that has run out
                if any(isinstance(d, TimerEventDefinition) for d in parts) and not exhausted:
                    self.timers[str(task.id)] = (spec.bpmn_id, dict(value) if isinstance(value, dict)
                                                 else value if value is None else str(value))
                if not isinstance(spec, StartEvent):
                    for d in parts:
                        if isinstance(d, MessageEventDefinition):
                            self.messages[(str(task.id), d.name)] = task
            if st == TaskState.READY and spec.manual:
                self.user_tasks[str(task.id)] = task
            elif st == TaskState.STARTED and isinstance(spec, ExternalServiceTask):
                self.external_tasks[str(task.id)] = task
            elif st == TaskState.ERROR:
                self.errors[str(task.id)] = task


def fired_timers(wf: BpmnWorkflow, before: Snapshot, after: Snapshot) -> list[tuple[str, str, str | None]]:
    """Timers that fired between two snapshots: (task id, activity id, due value). A timer that
    was cancelled (its activity finished first) did not fire."""
    fired = []
    for task_id, (activity_id, value) in before.timers.items():
        if task_id in after.timers:
            if after.timers[task_id][1] != value:         # a cycle moved on to its next occurrence
                fired.append((task_id, activity_id, _due_text(value)))
            continue
        try:
            task = wf.get_task_from_id(UUID(task_id))
        except Exception:  # noqa: BLE001 - removed from the tree: it did not fire here
            continue
        definition = task.task_spec.event_definition
        if isinstance(value, dict):                       # a cycle: did its count go down?
            now_value = task.internal_data.get("event_value")
            if now_value is None or (isinstance(now_value, dict) and now_value.get("cycles") != value.get("cycles")):
                fired.append((task_id, activity_id, _due_text(value)))
        elif isinstance(definition, MultipleEventDefinition):      # event-based gateway: did the timer win?
            timer_ids = {d.name for d in definition.event_definitions if isinstance(d, TimerEventDefinition)}
            won = any(c.task_spec.bpmn_id in timer_ids and c.state in (TaskState.READY, TaskState.COMPLETED)
                      for c in task.children)
            if won:
                fired.append((task_id, activity_id, _due_text(value)))
        elif task.state in (TaskState.READY, TaskState.COMPLETED):
            fired.append((task_id, activity_id, _due_text(value)))
    return fired




def lookup(data: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path (`action.agency`) in a case's variables, or None."""
    value: Any = data
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def resolve(values: list[str], data: dict[str, Any]) -> list[str]:
    """Who a task names, with `${variable}` or `${variable.key}` (Camunda's expression syntax, for
    a plain reference) taken from the task's data when it opens: a text names one, a list several,
    nothing none."""
    out: list[str] = []
    for value in values:
        match = REFERENCE.match(value)
        if match is None:
            out.append(value)
            continue
        found = lookup(data, match.group(1))
        items = found if isinstance(found, list) else [found]
        out += [str(item) for item in items
                if isinstance(item, str | int) and not isinstance(item, bool) and item != ""]
    return out


def user_task_row(task: Task, organisation_variable: str | None = None) -> dict[str, Any]:
    spec = task.task_spec
    path = getattr(spec, "organisation", None) or organisation_variable
    organisation = lookup(task.data, REFERENCE.sub(r"\1", path)) if path else None
    if isinstance(spec, HumanTask):
        groups, users = resolve(spec.candidate_groups, task.data), resolve(spec.candidate_users, task.data)
        named = resolve([spec.assignee], task.data) if spec.assignee else []
        assignee = named[0] if named else None
        form_key, priority = spec.form_key, spec.priority
    else:                                   # manual task or plain <task>: the lane says who
        lane_group = group_for_lane(spec.lane)
        groups, users, assignee, form_key, priority = ([lane_group] if lane_group else []), [], None, None, 50
    return {
        "id": str(task.id), "activity_id": spec.bpmn_id, "name": spec.bpmn_name,
        "documentation": spec.documentation, "lane": spec.lane,
        "candidate_groups": pack(groups), "candidate_users": pack(users), "assignee": assignee,
        "form_key": form_key, "priority": priority,
        "organisation": organisation if isinstance(organisation, str) else None,
        "case_access": getattr(spec, "case_access", "case") != "task",
    }


def external_task_row(task: Task) -> dict[str, Any]:
    spec: ExternalServiceTask = task.task_spec
    return {"id": str(task.id), "activity_id": spec.bpmn_id, "topic": spec.topic,
            "priority": spec.priority, "extension_properties": spec.properties,
            "variables": state.to_plain(task.data)}


def _due_text(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("next")
    return value if isinstance(value, str) else None


def due_at(value: Any) -> datetime | None:
    """A timer's due moment from its stored value (ISO string; cycles: {'next': ISO, ...})."""
    text = _due_text(value)
    if not isinstance(text, str):
        return None
    due: datetime = TimerEventDefinition.get_datetime(text)
    return due


def subscription_row(key: tuple[str, str], task: Task) -> dict[str, Any]:
    return {"task_id": key[0], "message_name": key[1], "activity_id": task.task_spec.bpmn_id}


def pack(values: list[str]) -> str:
    return "," + ",".join(values) + "," if values else ""


def unpack(packed: str) -> list[str]:
    return [v for v in packed.split(",") if v]


def next_timer_at(snapshot: Snapshot) -> datetime | None:
    """The earliest due moment among the waiting timers."""
    due = [d for _, value in snapshot.timers.values() if (d := due_at(value)) is not None]
    return min(due, default=None)


def variables(wf: BpmnWorkflow, snapshot: Snapshot) -> dict[str, Any]:
    """The instance's variables: the final data when complete, else the data of its live tasks,
    later changes winning."""
    if wf.is_completed():
        if wf.data:
            return dict(wf.data)
        last = wf.last_task
        return dict(last.data) if last is not None else {}
    merged: dict[str, Any] = {}
    for task in sorted(snapshot.live, key=lambda t: t.last_state_change):
        merged.update(task.data)
    return merged
