"""Deployments and process definitions."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

import engine


class DefinitionOut(BaseModel):
    id: str = Field(examples=["rapid_review:3"])
    key: str = Field(description="the BPMN process id", examples=["rapid_review"])
    version: int = Field(examples=[3])
    name: str | None = Field(examples=["Notification and Rapid Review"])
    resource_name: str = Field(examples=["rapid_review.bpmn"])
    checksum: str
    deployment_id: str
    deployed_at: datetime
    deployed_by: str

    @classmethod
    def of(cls, d: engine.DefinitionInfo) -> DefinitionOut:
        return cls(id=d.id, key=d.key, version=d.version, name=d.name, resource_name=d.resource_name,
                   checksum=d.checksum, deployment_id=d.deployment_id, deployed_at=d.deployed_at,
                   deployed_by=d.deployed_by)


class DeployedDefinitionOut(DefinitionOut):
    created: bool = Field(description="false: byte-identical to the latest version, so no new version")


class DeploymentOut(BaseModel):
    deployment_id: str
    deployed_at: datetime
    message: str = Field(examples=["1 new version, 0 unchanged"])
    definitions: list[DeployedDefinitionOut]

    @classmethod
    def of(cls, r: engine.DeploymentResult) -> DeploymentOut:
        created = sum(1 for d in r.definitions if d.created)
        unchanged = len(r.definitions) - created
        return cls(deployment_id=r.deployment_id, deployed_at=r.deployed_at,
                   message=f"{created} new version{'s' if created != 1 else ''}, {unchanged} unchanged",
                   definitions=[DeployedDefinitionOut(**DefinitionOut.of(d.definition).model_dump(),
                                                      created=d.created) for d in r.definitions])
