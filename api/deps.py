"""Dependencies routes declare: the database handle and the actor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel

import engine
from api.security import CallerDep
from api.threads import run_engine

T = TypeVar("T")


async def get_db(request: Request) -> engine.Database:
    """async: a plain def would cost every request a hop to the thread pool."""
    return request.app.state.db


async def get_actor(caller: CallerDep) -> engine.Actor:
    """The engine's view of the authenticated caller: id, groups, organisation, need-to-know."""
    return caller.actor


DbDep = Annotated[engine.Database, Depends(get_db)]
ActorDep = Annotated[engine.Actor, Depends(get_actor)]


def model_response(model: BaseModel, status: int = 200) -> Response:
    """A pydantic model as a JSON answer (for routes that answer with a Response of their own)."""
    return Response(model.model_dump_json(), status_code=status, media_type="application/json")


async def call(db: engine.Database, fn: Callable[..., T], /, **kwargs: Any) -> T:
    """Run an engine function off the event loop (api.threads), so a wait on the database never
    holds up other requests."""
    return await run_engine(db, fn, db, **kwargs)
