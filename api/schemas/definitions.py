"""Deployments and process definitions."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

import engine
from api.schemas.common import ErrorDetail


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


class ProblemOut(BaseModel):
    """One problem lint found in a diagram or a form, placed so a modeler can show it on its element."""

    severity: Literal["error", "warning"] = Field(description="an error stops a deployment; a warning does not")
    file: str = Field(examples=["rapid_review.bpmn"])
    line: int | None = Field(description="the line in the file, when known", examples=[212])
    element_id: str | None = Field(description="the BPMN element at fault", examples=["route_gateway"])
    message: str = Field(examples=["has several outgoing flows, but flow_2 has neither a condition nor is the "
                                   "default flow: give each a condition, or mark one as the default"])
    code: str = Field(description="what kind of problem, stable across versions", examples=["gateway-condition"])
    related_ids: list[str] = Field(description="other elements involved (a gateway's flows, …)",
                                   examples=[["flow_2"]])

    @classmethod
    def of(cls, p: engine.Problem) -> ProblemOut:
        return cls(severity=p.severity, file=p.file, line=p.line, element_id=p.element_id, message=p.message,
                   code=p.code, related_ids=list(p.related_ids))


class DeploymentOut(BaseModel):
    deployment_id: str
    deployed_at: datetime
    message: str = Field(examples=["1 new version, 0 unchanged"])
    definitions: list[DeployedDefinitionOut]
    warnings: list[ProblemOut] = Field(default_factory=list, description=(
        "what lint found that does not stop a deployment (a task without a candidate group, a topic no "
        "handler serves, …)"))

    @classmethod
    def of(cls, r: engine.DeploymentResult) -> DeploymentOut:
        created = sum(1 for d in r.definitions if d.created)
        unchanged = len(r.definitions) - created
        return cls(deployment_id=r.deployment_id, deployed_at=r.deployed_at,
                   message=f"{created} new version{'s' if created != 1 else ''}, {unchanged} unchanged",
                   definitions=[DeployedDefinitionOut(**DefinitionOut.of(d.definition).model_dump(),
                                                      created=d.created) for d in r.definitions],
                   warnings=[ProblemOut.of(p) for p in r.warnings])


class DeploymentErrorDetail(ErrorDetail):
    problems: list[ProblemOut] = Field(description="every problem found, errors and warnings, in file and line "
                                                   "order; `file`, `line` and `element_id` above are the first error's")


class DeploymentErrorOut(BaseModel):
    error: DeploymentErrorDetail
