"""Find, claim, unclaim and complete user tasks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

import engine
from api.audit import AuditDep
from api.deps import ActorDep, DbDep, call, model_response
from api.idempotency import OnceDep
from api.schemas.common import ErrorOut, Limit, ListOut, Offset
from api.schemas.instances import (
    AssignUserTaskIn,
    ClaimUserTaskIn,
    CompleteUserTaskIn,
    InstanceOut,
    UserTaskDetailOut,
    UserTaskOut,
)
from api.security import Need
from api.security import Permission as P

router = APIRouter(prefix="/user-tasks", tags=["user-tasks"])

_ERRORS = {400: {"model": ErrorOut}, 403: {"model": ErrorOut}, 404: {"model": ErrorOut}, 409: {"model": ErrorOut}}


@router.get("", response_model=ListOut[UserTaskOut], dependencies=[Need(P.WORK_TASKS)])
async def list_user_tasks(db: DbDep, actor: ActorDep,
                          candidate_group: Annotated[list[str] | None, Query(
                              description="tasks any of these groups may do (repeat the parameter)")] = None,
                          candidate_user: str | None = None, assignee: str | None = None,
                          unassigned: bool | None = None, instance_id: str | None = None,
                          business_key: str | None = None, definition_key: str | None = None,
                          activity_id: str | None = None, limit: Limit = 50,
                          offset: Offset = 0) -> ListOut[UserTaskOut]:
    """Open user tasks you may see, highest priority and oldest first."""
    page = await call(db, engine.list_user_tasks, candidate_groups=candidate_group, candidate_user=candidate_user,
                      assignee=assignee, unassigned=unassigned, instance_id=instance_id,
                      business_key=business_key, definition_key=definition_key, activity_id=activity_id,
                      limit=limit, offset=offset, viewer=actor)
    return ListOut[UserTaskOut](data=[UserTaskOut.of(t) for t in page.data], count=page.count,
                                      count_exact=page.count_exact)


@router.get("/{task_id}", response_model=UserTaskDetailOut, responses=_ERRORS, dependencies=[Need(P.WORK_TASKS)])
async def get_user_task(task_id: str, db: DbDep, actor: ActorDep, audit: AuditDep) -> UserTaskDetailOut:
    """An open user task with its form schema (if its diagram names one) and the variables it shows:
    its form's fields, those its diagram lists in the task's `reads` property, and whose task it is —
    never the rest of the case."""
    task = await call(db, engine.get_user_task, task_id=task_id, viewer=actor)
    audit.touched(task.instance_id)
    return UserTaskDetailOut.of(task)


@router.post("/{task_id}/claim", response_model=UserTaskOut, responses=_ERRORS, dependencies=[Need(P.WORK_TASKS)])
async def claim_user_task(task_id: str, db: DbDep, actor: ActorDep, audit: AuditDep,
                          body: ClaimUserTaskIn | None = None) -> UserTaskOut:
    """Take the task — only its candidates may (403 otherwise) — or, for a task's managers, give it
    to `assignee`, a known user who is a candidate. 409 if someone else holds it."""
    return UserTaskOut.of(await call(db, engine.claim_user_task, actor=actor, task_id=task_id,
                                     assignee=body.assignee if body else None, audit=audit.entry()))


@router.post("/{task_id}/assign", response_model=UserTaskOut, responses=_ERRORS,
             dependencies=[Need(P.MANAGE_TASKS)])
async def assign_user_task(task_id: str, body: AssignUserTaskIn, db: DbDep, actor: ActorDep,
                           audit: AuditDep) -> UserTaskOut:
    """Managers (business unit, administrators): give the task to `assignee` — a known user who is
    one of its candidates — whoever holds it now, or back to its candidates with `null`."""
    return UserTaskOut.of(await call(db, engine.assign_user_task, actor=actor, task_id=task_id,
                                     assignee=body.assignee, audit=audit.entry()))


@router.post("/{task_id}/unclaim", response_model=UserTaskOut, responses=_ERRORS, dependencies=[Need(P.WORK_TASKS)])
async def unclaim_user_task(task_id: str, db: DbDep, actor: ActorDep, audit: AuditDep) -> UserTaskOut:
    """Give the task back to its candidates. Its assignee may, and so may its managers (409 otherwise)."""
    return UserTaskOut.of(await call(db, engine.unclaim_user_task, actor=actor, task_id=task_id,
                                     audit=audit.entry()))


@router.post("/{task_id}/complete", response_model=InstanceOut, responses=_ERRORS, dependencies=[Need(P.WORK_TASKS)])
async def complete_user_task(task_id: str, body: CompleteUserTaskIn, db: DbDep, actor: ActorDep,
                             audit: AuditDep, once: OnceDep) -> Response:
    """Complete the task with its form data; the instance runs on to its next wait state.

    The answer shows what the task shows — its variables as the task left them, and the case's
    open tasks you may see. 400 when a variable fails the task's form schema (the error names the
    field); 409 when the task is no longer open or is claimed by someone else. Either way nothing
    changes. With an `Idempotency-Key`, a retry gives the first answer.
    """
    async def produce(key: engine.IdempotencyKey | None) -> Response:
        return model_response(InstanceOut.of(await call(db, engine.complete_user_task, actor=actor, task_id=task_id,
                                                         variables=body.variables, audit=audit.entry(),
                                                         idempotency=key)))

    async def lost(stored: engine.StoredRequest) -> Response:
        return Response(status_code=200, content=b'{"replayed": true}', media_type="application/json")

    return await once.answer(db, produce, lost)
