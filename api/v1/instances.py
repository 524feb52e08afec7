"""Start, read, list and cancel process instances; read their history."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import Response

import engine
from api.audit import AuditDep
from api.deps import ActorDep, DbDep, call, model_response
from api.idempotency import OnceDep
from api.schemas.common import ErrorOut, Limit, ListOut, Offset
from api.schemas.instances import CancelInstanceIn, HistoryEventOut, InstanceOut, InstanceSummaryOut, StartInstanceIn
from api.security import Need
from api.security import Permission as P

router = APIRouter(prefix="/instances", tags=["instances"])

_ERRORS = {400: {"model": ErrorOut}, 404: {"model": ErrorOut}, 409: {"model": ErrorOut}}


@router.post("", status_code=201, response_model=InstanceOut, responses=_ERRORS, dependencies=[Need(P.START)])
async def start_instance(body: StartInstanceIn, db: DbDep, actor: ActorDep, audit: AuditDep,
                         once: OnceDep) -> Response:
    """Start the latest version of `definition_key` (or exactly `definition_id`) with these variables.

    The instance runs to its first wait state inside this request: the answer lists the user tasks,
    external tasks and timers it now waits on. With an `Idempotency-Key`, a retry gives the first
    answer instead of a second case. 409 `business_key_in_use` when the process keeps business keys
    unique among its open cases.
    """
    async def produce(key: engine.IdempotencyKey | None) -> Response:
        info = await call(db, engine.start_instance, actor=actor, definition_key=body.definition_key,
                          definition_id=body.definition_id, variables=body.variables,
                          business_key=body.business_key, audit=audit.entry(), idempotency=key)
        return model_response(InstanceOut.of(info), 201)

    async def lost(stored: engine.StoredRequest) -> Response:
        info = await call(db, engine.get_instance, instance_id=stored.instance_id or "", viewer=actor)
        return model_response(InstanceOut.of(info), 201)

    return await once.answer(db, produce, lost)


@router.get("", response_model=ListOut[InstanceSummaryOut], dependencies=[Need(P.READ_INSTANCE)])
async def list_instances(db: DbDep, actor: ActorDep, definition_key: str | None = None, business_key: str | None = None,
                         status: Literal["active", "completed", "cancelled"] | None = None,
                         limit: Limit = 50, offset: Offset = 0) -> ListOut[InstanceSummaryOut]:
    """Instances you may see, newest first, filtered by definition key, business key and status."""
    page = await call(db, engine.list_instances, definition_key=definition_key, business_key=business_key,
                      status=status, limit=limit, offset=offset, viewer=actor)
    return ListOut[InstanceSummaryOut](data=[InstanceSummaryOut.of(i) for i in page.data], count=page.count,
                                             count_exact=page.count_exact)


@router.get("/{instance_id}", response_model=InstanceOut, responses=_ERRORS, dependencies=[Need(P.READ_INSTANCE)])
async def get_instance(instance_id: str, db: DbDep, actor: ActorDep) -> InstanceOut:
    """Status, variables, open user tasks, open external tasks, next timer and open incidents
    (404 for a case you may not see)."""
    return InstanceOut.of(await call(db, engine.get_instance, instance_id=instance_id, viewer=actor))


@router.post("/{instance_id}/cancel", response_model=InstanceOut, responses=_ERRORS, dependencies=[Need(P.START)])
async def cancel_instance(instance_id: str, body: CancelInstanceIn, db: DbDep, actor: ActorDep,
                          audit: AuditDep) -> InstanceOut:
    """Cancel a running instance with a reason; its open tasks are cancelled with it (409 if it
    has already ended)."""
    return InstanceOut.of(await call(db, engine.cancel_instance, actor=actor, instance_id=instance_id,
                                     reason=body.reason, audit=audit.entry()))


@router.get("/{instance_id}/history", response_model=ListOut[HistoryEventOut], responses=_ERRORS,
            dependencies=[Need(P.READ_INSTANCE)])
async def instance_history(instance_id: str, db: DbDep, actor: ActorDep) -> ListOut[HistoryEventOut]:
    """Every state change of the instance, in order, with who caused it."""
    events = await call(db, engine.instance_history, instance_id=instance_id, viewer=actor)
    return ListOut[HistoryEventOut](data=[HistoryEventOut.of(e) for e in events], count=len(events))
