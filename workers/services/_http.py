"""The one place outbound httpx errors and statuses become ours (as the runtime's client does)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from workers.services._errors import NeedsAttention, Rejected, Unavailable

__all__ = ["bearer", "call", "error_code"]


def error_code(response: httpx.Response) -> str:
    """A short machine code from an error body (`code`, `error`, `type`), never its free text."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        for key in ("code", "error", "type", "reason_code"):
            value = body.get(key)
            if isinstance(value, str) and len(value) <= 64 and value.replace("_", "").replace("-", "").isalnum():
                return value
    return ""


def call(what: str, send: Callable[[], httpx.Response], *,
         retry_on: tuple[int, ...] = (408, 425, 429)) -> httpx.Response:
    """Run `send`; return its 2xx answer.

    Raises: Unavailable (unreachable, timeout, 5xx, or a status in `retry_on`: retried by the runtime);
    NeedsAttention for 401/403 (credentials); Rejected for any other 4xx, with its status and code.
    """
    try:
        response = send()
    except httpx.TimeoutException as exc:
        raise Unavailable(f"{what}: no answer in time ({type(exc).__name__})") from exc
    except httpx.TransportError as exc:
        raise Unavailable(f"{what}: {type(exc).__name__}") from exc
    status = response.status_code
    if status < 300:
        return response
    code = error_code(response)
    said = f"{what}: HTTP {status}" + (f" {code}" if code else "")
    if status >= 500 or status in retry_on:
        raise Unavailable(said)
    if status in (401, 403):
        raise NeedsAttention(f"{said}: check the credentials configured for it")
    if status >= 400:
        raise Rejected(said, status=status, code=code)
    raise Unavailable(f"{said}: unexpected answer")


def bearer(token: str | None) -> dict[str, Any]:
    return {"Authorization": f"Bearer {token.removeprefix('Bearer ').strip()}"} if token else {}
