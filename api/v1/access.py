"""Sharing a case with a group, and the audit trail for auditors."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

import engine
from api.audit import AuditDep
from api.deps import ActorDep, DbDep, call
from api.schemas.common import ErrorOut, ListOut
from api.security import Need
from api.security import Permission as P

router = APIRouter(tags=["access"])


class ShareIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    group: str = Field(min_length=1, max_length=255, examples=["lcspr-panel"])


@router.post("/instances/{instance_id}/shares", status_code=204, dependencies=[Need(P.START)],
             responses={404: {"model": ErrorOut}})
async def share_case(instance_id: str, body: ShareIn, db: DbDep, actor: ActorDep, audit: AuditDep) -> None:
    """Let the members of a group see this case (need-to-know is otherwise by task); 404 for a case
    you may not see."""
    await call(db, engine.share_case, actor=actor, instance_id=instance_id, group=body.group, audit=audit.entry())


class AuditEntryOut(BaseModel):
    seq: int
    at: datetime
    actor: str
    action: str = Field(examples=["GET /api/v1/instances/{instance_id}"])
    target: str
    status: int
    client: str | None
    hash: str


@router.get("/audit/instances/{instance_id}", response_model=ListOut[AuditEntryOut],
            dependencies=[Need(P.READ_AUDIT)])
async def case_access_log(instance_id: str, db: DbDep) -> ListOut[AuditEntryOut]:
    """Who read or changed this case, when and from where, oldest first."""
    entries = await call(db, engine.case_audit, instance_id=instance_id)
    return ListOut[AuditEntryOut](data=[AuditEntryOut(seq=e.seq, at=e.at, actor=e.actor, action=e.action,
                                                      target=e.target, status=e.status, client=e.client,
                                                      hash=e.hash) for e in entries], count=len(entries))
