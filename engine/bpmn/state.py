"""Instance state <-> JSON, with the spec stored once per definition version instead of in every instance.

STATE_FORMAT numbers what we store. Format 1: SpiffWorkflow's serializer document without `spec`
and `subprocess_specs`, plus `spec_key` (the definition id). A change to this format bumps
STATE_FORMAT and adds a `from_format_N(dct)` upgrade here, tested on a stored fixture
(tests/migration_of_cases/test_state_format.py keeps one of today's format).

Inside format 1 the document carries its SpiffWorkflow serializer version (`serializer_version`).
SpiffWorkflow's own upgrades between those versions cannot be used on our documents: they rewrite the
spec, which we do not store, and the 1.4 -> 1.5 step fails on any document with a subprocess (see
reference/spiffworkflow-3.2.md §6.5). So each older serializer version this engine ran on has its own
`from_serializer_X(dct, specs)` here, tested on a document that version wrote.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from types import ModuleType
from typing import Any
from uuid import UUID

import orjson
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import DEFAULT_CONFIG, BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.task_spec import BpmnTaskSpecConverter
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import EventBasedGateway
from SpiffWorkflow.util.task import TaskState

from engine.bpmn import compat
from engine.bpmn.script_engine import script_engine
from engine.bpmn.specs import ExternalServiceTask, HumanTask

STATE_FORMAT = 1

SpecPair = tuple[Any, dict[str, Any]]           # (BpmnProcessSpec, subprocess specs)
SpecLoader = Callable[[str], SpecPair]


class _HumanTaskConverter(BpmnTaskSpecConverter):
    def to_dict(self, spec: HumanTask) -> dict[str, Any]:
        return {**self.get_default_attributes(spec), "candidate_groups": spec.candidate_groups,
                "candidate_users": spec.candidate_users, "assignee": spec.assignee,
                "form_key": spec.form_key, "priority": spec.priority, "reads": spec.reads,
                "organisation": spec.organisation, "case_access": spec.case_access}

    def from_dict(self, dct: dict[str, Any]) -> HumanTask:
        spec: HumanTask = self.task_spec_from_dict(dct)
        return spec


# The same shape as _HumanTaskConverter, deliberately: SpiffWorkflow registers one converter per spec class.
class _ExternalServiceTaskConverter(BpmnTaskSpecConverter):
    def to_dict(self, spec: ExternalServiceTask) -> dict[str, Any]:
        return {**self.get_default_attributes(spec), "topic": spec.topic, "priority": spec.priority,
                "properties": spec.properties}

    def from_dict(self, dct: dict[str, Any]) -> ExternalServiceTask:
        spec: ExternalServiceTask = self.task_spec_from_dict(dct)
        return spec


class _SharedSpecWorkflowConverter(BpmnWorkflowConverter):
    """Writes `spec_key` instead of the spec; reads it back through the spec loader."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct: dict[str, Any] = WorkflowConverter.to_dict(self, workflow)
        dct["spec_key"] = workflow.spec.rf_definition_id
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any]) -> BpmnWorkflow:
        spec, subprocess_specs = _loader.get()(dct.pop("spec_key"))
        workflow = self.target_class(spec, subprocess_specs, script_engine=script_engine, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


_config = dict(DEFAULT_CONFIG)
_config[HumanTask] = _HumanTaskConverter
_config[ExternalServiceTask] = _ExternalServiceTaskConverter
_config[BpmnWorkflow] = _SharedSpecWorkflowConverter
_config.update(compat.CONVERTERS)
_serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(_config))
_registry = _serializer.registry
_loader: ContextVar[SpecLoader] = ContextVar("spec_loader")
_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS


def _default(obj: Any) -> Any:
    typename = _registry.typenames.get(type(obj))
    if typename is not None:
        return _registry.convert_to_dict[typename](obj)
    if callable(obj) or isinstance(obj, ModuleType):
        return None
    if isinstance(obj, set | frozenset):
        return list(obj)
    raise TypeError(f"cannot store a value of type {type(obj).__name__}")


def new_workflow(spec_pair: SpecPair) -> BpmnWorkflow:
    spec, subprocess_specs = spec_pair
    return BpmnWorkflow(spec, subprocess_specs, script_engine=script_engine)


KEEP_RECENT = 30       # finished tasks kept behind each open task (and behind each finished branch's last)
KEEP_FIRST = 3         # the root, SpiffWorkflow's Start and the start event: the case's first data
PRUNE_SLACK = 30       # cut only when at least this many tasks can go, not at every step


def prune(workflow: BpmnWorkflow) -> int:
    """Cut finished history out of the live state, so that a case's 1000th step costs what its 10th
    did (and stays inside SpiffWorkflow's depth-1000 task iterator, past which a looping case looks
    finished): in the workflow and in each of its sub-processes, every task is kept that is open,
    that ends a branch, that is among the KEEP_RECENT ancestors of either, or among the first
    KEEP_FIRST; the others go, with the sub-processes of the calls that go. A kept task whose parent
    went hangs from its nearest kept ancestor, its data whole. The history table keeps the record of
    what went (reads of the past never need the state: see queries.casework). Returns how many went."""
    removed = _prune_tree(workflow, workflow)
    for task_id, sub in list(workflow.subprocesses.items()):
        if task_id in workflow.subprocesses:       # not dropped with its caller meanwhile
            removed += _prune_tree(workflow, sub)
    return removed


def _prune_tree(top: BpmnWorkflow, wf: Any) -> int:
    tasks = wf.tasks
    if len(tasks) < KEEP_FIRST + 2 * KEEP_RECENT + PRUNE_SLACK:
        return 0
    keep: dict[UUID, int] = {}                     # kept task -> how many more ancestors it vouches for
    first: Any = wf.task_tree
    for _ in range(KEEP_FIRST):
        if first is None:
            break
        keep[first.id] = 0
        first = tasks.get(first._children[0]) if first._children else None
    for task in tasks.values():
        if task.has_state(TaskState.FINISHED_MASK) and task._children:
            continue
        budget, tid = KEEP_RECENT, task.id
        while tid in tasks and budget >= 0 and keep.get(tid, -1) < budget:
            keep[tid] = budget
            tid, budget = tasks[tid]._parent, budget - 1
    if len(tasks) - len(keep) < PRUNE_SLACK:
        return 0
    for tid in keep:
        task = tasks[tid]
        children: list[UUID] = []
        pending = list(reversed(task._children))
        while pending:
            child = pending.pop()
            if child in keep:
                children.append(child)
                tasks[child]._parent = tid
            elif child in tasks:
                pending.extend(reversed(tasks[child]._children))
        task._children = children
    gone = [tid for tid in tasks if tid not in keep]
    for tid in gone:
        _drop_subprocess(top, tid)
        del tasks[tid]
    if getattr(wf, "last_task", None) is not None and wf.last_task.id not in tasks:
        wf.last_task = None
    return len(gone)


def _drop_subprocess(top: BpmnWorkflow, task_id: UUID) -> None:
    sub = top.subprocesses.pop(task_id, None)
    if sub is not None:
        for tid in list(sub.tasks):
            _drop_subprocess(top, tid)


def dumps(workflow: BpmnWorkflow) -> str:
    # Encoder mode makes the registry leave typed values for `_default` (faster). The flag is shared
    # between threads; a thread that finds it switched off converts eagerly instead: same JSON.
    compat.encoder_mode(_registry, True)
    try:
        dct = _serializer.to_dict(workflow)
        dct[_serializer.VERSION_KEY] = _serializer.VERSION
        return orjson.dumps(dct, default=_default, option=_ORJSON_OPTIONS).decode()
    finally:
        compat.encoder_mode(_registry, False)


def loads(text: str | bytes, state_format: int, specs: SpecLoader) -> BpmnWorkflow:
    """Restore a workflow; `specs` gives (spec, subprocess specs) for a definition id."""
    if state_format != STATE_FORMAT:
        raise ValueError(f"unknown state format {state_format}")
    dct = orjson.loads(text)
    version = dct.get(_serializer.VERSION_KEY)
    if version != _serializer.VERSION:
        upgrade = SERIALIZER_UPGRADES.get(version)
        if upgrade is None:
            raise ValueError(f"a state written by SpiffWorkflow's serializer {version} cannot be read by this "
                             f"engine (it reads {', '.join([*SERIALIZER_UPGRADES, _serializer.VERSION])})")
        upgrade(dct, specs)
    token = _loader.set(specs)
    try:
        return _serializer.from_dict(dct)
    finally:
        _loader.reset(token)


def from_serializer_1_4(dct: dict[str, Any], specs: SpecLoader) -> None:
    """Serializer 1.4 (SpiffWorkflow 3.1) -> 1.5 (3.2).

    An event-based gateway now waits for its events itself: the gateway task keeps the due time of
    its timer (`event_value`) and the events it has seen, and the events after it are only
    predicted (MAYBE) until one fires. Under 1.4 the gateway waited with nothing, and each event
    after it waited on its own with its own due time. A waiting gateway takes over the earliest due
    time of its waiting timers; its events go back to being predicted. Task data stored whole (1.4)
    rather than as changes to the parent's (1.5) is read as it is. Nothing else in the tasks changed:
    the rest of the 1.5 upgrade is about specs, which are parsed anew from the deployed XML.
    """
    spec, subprocess_specs = specs(dct["spec_key"])
    for tasks, process in [(dct["tasks"], spec), *((sp["tasks"], subprocess_specs.get(sp["spec"]))
                                                   for sp in dct.get("subprocesses", {}).values())]:
        for task in tasks.values():
            task_spec = process.task_specs.get(task["task_spec"]) if process is not None else None
            if not isinstance(task_spec, EventBasedGateway) or task["state"] != TaskState.WAITING:
                continue
            due = []
            for child_id in task["children"]:
                child = tasks.get(child_id)
                if child is None or child["state"] != TaskState.WAITING:
                    continue
                if (value := child["internal_data"].pop("event_value", None)) is not None:
                    due.append(value)
                child["state"] = TaskState.MAYBE
            if due:
                task["internal_data"]["event_value"] = min(due, key=lambda v: v["next"] if isinstance(v, dict) else v)
    dct[_serializer.VERSION_KEY] = "1.5"


SERIALIZER_UPGRADES: dict[str, Callable[[dict[str, Any], SpecLoader], None]] = {"1.4": from_serializer_1_4}


def to_plain(value: Any) -> Any:
    """Task data as plain JSON values (datetimes as ISO strings), for reads and projections."""
    return orjson.loads(orjson.dumps(value, default=_plain_default, option=orjson.OPT_NON_STR_KEYS))


def _plain_default(obj: Any) -> Any:
    if callable(obj) or isinstance(obj, ModuleType):
        return None
    if isinstance(obj, set | frozenset):
        return list(obj)
    return str(obj)
