"""What engine functions return: frozen, plain values built inside the transaction (never ORM rows
or SpiffWorkflow objects)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from engine.diagram.report import Problem

T = TypeVar("T")


@dataclass(frozen=True)
class Actor:
    """Who asks: a user id (or worker id), their groups and organisation, and what a role grants
    beyond need-to-know. By default an actor sees only the tasks it is a candidate for and the
    cases it works on; the API builds actors from the authenticated principal's permissions, and
    callers inside the process (the scheduler, the CLI) use `Actor.system`."""

    id: str
    groups: frozenset[str] = frozenset()
    organisation: str | None = None          # set: sees only that organisation's tasks, no whole cases
    sees_all_cases: bool = False
    manages_tasks: bool = False              # may give a task it sees to one of its candidates, or take it back
    internal: bool = False                   # the service itself: reads private data too (queries.private_data)

    @classmethod
    def system(cls, id: str) -> Actor:
        """The service itself (scheduler, start-up, command line): every case, every task."""
        return cls(id, sees_all_cases=True, manages_tasks=True, internal=True)


@dataclass(frozen=True)
class DefinitionInfo:
    id: str
    key: str
    version: int
    name: str | None
    resource_name: str
    checksum: str
    deployment_id: str
    deployed_at: datetime
    deployed_by: str


@dataclass(frozen=True)
class DeployedDefinition:
    definition: DefinitionInfo
    created: bool                    # False: byte-identical to the latest version, nothing new written


@dataclass(frozen=True)
class DeploymentResult:
    deployment_id: str
    deployed_at: datetime
    definitions: list[DeployedDefinition]
    warnings: tuple[Problem, ...] = ()   # what lint found that does not stop a deployment


@dataclass(frozen=True)
class DeploymentInfo:
    """A deployment that made at least one new definition version."""

    id: str
    deployed_at: datetime
    deployed_by: str
    definition_ids: list[str]


@dataclass(frozen=True)
class TaskPlace:
    """Where an open task stands: its id, its case, the process version and the activity."""
    id: str
    instance_id: str
    definition_id: str
    definition_key: str
    business_key: str | None
    activity_id: str


@dataclass(frozen=True)
class UserTaskInfo(TaskPlace):
    name: str | None
    documentation: str | None
    lane: str | None
    candidate_groups: list[str]
    candidate_users: list[str]
    assignee: str | None
    form_key: str | None
    priority: int
    created_at: datetime
    claimed_at: datetime | None
    organisation: str | None = None
    form_schema: dict[str, Any] | None = None
    variables: dict[str, Any] | None = None            # only those the task exposes (its form and `reads`)


@dataclass(frozen=True)
class ExternalTaskInfo(TaskPlace):
    topic: str
    priority: int
    extension_properties: dict[str, str]
    worker_id: str | None
    lock_expires_at: datetime | None
    retries: int | None
    error_message: str | None
    created_at: datetime
    lock_owner: str | None = None            # the authenticated caller holding the lock


@dataclass(frozen=True)
class IncidentInfo:
    id: str
    instance_id: str
    task_id: str
    activity_id: str
    type: str
    message: str
    created_at: datetime
    resolved_at: datetime | None


@dataclass(frozen=True)
class InstanceInfo:
    id: str
    definition_id: str
    definition_key: str
    business_key: str | None
    status: str
    version: int
    started_at: datetime
    started_by: str
    updated_at: datetime
    ended_at: datetime | None
    end_reason: str | None
    next_timer_at: datetime | None
    variables: dict[str, Any] = field(default_factory=dict)
    user_tasks: list[UserTaskInfo] = field(default_factory=list)
    external_tasks: list[ExternalTaskInfo] = field(default_factory=list)
    incidents: list[IncidentInfo] = field(default_factory=list)
    suspended: bool = False


@dataclass(frozen=True)
class HistoryEvent:
    id: int
    instance_id: str
    at: datetime
    kind: str
    actor: str
    task_id: str | None
    activity_id: str | None
    details: dict[str, Any] | None


@dataclass(frozen=True)
class VariableFilter:
    """`name op value` on a process variable: op is eq, neq, gt, gteq, lt, lteq or like."""

    name: str
    op: str
    value: Any


@dataclass(frozen=True)
class Page(Generic[T]):
    data: list[T]
    count: int
    count_exact: bool = True           # False: an estimate, over queries.reads.ESTIMATE_ABOVE rows (count_rows,
    #                                    and on SQLite _sampled_count for a viewer who sees widely)
