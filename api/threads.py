"""Engine calls run off the event loop, in a bounded pool of threads: a call that waits on a database
lock (another process writing to SQLite, a row locked on PostgreSQL) never stalls other requests,
health checks or parked long polls. The bound keeps the number of database connections in use
below the pool's size."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter

T = TypeVar("T")

DEFAULT_THREADS = 8
_limiter: CapacityLimiter | None = None
_size = DEFAULT_THREADS


def configure(threads: int) -> None:
    """Set the pool's size (before serving)."""
    global _size, _limiter
    _size, _limiter = max(1, threads), None


def _get_limiter() -> CapacityLimiter:
    global _limiter
    if _limiter is None:
        _limiter = CapacityLimiter(_size)
    return _limiter


async def run_engine(_db: Any, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` in the engine's thread pool."""
    return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs), limiter=_get_limiter())
