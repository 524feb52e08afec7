"""The FastAPI application: routers, error translation, request limits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

import engine
from api import console, errors, heap, logs, metrics, threads
from api.audit import AuditTrail
from api.audit_head import HeadPublisher
from api.engine_rest import router as engine_rest_router
from api.longpoll import TaskWaiters
from api.scheduler import TimerScheduler
from api.security import CallerDep, load_oidc
from api.settings import ServerSettings
from api.throttle import SignInThrottle
from api.v1 import router as v1_router

DESCRIPTION = """
Reviewflow runs a Safeguarding Children Partnership's case-review pathway as BPMN diagrams.

Every route but `/api/v1/health`, `/api/v1/ready` and `/metrics` needs
`Authorization: Bearer <API key or OpenID Connect token>` (or HTTP Basic: user name and API key).
Roles grant permissions; cases are shown on a need-to-know basis, and every request is recorded in
the audit trail.

* `/api/v1` — the native API: plain JSON variables; errors are `{"error": {"code", "message"}}`.
* Variables are JSON objects whose names start with a letter (letters, digits, `_`).
* Every change is one transaction and appends to the instance's history.
* `/engine-rest` — the Camunda 7 REST subset that Camunda clients and workers use unchanged
  (external tasks with long polling, deployments, process definitions, instances, tasks);
  errors are `{"type", "message"}`, dates `2026-11-25T19:14:56.736+0000`.
"""


def _operation_id(route: APIRoute) -> str:
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


class BodyLimit:
    """Refuse request bodies over the limit with 413, before they are read into memory."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await _too_large(send, self.max_bytes)
            return
        seen = 0

        async def limited() -> dict:  # type: ignore[type-arg]
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise errors.RequestTooLarge()
            return message

        try:
            await self.app(scope, limited, send)
        except errors.RequestTooLarge:
            await _too_large(send, self.max_bytes)


async def _too_large(send: Send, max_bytes: int) -> None:
    import orjson  # noqa: PLC0415
    body = orjson.dumps(errors.error_body("too_large", f"the request body is larger than {max_bytes} bytes"))
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def create_app(settings: ServerSettings | None = None, *, db: engine.Database | None = None,
               handler_topics: frozenset[str] | None = None, settle_heap: bool = False) -> FastAPI:
    """The app over `db` (or a database opened from `settings`). The schema must already be migrated.
    `handler_topics`: the topics the partnership's handlers serve (the composition root passes them),
    so deployments warn about a topic nobody serves; None: not checked. `settle_heap`: at start-up,
    parse the deployed processes and freeze the heap out of the garbage collector's walks (api.heap;
    for a serving process, not for apps a test creates and drops)."""
    settings = settings or ServerSettings()
    owns_db = db is None
    database = db or engine.Database(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous,
                                     busy_timeout_ms=settings.sqlite_busy_timeout_ms,
                                     organisation_variable=settings.organisation_variable,
                                     audit_fast=settings.audit_durability == "fast")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.task_waiters = TaskWaiters(database)
        engine.sandbox_warm()
        if settle_heap:                      # before any thread starts work: nothing in flight is frozen
            heap.settle(database)
        app.state.timers = TimerScheduler(database) if settings.timers else None
        head = None
        if settings.audit_head:
            key = settings.audit_head_key.get_secret_value().encode() if settings.audit_head_key else None
            head = HeadPublisher(database, settings.audit_head, key)
            head.start()
        if app.state.timers is not None:
            app.state.timers.start()
        try:
            yield
        finally:
            if app.state.timers is not None:
                app.state.timers.stop()
            app.state.task_waiters.close()
            app.state.throttle.flush()
            if head is not None:
                head.stop()
            if owns_db:
                database.dispose()

    app = FastAPI(title="Reviewflow", version="0.1.0", description=DESCRIPTION, lifespan=lifespan,
                  generate_unique_id_function=_operation_id, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.db = database
    app.state.settings = settings
    need_to_know = Path(settings.bpmn_dir) / "need_to_know.toml"
    if need_to_know.is_file():
        database.private_data = engine.load_private_data(need_to_know)   # Invalid stops the start: fail closed
    app.state.handler_topics = handler_topics
    app.state.oidc = load_oidc(settings)
    app.state.throttle = SignInThrottle(database, per_source=settings.sign_in_limit_per_source,
                                        per_key=settings.sign_in_limit_per_key)
    threads.configure(settings.engine_threads)
    engine.configure_sandbox(processes=settings.sandbox_processes, memory_bytes=settings.script_memory_mb * 2**20,
                             time_limit=settings.script_time_limit)
    errors.install(app)
    app.include_router(v1_router)
    app.include_router(engine_rest_router)
    app.include_router(docs_router)
    app.state.metrics = metrics.Metrics(database, settings)
    app.include_router(metrics.router)
    settings.site_dir.mkdir(parents=True, exist_ok=True)
    app.mount("/site", StaticFiles(directory=settings.site_dir, html=True), name="site")
    if settings.audit:
        app.add_middleware(AuditTrail)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(metrics.RequestMetrics, metrics=app.state.metrics)
    app.add_middleware(logs.RequestContext, access=settings.access_log)     # outermost: every answer has its id
    console.install(app)            # the web console at /; its assets at /assets/, in front of the middleware
    return app


docs_router = APIRouter(include_in_schema=False)


@docs_router.get("/openapi.json")
async def openapi(request: Request, caller: CallerDep) -> JSONResponse:
    """The OpenAPI document, for authenticated callers."""
    return JSONResponse(request.app.openapi())


@docs_router.get("/docs")
async def docs(request: Request, caller: CallerDep) -> HTMLResponse:
    """Swagger UI; a browser asks for the user name and key (HTTP Basic)."""
    return get_swagger_ui_html(openapi_url="/openapi.json", title="Reviewflow API")


class SecurityHeaders:
    """No sniffing, no framing, no referrer, no caching of case data; a strict CSP except on /docs
    (its scripts) and /site (published pages, with their own styles)."""

    HEADERS = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
               (b"referrer-policy", b"no-referrer"), (b"cache-control", b"no-store"),
               (b"cross-origin-opener-policy", b"same-origin")]
    CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
    SITE_CSP = (b"content-security-policy",
                b"default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self'; frame-ancestors 'none'")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path") or ""
        csp = [] if path == "/docs" else [self.SITE_CSP if path.startswith("/site") else self.CSP]

        async def with_headers(message: dict) -> None:  # type: ignore[type-arg]
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", [])) + self.HEADERS
                if not any(name == b"content-security-policy" for name, _ in headers):   # the console sets its own
                    headers += csp
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
