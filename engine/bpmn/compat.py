"""The one adapter between Reviewflow and SpiffWorkflow's insides.

Everything the engine needs from SpiffWorkflow beyond its public API lives here, so an upgrade is
checked in one place. Where SpiffWorkflow has an extension point we subclass (the join gateways,
through the parser's OVERRIDE_PARSER_CLASSES and PROCESS_PARSER_CLASS, and the serializer's
converter registry); what must stay a patch is applied by `install()`, which first checks the
installed version and that every target exists, and refuses to start otherwise.

* Parallel joins keep every branch's changes. SpiffWorkflow merges the branches arriving at a join
  by copying each branch's whole data over the last, so a branch that finishes last — a reminder
  that ran beside the main path, say — overwrites what the others changed with the stale copies it
  carried since the fork (docs/engine-notes.md, "Joins"). Here each branch contributes only the
  keys it changed since the branches parted, in the order they finished.
* Timers read the engine's clock (tests move time instead of sleeping) and count calendar months
  (patch: SpiffWorkflow's timer module reads `datetime.now` and adds month lengths).
* Serializing in the registry's encoder mode (faster: typed values are left to orjson's default).
* `update(task)`: after delivering an event to a waiting task, let it react (SpiffWorkflow does this
  only inside its own event dispatch).
* Changing a task tree from outside, for migration and repair (engine.bpmn.migration, engine.bpmn.tokens):
  `add_child`, `insert_parent`, `splice`, `remove`, `drop_predicted`, `predict`, `force_state`,
  `connect_loops`. SpiffWorkflow moves its tokens only from inside (`reset_from_task_id` aside); these
  are the few tree operations a migration and a repair need, in one place.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime, timedelta
from importlib import metadata
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.parser.ProcessParser import ProcessParser
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.serializer.default.task_spec import (
    BpmnTaskSpecConverter,
    ConditionalGatewayConverter,
    ParallelGatewayConverter,
)
from SpiffWorkflow.bpmn.specs import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.control import _EndJoin
from SpiffWorkflow.bpmn.specs.defaults import InclusiveGateway, ParallelGateway
from SpiffWorkflow.bpmn.specs.event_definitions import timer as _timer_module
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.specs.base import TaskSpec
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from SpiffWorkflow.workflow import Workflow as _Workflow

#: the SpiffWorkflow release these adaptations were written and tested against
SUPPORTED_VERSION = "3.2.0"


class CompatibilityError(RuntimeError):
    """The installed SpiffWorkflow is not the one this engine was adapted to."""


# -- joins: subclassed ---------------------------------------------------------------------------

def _ancestors(task: Task) -> list[Task]:
    chain = []
    node: Task | None = task
    while node is not None:
        chain.append(node)
        node = node.parent
    return chain


def _fork_point(branches: list[Task]) -> Task:
    """The nearest task every branch descends from."""
    first = _ancestors(branches[0])
    others = [{t.id for t in _ancestors(b)} for b in branches[1:]]
    for candidate in first:
        if all(candidate.id in ids for ids in others):
            return candidate
    return first[-1]


def merge_branches(spec: Any, my_task: Task) -> None:
    """What UnstructuredJoin._run_hook does, but each branch contributes only what it changed."""
    others = sorted((t for t in my_task.workflow.tasks.values()
                     if t.task_spec == spec and t.has_state(TaskState.FINISHED_MASK)
                     and not my_task.is_descendant_of(t)), key=lambda t: t.last_state_change)
    branches = [t.parent for t in others if t.parent is not None]
    if my_task.parent is not None:
        branches.append(my_task.parent)
    base_data = _fork_point(branches).data if len(branches) > 1 else {}
    merged = copy.deepcopy(base_data)
    for branch in branches:
        for key, value in branch.data.items():
            if key not in base_data or base_data[key] != value:
                merged[key] = copy.deepcopy(value)
    for task in others:
        if task.has_state(TaskState.COMPLETED):
            task._drop_children(force=True)      # as UnstructuredJoin does: a reset branch's leftovers go
    my_task.data = merged


class MergingParallelGateway(ParallelGateway):
    def _run_hook(self, my_task: Task) -> bool:
        merge_branches(self, my_task)
        return True


class MergingInclusiveGateway(InclusiveGateway):
    def _run_hook(self, my_task: Task) -> bool:
        merge_branches(self, my_task)
        matches, defaults = self._get_matching_outputs(my_task)
        if len(matches + defaults) == 0:
            raise WorkflowTaskException("No conditions satisfied on gateway", task=my_task)
        my_task._sync_children(matches or defaults, TaskState.FUTURE)
        for child in my_task.children:
            child.task_spec._predict(child, mask=TaskState.FUTURE | TaskState.PREDICTED_MASK)
        return True


class MergingEndJoin(_EndJoin):
    """The join every process ends in, where the last branches meet."""

    def _run_hook(self, my_task: Task) -> bool:
        merge_branches(self, my_task)
        my_task.workflow.data.update(my_task.data)
        return True


class MergingProcessSpec(BpmnProcessSpec):
    """A process whose end join merges as the gateways do."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if type(self.end) is not _EndJoin:
            raise CompatibilityError("BpmnProcessSpec no longer ends in an _EndJoin")
        self.end.__class__ = MergingEndJoin       # the same object, with the merging behaviour


_CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
_BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"


class MergingProcessParser(ProcessParser):
    def create_spec(self) -> BpmnProcessSpec:
        if not self.process_executable:
            raise ValidationException(f"Process {self.bpmn_id} is not executable.", node=self.node,
                                      file_name=self.filename)
        spec = MergingProcessSpec(name=self.bpmn_id, description=self.get_name(), filename=self.filename)
        found = self.node.xpath("./b:extensionElements/c:properties/c:property", namespaces={"b": _BPMN, "c": _CAMUNDA})
        spec.rf_properties = {p.get("name"): p.get("value") for p in found if p.get("name")}
        return spec


#: parser classes the engine's parser overrides, by BPMN tag (see engine.bpmn.parser)
GATEWAY_SPECS = {"parallelGateway": MergingParallelGateway, "inclusiveGateway": MergingInclusiveGateway}
#: serializer converters for the subclasses
CONVERTERS: dict[type, type] = {MergingParallelGateway: ParallelGatewayConverter,
                                MergingInclusiveGateway: ConditionalGatewayConverter,
                                MergingEndJoin: BpmnTaskSpecConverter}


# -- what stays a patch, checked -----------------------------------------------------------------

def update(task: Task) -> None:
    """Let a task that was handed an event from outside react to it (move on if it may)."""
    task.task_spec._update(task)


def add_child(parent: Task, spec: Any, state: int = TaskState.FUTURE) -> Task:
    """A new child of `parent` for `spec` (a token placed by hand), in `state`."""
    child = Task(parent.workflow, spec, parent, state=state)
    child.thread_id = parent.thread_id
    return child


def insert_parent(task: Task, spec: Any, *, state: int = TaskState.COMPLETED) -> Task:
    """A new task for `spec` between `task` and its parent (e.g. the split a boundary event needs)."""
    parent = task.parent
    middle = Task(task.workflow, spec, None, state=state)
    middle.thread_id = task.thread_id
    middle._parent = parent.id if parent is not None else None
    if parent is not None:
        parent._children[parent._children.index(task.id)] = middle.id
    middle._children = [task.id]
    task._parent = middle.id
    middle.data = copy.deepcopy(task.data)
    return middle


def splice(task: Task) -> None:
    """Take `task` out of its tree, its children taking its place under its parent (in order)."""
    parent = task.parent
    if parent is None:
        raise ValueError("the root of a task tree cannot be spliced out")
    at = parent._children.index(task.id)
    parent._children[at:at + 1] = list(task._children)
    for child in task.children:
        child._parent = parent.id
    task._children = []
    task.workflow.tasks.pop(task.id)


def remove(task: Task) -> None:
    """Take `task` and its descendants out of the tree."""
    task.workflow._remove_task(task.id)


def drop_predicted(task: Task) -> None:
    """Remove the children a task's spec predicted (not yet reached), to predict them again."""
    for child in list(task.children):
        if child.has_state(TaskState.PREDICTED_MASK | TaskState.FUTURE) and not child.triggered:
            task.workflow._remove_task(child.id)


def predict(task: Task) -> None:
    """Predict what follows a task that is reached (as SpiffWorkflow does when it reaches one); a
    task in error waits with its successors predicted as FUTURE, ready for a retry."""
    if task.state == TaskState.ERROR:
        task._sync_children(task.task_spec.outputs, TaskState.FUTURE)
        for child in task.children:
            child.task_spec._predict(child, mask=TaskState.FUTURE | TaskState.PREDICTED_MASK)
        return
    task.task_spec._predict(task, mask=TaskState.NOT_FINISHED_MASK)


def force_state(task: Task, state: int) -> None:
    """Set a task's state without the forward-only check (a token placed or taken by hand)."""
    task._set_state(state)


def connect_loops(spec: Any) -> None:
    """Let a multi-instance task's spec hear its instances complete (SpiffWorkflow connects this
    when it creates the first instance in this process; a migrated one was created elsewhere)."""
    child = getattr(spec, "task_spec", None)
    if not isinstance(spec, LoopTask) or not isinstance(child, str):
        return
    child_spec = spec._wf_spec.task_specs.get(child)
    if child_spec is not None and not child_spec.completed_event.is_connected(spec.merge_child):
        child_spec.completed_event.connect(spec.merge_child)


def encoder_mode(registry: Any, on: bool) -> None:
    """Switch the serializer registry's encoder mode (typed values left for the JSON encoder)."""
    registry._encoder_mode = on


def _check_version() -> None:
    try:
        installed = metadata.version("SpiffWorkflow")
    except metadata.PackageNotFoundError as exc:
        raise CompatibilityError("SpiffWorkflow is not installed") from exc
    if installed != SUPPORTED_VERSION:
        raise CompatibilityError(
            f"SpiffWorkflow {installed} is installed, but the engine is adapted to {SUPPORTED_VERSION} "
            "(engine/bpmn/compat.py): install the locked version, or re-check every adaptation in that "
            "module against the new release and raise SUPPORTED_VERSION")


def _check_targets() -> None:
    from SpiffWorkflow.bpmn.serializer.helpers.registry import DefaultRegistry  # noqa: PLC0415
    from SpiffWorkflow.bpmn.specs.mixins.unstructured_join import UnstructuredJoin  # noqa: PLC0415

    missing = [name for name, ok in (
        ("timer module's datetime", isinstance(getattr(_timer_module, "datetime", None), type)
         and issubclass(_timer_module.datetime, datetime)),
        ("TimerEventDefinition.get_timedelta_from_start", callable(getattr(TimerEventDefinition,
                                                                              "get_timedelta_from_start", None))),
        ("TaskSpec._update", callable(getattr(ParallelGateway, "_update", None))),
        ("Task._drop_children", callable(getattr(Task, "_drop_children", None))),
        ("Task._sync_children", callable(getattr(Task, "_sync_children", None))),
        ("InclusiveGateway._get_matching_outputs", callable(getattr(InclusiveGateway, "_get_matching_outputs",
                                                                    None))),
        ("UnstructuredJoin._run_hook", callable(getattr(UnstructuredJoin, "_run_hook", None))),
        ("registry encoder mode", "_encoder_mode" in vars(DefaultRegistry())),
        ("ProcessParser.create_spec", callable(getattr(ProcessParser, "create_spec", None))),
        ("Task._set_state", callable(getattr(Task, "_set_state", None))),
        ("TaskSpec._predict", callable(getattr(ParallelGateway, "_predict", None))),
        ("Workflow._remove_task", callable(getattr(_Workflow, "_remove_task", None))),
        ("Task._parent and _children", {"_parent", "_children"} <= set(Task.__init__.__code__.co_names)),
        ("TaskSpec._wf_spec", "_wf_spec" in TaskSpec.__init__.__code__.co_names),
    ) if not ok]
    if missing:
        raise CompatibilityError("SpiffWorkflow no longer has what the engine adapts: " + ", ".join(missing))


_installed = False


def install(now: Callable[[], datetime], add_calendar_time: Callable[..., timedelta]) -> None:
    """Check the installed SpiffWorkflow, then point its timers at `now` and calendar months
    (idempotent). Raises CompatibilityError."""
    global _installed
    if _installed:
        return
    _check_version()
    _check_targets()

    class ClockDatetime(datetime):
        """`datetime` whose now() is the engine clock's."""

        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]  # same signature as datetime.now
            current = now()
            return current.astimezone(tz) if tz is not None else current.replace(tzinfo=None)

    _timer_module.datetime = ClockDatetime          # patch: the module imports the class by name
    TimerEventDefinition.get_timedelta_from_start = staticmethod(add_calendar_time)      # patch
    _installed = True
