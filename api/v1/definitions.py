"""Deploy diagrams; list and read process definitions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

import engine
from api.audit import AuditDep
from api.deps import ActorDep, DbDep, call
from api.schemas.common import ErrorOut, Limit, ListOut, Offset
from api.schemas.definitions import DefinitionOut, DeploymentErrorOut, DeploymentOut
from api.schemas.diff import DefinitionDiffOut
from api.security import Need
from api.security import Permission as P
from api.uploads import deploy_options, read_deploy_files

router = APIRouter(tags=["definitions"])

_ERRORS = {400: {"model": ErrorOut}, 404: {"model": ErrorOut}, 409: {"model": ErrorOut}}

DEPLOY_BODY = {
    "requestBody": {"required": True, "content": {
        "multipart/form-data": {"schema": {"type": "object", "properties": {
            "files": {"type": "array", "items": {"type": "string", "format": "binary"},
                      "description": ".bpmn diagrams and the .json form schemas their user tasks name"}}}},
        "application/xml": {"schema": {"type": "string"}, "example": "<bpmn:definitions …>…</bpmn:definitions>"},
    }},
}


@router.post("/deployments", status_code=201, dependencies=[Need(P.DEPLOY)], response_model=DeploymentOut,
             openapi_extra=DEPLOY_BODY,
             responses={200: {"model": DeploymentOut, "description": "every diagram unchanged: nothing new"},
                        **_ERRORS, 400: {"model": DeploymentErrorOut, "description": (
                            "refused: every problem lint found, each with its file, line and element")}})
async def deploy(request: Request, db: DbDep, actor: ActorDep, audit: AuditDep,
                 filename: Annotated[str | None, Query(max_length=255, description=(
                     "raw XML bodies: the file name to record (default upload.bpmn)"))] = None) -> Response:
    """Deploy one or more diagrams, as multipart `files` or as one raw XML body.

    Every file is first checked as `reviewflow lint` checks it. Any error refuses the whole
    deployment with 400 and the complete report (`error.problems`: every error and warning with its
    file, line and element id); nothing is deployed then. Otherwise each executable process becomes a
    new version of its definition; a diagram byte-identical to the latest version (forms included)
    makes no new version, and the answer says so (200 instead of 201). Warnings come back in
    `warnings`.
    """
    files = await read_deploy_files(request, filename)
    result = await call(db, engine.deploy, files=files, actor=actor, **deploy_options(request),
                        audit=audit.entry(status=201, status_if_unchanged=200))
    out = DeploymentOut.of(result)
    status = 201 if any(d.created for d in out.definitions) else 200
    return Response(out.model_dump_json(), status_code=status, media_type="application/json")


@router.get("/definitions", response_model=ListOut[DefinitionOut], dependencies=[Need(P.READ_DEFINITIONS)])
async def list_definitions(db: DbDep, key: str | None = None,
                           latest: Annotated[bool, Query(description="only the latest version of each")] = False,
                           limit: Limit = 50, offset: Offset = 0) -> ListOut[DefinitionOut]:
    """Deployed process definitions, by key then version."""
    page = await call(db, engine.list_definitions, key=key, latest_only=latest, limit=limit, offset=offset)
    return ListOut[DefinitionOut](data=[DefinitionOut.of(d) for d in page.data], count=page.count)


@router.get("/definitions/{definition_id}", response_model=DefinitionOut, responses=_ERRORS,
            dependencies=[Need(P.READ_DEFINITIONS)])
async def get_definition(definition_id: str, db: DbDep) -> DefinitionOut:
    """One definition version, e.g. `rapid_review:3`."""
    return DefinitionOut.of(await call(db, engine.get_definition, definition_id=definition_id))


@router.get("/definitions/{definition_id}/xml", responses={200: {"content": {"application/xml": {}}}, **_ERRORS},
            dependencies=[Need(P.READ_DEFINITIONS)])
async def get_definition_xml(definition_id: str, db: DbDep) -> Response:
    """The BPMN XML exactly as deployed, for a modeler to open."""
    xml = await call(db, engine.definition_xml, definition_id=definition_id)
    return Response(xml, media_type="application/xml")


@router.get("/definitions/{definition_id}/diff", response_model=DefinitionDiffOut, responses=_ERRORS,
            dependencies=[Need(P.READ_DEFINITIONS)])
async def diff_definition(definition_id: str, db: DbDep,
                          against: Annotated[str, Query(max_length=300, description=(
                              "the version to compare with, e.g. rapid_review:2 (the base: `added` means in "
                              "{definition_id} and not in this one)"))]) -> DefinitionDiffOut:
    """Two versions side by side: the activities, flows, forms, timers and topics added, removed or
    changed from `against` to this version. For process owners and whoever reads the definitions;
    it shows diagrams and forms, never case data."""
    return DefinitionDiffOut.of(await call(db, engine.definition_diff, definition_id=definition_id,
                                           against_id=against))
