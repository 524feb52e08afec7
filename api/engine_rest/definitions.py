"""/engine-rest deployment and process-definition endpoints."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

import engine
from api.audit import AuditDep, RequestAudit
from api.deps import ActorDep, DbDep, call
from api.engine_rest.camunda import Lenient, PagingDep, fmt_date, links, plain_map, sorting, split
from api.engine_rest.models import (
    CountResultDto,
    DeploymentDto,
    ProcessDefinitionDiagramDto,
    ProcessDefinitionDto,
    ProcessInstanceDto,
    ProcessInstanceWithVariablesDto,
    variables_dto,
)
from api.idempotency import OnceDep, RequestOnce
from api.security import Need
from api.security import Permission as P
from api.uploads import deploy_options, read_deploy_files

router = APIRouter(tags=["engine-rest definitions"])


def definition_json(d: engine.DefinitionInfo) -> dict[str, Any]:
    return ProcessDefinitionDto.of(d).model_dump()


@router.post("/deployment/create", summary="Deploy diagrams (multipart), Camunda style",
             dependencies=[Need(P.DEPLOY)])
async def create_deployment(request: Request, db: DbDep, actor: ActorDep, audit: AuditDep) -> dict[str, Any]:
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
    result = await call(db, engine.deploy, files=files, actor=actor, **deploy_options(request), audit=audit.entry())
    created = {d.definition.id: definition_json(d.definition) for d in result.definitions if d.created}
    return {"links": links(request, f"/deployment/{result.deployment_id}"), "id": result.deployment_id,
            "name": name if isinstance(name, str) else None, "source": source if isinstance(source, str) else None,
            "tenantId": None, "deploymentTime": fmt_date(result.deployed_at),
            "deployedProcessDefinitions": created or None, "deployedCaseDefinitions": None,
            "deployedDecisionDefinitions": None, "deployedDecisionRequirementsDefinitions": None}


@router.get("/deployment", dependencies=[Need(P.DEPLOY)], response_model=list[DeploymentDto])
async def list_deployments(request: Request, paging: PagingDep, db: DbDep,
                           sortOrder: Annotated[str | None, Query(description="asc or desc")] = None,
                           ) -> list[DeploymentDto]:
    """Deployments, oldest first (`sortOrder=desc`: newest first). Camunda Modeler calls
    `GET /deployment?maxResults=0` with the user's credentials to check the endpoint before it deploys.
    Deployment names and sources are not kept: they come back null."""
    if paging.maximum == 0:
        return []
    result = await call(db, engine.list_deployments, limit=paging.maximum, offset=paging.first,
                        newest_first=sortOrder == "desc")
    return [DeploymentDto(id=d.id, deploymentTime=fmt_date(d.deployed_at)) for d in result.data]


SORTS = {"id": "id", "key": "key", "name": "name", "version": "version", "deploymentId": "deploymentId"}


class DefinitionQuery:
    """Camunda's process-definition query parameters."""

    def __init__(self, processDefinitionId: str | None = None, key: str | None = None,
                 keysIn: Annotated[str | None, Query(description="comma-separated keys")] = None,
                 keyLike: Annotated[str | None, Query(description="SQL LIKE, % as wildcard")] = None,
                 name: str | None = None,
                 version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None, deploymentId: str | None = None,
                 latestVersion: bool | None = None,
                 sortBy: Annotated[str | None, Query(description=", ".join(SORTS))] = None,
                 sortOrder: Annotated[str | None, Query(description="asc or desc")] = None) -> None:
        sort_by, descending = sorting(sortBy, sortOrder, SORTS)
        self.filters = dict(definition_id=processDefinitionId, key=key, keys=split(keysIn), key_like=keyLike,
                            name=name, version=version, deployment_id=deploymentId, latest_only=bool(latestVersion))
        self.sort = dict(sort_by=sort_by, descending=descending)


@router.get("/process-definition", dependencies=[Need(P.READ_DEFINITIONS)], response_model=list[ProcessDefinitionDto])
async def list_definitions(query: Annotated[DefinitionQuery, Depends()], paging: PagingDep,
                           db: DbDep) -> list[ProcessDefinitionDto]:
    if paging.maximum == 0:
        return []
    result = await call(db, engine.list_definitions, **query.filters, **query.sort, limit=paging.maximum,
                        offset=paging.first)
    return [ProcessDefinitionDto.of(d) for d in result.data]


@router.get("/process-definition/count", dependencies=[Need(P.READ_DEFINITIONS)], response_model=CountResultDto)
async def count_definitions(query: Annotated[DefinitionQuery, Depends()], db: DbDep) -> CountResultDto:
    return CountResultDto(count=(await call(db, engine.list_definitions, **query.filters, limit=1)).count)


@router.get("/process-definition/key/{key}", dependencies=[Need(P.READ_DEFINITIONS)],
            response_model=ProcessDefinitionDto)
async def get_latest(key: str, db: DbDep) -> ProcessDefinitionDto:
    return ProcessDefinitionDto.of(await call(db, engine.latest_definition, key=key))


@router.get("/process-definition/key/{key}/xml", dependencies=[Need(P.READ_DEFINITIONS)],
            response_model=ProcessDefinitionDiagramDto)
async def get_latest_xml(key: str, db: DbDep) -> ProcessDefinitionDiagramDto:
    d = await call(db, engine.latest_definition, key=key)
    return ProcessDefinitionDiagramDto(id=d.id, bpmn20Xml=await call(db, engine.definition_xml, definition_id=d.id))


@router.get("/process-definition/{definition_id}", dependencies=[Need(P.READ_DEFINITIONS)],
            response_model=ProcessDefinitionDto)
async def get_definition(definition_id: str, db: DbDep) -> ProcessDefinitionDto:
    return ProcessDefinitionDto.of(await call(db, engine.get_definition, definition_id=definition_id))


@router.get("/process-definition/{definition_id}/xml", dependencies=[Need(P.READ_DEFINITIONS)],
            response_model=ProcessDefinitionDiagramDto)
async def get_xml(definition_id: str, db: DbDep) -> ProcessDefinitionDiagramDto:
    return ProcessDefinitionDiagramDto(id=definition_id,
                                       bpmn20Xml=await call(db, engine.definition_xml, definition_id=definition_id))


class StartIn(Lenient):
    variables: dict[str, Any] | None = None
    businessKey: str | None = None
    startInstructions: list[Any] | None = None
    withVariablesInReturn: bool | None = False


async def _start(request: Request, db: engine.Database, actor: engine.Actor, body: StartIn, audit: RequestAudit,
                 once: RequestOnce, **which: str) -> Response:
    if body.startInstructions:
        raise engine.Invalid("startInstructions are not supported")

    def answer(started: engine.InstanceInfo) -> Response:
        instance = ProcessInstanceDto.of(request, started)
        if not body.withVariablesInReturn:
            return JSONResponse(instance.model_dump())           # Camunda leaves `variables` out then
        return JSONResponse(ProcessInstanceWithVariablesDto(**instance.model_dump(),
                                                            variables=variables_dto(started.variables)).model_dump())

    async def produce(key: engine.IdempotencyKey | None) -> Response:
        return answer(await call(db, engine.start_instance, actor=actor, variables=plain_map(body.variables),
                                 business_key=body.businessKey, audit=audit.entry(), idempotency=key, **which))

    async def lost(stored: engine.StoredRequest) -> Response:
        return answer(await call(db, engine.get_instance, instance_id=stored.instance_id or "", viewer=actor))

    return await once.answer(db, produce, lost)


@router.post("/process-definition/key/{key}/start", dependencies=[Need(P.START)],
             response_model=ProcessInstanceWithVariablesDto)
async def start_by_key(key: str, body: StartIn, request: Request, db: DbDep, actor: ActorDep,
                       audit: AuditDep, once: OnceDep) -> Response:
    """Start the latest version; 404 for an unknown key. `Idempotency-Key` makes a retry safe."""
    return await _start(request, db, actor, body, audit, once, definition_key=key)


@router.post("/process-definition/key/{key}/tenant-id/{tenant_id}/start", dependencies=[Need(P.START)],
             response_model=ProcessInstanceWithVariablesDto)
async def start_by_key_for_tenant(key: str, tenant_id: str, body: StartIn, request: Request, db: DbDep,
                                  actor: ActorDep, audit: AuditDep, once: OnceDep) -> Response:
    """Tenants are not modelled: the same as starting by key."""
    return await _start(request, db, actor, body, audit, once, definition_key=key)


@router.post("/process-definition/{definition_id}/start", dependencies=[Need(P.START)],
             response_model=ProcessInstanceWithVariablesDto)
async def start_by_id(definition_id: str, body: StartIn, request: Request, db: DbDep,
                      actor: ActorDep, audit: AuditDep, once: OnceDep) -> Response:
    return await _start(request, db, actor, body, audit, once, definition_id=definition_id)
