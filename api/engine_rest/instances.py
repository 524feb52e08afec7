"""/engine-rest process-instance endpoints. Every filter goes into the engine's query, so pages and
counts are right at any size."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

import engine
from api.audit import AuditDep
from api.deps import ActorDep, DbDep, call
from api.engine_rest.camunda import PagingDep, sorting, split
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
                      offset=paging.first, viewer=actor)
    return [ProcessInstanceDto.of(request, i) for i in page.data]


@router.get("/count", response_model=CountResultDto)
async def count_instances(query: Annotated[InstanceQuery, Depends()], db: DbDep, actor: ActorDep) -> CountResultDto:
    """How many process instances match the same filters as the list."""
    page = await call(db, engine.list_instances, **query.filters, limit=1, viewer=actor)
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
