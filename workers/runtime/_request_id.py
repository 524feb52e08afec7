"""The request id: one per fetchAndLock and one per task a worker handles, sent as `X-Request-Id`
with each call that belongs to it (complete, failure, extendLock, unlock, …) and stamped on the log
records written meanwhile, so the worker's lines and the server's lines about one task share it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["current_request_id", "new_request_id", "request_id"]

HEADER = "X-Request-Id"
_current: ContextVar[str | None] = ContextVar("reviewflow_worker_request_id", default=None)


def current_request_id() -> str | None:
    """The id of the work this code runs for, if any."""
    return _current.get()


def new_request_id() -> str:
    """32 hex digits: short and safe, as the server accepts them."""
    return uuid.uuid4().hex


@contextmanager
def request_id(value: str | None = None) -> Iterator[str]:
    """Run the block under `value` (a new id when None)."""
    value = value or new_request_id()
    token = _current.set(value)
    try:
        yield value
    finally:
        _current.reset(token)
