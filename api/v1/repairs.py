"""Repairing a stuck case (administrators, with a reason): set or delete a variable, move tokens,
suspend and resume. Each change is one transaction, recorded in the case's history and the audit
trail with its reason."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

import engine
from api.audit import AuditDep
from api.deps import ActorDep, DbDep, call
from api.schemas.common import ErrorOut
from api.schemas.instances import InstanceOut
from api.schemas.repairs import ModifyInstanceIn, ReasonIn, SetVariableIn
from api.security import Need
from api.security import Permission as P

router = APIRouter(prefix="/instances", tags=["repairs"], dependencies=[Need(P.REPAIR)])

_ERRORS = {400: {"model": ErrorOut}, 404: {"model": ErrorOut}, 409: {"model": ErrorOut}}


@router.put("/{instance_id}/variables/{name}", response_model=InstanceOut, responses=_ERRORS)
async def set_variable(instance_id: str, name: str, body: SetVariableIn, db: DbDep, actor: ActorDep,
                       audit: AuditDep) -> InstanceOut:
    """Set one variable of a running case where it reads it next (its open tasks, and where a task in
    error starts again when its incident is retried); open external tasks show it to workers. The
    case does not move on: retry its incident next."""
    return InstanceOut.of(await call(db, engine.set_instance_variable, actor=actor, instance_id=instance_id,
                                     name=name, value=body.value, reason=body.reason, audit=audit.entry()))


@router.delete("/{instance_id}/variables/{name}", response_model=InstanceOut, responses=_ERRORS)
async def delete_variable(instance_id: str, name: str, db: DbDep, actor: ActorDep, audit: AuditDep,
                          reason: Annotated[str, Query(min_length=1, max_length=500, description=(
                              "why: kept in the case's history and the audit trail"))]) -> InstanceOut:
    """Remove one variable of a running case (404 if it has none by that name)."""
    return InstanceOut.of(await call(db, engine.delete_instance_variable, actor=actor, instance_id=instance_id,
                                     name=name, reason=reason, audit=audit.entry()))


@router.post("/{instance_id}/modification", response_model=InstanceOut, responses=_ERRORS)
async def modify(instance_id: str, body: ModifyInstanceIn, db: DbDep, actor: ActorDep,
                 audit: AuditDep) -> InstanceOut:
    """Move the case's tokens by hand, the instructions in order, all or none: cancel what waits at
    an activity, start before an activity or after it. A case left with nothing to do is cancelled;
    otherwise it runs on to its next wait states (a suspended case waits until it is resumed)."""
    return InstanceOut.of(await call(db, engine.modify_instance, actor=actor, instance_id=instance_id,
                                     instructions=[i.instruction() for i in body.instructions],
                                     reason=body.reason, audit=audit.entry()))


@router.post("/{instance_id}/suspend", response_model=InstanceOut, responses=_ERRORS)
async def suspend(instance_id: str, body: ReasonIn, db: DbDep, actor: ActorDep, audit: AuditDep) -> InstanceOut:
    """Suspend a running case: it accepts no completions or messages, its timers do not fire and
    workers are not given its tasks until it is resumed. Repairs are allowed meanwhile."""
    return InstanceOut.of(await call(db, engine.set_suspended, actor=actor, instance_id=instance_id, suspended=True,
                                     reason=body.reason, audit=audit.entry()))


@router.post("/{instance_id}/resume", response_model=InstanceOut, responses=_ERRORS)
async def resume(instance_id: str, body: ReasonIn, db: DbDep, actor: ActorDep, audit: AuditDep) -> InstanceOut:
    """Resume a suspended case: it runs on at once, and timers that came due meanwhile fire."""
    return InstanceOut.of(await call(db, engine.set_suspended, actor=actor, instance_id=instance_id,
                                     suspended=False, reason=body.reason, audit=audit.entry()))
