"""Moving a workflow's tokens by hand, for an administrator repairing a stuck case: cancel what waits
at an activity, start a token before an activity, or after it (on its one outgoing flow), and set
or remove a variable where the case will read it. Camunda 7's process instance modification, for
the instructions a SpiffWorkflow case can honour.

SpiffWorkflow has no such operations (only `reset_from_task_id`); the tree changes they need are in
engine.bpmn.compat.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.control import BoundaryEventJoin, BoundaryEventSplit, _EndJoin
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.bpmn import compat
from engine.bpmn.migration import LIVE, activities, processes


class CannotModify(ValueError):
    """An instruction this case cannot take; the message says why, naming the activity."""


def _workflows(wf: BpmnWorkflow) -> list[Any]:
    return [wf, *wf.subprocesses.values()]


def live(wf: BpmnWorkflow) -> list[Task]:
    return [t for w in _workflows(wf) for t in w.tasks.values()
            if t.has_state(LIVE) and not isinstance(t.task_spec, BoundaryEventSplit)]


def find_activity(wf: BpmnWorkflow, activity_id: str) -> tuple[str, Any]:
    """(process id, spec) of an activity of this case's definition. Raises CannotModify."""
    for process_id, process in processes((wf.spec, wf.subprocess_specs)).items():
        found = activities(process).get(activity_id)
        if found is not None:
            return process_id, found
    raise CannotModify(f"activity '{activity_id}' does not exist in {wf.spec.rf_definition_id}")


# -- cancel ----------------------------------------------------------------------------------------

def cancel(wf: BpmnWorkflow, *, activity_id: str | None = None, task_id: str | None = None) -> list[Task]:
    """Cancel every token at `activity_id` (or the one task `task_id`), with the boundary events of
    what is cancelled; a called process or subprocess left with nothing to do is cancelled with its
    call activity. Returns the tasks asked for. Raises CannotModify when nothing waits there."""
    targets = [t for t in live(wf) if (task_id is not None and str(t.id) == task_id)
               or (task_id is None and t.task_spec.bpmn_id == activity_id)]
    if not targets:
        where = f"task {task_id}" if task_id is not None else f"activity '{activity_id}'"
        raise CannotModify(f"nothing waits at {where} in this case")
    for task in targets:
        if not task.has_state(LIVE):
            continue                                            # cancelled with an earlier one
        parent = task.parent
        if parent is not None and isinstance(parent.task_spec, BoundaryEventSplit) \
                and not isinstance(task.task_spec, BoundaryEvent):
            parent.cancel()                                     # the activity with its boundary events
        else:
            task.cancel()
    _cancel_empty_subprocesses(wf)
    return targets


def _cancel_empty_subprocesses(wf: BpmnWorkflow) -> None:
    changed = True
    while changed:
        changed = False
        for task_id, sub in list(wf.subprocesses.items()):
            caller = next((w.tasks[task_id] for w in _workflows(wf) if task_id in w.tasks), None)
            if caller is None or not caller.has_state(LIVE) or sub.completed:
                continue
            if not any(t.has_state(LIVE) for t in sub.tasks.values()):
                caller.cancel()
                changed = True


def settle(wf: BpmnWorkflow) -> bool:
    """After tokens were taken away: let branches waiting at the end finish if nothing else is left.
    Returns whether the case still has anything to do."""
    for task in live(wf):
        if isinstance(task.task_spec, _EndJoin) and task.state == TaskState.WAITING:
            compat.update(task)
    return any(t.has_state(LIVE) for w in _workflows(wf) for t in w.tasks.values())


# -- start -----------------------------------------------------------------------------------------

def start_before(wf: BpmnWorkflow, activity_id: str, *, data: Mapping[str, Any], in_task: str | None = None) -> Task:
    """A new token entering `activity_id` (with its boundary events), carrying `data` — the case's
    variables as they are now, and the instruction's. `in_task`: the call activity (task id) whose
    running process it enters, when the activity is in a called process or subprocess that runs more
    than once. Raises CannotModify."""
    process_id, spec = find_activity(wf, activity_id)
    if isinstance(spec, StartEvent):
        raise CannotModify(f"'{activity_id}' is a start event: start a new case instead")
    workflow = _workflow_for(wf, process_id, in_task)
    split = next((i for i in spec.inputs if isinstance(i, BoundaryEventSplit)), None)
    anchor = workflow.task_tree
    workflow.completed = wf.completed = False          # it has something to do again
    token = compat.add_child(anchor, split or spec, TaskState.FUTURE)
    token.data = copy.deepcopy(dict(data))
    compat.predict(token)
    kept, anchor.data = anchor.data, token.data
    try:
        compat.update(token)                    # ready, or waiting (a timer from now, a message)
    finally:
        anchor.data = kept
    return token


def start_after(wf: BpmnWorkflow, activity_id: str, *, data: Mapping[str, Any], in_task: str | None = None) -> Task:
    """A new token on the one sequence flow leaving `activity_id`. Raises CannotModify (no such
    activity, or not exactly one outgoing flow)."""
    _, spec = find_activity(wf, activity_id)
    following = [o for o in spec.outputs if not isinstance(o, BoundaryEventJoin | _EndJoin)]
    if isinstance(spec, EndEvent) or not following:
        raise CannotModify(f"'{activity_id}' has no outgoing sequence flow")
    if len(following) > 1:
        raise CannotModify(f"'{activity_id}' has {len(following)} outgoing sequence flows: start before the "
                           "activity the chosen flow leads to instead")
    target = following[0]
    if target.bpmn_id is None:
        raise CannotModify(f"'{activity_id}' leads to no activity a token can be placed before")
    return start_before(wf, target.bpmn_id, data=data, in_task=in_task)


def _workflow_for(wf: BpmnWorkflow, process_id: str, in_task: str | None) -> Any:
    if process_id == wf.spec.name:
        return wf
    running = [(task_id, sub) for task_id, sub in wf.subprocesses.items()
               if sub.spec.name == process_id and not sub.completed]
    if in_task is not None:
        running = [(task_id, sub) for task_id, sub in running if str(task_id) == in_task]
    if not running:
        raise CannotModify(f"the activity is in '{process_id}', which this case is not running"
                           + (f" under task {in_task}" if in_task else "") + ": start before the activity that "
                           "runs it instead")
    if len(running) > 1:
        raise CannotModify(f"'{process_id}' runs {len(running)} times in this case: name the call activity's task "
                           "(ancestorActivityInstanceId) whose run to enter")
    return running[0][1]


# -- variables -------------------------------------------------------------------------------------

def set_variable(wf: BpmnWorkflow, name: str, value: Any) -> None:
    """Set `name` wherever the case reads its variables next: in every live task (a task in error
    also where a retry starts again, its parent)."""
    for task in _holders(wf):
        task.data[name] = copy.deepcopy(value)


def delete_variable(wf: BpmnWorkflow, name: str) -> bool:
    """Remove `name` wherever the case would read it next; whether it was there."""
    found = False
    for task in _holders(wf):
        if name in task.data:
            del task.data[name]
            found = True
    return found


def _holders(wf: BpmnWorkflow) -> list[Task]:
    tasks = live(wf)
    for task in list(tasks):
        if task.state == TaskState.ERROR and task.parent is not None:
            tasks.append(task.parent)
        if isinstance(task.task_spec, BoundaryEvent) and task.parent is not None:
            tasks.append(task.parent)
    return list({t.id: t for t in tasks}.values())
