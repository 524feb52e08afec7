"""/engine-rest process-instance endpoints. Every filter goes into the engine's query, so pages and
counts are right at any size.

Repairs (administrators): PUT/DELETE a variable, a modification, suspension. Each needs the reason:
`annotation`, as in Camunda's modification body, or as a query parameter on the others (Camunda has
no field for it there); it is kept in the case's history and the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

import engine
from api.audit import AuditDep
from api.deps import ActorDep, DbDep, call
from api.engine_rest.camunda import Lenient, PagingDep, plain, plain_map, sorting, split
from api.engine_rest.models import CountResultDto, ProcessInstanceDto, VariableValueDto, variables_dto
from api.security import Need
from api.security import Permission as P

router = APIRouter(prefix="/process-instance", tags=["engine-rest instances"], dependencies=[Need(P.READ_INSTANCE)])

SORTS = {"instanceId": "instanceId", "definitionKey": "definitionKey", "definitionId": "definitionId",
         "businessKey": "businessKey", "startTime": "started"}


class InstanceQuery:
    """Camunda's process-instance query parameters (and two of its history query's, for dates)."""

    def __init__(self,
                 processInstanceIds: Annotated[str | None, Query(description="comma-separated ids")] = None,
                 businessKey: str | None = None,
                 businessKeyLike: Annotated[str | None, Query(description="SQL LIKE, % as wildcard")] = None,
                 processDefinitionId: str | None = None,
                 processDefinitionKey: str | None = None,
                 processDefinitionKeyIn: Annotated[str | None, Query(description="comma-separated keys")] = None,
                 active: Annotated[bool | None, Query(description="true: running and not suspended")] = None,
                 suspended: bool | None = None,
                 withIncident: bool | None = None,
                 startedBefore: datetime | None = None,
                 startedAfter: datetime | None = None,
                 variables: Annotated[str | None, Query(description=(
                     "comma-separated `name_op_value` filters on process variables; op is eq, neq, gt, gteq, lt, "
                     "lteq or like (values true/false and numbers also match booleans and numbers)"))] = None,
                 sortBy: Annotated[str | None, Query(description=", ".join(SORTS))] = None,
                 sortOrder: Annotated[str | None, Query(description="asc or desc")] = None) -> None:
        sort_by, descending = sorting(sortBy, sortOrder, SORTS)
        self.filters = dict(
            ids=split(processInstanceIds), business_key=businessKey, business_key_like=businessKeyLike,
            definition_id=processDefinitionId, definition_key=processDefinitionKey,
            definition_keys=split(processDefinitionKeyIn),
            status="active" if active else None, suspended=False if active else suspended,
            with_incident=withIncident, started_before=startedBefore, started_after=startedAfter,
            variables=engine.parse_variable_filters(split(variables) or []))
        self.sort = dict(sort_by=sort_by or "started", descending=descending if sort_by else True)


@router.get("", response_model=list[ProcessInstanceDto])
async def list_instances(request: Request, query: Annotated[InstanceQuery, Depends()], paging: PagingDep, db: DbDep,
                         actor: ActorDep) -> list[ProcessInstanceDto]:
    """Process instances you may see, filtered and paged in the database."""
    if paging.maximum == 0:
        return []
    page = await call(db, engine.list_instances, **query.filters, **query.sort, limit=paging.maximum,
                      offset=paging.first, viewer=actor, with_count=False)
    return [ProcessInstanceDto.of(request, i) for i in page.data]


@router.get("/count", response_model=CountResultDto)
async def count_instances(query: Annotated[InstanceQuery, Depends()], db: DbDep, actor: ActorDep) -> CountResultDto:
    """How many process instances match the same filters as the list. Where more than 10,000 match,
    an estimate rather than an exact count (counting would walk every row): PostgreSQL's planner's;
    on SQLite, only for a caller who may see some cases but worked on or was shared more than 2,000,
    the matching cases times the share of a sample of 1,000 the caller may see."""
    page = await call(db, engine.list_instances, **query.filters, limit=0, viewer=actor)
    return CountResultDto(count=page.count)


@router.get("/{instance_id}", response_model=ProcessInstanceDto)
async def get_instance(instance_id: str, request: Request, db: DbDep, actor: ActorDep) -> ProcessInstanceDto:
    return ProcessInstanceDto.of(request, await call(db, engine.get_instance, instance_id=instance_id, viewer=actor))


@router.delete("/{instance_id}", status_code=204, response_class=Response, dependencies=[Need(P.START)])
async def delete_instance(instance_id: str, db: DbDep, actor: ActorDep, audit: AuditDep,
                          deleteReason: str | None = None) -> Response:
    """Cancels the instance (its history is kept); `deleteReason` gives the reason."""
    await call(db, engine.cancel_instance, actor=actor, instance_id=instance_id,
               reason=deleteReason or "cancelled through /engine-rest", audit=audit.entry())
    return Response(status_code=204)


@router.get("/{instance_id}/variables", response_model=dict[str, VariableValueDto])
async def variables(instance_id: str, db: DbDep, actor: ActorDep) -> dict[str, VariableValueDto]:
    return variables_dto((await call(db, engine.get_instance, instance_id=instance_id, viewer=actor)).variables)


@router.get("/{instance_id}/variables/{name}", response_model=VariableValueDto)
async def variable(instance_id: str, name: str, db: DbDep, actor: ActorDep) -> VariableValueDto:
    values = (await call(db, engine.get_instance, instance_id=instance_id, viewer=actor)).variables
    if name not in values:
        raise engine.NotFound(f"process instance {instance_id} has no variable {name}")
    return variables_dto({name: values[name]})[name]


Annotation = Annotated[str | None, Query(max_length=500, description=(
    "why (required): kept in the case's history and the audit trail"))]


def _reason(*given: str | None) -> str:
    reason = next((r for r in given if r and r.strip()), None)
    if reason is None:
        raise engine.Invalid("an annotation is required: say why, as the query parameter annotation")
    return reason


class VariableIn(Lenient):
    value: Any = None
    type: str | None = None
    valueInfo: dict[str, Any] | None = None


@router.put("/{instance_id}/variables/{name}", status_code=204, response_class=Response,
            dependencies=[Need(P.REPAIR)])
async def set_variable(instance_id: str, name: str, body: VariableIn, db: DbDep, actor: ActorDep, audit: AuditDep,
                       annotation: Annotation = None) -> Response:
    """Sets a variable of a running case (Camunda's setProcessInstanceVariable), where it reads it
    next; the case does not move on (retry its incident next)."""
    value = plain(name, body.model_dump(exclude_none=True))
    await call(db, engine.set_instance_variable, actor=actor, instance_id=instance_id, name=name, value=value,
               reason=_reason(annotation), audit=audit.entry(status=204))
    return Response(status_code=204)


@router.delete("/{instance_id}/variables/{name}", status_code=204, response_class=Response,
               dependencies=[Need(P.REPAIR)])
async def delete_variable(instance_id: str, name: str, db: DbDep, actor: ActorDep, audit: AuditDep,
                          annotation: Annotation = None) -> Response:
    """Deletes a variable of a running case (204 also when it had none, as Camunda answers)."""
    await call(db, engine.delete_instance_variable, actor=actor, instance_id=instance_id, name=name,
               reason=_reason(annotation), missing_ok=True, audit=audit.entry(status=204))
    return Response(status_code=204)


class ModificationInstructionDto(Lenient):
    type: str | None = None
    activityId: str | None = None
    transitionId: str | None = None
    activityInstanceId: str | None = None
    transitionInstanceId: str | None = None
    ancestorActivityInstanceId: str | None = None
    variables: dict[str, Any] | None = None
    cancelCurrentActiveActivityInstances: bool | None = None

    def instruction(self) -> engine.Modification:
        if self.transitionInstanceId or self.transitionId:
            raise engine.Invalid("transitions are not supported: a token here always waits at an activity "
                                 "(use activityId, or startBeforeActivity on the flow's target)")
        return engine.Modification(self.type or "", activity_id=self.activityId,
                                   activity_instance_id=self.activityInstanceId,
                                   ancestor_activity_instance_id=self.ancestorActivityInstanceId,
                                   variables=plain_map(self.variables))


class ProcessInstanceModificationDto(Lenient):
    skipCustomListeners: bool | None = None
    skipIoMappings: bool | None = None
    instructions: list[ModificationInstructionDto] | None = None
    annotation: str | None = None


@router.post("/{instance_id}/modification", status_code=204, response_class=Response,
             dependencies=[Need(P.REPAIR)])
async def modify(instance_id: str, body: ProcessInstanceModificationDto, db: DbDep, actor: ActorDep,
                 audit: AuditDep, annotation: Annotation = None) -> Response:
    """Moves the case's tokens (Camunda's modifyProcessInstance): `cancel`, `startBeforeActivity`
    and `startAfterActivity`, in order, all or none. Listeners and input/output mappings do not exist
    here, so the skip flags change nothing."""
    instructions = [i.instruction() for i in body.instructions or []]
    await call(db, engine.modify_instance, actor=actor, instance_id=instance_id, instructions=instructions,
               reason=_reason(body.annotation, annotation), audit=audit.entry(status=204))
    return Response(status_code=204)


class SuspensionStateDto(Lenient):
    suspended: bool | None = None
    annotation: str | None = None


@router.put("/{instance_id}/suspended", status_code=204, response_class=Response, dependencies=[Need(P.REPAIR)])
async def suspend(instance_id: str, body: SuspensionStateDto, db: DbDep, actor: ActorDep, audit: AuditDep,
                  annotation: Annotation = None) -> Response:
    """Suspends (`{"suspended": true}`) or activates a case: suspended, it accepts no completions or
    messages, its timers do not fire and workers are not given its tasks."""
    if body.suspended is None:
        raise engine.Invalid("suspended (true or false) is required")
    await call(db, engine.set_suspended, actor=actor, instance_id=instance_id, suspended=body.suspended,
               reason=_reason(body.annotation, annotation), audit=audit.entry(status=204))
    return Response(status_code=204)
