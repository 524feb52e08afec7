"""/engine-rest process-instance endpoints."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

import engine
from api.audit import AuditDep
from api.deps import ActorDep, DbDep, call
from api.engine_rest.camunda import links, page, query_list, typed, typed_map
from api.security import Need
from api.security import Permission as P

router = APIRouter(prefix="/process-instance", tags=["engine-rest instances"], dependencies=[Need(P.READ_INSTANCE)])


def instance_json(request: Request, i: engine.InstanceInfo) -> dict[str, Any]:
    return {"links": links(request, f"/process-instance/{i.id}"), "id": i.id, "definitionId": i.definition_id,
            "definitionKey": i.definition_key, "businessKey": i.business_key, "caseInstanceId": None,
            "ended": i.status != "active", "suspended": False, "tenantId": None}


def _variable_filters(request: Request) -> list[tuple[str, str, str]]:
    """`variables=name_eq_value,other_neq_x` (Camunda's query syntax; eq and neq supported)."""
    out = []
    for item in query_list(request, "variables") or []:
        for op in ("_neq_", "_eq_"):
            if op in item:
                name, value = item.split(op, 1)
                out.append((name, op.strip("_"), value))
                break
        else:
            raise engine.Invalid(f"variables filter {item!r} must look like name_eq_value")
    return out


def _matches(i: engine.InstanceInfo, filters: list[tuple[str, str, str]]) -> bool:
    for name, op, value in filters:
        actual = i.variables.get(name)
        equal = actual is not None and str(actual).lower() == value.lower() if isinstance(actual, bool) \
            else actual is not None and str(actual) == value
        if equal != (op == "eq"):
            return False
    return True


@router.get("")
async def list_instances(request: Request, db: DbDep, actor: ActorDep) -> list[dict[str, Any]]:
    first, maximum = page(request)
    q = request.query_params
    status = "active" if q.get("active") == "true" else None
    ids = query_list(request, "processInstanceIds")
    filters = _variable_filters(request)
    result = await call(db, engine.list_instances, definition_key=q.get("processDefinitionKey"),
                        definition_id=q.get("processDefinitionId"), business_key=q.get("businessKey"),
                        status=status, limit=200, offset=0, viewer=actor)
    rows = [i for i in result.data if (ids is None or i.id in ids) and _matches(i, filters)]
    return [instance_json(request, i) for i in rows[first:first + maximum]]


@router.get("/count")
async def count_instances(request: Request, db: DbDep, actor: ActorDep) -> dict[str, int]:
    q = request.query_params
    result = await call(db, engine.list_instances, definition_key=q.get("processDefinitionKey"),
                        business_key=q.get("businessKey"), limit=1, viewer=actor)
    return {"count": result.count}


@router.get("/{instance_id}")
async def get_instance(instance_id: str, request: Request, db: DbDep, actor: ActorDep) -> dict[str, Any]:
    return instance_json(request, await call(db, engine.get_instance, instance_id=instance_id, viewer=actor))


@router.delete("/{instance_id}", status_code=204, response_class=Response, dependencies=[Need(P.START)])
async def delete_instance(instance_id: str, request: Request, db: DbDep, actor: ActorDep,
                          audit: AuditDep) -> Response:
    """Cancels the instance (its history is kept); `deleteReason` gives the reason."""
    reason = request.query_params.get("deleteReason") or "cancelled through /engine-rest"
    await call(db, engine.cancel_instance, actor=actor, instance_id=instance_id, reason=reason, audit=audit.entry())
    return Response(status_code=204)


@router.get("/{instance_id}/variables")
async def variables(instance_id: str, db: DbDep, actor: ActorDep) -> dict[str, Any]:
    return typed_map((await call(db, engine.get_instance, instance_id=instance_id, viewer=actor)).variables)


@router.get("/{instance_id}/variables/{name}")
async def variable(instance_id: str, name: str, db: DbDep, actor: ActorDep) -> dict[str, Any]:
    values = (await call(db, engine.get_instance, instance_id=instance_id, viewer=actor)).variables
    if name not in values:
        raise engine.NotFound(f"process instance {instance_id} has no variable {name}")
    return typed(values[name])
