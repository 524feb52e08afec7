"""Correlate messages from outside (the National Panel's response, a notification) to instances."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

import engine
from api.audit import AuditDep
from api.deps import ActorDep, DbDep, call, model_response
from api.idempotency import OnceDep
from api.schemas.common import ErrorOut
from api.schemas.instances import InstanceOut
from api.security import Need
from api.security import Permission as P

router = APIRouter(prefix="/messages", tags=["messages"])


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"message_name": "national_panel_response", "business_key": "SIN-2026-014",
         "variables": {"panel_response": "agree_lcspr"}}]})

    message_name: str = Field(min_length=1, max_length=255)
    business_key: str | None = Field(None, min_length=1, max_length=255)
    correlation_keys: dict[str, Any] = Field(default_factory=dict, description=(
        "process variable values the waiting instance must have"))
    variables: dict[str, Any] = Field(default_factory=dict, description="set on the instance with the message")


class CorrelationOut(BaseModel):
    result: str = Field(description="delivered: to a waiting instance; started: a new instance",
                        examples=["delivered"])
    activity_id: str
    instance: InstanceOut


@router.post("", response_model=CorrelationOut, dependencies=[Need(P.START)], responses={
    201: {"model": CorrelationOut, "description": "a message start event started a new instance"},
    400: {"model": ErrorOut}, 404: {"model": ErrorOut, "description": "nothing waits for it; nothing stored"},
    409: {"model": ErrorOut, "description": "several candidates; their ids are in error.candidates"}})
async def correlate(body: MessageIn, db: DbDep, actor: ActorDep, audit: AuditDep, once: OnceDep) -> Any:
    """Deliver a message to the one instance waiting for it (intermediate catch event, receive task,
    boundary event or event-based gateway) whose business key and correlation keys match, or start
    the process whose message start event has this name.

    Only cases you may see are candidates: any other case behaves as if it did not exist. No match
    is a 404 and more than one a 409 with the candidates; either way nothing changes. A message that
    arrives before the instance waits for it is **refused, not buffered**: send it again once the
    case waits for it.
    """
    async def produce(key: engine.IdempotencyKey | None) -> Response:
        [result] = await call(db, engine.correlate_message, actor=actor, message_name=body.message_name,
                              business_key=body.business_key, correlation_keys=body.correlation_keys,
                              variables=body.variables, audit=audit.entry(status=200), idempotency=key)
        out = CorrelationOut(result=result.kind, activity_id=result.activity_id,
                             instance=InstanceOut.of(result.instance))
        return model_response(out, 201 if result.kind == "started" else 200)

    async def lost(stored: engine.StoredRequest) -> Response:
        info = await call(db, engine.get_instance, instance_id=stored.instance_id or "", viewer=actor)
        return model_response(CorrelationOut(result="delivered", activity_id="", instance=InstanceOut.of(info)))

    return await once.answer(db, produce, lost)
