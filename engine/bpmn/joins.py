"""Parallel joins that keep every branch's changes.

SpiffWorkflow merges the branches arriving at a join by copying each branch's whole data over the
last, so a branch that finishes last — a reminder that ran beside the main path, say — overwrites
what the others changed with the stale copies it carried since the fork (shared/reference/
spiffworkflow-3.2.md §9). Here each branch contributes only the keys it changed since the branches
parted, in the order they finished.
"""

from __future__ import annotations

import copy
from typing import Any

from SpiffWorkflow.bpmn.specs.mixins.unstructured_join import UnstructuredJoin
from SpiffWorkflow.util.task import TaskState


def _ancestors(task: Any) -> list[Any]:
    chain = []
    while task is not None:
        chain.append(task)
        task = task.parent
    return chain


def _fork_point(branches: list[Any]) -> Any:
    """The nearest task every branch descends from."""
    first = _ancestors(branches[0])
    others = [{t.id for t in _ancestors(b)} for b in branches[1:]]
    for candidate in first:
        if all(candidate.id in ids for ids in others):
            return candidate
    return first[-1]


def _run_hook(self: Any, my_task: Any) -> Any:
    others = sorted((t for t in my_task.workflow.tasks.values()
                     if t.task_spec == self and t.has_state(TaskState.FINISHED_MASK)
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
            task._drop_children(force=True)
    my_task.data = merged
    return True


def install() -> None:
    UnstructuredJoin._run_hook = _run_hook  # type: ignore[method-assign]
