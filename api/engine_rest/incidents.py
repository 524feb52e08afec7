"""/engine-rest incident endpoint."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

import engine
from api.deps import ActorDep, DbDep, call
from api.engine_rest.camunda import fmt_date, page
from api.security import Need
from api.security import Permission as P

router = APIRouter(prefix="/incident", tags=["engine-rest incidents"], dependencies=[Need(P.READ_INSTANCE)])


def incident_json(i: engine.IncidentInfo, definition_id: str | None = None) -> dict[str, Any]:
    return {"id": i.id, "processDefinitionId": definition_id, "processInstanceId": i.instance_id,
            "executionId": i.instance_id, "incidentTimestamp": fmt_date(i.created_at), "incidentType": i.type,
            "activityId": i.activity_id, "failedActivityId": i.activity_id, "causeIncidentId": i.id,
            "rootCauseIncidentId": i.id, "configuration": i.task_id, "tenantId": None,
            "incidentMessage": i.message, "jobDefinitionId": None, "annotation": None}


@router.get("")
async def list_incidents(request: Request, db: DbDep, actor: ActorDep) -> list[dict[str, Any]]:
    first, maximum = page(request)
    q = request.query_params
    result = await call(db, engine.list_incidents, instance_id=q.get("processInstanceId"),
                        type=q.get("incidentType"), limit=maximum, offset=first, viewer=actor)
    return [incident_json(i) for i in result.data]
