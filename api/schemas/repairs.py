"""Repairing a stuck case: what an administrator sends, always with the reason."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

import engine

Reason = Field(min_length=1, max_length=500, description="why: kept in the case's history and the audit trail",
               examples=["the partners chose improvements only; the document is doc-7 (ticket 4411)"])


class SetVariableIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"value": "3f0c…", "reason": "the improvements document was uploaded by email (ticket 4411)"}]})

    value: Any = Field(description="any JSON value")
    reason: str = Reason


class ModificationInstructionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["cancel", "startBeforeActivity", "startAfterActivity"] = Field(description=(
        "cancel: end what waits at `activity_id` (or the one task `activity_instance_id`), with its boundary "
        "events; startBeforeActivity: a new token entering `activity_id`; startAfterActivity: a new token on "
        "`activity_id`'s one outgoing flow"))
    activity_id: str | None = Field(None, max_length=255, examples=["check_anonymisation"])
    activity_instance_id: str | None = Field(None, max_length=36, description="cancel: the one task to cancel")
    ancestor_activity_instance_id: str | None = Field(None, max_length=36, description=(
        "start: the call activity's task whose running process to enter, when that process runs more than once"))
    variables: dict[str, Any] = Field(default_factory=dict, description="start: set for the new token")

    def instruction(self) -> engine.Modification:
        return engine.Modification(self.type, activity_id=self.activity_id,
                                   activity_instance_id=self.activity_instance_id,
                                   ancestor_activity_instance_id=self.ancestor_activity_instance_id,
                                   variables=self.variables)


class ModifyInstanceIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"instructions": [{"type": "cancel", "activity_id": "publish"},
                          {"type": "startBeforeActivity", "activity_id": "check_anonymisation"}],
         "reason": "a name was found after the check; checking again (ticket 4412)"}]})

    instructions: list[ModificationInstructionIn] = Field(min_length=1, max_length=100)
    reason: str = Reason


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Reason
