"""Moving open cases to another version of their process: a plan, then each case moved in its own
transaction (or, with dry_run, only told whether it can move and why not). For process owners:
the answers name cases and the activities they wait at, never case data."""

from __future__ import annotations

from fastapi import APIRouter

import engine
from api.audit import AuditDep
from api.deps import ActorDep, DbDep, call
from api.schemas.common import ErrorOut
from api.schemas.migrations import MigrationIn, MigrationPlanIn, MigrationPlanOut, MigrationReportOut
from api.security import Need
from api.security import Permission as P

router = APIRouter(prefix="/migrations", tags=["migrations"], dependencies=[Need(P.MIGRATE)])

_ERRORS = {400: {"model": ErrorOut}, 404: {"model": ErrorOut}}


def _plan_report(db: engine.Database, body: MigrationPlanIn) -> engine.MigrationReport:
    return engine.validate_migration_plan(db, plan=body.plan(db))


def _run(db: engine.Database, body: MigrationIn, actor: engine.Actor, audit: engine.Audit) -> engine.MigrationReport:
    plan = body.plan(db)
    if body.dry_run:
        return engine.validate_migration(db, plan=plan, instance_ids=body.instance_ids)
    return engine.migrate_instances(db, plan=plan, actor=actor, instance_ids=body.instance_ids, audit=audit)


@router.post("/plan", response_model=MigrationPlanOut, responses=_ERRORS)
async def migration_plan(body: MigrationPlanIn, db: DbDep) -> MigrationPlanOut:
    """The plan from one version of a process to another: every activity with the same id and kind
    in both is mapped, `mapping` maps the others (an activity whose id changed). The answer says
    which instructions cannot work and which activities stay unmapped (cases waiting there cannot
    move). Changes nothing."""
    return MigrationPlanOut.of(await call(db, _plan_report, body=body))


@router.post("", response_model=MigrationReportOut, responses={
    **_ERRORS, 400: {"model": ErrorOut, "description": "the plan cannot work (error.instruction_reports says why)"}})
async def migrate(body: MigrationIn, db: DbDep, actor: ActorDep, audit: AuditDep) -> MigrationReportOut:
    """Move the cases named in `instance_ids` (by default every open case of the source version) to
    the target version, each in its own transaction, with an `instance_migrated` history event and an
    audit entry. A case that cannot move stays as it is; the answer lists, case by case, what moved
    and why the others did not. Open tasks keep their ids, claims and worker locks; timers keep their
    due times (unless `update_event_triggers`). With `dry_run`, nothing moves: the answer says which
    cases can."""
    return MigrationReportOut.of(await call(db, _run, body=body, actor=actor, audit=audit.entry()))
