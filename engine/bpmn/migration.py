"""Moving one workflow to another version of its process: which of its tokens a plan can carry over,
and the move itself.

A plan's instructions map activity ids of the source version to activity ids of the target.
`check` says, for one workflow, whether every token it holds — each open user task, external task,
waiting timer or message, waiting gateway, running call activity, task in error — has a place in
the target, and why not. `move` then puts the workflow on the target version:

* each token keeps its task: id, state, data and timer due time, so what is kept beside the state
  (claims, worker locks, retries, message subscriptions) stays the token's;
* the path behind the tokens keeps the steps the target still has; a step the target no longer has
  is taken out of the path (its successors take its place);
* what lies ahead of each token is predicted again, from the target;
* a boundary event moves with its activity when the target attaches it there too (a timer keeps its
  due time); the target's other boundary events on that activity start now; boundary events the
  target does not have end with the move.

SpiffWorkflow's own migration (`SpiffWorkflow.bpmn.util.diff.migrate_workflow`) resets every
waiting task instead, which would lose task ids, claims, locks and timers. Everything private in
SpiffWorkflow that a move needs is in engine.bpmn.compat.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit, _EndJoin
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent, IntermediateThrowEvent
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.specs.mixins.exclusive_gateway import ExclusiveGateway
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.bpmn.specs.mixins.unstructured_join import UnstructuredJoin
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.bpmn import compat
from engine.bpmn.state import SpecPair

LIVE = TaskState.READY | TaskState.STARTED | TaskState.WAITING | TaskState.ERROR
AHEAD = TaskState.PREDICTED_MASK | TaskState.FUTURE
NO_INSTRUCTION = "There is no migration instruction for this instance's activity"
_CONTROL_SUFFIXES = (".BoundaryEventSplit", ".BoundaryEventJoin")
_CHILD_SUFFIX = " [child]"


@dataclass(frozen=True)
class Instruction:
    """Cases waiting at `source_activity_id` (of the source version) move to `target_activity_id`
    (of the target version). `update_event_trigger`: a timer there restarts from the target's
    definition at the move (otherwise it keeps its due time)."""

    source_activity_id: str
    target_activity_id: str
    update_event_trigger: bool = False


@dataclass(frozen=True)
class Token:
    """Where a workflow waits: one live task at one activity."""

    task_id: str
    activity_id: str
    name: str | None
    process_id: str
    state: str


@dataclass(frozen=True)
class TokenProblem:
    """Why a token cannot move: the task, its activity, the instruction that applied (if any)."""

    task_id: str
    activity_id: str
    instruction: Instruction | None
    failures: tuple[str, ...]


# -- the processes' activities -------------------------------------------------------------------

def processes(pair: SpecPair) -> dict[str, Any]:
    """Every process of a definition version, by process id: its own and those it runs inside
    (embedded subprocesses and called processes)."""
    spec, subprocess_specs = pair
    return {spec.name: spec, **{name: s for name, s in subprocess_specs.items() if name != spec.name}}


def activities(process: Any) -> dict[str, Any]:
    """The activities of one process spec, by id (the BPMN elements, not SpiffWorkflow's helpers)."""
    return {s.bpmn_id: s for s in process.task_specs.values()
            if getattr(s, "bpmn_id", None) is not None and s.name == s.bpmn_id}


def kind(spec: Any) -> str:
    """What an activity is, as far as moving a token between versions goes: tokens move only
    between activities of one kind (a user task to a user task, a timer to a timer)."""
    name = type(spec).__name__.removeprefix("Merging")
    definition = getattr(spec, "event_definition", None)
    if definition is not None and not isinstance(spec, StartEvent | EndEvent):
        parts = getattr(definition, "event_definitions", None)
        inner = "+".join(sorted(type(d).__name__ for d in parts)) if parts else type(definition).__name__
        name += f"({inner.removesuffix('EventDefinition')})"
    return name


def holds_tokens(spec: Any) -> bool:
    """Whether a case can wait at this activity (so a plan maps it): not start or end events,
    throw events or exclusive gateways, which a token passes without stopping."""
    return not isinstance(spec, StartEvent | EndEvent | IntermediateThrowEvent | ExclusiveGateway)


def is_event(spec: Any) -> bool:
    return isinstance(spec, CatchingEvent)


def generate(source: SpecPair, target: SpecPair, *, update_event_triggers: bool = False) -> list[Instruction]:
    """Instructions for every activity with the same id and kind in both versions (in every
    process both run), sorted by id."""
    found: dict[str, Instruction] = {}
    target_processes = processes(target)
    for process_id, process in processes(source).items():
        counterpart = target_processes.get(process_id)
        if counterpart is None:
            continue
        theirs = activities(counterpart)
        for activity_id, spec in activities(process).items():
            other = theirs.get(activity_id)
            if other is not None and holds_tokens(spec) and kind(other) == kind(spec):
                found.setdefault(activity_id, Instruction(activity_id, activity_id,
                                                          update_event_triggers and is_event(spec)))
    return [found[k] for k in sorted(found)]


def instruction_failures(source: SpecPair, target: SpecPair, instructions: Sequence[Instruction]) -> \
        list[list[str]]:
    """What is wrong with each instruction on its own (Camunda's "creation time validation"):
    unknown activities, activities of different kinds, one source mapped twice."""
    source_processes, target_processes = processes(source), processes(target)
    seen: dict[str, int] = {}
    for instruction in instructions:
        seen[instruction.source_activity_id] = seen.get(instruction.source_activity_id, 0) + 1
    reports: list[list[str]] = []
    for instruction in instructions:
        old, new = instruction.source_activity_id, instruction.target_activity_id
        failures: list[str] = []
        if seen[old] > 1:
            failures.append(f"activity '{old}' is the source of more than one instruction")
        homes = [(pid, activities(p)[old]) for pid, p in source_processes.items() if old in activities(p)]
        if not homes:
            failures.append(f"source activity '{old}' does not exist in the source version")
        for process_id, spec in homes:
            counterpart = target_processes.get(process_id)
            other = activities(counterpart).get(new) if counterpart is not None else None
            if counterpart is None:
                failures.append(f"the target version does not run process '{process_id}', which has activity "
                                f"'{old}'")
            elif other is None:
                failures.append(f"target activity '{new}' does not exist in process '{process_id}' of the target "
                                "version")
            elif not holds_tokens(spec):
                failures.append(f"activity '{old}' is a {kind(spec)}: no case waits there, so it cannot be migrated")
            elif kind(other) != kind(spec):
                failures.append(f"activity '{old}' is a {kind(spec)} but '{new}' is a {kind(other)}: a case can "
                                "only move to an activity of the same kind")
            elif isinstance(spec, SubWorkflowTask) and spec.spec != other.spec:
                failures.append(f"'{old}' runs '{spec.spec}' but '{new}' runs '{other.spec}'")
            elif instruction.update_event_trigger and not is_event(spec):
                failures.append(f"updateEventTrigger applies to events only; '{old}' is a {kind(spec)}")
        reports.append(failures)
    return reports


# -- the tokens of one workflow ------------------------------------------------------------------

def _workflows(wf: BpmnWorkflow) -> list[Any]:
    return [wf, *wf.subprocesses.values()]


def _is_token(task: Task) -> bool:
    if task.has_state(LIVE):
        return not isinstance(task.task_spec, BoundaryEventSplit)
    parent = task.parent
    return (task.state == TaskState.FUTURE and not task.triggered and parent is not None
            and parent.state == TaskState.COMPLETED)                   # reached, not yet updated


def live_tasks(wf: BpmnWorkflow) -> Iterator[Task]:
    for w in _workflows(wf):
        for task in list(w.tasks.values()):
            if _is_token(task):
                yield task


def tokens(wf: BpmnWorkflow) -> list[Token]:
    """Where the workflow waits, activity by activity (helper tasks named by their activity)."""
    out = []
    for task in live_tasks(wf):
        spec = task.task_spec
        activity = spec.bpmn_id or _activity_of(spec.name)
        if activity is None:
            continue                               # a branch that reached its end, waiting for the others
        out.append(Token(str(task.id), activity, getattr(spec, "bpmn_name", None), task.workflow.spec.name,
                         TaskState.get_name(task.state)))
    return out


def _activity_of(name: str) -> str | None:
    for suffix in _CONTROL_SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return None


class _Mapping:
    """Spec names of the source version -> spec names of the target, through the instructions
    (unmapped finished steps keep their name when the target has it)."""

    def __init__(self, instructions: Iterable[Instruction]) -> None:
        self.by_source = {i.source_activity_id: i for i in instructions}

    def activity(self, activity_id: str) -> str | None:
        found = self.by_source.get(activity_id)
        return found.target_activity_id if found is not None else None

    def name(self, spec: Any, *, explicit: bool) -> str | None:
        """The target spec name for `spec`; None when `explicit` and no instruction covers it."""
        name: str = spec.name
        base: str | None = spec.bpmn_id or _activity_of(name)
        if base is None:
            return name                            # Start, End, the end join: every version has them
        mapped = self.activity(base)
        if mapped is None:
            if explicit:
                return None
            mapped = base
        return mapped + name[len(base):]


def _target_process(wf: BpmnWorkflow, workflow: Any, target: SpecPair) -> Any:
    if workflow is wf:
        return target[0]
    return processes(target).get(workflow.spec.name)


def check(wf: BpmnWorkflow, target: SpecPair, instructions: Sequence[Instruction]) -> list[TokenProblem]:
    """Why tokens of `wf` cannot move to `target` with these instructions (empty: all can)."""
    mapping = _Mapping(instructions)
    problems: list[TokenProblem] = []
    for task in live_tasks(wf):
        spec = task.task_spec
        if isinstance(spec, _EndJoin) or spec.name in ("Start", "End"):
            continue
        activity = spec.bpmn_id or _activity_of(spec.name) or spec.name
        instruction = mapping.by_source.get(activity)
        failures = _token_failures(wf, task, target, mapping)
        if failures:
            problems.append(TokenProblem(str(task.id), activity, instruction, tuple(failures)))
    return problems


def _token_failures(wf: BpmnWorkflow, task: Task, target: SpecPair, mapping: _Mapping) -> list[str]:
    spec = task.task_spec
    process = _target_process(wf, task.workflow, target)
    if process is None:
        return [f"the target version does not run process '{task.workflow.spec.name}'"]
    if isinstance(spec, BoundaryEvent):
        return _boundary_failures(task, process, mapping)
    name = mapping.name(spec, explicit=True)
    if name is None:
        return [NO_INSTRUCTION]
    other = process.task_specs.get(name)
    if other is None:
        return [f"target activity '{name}' does not exist in process '{process.name}' of the target version"]
    if kind(other) != kind(spec):
        return [f"'{spec.name}' is a {kind(spec)} but '{name}' is a {kind(other)}"]
    if isinstance(spec, SubWorkflowTask) and spec.spec != other.spec:
        return [f"'{spec.name}' runs '{spec.spec}' but '{name}' runs '{other.spec}'"]
    if isinstance(spec, UnstructuredJoin) and task.state == TaskState.WAITING:
        return _join_failures(task, other, mapping)
    return []


def _boundary_failures(task: Task, process: Any, mapping: _Mapping) -> list[str]:
    """A boundary event with an instruction must stay attached to where its activity moves; one
    without an instruction simply ends with the move."""
    target_name = mapping.name(task.task_spec, explicit=True)
    if target_name is None:
        return []
    main = _main_of(task.parent)
    main_target = mapping.name(main.task_spec, explicit=False) if main is not None else None
    split = process.task_specs.get(f"{main_target}.BoundaryEventSplit") if main_target else None
    if split is None or target_name not in {o.name for o in split.outputs}:
        return [f"boundary event '{task.task_spec.name}' moves to '{target_name}', which the target does not "
                f"attach to '{main_target}', where its activity moves"]
    return []


def _join_failures(task: Task, other: Any, mapping: _Mapping) -> list[str]:
    """A gateway waiting for its other branches: the branches that arrived must arrive at it in the
    target too, or it would wait for ever."""
    inputs = {i.name for i in other.inputs}
    failures = []
    for arrived in task.workflow.tasks.values():
        parent = arrived.parent
        if arrived.task_spec is task.task_spec and parent is not None and parent.state == TaskState.COMPLETED:
            came_from = mapping.name(parent.task_spec, explicit=False)
            if came_from not in inputs:
                failures.append(f"gateway '{task.task_spec.name}' waits for its other branches, but in the target "
                                f"it is not reached from '{came_from}', where a branch arrived from")
    return failures


def _main_of(split_task: Task | None) -> Task | None:
    if split_task is None or not isinstance(split_task.task_spec, BoundaryEventSplit):
        return None
    return next((c for c in split_task.children if not isinstance(c.task_spec, BoundaryEvent)), None)


# -- the move ------------------------------------------------------------------------------------

@dataclass
class Moved:
    """What a move did besides carrying the tokens over: boundary events it ended (activity ids),
    boundary events it started, timers it restarted from the target's definition (task ids)."""

    ended: list[str]
    started: list[str]
    restarted: list[str]


def move(wf: BpmnWorkflow, target: SpecPair, instructions: Sequence[Instruction]) -> Moved:
    """Put `wf` on the target version, in place; it does not run on (the next command does). The
    caller checks first (ValueError otherwise), then saves and reloads the workflow, which rebuilds
    what SpiffWorkflow keeps only in memory (its event manager, subprocess callbacks)."""
    problems = check(wf, target, instructions)
    if problems:
        raise ValueError(f"{len(problems)} tokens cannot move; check() says why")
    mapping = _Mapping(instructions)
    moved = Moved([], [], [])
    restart = {i.source_activity_id for i in instructions if i.update_event_trigger}
    new_events: list[Task] = []
    reached: list[Task] = []
    for workflow in _workflows(wf):
        process = _target_process(wf, workflow, target)
        live = [t for t in workflow.tasks.values() if _is_token(t)]
        restarting = [t for t in live if t.task_spec.bpmn_id in restart and isinstance(t.task_spec, CatchingEvent)]
        for task in live:
            compat.drop_predicted(task)
        _drop_stray_predictions(workflow)
        new_events += _rewire_boundaries(workflow, process, mapping, moved)
        _retarget(workflow, process, mapping)
        workflow.spec = process
        reached += [t for t in live if t.id in workflow.tasks]
        for task in restarting:
            if task.id in workflow.tasks:
                task.internal_data.pop("event_value", None)
                task.internal_data.pop("event_fired", None)
                task.task_spec.event_definition.has_fired(task)      # the due time, from now
                moved.restarted.append(str(task.id))
    wf.subprocess_specs = target[1]
    for task in reached:
        compat.connect_loops(task.task_spec)
        if task.id in task.workflow.tasks:
            compat.predict(task)
    for event in new_events:
        split = event.parent
        main = _main_of(split)
        kept, split.data = split.data, (main.data if main is not None else split.data)
        try:
            compat.update(event)                  # waits from now, with its activity's data
        finally:
            split.data = kept
        compat.predict(event)
        moved.started.append(event.task_spec.name)
    return moved


def _drop_stray_predictions(workflow: Any) -> None:
    """Predicted branches left under finished steps (conditional paths not taken) go too."""
    for task in list(workflow.tasks.values()):
        parent = task.parent
        if (task.id in workflow.tasks and task.has_state(TaskState.PREDICTED_MASK) and not task.triggered
                and parent is not None and parent.has_state(TaskState.FINISHED_MASK)):
            compat.remove(task)


def _rewire_boundaries(workflow: Any, process: Any, mapping: _Mapping, moved: Moved) -> list[Task]:
    """Give each token the boundary events its activity has in the target; returns the new ones
    (to be started once the tree is on the target)."""
    new_events: list[Task] = []
    for task in [t for t in workflow.tasks.values() if _is_token(t) and not isinstance(t.task_spec, BoundaryEvent)]:
        parent = task.parent
        target_name = mapping.name(task.task_spec, explicit=False)
        split_spec = process.task_specs.get(f"{target_name}.BoundaryEventSplit")
        if split_spec is not None and task.task_spec.name not in {o.name for o in split_spec.outputs}:
            split_spec = None                          # a helper task (its join) is not what the split wraps
        under_split = parent is not None and isinstance(parent.task_spec, BoundaryEventSplit)
        if under_split:
            kept = set()
            for event in [c for c in parent.children if isinstance(c.task_spec, BoundaryEvent)]:
                event_target = mapping.name(event.task_spec, explicit=True)
                if split_spec is not None and event_target in {o.name for o in split_spec.outputs}:
                    kept.add(event_target)
                    continue
                if event.has_state(TaskState.NOT_FINISHED_MASK):
                    moved.ended.append(event.task_spec.name)
                    compat.remove(event)
            if split_spec is None:
                compat.splice(parent)
                continue
            split = parent
        elif split_spec is not None:
            split = compat.insert_parent(task, split_spec)
            kept = set()
        else:
            continue
        for output in split_spec.outputs:
            if isinstance(output, BoundaryEvent) and output.name not in kept:
                event = compat.add_child(split, output, TaskState.FUTURE)
                event.data = dict(task.data)
                new_events.append(event)
    return new_events


def _retarget(workflow: Any, process: Any, mapping: _Mapping) -> None:
    """Every task onto the target's spec of the same (or mapped) name; finished steps the target
    does not have leave the path."""
    gone: list[Task] = []
    for task in list(workflow.tasks.values()):
        name = mapping.name(task.task_spec, explicit=False)
        spec = process.task_specs.get(name) if name is not None else None
        if spec is None:
            gone.append(task)
        else:
            task.task_spec = spec
    for task in gone:
        if task.id not in workflow.tasks:
            continue
        if task.has_state(LIVE):
            raise ValueError(f"task {task.id} at {task.task_spec.name} has no place in the target")
        if task.children:
            compat.splice(task)
        else:
            compat.remove(task)
