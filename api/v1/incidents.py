"""Incidents: what failed and waits for a person; list them and retry."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

import engine
from api.audit import AuditDep
from api.deps import ActorDep, DbDep, call
from api.schemas.common import ErrorOut, Limit, ListOut, Offset
from api.schemas.instances import IncidentOut, InstanceOut, RetryIncidentIn
from api.security import Need
from api.security import Permission as P

router = APIRouter(prefix="/incidents", tags=["incidents"])

_ERRORS = {400: {"model": ErrorOut}, 404: {"model": ErrorOut}, 409: {"model": ErrorOut}}


@router.get("", response_model=ListOut[IncidentOut], dependencies=[Need(P.READ_INSTANCE)])
async def list_incidents(db: DbDep, actor: ActorDep, instance_id: str | None = None,
                         type: Annotated[str | None, Query(description="e.g. failedExternalTask, failedTask")] = None,
                         include_resolved: bool = False, limit: Limit = 50,
                         offset: Offset = 0) -> ListOut[IncidentOut]:
    """Open incidents (and resolved ones on request), oldest first."""
    page = await call(db, engine.list_incidents, instance_id=instance_id, type=type,
                      open_only=not include_resolved, limit=limit, offset=offset, viewer=actor)
    return ListOut[IncidentOut](data=[IncidentOut.of(i) for i in page.data], count=page.count,
                                             count_exact=page.count_exact)


@router.get("/{incident_id}", response_model=IncidentOut, responses=_ERRORS, dependencies=[Need(P.ADMINISTER)])
async def get_incident(incident_id: str, db: DbDep, audit: AuditDep) -> IncidentOut:
    incident = await call(db, engine.get_incident, incident_id=incident_id)
    audit.touched(incident.instance_id)
    return IncidentOut.of(incident)


@router.post("/{incident_id}/retry", response_model=InstanceOut, responses=_ERRORS,
             dependencies=[Need(P.ADMINISTER)])
async def retry_incident(incident_id: str, db: DbDep, actor: ActorDep, audit: AuditDep,
                         body: RetryIncidentIn | None = None) -> InstanceOut:
    """Try again: a failed task runs again; an external task out of retries becomes fetchable with
    `retries` more attempts. The incident is resolved."""
    return InstanceOut.of(await call(db, engine.retry_incident, actor=actor, incident_id=incident_id,
                                     retries=body.retries if body else 1, audit=audit.entry()))
