"""/engine-rest incident endpoint."""

from __future__ import annotations

from fastapi import APIRouter

import engine
from api.deps import ActorDep, DbDep, call
from api.engine_rest.camunda import PagingDep
from api.engine_rest.models import CountResultDto, IncidentDto
from api.security import Need
from api.security import Permission as P

router = APIRouter(prefix="/incident", tags=["engine-rest incidents"], dependencies=[Need(P.READ_INSTANCE)])


@router.get("", response_model=list[IncidentDto])
async def list_incidents(paging: PagingDep, db: DbDep, actor: ActorDep, incidentId: str | None = None,
                         incidentType: str | None = None, processInstanceId: str | None = None,
                         processDefinitionId: str | None = None, activityId: str | None = None) -> list[IncidentDto]:
    """Open incidents of the cases you may see, oldest first."""
    if paging.maximum == 0:
        return []
    result = await call(db, engine.list_incidents, incident_id=incidentId, type=incidentType,
                        instance_id=processInstanceId, definition_id=processDefinitionId, activity_id=activityId,
                        limit=paging.maximum, offset=paging.first, viewer=actor)
    return [IncidentDto.of(i) for i in result.data]


@router.get("/count", response_model=CountResultDto)
async def count_incidents(db: DbDep, actor: ActorDep, incidentId: str | None = None,
                          incidentType: str | None = None, processInstanceId: str | None = None,
                          processDefinitionId: str | None = None, activityId: str | None = None) -> CountResultDto:
    result = await call(db, engine.list_incidents, incident_id=incidentId, type=incidentType,
                        instance_id=processInstanceId, definition_id=processDefinitionId, activity_id=activityId,
                        limit=1, viewer=actor)
    return CountResultDto(count=result.count)
