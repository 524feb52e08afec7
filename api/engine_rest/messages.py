"""/engine-rest/message: Camunda's message correlation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

import engine
from api.audit import AuditDep
from api.deps import ActorDep, DbDep, call
from api.engine_rest.camunda import Lenient, plain_map
from api.engine_rest.models import (
    ExecutionDto,
    MessageCorrelationResultWithVariableDto,
    ProcessInstanceDto,
    variables_dto,
)
from api.idempotency import OnceDep
from api.security import Need
from api.security import Permission as P

router = APIRouter(tags=["engine-rest messages"], dependencies=[Need(P.START)])


class CorrelateIn(Lenient):
    messageName: str | None = None
    businessKey: str | None = None
    processInstanceId: str | None = None
    correlationKeys: dict[str, Any] | None = None
    localCorrelationKeys: dict[str, Any] | None = None
    processVariables: dict[str, Any] | None = None
    processVariablesLocal: dict[str, Any] | None = None
    all: bool | None = False
    resultEnabled: bool | None = False
    variablesInResultEnabled: bool | None = False


@router.post("/message", responses={200: {"description": "resultEnabled: the correlation results",
                                          "model": list[MessageCorrelationResultWithVariableDto]},
                                    204: {"description": "correlated"}})
async def correlate(body: CorrelateIn, request: Request, db: DbDep, actor: ActorDep, audit: AuditDep,
                    once: OnceDep) -> Response:
    """204, or 200 with the results when `resultEnabled`; 400 "Cannot correlate message" when nothing
    or (without `all`) more than one candidate matches — as Camunda answers. Only cases the caller
    may see are candidates; each delivery is audited against its case."""
    keys = plain_map({**(body.correlationKeys or {}), **(body.localCorrelationKeys or {})})
    variables = plain_map({**(body.processVariables or {}), **(body.processVariablesLocal or {})})

    async def produce(key: engine.IdempotencyKey | None) -> Response:
        try:
            results = await call(db, engine.correlate_message, actor=actor, message_name=body.messageName or "",
                                 business_key=body.businessKey, correlation_keys=keys, variables=variables,
                                 instance_id=body.processInstanceId, all_matches=bool(body.all),
                                 audit=audit.entry(status=200 if body.resultEnabled else 204), idempotency=key)
        except (engine.MessageNotCorrelated, engine.MessageAmbiguous) as exc:
            return JSONResponse({"type": "RestException",
                                 "message": f"Cannot correlate message '{body.messageName}': {exc.message}"},
                                status_code=400)
        return answer(results)

    async def lost(stored: engine.StoredRequest) -> Response:
        return Response(status_code=204)

    def answer(results: list[engine.Correlation]) -> Response:
        if not body.resultEnabled:
            return Response(status_code=204)
        out = [MessageCorrelationResultWithVariableDto(
            resultType="ProcessDefinition" if r.kind == "started" else "Execution",
            processInstance=ProcessInstanceDto.of(request, r.instance) if r.kind == "started" else None,
            execution=None if r.kind == "started" else ExecutionDto(id=r.instance.id, processInstanceId=r.instance.id,
                                                                     ended=r.instance.status != "active"),
            variables=variables_dto(r.instance.variables) if body.variablesInResultEnabled else None) for r in results]
        # Camunda leaves `variables` out unless asked for (pycamunda relies on it)
        leave_out = None if body.variablesInResultEnabled else {"variables"}
        return JSONResponse([o.model_dump(exclude=leave_out) for o in out])

    return await once.answer(db, produce, lost)
