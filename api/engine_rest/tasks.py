"""/engine-rest task endpoints (user tasks)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

import engine
from api.audit import AuditDep
from api.deps import ActorDep, DbDep, call
from api.engine_rest.camunda import Lenient, fmt_date, page, plain_map, query_bool, query_list, typed_map
from api.security import Need
from api.security import Permission as P

router = APIRouter(prefix="/task", tags=["engine-rest tasks"], dependencies=[Need(P.WORK_TASKS)])


def task_json(t: engine.UserTaskInfo) -> dict[str, Any]:
    return {"id": t.id, "name": t.name, "assignee": t.assignee, "owner": None, "created": fmt_date(t.created_at),
            "due": None, "followUp": None, "lastUpdated": fmt_date(t.claimed_at or t.created_at),
            "delegationState": None, "description": t.documentation, "executionId": t.instance_id,
            "parentTaskId": None, "priority": t.priority, "processDefinitionId": t.definition_id,
            "processInstanceId": t.instance_id, "caseExecutionId": None, "caseDefinitionId": None,
            "caseInstanceId": None, "taskDefinitionKey": t.activity_id, "suspended": False,
            "formKey": t.form_key, "camundaFormRef": None, "tenantId": None}


async def _query(request: Request, db: engine.Database, actor: engine.Actor, limit: int,
                 offset: int) -> engine.Page[engine.UserTaskInfo]:
    q = request.query_params
    groups = (query_list(request, "candidateGroup") or []) + (query_list(request, "candidateGroups") or [])
    candidate_user = q.get("candidateUser")
    unassigned = query_bool(request, "unassigned")
    if (groups or candidate_user) and not query_bool(request, "includeAssignedTasks"):
        unassigned = True                     # Camunda: candidate filters hide assigned tasks
    return await call(db, engine.list_user_tasks, candidate_groups=groups or None, candidate_user=candidate_user,
                      assignee=q.get("assignee"), unassigned=unassigned, instance_id=q.get("processInstanceId"),
                      business_key=q.get("processInstanceBusinessKey"),
                      definition_key=q.get("processDefinitionKey"), activity_id=q.get("taskDefinitionKey"),
                      limit=limit, offset=offset, viewer=actor)


@router.get("")
async def list_tasks(request: Request, db: DbDep, actor: ActorDep) -> list[dict[str, Any]]:
    first, maximum = page(request)
    return [task_json(t) for t in (await _query(request, db, actor, maximum, first)).data]


@router.get("/count")
async def count_tasks(request: Request, db: DbDep, actor: ActorDep) -> dict[str, int]:
    return {"count": (await _query(request, db, actor, 1, 0)).count}


@router.get("/{task_id}")
async def get_task(task_id: str, db: DbDep, actor: ActorDep, audit: AuditDep) -> dict[str, Any]:
    task = await call(db, engine.get_user_task, task_id=task_id, with_variables=False, viewer=actor)
    audit.touched(task.instance_id)
    return task_json(task)


@router.get("/{task_id}/variables")
async def task_variables(task_id: str, db: DbDep, actor: ActorDep, audit: AuditDep) -> dict[str, Any]:
    """The variables the task shows: its form's fields, its `reads`, and whose task it is."""
    task = await call(db, engine.get_user_task, task_id=task_id, viewer=actor)
    audit.touched(task.instance_id)
    return typed_map(task.variables or {})


class ClaimIn(Lenient):
    userId: str | None = None


@router.post("/{task_id}/claim", status_code=204, response_class=Response)
async def claim(task_id: str, body: ClaimIn, db: DbDep, actor: ActorDep, audit: AuditDep) -> Response:
    """204; 500 TaskAlreadyClaimedException when someone else holds it (as Camunda answers); 403
    when `userId` is not a candidate (or is someone else, and the caller does not manage tasks)."""
    await call(db, engine.claim_user_task, actor=actor, task_id=task_id, assignee=body.userId, audit=audit.entry())
    return Response(status_code=204)


class AssigneeIn(Lenient):
    userId: str | None = None


@router.post("/{task_id}/assignee", status_code=204, response_class=Response,
             dependencies=[Need(P.MANAGE_TASKS)])
async def set_assignee(task_id: str, body: AssigneeIn, db: DbDep, actor: ActorDep, audit: AuditDep) -> Response:
    """Camunda's setAssignee, for a task's managers: give the task to `userId` — a known user who is
    a candidate — whoever holds it now; `null` gives it back to its candidates."""
    await call(db, engine.assign_user_task, actor=actor, task_id=task_id, assignee=body.userId, audit=audit.entry())
    return Response(status_code=204)


@router.post("/{task_id}/unclaim", status_code=204, response_class=Response)
async def unclaim(task_id: str, db: DbDep, actor: ActorDep, audit: AuditDep) -> Response:
    await call(db, engine.unclaim_user_task, actor=actor, task_id=task_id, audit=audit.entry())
    return Response(status_code=204)


class CompleteIn(Lenient):
    variables: dict[str, Any] | None = None
    withVariablesInReturn: bool | None = False


@router.post("/{task_id}/complete", status_code=204, response_class=Response,
             responses={200: {"description": "withVariablesInReturn: the variables the task shows"}})
async def complete(task_id: str, body: CompleteIn, db: DbDep, actor: ActorDep, audit: AuditDep) -> Response:
    """204, or 200 with the variables the task shows (as the task left them) when
    `withVariablesInReturn` is true."""
    with_variables = bool(body.withVariablesInReturn)
    result = await call(db, engine.complete_user_task, actor=actor, task_id=task_id,
                        variables=plain_map(body.variables), audit=audit.entry(status=200 if with_variables else 204))
    if with_variables:
        return JSONResponse(typed_map(result.variables))
    return Response(status_code=204)
