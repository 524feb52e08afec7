"""Is the process alive (`/health`), and is it ready to serve (`/ready`)? Neither needs a login, and
neither is audited: a load balancer and a supervisor ask them every few seconds.

* `/health` is liveness: 200 while the process answers HTTP. It never touches the database, so a
  database outage does not make a supervisor restart every server.
* `/ready` is readiness: the database answers, its schema is at the code's migration head, and the
  timer scheduler of this process is running and not stuck. 503, with what failed, otherwise: take
  the server out of the load balancer until it is ready again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import anyio
import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

import engine

router = APIRouter(tags=["health"])

PROBE_TIMEOUT_S = 5.0
_probes = anyio.CapacityLimiter(2)          # a hung database holds at most two threads, not the engine's pool


class HealthOut(BaseModel):
    status: Literal["ok"] = "ok"


@router.get("/health", response_model=HealthOut)
async def health() -> HealthOut:
    """Liveness: `ok` while the process answers. It does not ask the database (see `/ready`)."""
    return HealthOut()


class Check(BaseModel):
    ok: bool
    problem: str | None = Field(None, description="what is wrong, when not ok")


class DatabaseCheck(Check):
    dialect: str


class SchemaCheck(Check):
    revision: str | None = Field(None, description="the database's migration revision")
    head: str | None = Field(None, description="the revision this code expects")


class SchedulerCheck(Check):
    enabled: bool = Field(description="whether this process runs the timer scheduler (REVIEWFLOW_TIMERS)")
    running: bool
    last_wake: datetime | None = None
    next_wake: datetime | None = None


class ReadyChecks(BaseModel):
    database: DatabaseCheck
    schema_: SchemaCheck = Field(alias="schema")
    scheduler: SchedulerCheck


class ReadyOut(BaseModel):
    status: Literal["ready", "not_ready"]
    failed: list[str] = Field(description="the checks that failed")
    checks: ReadyChecks


async def _in_thread(fn: object, *args: object) -> object:
    """`fn(*args)` off the event loop, given up after PROBE_TIMEOUT_S (TimeoutError)."""
    with anyio.fail_after(PROBE_TIMEOUT_S):
        return await anyio.to_thread.run_sync(fn, *args, limiter=_probes, abandon_on_cancel=True)  # type: ignore[arg-type]


async def _database(db: engine.Database) -> DatabaseCheck:
    dialect = db.dialect.name
    try:
        ok = bool(await _in_thread(db.ping))
    except TimeoutError:
        return DatabaseCheck(ok=False, dialect=dialect,
                             problem=f"the database did not answer in {PROBE_TIMEOUT_S:.0f} s")
    return DatabaseCheck(ok=ok, dialect=dialect, problem=None if ok else "the database does not answer")


async def _schema(db: engine.Database) -> SchemaCheck:
    try:
        head = engine.schema_head()
    except Exception as exc:                    # the code's migrations are forked (two heads)
        return SchemaCheck(ok=False, problem=f"the code's migrations have no single head: {exc}")
    try:
        revision = await _in_thread(engine.current_revision, db)
    except Exception as exc:
        return SchemaCheck(ok=False, head=head, problem=f"could not read the schema's revision ({type(exc).__name__})")
    if revision != head:
        return SchemaCheck(ok=False, revision=revision, head=head,  # type: ignore[arg-type]
                           problem=f"the database is at revision {revision or 'none'}, this code needs {head}: "
                                   "run `reviewflow db upgrade`")
    return SchemaCheck(ok=True, revision=revision, head=head)


def _scheduler(request: Request) -> SchedulerCheck:
    timers = getattr(request.app.state, "timers", None)
    if timers is None:
        return SchedulerCheck(ok=True, enabled=False, running=False)
    state = timers.health()
    return SchedulerCheck(ok=state.ok, enabled=True, running=state.running, last_wake=state.last_wake,
                          next_wake=state.next_wake, problem=state.problem)


@router.get("/ready", response_model=ReadyOut, responses={503: {"model": ReadyOut}})
async def ready(request: Request) -> JSONResponse:
    """Readiness: 200 `ready` when the database answers, its schema is at the migration head and the
    timer scheduler runs and is not stuck; 503 `not_ready` naming the checks that failed."""
    db: engine.Database = request.app.state.db
    database = await _database(db)
    schema = await _schema(db) if database.ok else SchemaCheck(ok=False, problem="the database does not answer")
    checks = {"database": database, "schema": schema, "scheduler": _scheduler(request)}
    failed = [name for name, check in checks.items() if not check.ok]
    body = ReadyOut(status="not_ready" if failed else "ready", failed=failed,
                    checks=ReadyChecks.model_validate(checks))
    return JSONResponse(body.model_dump(mode="json", by_alias=True), status_code=503 if failed else 200)
