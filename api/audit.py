"""Every authenticated request — each read of case data and each change — goes into the audit
trail (who, when, what, from where, with what outcome), before the answer leaves. If the trail
cannot be written, the caller gets a 500 rather than an unrecorded answer.

A plain ASGI middleware: it holds back the response's start until the entry is written, without
the extra task and streams of Starlette's BaseHTTPMiddleware. A change's entry is written inside
the change's own transaction on SQLite (engine.AuditNote): the two commit together, and the answer
needs no second commit unless it differs from what the entry says.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import engine
from api.deps import call
from api.errors import error_body

log = logging.getLogger(__name__)

UNAUDITED = ("/api/v1/health", "/site/", "/site")
_FAILED = orjson.dumps(error_body("audit_unavailable", "the audit trail could not be written"))


CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class AuditTrail:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path") or ""
        if scope["type"] != "http" or scope.get("method") == "OPTIONS" or path.startswith(UNAUDITED):
            await self.app(scope, receive, send)
            return
        # A change's entry rides on the change's own transaction (SQLite; on PostgreSQL the note only
        # learns which instance changed, and the entry follows the answer): see engine.AuditNote.
        note = engine.AuditNote(lambda: _note_entry(scope)) if scope.get("method") in CHANGING else None
        recorded = False
        suppressed = False

        async def audited_send(message: Message) -> None:
            nonlocal recorded, suppressed
            if message["type"] == "http.response.start" and not recorded:
                recorded = True
                if not await self._record(scope, message["status"], note):
                    suppressed = True
                    await send({"type": "http.response.start", "status": 500,
                                "headers": [(b"content-type", b"application/json"),
                                            (b"content-length", str(len(_FAILED)).encode())]})
                    await send({"type": "http.response.body", "body": _FAILED})
                    return
            if suppressed:
                return
            await send(message)

        if note is None:
            await self.app(scope, receive, audited_send)
            return
        try:
            with engine.note_next_write(note):
                await self.app(scope, receive, audited_send)
        finally:
            note.closed = True           # a task the request left behind inherits the note: not its change

    async def _record(self, scope: Scope, status: int, note: engine.AuditNote | None) -> bool:
        if note is not None and note.written_status == status:
            return True                                  # committed with the change, saying just this
        db: engine.Database = scope["app"].state.db
        try:
            entry = _describe(scope, status)
            task_id = entry.pop("task_id")
            if note is not None and note.instance_id is not None:
                entry["instance_id"] = note.instance_id
            if entry["instance_id"] is None and task_id is not None:
                entry["instance_id"] = await call(db, engine.instance_of_task, task_id=task_id)
            await call(db, engine.append_audit, **entry)
            return True
        except Exception:
            log.exception("could not write the audit trail; refusing the answer")
            return False


def _describe(scope: Scope, status: int) -> dict[str, Any]:
    """Who did what, from where, with what outcome: `append_audit`'s arguments (the instance as the
    path names it, if it does) and the task id to find the instance by."""
    caller = (scope.get("state") or {}).get("caller")
    params: dict[str, Any] = scope.get("path_params") or {}
    path = scope.get("path") or ""
    template = path
    for name, value in params.items():                     # /instances/3f… -> /instances/{instance_id}
        template = template.replace(f"/{value}", f"/{{{name}}}", 1)
    query = (scope.get("query_string") or b"").decode("latin-1")
    client = scope.get("client")
    return {"actor": caller.id if caller else "anonymous", "action": f"{scope['method']} {template}",
            "target": path + (f"?{query}" if query else ""), "status": status,
            "client": client[0] if client else None, "instance_id": params.get("instance_id"),
            "task_id": params.get("task_id")}


def _note_entry(scope: Scope) -> dict[str, Any] | None:
    """The entry to write with the change: its status is the one the matched route answers on
    success. None when a route may succeed in more than one way (documented in its `responses`, as
    deployments answer 201 or 200): then the entry waits for the answer."""
    route = scope.get("route")
    if route is None:
        return None
    codes = {getattr(route, "status_code", None) or 200}
    codes |= {int(c) for c in getattr(route, "responses", None) or {} if str(c).isdigit() and str(c)[0] == "2"}
    return _describe(scope, codes.pop()) if len(codes) == 1 else None
