"""Camunda 7's response shapes (its DTOs, by the names Camunda gives them), so `/openapi.json`
describes what `/engine-rest` answers. Dates are Camunda's `yyyy-MM-dd'T'HH:mm:ss.SSSZ` strings."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field

import engine
from api.engine_rest.camunda import fmt_date, links, typed, typed_map


class Dto(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class LinkDto(Dto):
    method: str
    href: str
    rel: str


class VariableValueDto(Dto):
    value: Any = None
    type: str | None = Field(None, examples=["String"])
    valueInfo: dict[str, Any] = Field(default_factory=dict)


class CountResultDto(Dto):
    count: int


class ProcessInstanceDto(Dto):
    links: list[LinkDto] = Field(default_factory=list)
    id: str
    definitionId: str
    definitionKey: str | None = None
    businessKey: str | None = None
    caseInstanceId: str | None = None
    ended: bool
    suspended: bool
    tenantId: str | None = None

    @classmethod
    def of(cls, request: Request, i: engine.InstanceInfo) -> ProcessInstanceDto:
        return cls(links=links(request, f"/process-instance/{i.id}"), id=i.id, definitionId=i.definition_id,
                   definitionKey=i.definition_key, businessKey=i.business_key, ended=i.status != "active",
                   suspended=i.suspended)


class ProcessInstanceWithVariablesDto(ProcessInstanceDto):
    variables: dict[str, VariableValueDto] | None = None


class TaskDto(Dto):
    id: str
    name: str | None
    assignee: str | None
    owner: str | None = None
    created: str | None
    due: str | None = None
    followUp: str | None = None
    lastUpdated: str | None = None
    delegationState: str | None = None
    description: str | None
    executionId: str
    parentTaskId: str | None = None
    priority: int
    processDefinitionId: str
    processInstanceId: str
    caseExecutionId: str | None = None
    caseDefinitionId: str | None = None
    caseInstanceId: str | None = None
    taskDefinitionKey: str
    suspended: bool = False
    formKey: str | None
    camundaFormRef: Any = None
    tenantId: str | None = None

    @classmethod
    def of(cls, t: engine.UserTaskInfo) -> TaskDto:
        return cls(id=t.id, name=t.name, assignee=t.assignee, created=fmt_date(t.created_at),
                   lastUpdated=fmt_date(t.claimed_at or t.created_at), description=t.documentation,
                   executionId=t.instance_id, priority=t.priority, processDefinitionId=t.definition_id,
                   processInstanceId=t.instance_id, taskDefinitionKey=t.activity_id, formKey=t.form_key)


class ExternalTaskDto(Dto):
    activityId: str
    activityInstanceId: str
    errorMessage: str | None
    executionId: str
    id: str
    lockExpirationTime: str | None
    createTime: str | None = None
    processDefinitionId: str
    processDefinitionKey: str
    processDefinitionVersionTag: str | None = None
    processInstanceId: str
    retries: int | None
    suspended: bool = False
    workerId: str | None
    topicName: str
    tenantId: str | None = None
    priority: int
    businessKey: str | None

    @classmethod
    def fields_of(cls, info: engine.ExternalTaskInfo) -> dict[str, Any]:
        return dict(activityId=info.activity_id, activityInstanceId=f"{info.activity_id}:{info.id}",
                    errorMessage=info.error_message, executionId=info.instance_id, id=info.id,
                    lockExpirationTime=fmt_date(info.lock_expires_at), createTime=fmt_date(info.created_at),
                    processDefinitionId=info.definition_id, processDefinitionKey=info.definition_key,
                    processInstanceId=info.instance_id, retries=info.retries, workerId=info.worker_id,
                    topicName=info.topic, priority=info.priority, businessKey=info.business_key)

    @classmethod
    def of(cls, t: engine.LockedTask) -> ExternalTaskDto:
        return cls(**cls.fields_of(t.task))


class LockedExternalTaskDto(ExternalTaskDto):
    errorDetails: str | None = None
    variables: dict[str, VariableValueDto] = Field(default_factory=dict)
    extensionProperties: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def locked(cls, t: engine.LockedTask, *, extension_properties: bool = True) -> LockedExternalTaskDto:
        return cls(**cls.fields_of(t.task), errorDetails=t.error_details,
                   variables={k: VariableValueDto(**v) for k, v in typed_map(t.variables).items()},
                   extensionProperties=dict(t.task.extension_properties) if extension_properties else {})


class ProcessDefinitionDto(Dto):
    id: str
    key: str
    category: str | None = "http://reviewflow"
    description: str | None = None
    name: str | None
    version: int
    resource: str
    deploymentId: str
    diagram: str | None = None
    suspended: bool = False
    tenantId: str | None = None
    versionTag: str | None = None
    historyTimeToLive: int | None = None
    startableInTasklist: bool = True

    @classmethod
    def of(cls, d: engine.DefinitionInfo) -> ProcessDefinitionDto:
        return cls(id=d.id, key=d.key, name=d.name, version=d.version, resource=d.resource_name,
                   deploymentId=d.deployment_id)


class ProcessDefinitionDiagramDto(Dto):
    id: str
    bpmn20Xml: str


class DeploymentDto(Dto):
    links: list[LinkDto] = Field(default_factory=list)
    id: str
    name: str | None = None
    source: str | None = None
    tenantId: str | None = None
    deploymentTime: str | None = None


class DeploymentWithDefinitionsDto(DeploymentDto):
    deployedProcessDefinitions: dict[str, ProcessDefinitionDto] | None = None
    deployedCaseDefinitions: dict[str, Any] | None = None
    deployedDecisionDefinitions: dict[str, Any] | None = None
    deployedDecisionRequirementsDefinitions: dict[str, Any] | None = None


class IncidentDto(Dto):
    id: str
    processDefinitionId: str | None = None
    processInstanceId: str
    executionId: str
    incidentTimestamp: str | None
    incidentType: str
    activityId: str
    failedActivityId: str
    causeIncidentId: str
    rootCauseIncidentId: str
    configuration: str | None
    tenantId: str | None = None
    incidentMessage: str | None
    jobDefinitionId: str | None = None
    annotation: str | None = None

    @classmethod
    def of(cls, i: engine.IncidentInfo) -> IncidentDto:
        return cls(id=i.id, processInstanceId=i.instance_id, executionId=i.instance_id,
                   incidentTimestamp=fmt_date(i.created_at), incidentType=i.type, activityId=i.activity_id,
                   failedActivityId=i.activity_id, causeIncidentId=i.id, rootCauseIncidentId=i.id,
                   configuration=i.task_id, incidentMessage=i.message)


class ExecutionDto(Dto):
    id: str
    processInstanceId: str
    ended: bool
    tenantId: str | None = None


class MessageCorrelationResultWithVariableDto(Dto):
    resultType: str = Field(examples=["Execution"])
    execution: ExecutionDto | None = None
    processInstance: ProcessInstanceDto | None = None
    variables: dict[str, VariableValueDto] | None = None


def variables_dto(variables: dict[str, Any]) -> dict[str, VariableValueDto]:
    return {name: VariableValueDto(**typed(value)) for name, value in variables.items()}
