"""Task specs Reviewflow adds to SpiffWorkflow: human tasks with Camunda attributes, external service tasks."""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.specs.defaults import ServiceTask, UserTask


class HumanTask(UserTask):
    """A user task with who may do it (candidate groups/users, assignee), a form key and a priority."""

    def __init__(self, wf_spec: Any, bpmn_id: str, *, candidate_groups: list[str] | None = None,
                 candidate_users: list[str] | None = None, assignee: str | None = None,
                 form_key: str | None = None, priority: int = 50, reads: list[str] | None = None,
                 organisation: str | None = None, case_access: str = "case", **kwargs: Any) -> None:
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.candidate_groups = list(candidate_groups or [])
        self.candidate_users = list(candidate_users or [])
        self.assignee = assignee
        self.form_key = form_key
        self.priority = priority
        self.reads = list(reads or [])      # variables the task shows besides its form's fields
        self.organisation = organisation    # the variable (path) saying whose task it is, if not the default
        self.case_access = case_access      # "task": who may do it sees this task, never the whole case


class ExternalServiceTask(ServiceTask):
    """A service task that waits (STARTED) until an external worker completes it."""

    def __init__(self, wf_spec: Any, bpmn_id: str, *, topic: str, priority: int = 0,
                 properties: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.topic = topic
        self.priority = priority
        self.properties = dict(properties or {})

    def _run_hook(self, my_task: Any) -> None:
        return None   # None leaves the task STARTED: it waits for a worker
