"""Logs: a readable line or one JSON object per line (REVIEWFLOW_LOG_FORMAT), each record with the id
of the request it belongs to.

* A request's id is its `X-Request-Id` header when that is short and made of safe characters
  (a letter or digit, then letters, digits, `.`, `_`, `:` or `-`; 64 at most), or a new one made
  here. It goes back in the answer's `X-Request-Id` and onto every record logged while the request
  runs, engine calls on their threads included. The workers send one with each call, so a worker's
  lines and the server's lines about one task share it.
* Records carry ids and codes given as `extra=` (instance_id, task_id, topic, …). Only plain values
  are written — text, numbers, booleans; a dict, a list or an object in `extra` is left out, a last
  guard against case data reaching a log (DESIGN §3: no case data in logs).
* The access line names the route's template (`/api/v1/instances/{instance_id}`), never the path or
  the query string: a query string can carry variable filters, which are case data.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.orjson import OrjsonFormatter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["JsonFormatter", "RequestContext", "TextFormatter", "accept_request_id", "configure_logging",
           "current_request_id", "route_template"]

HEADER = b"x-request-id"
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
_current: ContextVar[str | None] = ContextVar("reviewflow_request_id", default=None)

access_log = logging.getLogger("reviewflow.access")
PROBES = ("/api/v1/health", "/api/v1/ready", "/metrics")      # their access lines are DEBUG, not INFO
CHATTY = ("alembic", "apscheduler", "httpx", "httpcore")
SHOWN_IDS = ("request_id", "topic", "task_id", "instance_id", "worker_id")


def current_request_id() -> str | None:
    """The id of the request this code runs for, if any."""
    return _current.get()


def accept_request_id(value: bytes | str | None) -> str:
    """The caller's id when it is safe to log and echo, else a new one (32 hex digits)."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if value and _SAFE_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


def route_template(scope: Scope) -> str:
    """The template of the route that answered (`/api/v1/instances/{instance_id}`, `/site/{path}`),
    or `unmatched` when none did: never a path as asked, so labels and log lines stay few and clean.
    (FastAPI puts the route as its router declared it in the scope, without the router's prefix, so
    the template is the path with each path parameter's value put back as its name, as api.audit does.)"""
    if scope.get("route") is None:
        return "unmatched"
    template = scope.get("path") or ""
    for name, value in (scope.get("path_params") or {}).items():
        if value != "":
            template = template.replace(f"/{value}", f"/{{{name}}}", 1)
    return template


class RequestContext:
    """ASGI middleware: the request id (see the module docstring) and the access line."""

    def __init__(self, app: ASGIApp, *, access: bool = True) -> None:
        self.app, self.access = app, access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = accept_request_id(dict(scope.get("headers") or []).get(HEADER))
        scope.setdefault("state", {})["request_id"] = request_id
        token = _current.set(request_id)
        began = time.perf_counter()
        status = 500
        header = (HEADER, request_id.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [h for h in message.get("headers") or [] if h[0].lower() != HEADER]
                message = {**message, "headers": [*headers, header]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if self.access:
                self._log(scope, status, time.perf_counter() - began)
            _current.reset(token)

    @staticmethod
    def _log(scope: Scope, status: int, seconds: float) -> None:
        route = route_template(scope)
        path = scope.get("path") or ""
        level = logging.DEBUG if path.startswith(PROBES) else logging.INFO
        if access_log.isEnabledFor(level):
            access_log.log(level, "%s %s %d in %.1f ms", scope.get("method"), route, status, seconds * 1000,
                           extra={"method": scope.get("method"), "route": route, "status": status,
                                  "duration_ms": round(seconds * 1000, 3)})


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


class JsonFormatter(OrjsonFormatter):
    """One JSON object per line: time (UTC, ms), level, logger, message, request_id, pid, the plain
    values given as `extra`, and exception (the traceback) when there is one."""

    SKIP = frozenset([*RESERVED_ATTRS, "taskName", "color_message", "message"])

    def __init__(self) -> None:
        super().__init__(reserved_attrs=sorted(self.SKIP))

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        log_data["time"] = (datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
                            .replace("+00:00", "Z"))
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        log_data["message"] = record.getMessage() if not isinstance(record.msg, dict) else ""
        request_id = record.__dict__.get("request_id") or current_request_id()
        if request_id:
            log_data["request_id"] = request_id
        log_data["pid"] = record.process
        for key, value in record.__dict__.items():
            if key in self.SKIP or key.startswith("_") or key in log_data or not _plain(value):
                continue
            log_data[key] = value
        if message_dict.get("exc_info"):
            log_data["exception"] = message_dict["exc_info"]
        if message_dict.get("stack_info"):
            log_data["stack"] = message_dict["stack_info"]


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message [request_id=… topic=… task_id=… instance_id=…]`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        values = {name: getattr(record, name, None) for name in SHOWN_IDS}
        values["request_id"] = values["request_id"] or current_request_id()
        ids = " ".join(f"{name}={value}" for name, value in values.items() if value and _plain(value))
        return f"{text} [{ids}]" if ids else text


def configure_logging(level: str = "INFO", fmt: str = "text", *, stream: IO[str] | None = None) -> None:
    """Send every record to standard error (or `stream`) in `fmt`, at `level`. Replaces a handler this
    function installed before; adds none when something else (a test runner) already handles the root
    logger, as `logging.basicConfig` would. Uvicorn's loggers pass their records on to the root, but
    for its access log, whose line holds the query string."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_reviewflow", False):
            root.removeHandler(handler)
    if not root.handlers:
        handler = logging.StreamHandler(stream or sys.stderr)
        handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
        handler._reviewflow = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    uvicorn_access = logging.getLogger("uvicorn.access")   # its line has the path and query: RequestContext logs
    uvicorn_access.handlers.clear()                        # the route template instead
    uvicorn_access.propagate = False
