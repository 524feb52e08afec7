"""Every authenticated request — each read of case data and each change — goes into the audit trail
(who, when, what, from where, with what outcome), before the answer leaves.

* A change's entry is written by the engine, in the change's own transaction: the route hands
  `AuditDep.entry()` (an `engine.Audit`) to the engine command, so the change and its record commit
  together or not at all.
* Reads, and requests that were refused (nothing committed), are recorded here, after the route
  ran and before its answer starts: one entry per case the request touched — routes name them with
  `AuditDep.touched(...)` — or one entry naming no case. If the entry cannot be written, the caller
  gets a 500 rather than an unrecorded answer.
* Failed sign-ins are counted, not written one entry each (api.throttle summarises them).

A plain ASGI middleware: it holds back the response's start until the entry is written, without
the extra task and streams of Starlette's BaseHTTPMiddleware.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Annotated, Any

import orjson
from fastapi import Depends, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import engine
from api.deps import call
from api.errors import RETRY_AFTER_S, error_body

log = logging.getLogger(__name__)

UNAUDITED = ("/api/v1/health", "/api/v1/ready", "/metrics", "/site/", "/site", "/static/")
_FAILED = orjson.dumps(error_body("audit_unavailable", "the audit trail could not be written"))
_UNAVAILABLE = orjson.dumps(error_body("database_unavailable", "the database is unavailable; try again shortly"))


@dataclass
class RequestAudit:
    """What the audit trail needs to know about one request, collected while it runs."""

    action: str
    target: str
    client: str | None
    status: int
    cases: list[str] = field(default_factory=list)
    written: bool = False              # the engine committed this request's entry with its change

    def entry(self, *, status: int | None = None, status_if_unchanged: int | None = None,
              only_if_touched: bool = False) -> engine.Audit:
        """The entry for the engine to write with the change: the answer given on success is the
        route's status unless said otherwise."""
        return engine.Audit(action=self.action, target=self.target, client=self.client,
                            status=status if status is not None else self.status,
                            status_if_unchanged=status_if_unchanged, only_if_touched=only_if_touched,
                            on_written=self._written)

    def touched(self, *instance_ids: str | None) -> None:
        """The request read these cases (its entries name each)."""
        for instance_id in instance_ids:
            if instance_id and instance_id not in self.cases:
                self.cases.append(instance_id)

    def _written(self) -> None:
        self.written = True


def describe(scope: Scope) -> RequestAudit:
    """Who did what, from where: the route's template (`/instances/{instance_id}`), the path asked
    for, the client, and the status the route answers on success."""
    params: dict[str, Any] = scope.get("path_params") or {}
    path = scope.get("path") or ""
    route = scope.get("route")
    template = path
    for name, value in params.items():                     # /instances/3f… -> /instances/{instance_id}
        template = template.replace(f"/{value}", f"/{{{name}}}", 1)
    query = (scope.get("query_string") or b"").decode("latin-1")
    client = scope.get("client")
    audit = RequestAudit(action=f"{scope['method']} {template}", target=path + (f"?{query}" if query else ""),
                         client=client[0] if client else None,
                         status=getattr(route, "status_code", None) or 200)
    audit.touched(params.get("instance_id"))
    return audit


async def get_request_audit(request: Request) -> RequestAudit:
    found = getattr(request.state, "audit", None)
    if found is None:
        found = request.state.audit = describe(request.scope)
    return found


AuditDep = Annotated[RequestAudit, Depends(get_request_audit)]


class AuditTrail:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path") or ""
        if scope["type"] != "http" or scope.get("method") == "OPTIONS" or path.startswith(UNAUDITED):
            await self.app(scope, receive, send)
            return
        recorded = suppressed = False

        async def audited_send(message: Message) -> None:
            nonlocal recorded, suppressed
            if message["type"] == "http.response.start" and not recorded:
                recorded = True
                refusal = await self._record(scope, message["status"])
                if refusal is not None:
                    suppressed = True
                    status, body, extra = refusal
                    await send({"type": "http.response.start", "status": status,
                                "headers": [(b"content-type", b"application/json"),
                                            (b"content-length", str(len(body)).encode()), *extra]})
                    await send({"type": "http.response.body", "body": body})
                    return
            if suppressed:
                return
            await send(message)

        await self.app(scope, receive, audited_send)

    async def _record(self, scope: Scope, status: int) -> tuple[int, bytes, list[tuple[bytes, bytes]]] | None:
        """None once the entry is written (or needs none); else the answer to give instead: 503 with
        Retry-After when the database is unavailable, 500 otherwise."""
        state = scope.get("state") or {}
        caller = state.get("caller")
        if caller is None:
            return None                        # no one signed in: api.throttle counted the failure
        audit: RequestAudit | None = state.get("audit")
        if audit is None:
            audit = describe(scope)
        if audit.written and 200 <= status < 300:
            return None                        # committed with the change, saying just this
        db: engine.Database = scope["app"].state.db
        try:
            cases: list[str | None] = list(audit.cases)
            task_id = (scope.get("path_params") or {}).get("task_id")
            if not cases and task_id:                        # a refused request about a task: its case
                cases = [await call(db, engine.instance_of_task, task_id=task_id)]
            await call(db, engine.append_audit, actor=caller.id, action=audit.action, target=audit.target,
                       status=status, instance_ids=cases or [None], client=audit.client)
            return None
        except engine.Unavailable:
            log.warning("the database is unavailable: the audit entry cannot be written; answering 503")
            return 503, _UNAVAILABLE, [(b"retry-after", str(RETRY_AFTER_S).encode())]
        except Exception:
            log.exception("could not write the audit trail; refusing the answer")
            return 500, _FAILED, []
