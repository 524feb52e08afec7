"""Process instances, their open work, incidents and history."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

import engine


class UserTaskOut(BaseModel):
    id: str
    instance_id: str
    definition_id: str
    definition_key: str
    business_key: str | None
    activity_id: str = Field(examples=["crg_decision"])
    name: str | None = Field(examples=["CRG decision: LCSPR or Learning Dissemination"])
    documentation: str | None
    lane: str | None
    candidate_groups: list[str] = Field(examples=[["case-review-group"]])
    candidate_users: list[str]
    assignee: str | None
    form_key: str | None
    priority: int
    organisation: str | None = Field(description="whose request this is (e.g. the agency asked)")
    created_at: datetime
    claimed_at: datetime | None

    @classmethod
    def of(cls, t: engine.UserTaskInfo) -> UserTaskOut:
        return cls(**_fields(t, cls))


class UserTaskDetailOut(UserTaskOut):
    form_schema: dict[str, Any] | None = Field(description="JSON Schema the completion variables must meet")
    variables: dict[str, Any] | None = Field(description="the data this task sees")

    @classmethod
    def of(cls, t: engine.UserTaskInfo) -> UserTaskDetailOut:
        return cls(**_fields(t, cls))


class ExternalTaskOut(BaseModel):
    id: str
    activity_id: str
    topic: str
    priority: int
    worker_id: str | None
    lock_expires_at: datetime | None
    retries: int | None
    error_message: str | None
    created_at: datetime

    @classmethod
    def of(cls, t: engine.ExternalTaskInfo) -> ExternalTaskOut:
        return cls(**_fields(t, cls))


class IncidentOut(BaseModel):
    id: str
    instance_id: str
    task_id: str
    activity_id: str
    type: str = Field(examples=["failedExternalTask"])
    message: str
    created_at: datetime
    resolved_at: datetime | None

    @classmethod
    def of(cls, i: engine.IncidentInfo) -> IncidentOut:
        return cls(**_fields(i, cls))


class InstanceOut(BaseModel):
    id: str
    definition_id: str
    definition_key: str
    business_key: str | None
    status: Literal["active", "completed", "cancelled"]
    version: int = Field(description="bumped by every change; for optimistic clients")
    started_at: datetime
    started_by: str
    updated_at: datetime
    ended_at: datetime | None
    end_reason: str | None
    next_timer_at: datetime | None
    variables: dict[str, Any]
    user_tasks: list[UserTaskOut]
    external_tasks: list[ExternalTaskOut]
    incidents: list[IncidentOut]
    suspended: bool = Field(False, description="a suspended case accepts no completions and fires no timers")

    @classmethod
    def of(cls, i: engine.InstanceInfo) -> InstanceOut:
        return cls(**_fields(i, cls, skip={"user_tasks", "external_tasks", "incidents"}),
                   user_tasks=[UserTaskOut.of(t) for t in i.user_tasks],
                   external_tasks=[ExternalTaskOut.of(t) for t in i.external_tasks],
                   incidents=[IncidentOut.of(x) for x in i.incidents])


class InstanceSummaryOut(BaseModel):
    id: str
    definition_id: str
    definition_key: str
    business_key: str | None
    status: str
    started_at: datetime
    updated_at: datetime
    ended_at: datetime | None
    next_timer_at: datetime | None

    @classmethod
    def of(cls, i: engine.InstanceInfo) -> InstanceSummaryOut:
        return cls(**_fields(i, cls))


class StartInstanceIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"definition_key": "one_user_task", "business_key": "SIN-2026-014", "variables": {"child_age": 7}}]})

    definition_key: str | None = Field(None, min_length=1, max_length=255,
                                       description="start the latest version of this process")
    definition_id: str | None = Field(None, min_length=1, max_length=300,
                                      description="or exactly this version")
    business_key: str | None = Field(None, min_length=1, max_length=255)
    variables: dict[str, Any] = Field(default_factory=dict)


class CancelInstanceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000, examples=["duplicate notification"])


class CompleteUserTaskIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"variables": {"approved": True}}]})
    variables: dict[str, Any] = Field(default_factory=dict)


class ClaimUserTaskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    assignee: str | None = Field(None, min_length=1, max_length=255, description=(
        "default: the caller; someone else only for a task's managers, and only a candidate"))


class AssignUserTaskIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"assignee": "priya"}]})
    assignee: str | None = Field(min_length=1, max_length=255, description=(
        "a known user who is a candidate for the task; null gives the task back to its candidates"))


class RetryIncidentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    retries: int = Field(1, ge=1, le=100, description="external tasks: how many more attempts")


class HistoryEventOut(BaseModel):
    id: int
    at: datetime
    kind: str = Field(examples=["task_completed"])
    actor: str
    task_id: str | None
    activity_id: str | None
    details: dict[str, Any] | None

    @classmethod
    def of(cls, e: engine.HistoryEvent) -> HistoryEventOut:
        return cls(**_fields(e, cls))


def _fields(obj: Any, model: type[BaseModel], skip: set[str] = frozenset()) -> dict[str, Any]:  # type: ignore[assignment]
    return {name: getattr(obj, name) for name in model.model_fields if name not in skip}
