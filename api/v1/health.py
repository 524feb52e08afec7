"""Is the service up, and can it reach its database?"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.deps import DbDep
from api.threads import run_engine

router = APIRouter(tags=["health"])


class DatabaseHealth(BaseModel):
    ok: bool
    dialect: str


class HealthOut(BaseModel):
    status: str
    database: DatabaseHealth


@router.get("/health", response_model=HealthOut, responses={503: {"model": HealthOut}})
async def health(db: DbDep) -> JSONResponse:
    """`ok` with 200 when the database answers; `unavailable` with 503 when it does not."""
    ok = await run_engine(db, db.ping)
    body = HealthOut(status="ok" if ok else "unavailable", database=DatabaseHealth(ok=ok, dialect=db.dialect.name))
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)
