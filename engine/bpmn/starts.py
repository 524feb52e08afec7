"""Entering a process at one particular start event (a message or timer start), when it has others.

SpiffWorkflow starts every start event at once and lets the first to fire win, so a process with a
none start *and* a message start would always begin at the none start. To begin at the message (or
timer) start, run the start-up tasks up to the start events, cancel the other start events, and
hand the chosen one its event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from SpiffWorkflow.bpmn.specs.defaults import StartEvent
from SpiffWorkflow.util.task import TaskState


def enter_at(wf: Any, activity_id: str, prepare: Callable[[Any], None] | None = None) -> Any:
    """The start event `activity_id`, waiting, with every other start event cancelled. `prepare`
    sees the task before its event definition is first evaluated.

    Raises: ValueError when the process has no such start event.
    """
    found = [t for t in wf.get_tasks() if t.task_spec.bpmn_id == activity_id and isinstance(t.task_spec, StartEvent)]
    if not found:
        raise ValueError(f"the process has no start event {activity_id}")
    target_id = found[0].id
    if prepare is not None:
        prepare(found[0])
    for _ in range(10):
        target = wf.get_task_from_id(target_id)
        if target.state in (TaskState.WAITING, TaskState.READY):
            break
        ready = [t for t in wf.get_tasks(state=TaskState.READY) if not isinstance(t.task_spec, StartEvent)]
        if not ready:
            break
        for task in ready:
            task.run()
    for task in wf.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.LIKELY | TaskState.MAYBE):
        if isinstance(task.task_spec, StartEvent) and task.id != target_id:
            task.cancel()
    return wf.get_task_from_id(target_id)
