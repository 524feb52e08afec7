"""Engine calls run off the event loop, in a bounded pool of threads: a call that waits on a database
lock (another process writing to SQLite, a row locked on PostgreSQL) never stalls other requests,
health checks or parked long polls. The bound keeps the number of database connections in use
below the pool's size.

The pool is the standard library's ThreadPoolExecutor, handed calls by `loop.run_in_executor`:
its queue is C code, where anyio's `to_thread` wakes a worker through a Python `Condition` —
measured here, that wake-up alone was a fifth of the event loop's time under load (bench.engine)."""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

DEFAULT_THREADS = 8
_size = DEFAULT_THREADS
_executor: ThreadPoolExecutor | None = None


def configure(threads: int) -> None:
    """Set the pool's size (before serving). A pool of another size already running finishes the
    calls it holds and lets its threads go."""
    global _size, _executor
    size = max(1, threads)
    if _executor is not None and size != _size:
        _executor.shutdown(wait=False)
        _executor = None
    _size = size


def _get_executor() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=_size, thread_name_prefix="engine")
    return _executor


async def run_engine(_db: Any, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` in the engine's thread pool, in a copy of the caller's context (the
    request id its logs carry). If the request is cancelled meanwhile, the call still runs to its
    end (a change commits or rolls back whole) before the cancellation goes on."""
    call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
    future = asyncio.get_running_loop().run_in_executor(_get_executor(), call)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        if not future.done():
            await asyncio.wait([future])
        raise
