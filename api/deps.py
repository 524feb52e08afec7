"""Dependencies routes declare: the database handle and the actor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request
from starlette.concurrency import run_in_threadpool

import engine

T = TypeVar("T")


def get_db(request: Request) -> engine.Database:
    return request.app.state.db


def get_actor(x_reviewflow_user: Annotated[str | None, Header(
        description="who is acting (until authentication lands: trusted as given)", max_length=255)] = None,
        x_reviewflow_groups: Annotated[str | None, Header(
            description="comma-separated groups of the actor", max_length=2000)] = None) -> engine.Actor:
    groups = frozenset(g.strip() for g in (x_reviewflow_groups or "").split(",") if g.strip())
    return engine.Actor(x_reviewflow_user or "anonymous", groups)


DbDep = Annotated[engine.Database, Depends(get_db)]
ActorDep = Annotated[engine.Actor, Depends(get_actor)]


async def call(db: engine.Database, fn: Callable[..., T], /, **kwargs: Any) -> T:
    """Run an engine function. On SQLite the work is short, local and serialized anyway: run it
    inline on the event loop (twice the throughput of a thread hop). On PostgreSQL a call may wait on
    a row lock or the network: run it in the thread pool so other requests go on."""
    if db.is_sqlite:
        return fn(db, **kwargs)
    return await run_in_threadpool(fn, db, **kwargs)
