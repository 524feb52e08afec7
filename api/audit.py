"""Every authenticated request — each read of case data and each change — goes into the audit
trail (who, when, what, from where, with what outcome), before the answer leaves. If the trail
cannot be written, the caller gets a 500 rather than an unrecorded answer."""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

import engine
from api.errors import error_body

log = logging.getLogger(__name__)

UNAUDITED = ("/api/v1/health", "/site/")


class AuditTrail(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        path = request.url.path
        if request.method == "OPTIONS" or path.startswith(UNAUDITED):
            return response
        db: engine.Database = request.app.state.db
        caller = getattr(request.state, "caller", None)
        params = request.scope.get("path_params") or {}
        template = path
        for name, value in params.items():                     # /instances/3f… -> /instances/{instance_id}
            template = template.replace(f"/{value}", f"/{{{name}}}", 1)
        action = f"{request.method} {template}"
        target = path + (f"?{request.url.query}" if request.url.query else "")
        client = request.client.host if request.client else None
        try:
            instance_id = params.get("instance_id")
            if instance_id is None and (task_id := params.get("task_id")):
                instance_id = await _call(db, engine.instance_of_task, task_id=task_id)
            await _call(db, engine.append_audit, actor=caller.id if caller else "anonymous", action=action,
                        target=target, status=response.status_code, instance_id=instance_id, client=client)
        except Exception:
            log.exception("could not write the audit trail; refusing the answer")
            return JSONResponse(error_body("audit_unavailable", "the audit trail could not be written"),
                                status_code=500)
        return response


async def _call(db: engine.Database, fn, /, **kwargs):  # type: ignore[no-untyped-def]
    if db.is_sqlite:
        return fn(db, **kwargs)
    return await run_in_threadpool(fn, db, **kwargs)
