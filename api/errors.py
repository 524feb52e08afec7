"""Engine errors become HTTP answers here, once per API: {"error": {code, message}} on /api/v1, Camunda's
{type, message} on /engine-rest — a refused deployment with every problem lint found, on both."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

import engine

RETRY_AFTER_S = 5                 # what a 503 asks the client to wait

STATUS_BY_ERROR: list[tuple[type[engine.EngineError], int]] = [
    (engine.Unavailable, 503),
    (engine.Forbidden, 403),
    (engine.NotFound, 404),
    (engine.Conflict, 409),
    (engine.Invalid, 400),
]


def status_of(error: engine.EngineError) -> int:
    for cls, status in STATUS_BY_ERROR:
        if isinstance(error, cls):
            return status
    return 400


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **{k: v for k, v in extra.items() if v is not None}}}


def describe_validation(exc: RequestValidationError) -> tuple[str, str | None]:
    """A readable sentence for the first thing wrong with a request, and the field it is about."""
    errors = exc.errors()
    if not errors:
        return "the request is not valid", None
    first = errors[0]
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "header")]
    field = ".".join(loc) or None
    msg = first.get("msg", "invalid value")
    if first.get("type") == "json_invalid":
        return "the request body is not valid JSON", None
    if first.get("type") == "missing":
        return f"field '{field}' is required", field
    if first.get("type") == "extra_forbidden":
        return f"field '{field}' is not expected here", field
    return (f"field '{field}': {msg}" if field else msg), field


class RequestTooLarge(Exception):
    pass


CAMUNDA_PREFIX = "/engine-rest"


def camunda_error(error: engine.EngineError) -> tuple[int, str]:
    """Camunda's status and exception type for an engine error (reference: camunda7-rest-contract.md)."""
    if isinstance(error, engine.Unavailable):
        return 503, "ServiceUnavailableException"
    if isinstance(error, engine.TaskClaimedByOther):
        return 500, "TaskAlreadyClaimedException"
    if isinstance(error, engine.Forbidden):
        return 403, "AuthorizationException"
    if isinstance(error, engine.LockedByAnotherWorker):
        return 400, "BadUserRequestException"
    if isinstance(error, engine.InstanceNotFound):
        return 404, "InvalidRequestException"
    if isinstance(error, engine.NotFound | engine.TaskNotOpen):
        return 404, "RestException"
    if isinstance(error, engine.Invalid):
        return 400, "InvalidRequestException"
    return 400, "BadUserRequestException"


def is_camunda(request: Request) -> bool:
    return request.url.path.startswith(CAMUNDA_PREFIX)


def problem_json(p: engine.Problem) -> dict[str, Any]:
    """One lint problem on /api/v1 (a deployment's warnings, a refused deployment's problems)."""
    return {"severity": p.severity, "file": p.file, "line": p.line, "element_id": p.element_id, "message": p.message,
            "code": p.code, "related_ids": list(p.related_ids)}


PARSE_ERROR_PREFIX = "ENGINE-09005 Could not parse BPMN process. Errors: "


def camunda_parse_exception(error: engine.DeploymentError) -> dict[str, Any]:
    """Camunda 7's answer to a deployment that does not parse (ParseExceptionDto): every problem, per
    resource, as `errors` and `warnings` of {message, line, column, mainElementId, elementIds}. The message
    starts as Camunda's does, which is how Camunda Modeler recognises a parse error. (Camunda's own
    ProblemDto spells elementIds with a Cyrillic "е" by mistake; we send the documented name.)"""
    details: dict[str, dict[str, list[dict[str, Any]]]] = {}
    listed = []
    for p in error.problems:
        report = details.setdefault(p.file, {"errors": [], "warnings": []})
        report["errors" if p.is_error else "warnings"].append({
            "message": p.message, "line": p.line or 0, "column": 0, "mainElementId": p.element_id,
            "elementIds": [i for i in (p.element_id, *p.related_ids) if i]})
        if p.is_error:
            listed.append(f"\n* {p.message} | resource {p.file}" + (f" | line {p.line}" if p.line else ""))
    return {"type": "ParseException", "message": PARSE_ERROR_PREFIX + "".join(listed), "details": details}


def migration_refusal(exc: engine.MigrationPlanInvalid | engine.MigrationRefused, *, camunda: bool) -> dict[str, Any]:
    """A migration that cannot run: Camunda's MigrationPlanValidationException or
    MigratingProcessInstanceValidationException on /engine-rest; on /api/v1 the error with the whole
    report (which instructions and which cases, and why)."""
    from api.engine_rest.migration import plan_exception, refusal_exception  # noqa: PLC0415 - one-way import
    from api.schemas.migrations import MigrationReportOut  # noqa: PLC0415
    if camunda:
        return plan_exception(exc) if isinstance(exc, engine.MigrationPlanInvalid) else refusal_exception(exc)
    return error_body(exc.code, exc.message, report=MigrationReportOut.of(exc.report).model_dump(mode="json"))


def install(app: FastAPI) -> None:
    @app.exception_handler(engine.EngineError)
    async def _engine_error(request: Request, exc: engine.EngineError) -> JSONResponse:
        if isinstance(exc, engine.MigrationPlanInvalid | engine.MigrationRefused):
            return JSONResponse(migration_refusal(exc, camunda=is_camunda(request)), status_code=400)
        if isinstance(exc, engine.DeploymentError):
            if is_camunda(request):
                return JSONResponse(camunda_parse_exception(exc), status_code=400)
            return JSONResponse(error_body(exc.code, exc.message, **exc.details,
                                           problems=[problem_json(p) for p in exc.problems]), status_code=400)
        headers = {"Retry-After": str(RETRY_AFTER_S)} if isinstance(exc, engine.Unavailable) else None
        if is_camunda(request):
            status, kind = camunda_error(exc)
            return JSONResponse({"type": kind, "message": exc.message}, status_code=status, headers=headers)
        return JSONResponse(error_body(exc.code, exc.message, **exc.details), status_code=status_of(exc),
                            headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, field = describe_validation(exc)
        if is_camunda(request):
            return JSONResponse({"type": "InvalidRequestException", "message": message}, status_code=400)
        return JSONResponse(error_body("invalid_request", message, field=field), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if is_camunda(request):
            return JSONResponse({"type": "RestException", "message": str(exc.detail)}, status_code=exc.status_code,
                                headers=getattr(exc, "headers", None))
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large", 415: "unsupported_media_type",
                401: "unauthenticated", 403: "forbidden", 429: "too_many_requests"}.get(exc.status_code,
                                                                                       "http_error")
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        import logging  # noqa: PLC0415
        logging.getLogger("api").error("unexpected error on %s %s: %s", request.method, request.url.path,
                                       type(exc).__name__, exc_info=exc)
        if is_camunda(request):
            return JSONResponse({"type": "RestException", "message": "internal error; it has been logged"},
                                status_code=500)
        return JSONResponse(error_body("internal_error", "something went wrong on our side; it has been logged"),
                            status_code=500)
