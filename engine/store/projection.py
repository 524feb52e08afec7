"""What is derived from an instance's state after every command: open work, next timer, variables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.bpmn import state
from engine.bpmn.parser import group_for_lane
from engine.bpmn.specs import ExternalServiceTask, HumanTask

_TIMER_TYPES = {"DurationTimerEventDefinition", "TimeDateEventDefinition", "CycleTimerEventDefinition"}
_LIVE = TaskState.READY | TaskState.STARTED | TaskState.WAITING | TaskState.ERROR


class Snapshot:
    """The open work of one workflow at one moment, keyed by task id (str)."""

    __slots__ = ("user_tasks", "external_tasks", "errors", "live")

    def __init__(self, wf: BpmnWorkflow) -> None:
        self.user_tasks: dict[str, Task] = {}
        self.external_tasks: dict[str, Task] = {}
        self.errors: dict[str, Task] = {}
        self.live: list[Task] = []
        for task in wf.get_tasks(state=_LIVE):
            self.live.append(task)
            spec, st = task.task_spec, task.state
            if st == TaskState.READY and spec.manual:
                self.user_tasks[str(task.id)] = task
            elif st == TaskState.STARTED and isinstance(spec, ExternalServiceTask):
                self.external_tasks[str(task.id)] = task
            elif st == TaskState.ERROR:
                self.errors[str(task.id)] = task


def user_task_row(task: Task) -> dict[str, Any]:
    spec = task.task_spec
    if isinstance(spec, HumanTask):
        groups, users, assignee = spec.candidate_groups, spec.candidate_users, spec.assignee
        form_key, priority = spec.form_key, spec.priority
    else:                                   # manual task or plain <task>: the lane says who
        lane_group = group_for_lane(spec.lane)
        groups, users, assignee, form_key, priority = ([lane_group] if lane_group else []), [], None, None, 50
    return {
        "id": str(task.id), "activity_id": spec.bpmn_id, "name": spec.bpmn_name,
        "documentation": spec.documentation, "lane": spec.lane,
        "candidate_groups": pack(groups), "candidate_users": pack(users), "assignee": assignee,
        "form_key": form_key, "priority": priority,
    }


def external_task_row(task: Task) -> dict[str, Any]:
    spec: ExternalServiceTask = task.task_spec
    return {"id": str(task.id), "activity_id": spec.bpmn_id, "topic": spec.topic,
            "priority": spec.priority, "extension_properties": spec.properties,
            "variables": state.to_plain(task.data)}


def pack(values: list[str]) -> str:
    return "," + ",".join(values) + "," if values else ""


def unpack(packed: str) -> list[str]:
    return [v for v in packed.split(",") if v]


def next_timer_at(wf: BpmnWorkflow) -> datetime | None:
    due = []
    for event in wf.waiting_events():
        if event.event_type in _TIMER_TYPES:
            value = event.value
            if isinstance(value, dict):            # cycle: {'cycles', 'next', 'duration'}
                value = value.get("next")
            if isinstance(value, str):
                due.append(TimerEventDefinition.get_datetime(value))
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
