"""Dependencies routes declare: the database handle and the actor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

import engine
from api.security import CallerDep

T = TypeVar("T")


async def get_db(request: Request) -> engine.Database:
    """async: a plain def would cost every request a hop to the thread pool."""
    return request.app.state.db


async def get_actor(caller: CallerDep) -> engine.Actor:
    """The engine's view of the authenticated caller: id, groups, organisation, need-to-know."""
    return caller.actor


DbDep = Annotated[engine.Database, Depends(get_db)]
ActorDep = Annotated[engine.Actor, Depends(get_actor)]


async def call(db: engine.Database, fn: Callable[..., T], /, **kwargs: Any) -> T:
    """Run an engine function. On SQLite the work is short, local and serialized anyway: run it
    inline on the event loop (twice the throughput of a thread hop). On PostgreSQL a call may wait on
    a row lock or the network: run it in the thread pool so other requests go on."""
    if db.is_sqlite:
        return fn(db, **kwargs)
    return await run_in_threadpool(fn, db, **kwargs)
