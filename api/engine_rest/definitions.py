"""/engine-rest deployment and process-definition endpoints."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

import engine
from api.deps import ActorDep, DbDep, call
from api.engine_rest.camunda import Lenient, fmt_date, links, page, plain_map, query_bool, typed_map
from api.engine_rest.instances import instance_json
from api.security import Need
from api.security import Permission as P
from api.uploads import deploy_options, read_deploy_files

router = APIRouter(tags=["engine-rest definitions"])


def definition_json(d: engine.DefinitionInfo) -> dict[str, Any]:
    return {"id": d.id, "key": d.key, "category": "http://reviewflow", "description": None, "name": d.name,
            "version": d.version, "resource": d.resource_name, "deploymentId": d.deployment_id, "diagram": None,
            "suspended": False, "tenantId": None, "versionTag": None, "historyTimeToLive": None,
            "startableInTasklist": True}


@router.post("/deployment/create", summary="Deploy diagrams (multipart), Camunda style",
             dependencies=[Need(P.DEPLOY)])
async def create_deployment(request: Request, db: DbDep, actor: ActorDep) -> dict[str, Any]:
    """Every file part is deployed: `.bpmn` diagrams and the `.json` form schemas they name; parts
    without a `.bpmn` name are taken as BPMN when they are XML (pycamunda sends bytes as `resource-0`).
    This is what Camunda Modeler's "Deploy current diagram" sends (the diagram and its attached files).
    Identical diagrams make no new version, as with `enable-duplicate-filtering` and
    `deploy-changed-only` (so both are always on); `tenant-id` is accepted and not modelled.
    A deployment with problems is refused as Camunda refuses one that does not parse: 400
    `ParseException` with every error and warning per resource in `details`."""
    files = await read_deploy_files(request, None)
    form = await request.form()
    name = form.get("deployment-name")
    source = form.get("deployment-source")
    result = await call(db, engine.deploy, files=files, actor=actor, **deploy_options(request))
    created = {d.definition.id: definition_json(d.definition) for d in result.definitions if d.created}
    return {"links": links(request, f"/deployment/{result.deployment_id}"), "id": result.deployment_id,
            "name": name if isinstance(name, str) else None, "source": source if isinstance(source, str) else None,
            "tenantId": None, "deploymentTime": fmt_date(result.deployed_at),
            "deployedProcessDefinitions": created or None, "deployedCaseDefinitions": None,
            "deployedDecisionDefinitions": None, "deployedDecisionRequirementsDefinitions": None}


@router.get("/deployment", dependencies=[Need(P.DEPLOY)])
async def list_deployments(request: Request, db: DbDep) -> list[dict[str, Any]]:
    """Deployments, oldest first (`sortOrder=desc`: newest first). Camunda Modeler calls
    `GET /deployment?maxResults=0` with the user's credentials to check the endpoint before it deploys.
    Deployment names and sources are not kept: they come back null."""
    first, maximum = page(request)
    if request.query_params.get("maxResults", "").strip() == "0":
        return []
    result = await call(db, engine.list_deployments, limit=maximum, offset=first,
                        newest_first=request.query_params.get("sortOrder") == "desc")
    return [{"links": [], "id": d.id, "name": None, "source": None, "tenantId": None,
             "deploymentTime": fmt_date(d.deployed_at)} for d in result.data]


@router.get("/process-definition", dependencies=[Need(P.READ_INSTANCE)])
async def list_definitions(request: Request, db: DbDep) -> list[dict[str, Any]]:
    first, maximum = page(request)
    q = request.query_params
    result = await call(db, engine.list_definitions, key=q.get("key"),
                        latest_only=bool(query_bool(request, "latestVersion")), limit=200, offset=0)
    rows = result.data
    if q.get("processDefinitionId"):
        rows = [d for d in rows if d.id == q["processDefinitionId"]]
    if q.get("sortBy") == "version":
        rows = sorted(rows, key=lambda d: d.version, reverse=q.get("sortOrder") == "desc")
    return [definition_json(d) for d in rows[first:first + maximum]]


@router.get("/process-definition/count", dependencies=[Need(P.READ_INSTANCE)])
async def count_definitions(request: Request, db: DbDep) -> dict[str, int]:
    result = await call(db, engine.list_definitions, key=request.query_params.get("key"),
                        latest_only=bool(query_bool(request, "latestVersion")), limit=1)
    return {"count": result.count}


@router.get("/process-definition/key/{key}", dependencies=[Need(P.READ_INSTANCE)])
async def get_latest(key: str, db: DbDep) -> dict[str, Any]:
    return definition_json(await call(db, engine.latest_definition, key=key))


@router.get("/process-definition/key/{key}/xml", dependencies=[Need(P.READ_INSTANCE)])
async def get_latest_xml(key: str, db: DbDep) -> dict[str, Any]:
    d = await call(db, engine.latest_definition, key=key)
    return {"id": d.id, "bpmn20Xml": await call(db, engine.definition_xml, definition_id=d.id)}


@router.get("/process-definition/{definition_id}", dependencies=[Need(P.READ_INSTANCE)])
async def get_definition(definition_id: str, db: DbDep) -> dict[str, Any]:
    return definition_json(await call(db, engine.get_definition, definition_id=definition_id))


@router.get("/process-definition/{definition_id}/xml", dependencies=[Need(P.READ_INSTANCE)])
async def get_xml(definition_id: str, db: DbDep) -> dict[str, Any]:
    return {"id": definition_id, "bpmn20Xml": await call(db, engine.definition_xml, definition_id=definition_id)}


class StartIn(Lenient):
    variables: dict[str, Any] | None = None
    businessKey: str | None = None
    startInstructions: list[Any] | None = None
    withVariablesInReturn: bool | None = False


async def _start(request: Request, db: engine.Database, actor: engine.Actor, body: StartIn,
                 **which: str) -> dict[str, Any]:
    if body.startInstructions:
        raise engine.Invalid("startInstructions are not supported")
    started = await call(db, engine.start_instance, actor=actor, variables=plain_map(body.variables),
                         business_key=body.businessKey, **which)
    out = instance_json(request, started)
    if body.withVariablesInReturn:
        out["variables"] = typed_map(started.variables)
    return out


@router.post("/process-definition/key/{key}/start", dependencies=[Need(P.START)])
async def start_by_key(key: str, body: StartIn, request: Request, db: DbDep, actor: ActorDep) -> dict[str, Any]:
    """Start the latest version; 404 for an unknown key."""
    return await _start(request, db, actor, body, definition_key=key)


@router.post("/process-definition/key/{key}/tenant-id/{tenant_id}/start", dependencies=[Need(P.START)])
async def start_by_key_for_tenant(key: str, tenant_id: str, body: StartIn, request: Request, db: DbDep,
                                  actor: ActorDep) -> dict[str, Any]:
    """Tenants are not modelled: the same as starting by key."""
    return await _start(request, db, actor, body, definition_key=key)


@router.post("/process-definition/{definition_id}/start", dependencies=[Need(P.START)])
async def start_by_id(definition_id: str, body: StartIn, request: Request, db: DbDep,
                      actor: ActorDep) -> dict[str, Any]:
    return await _start(request, db, actor, body, definition_id=definition_id)
