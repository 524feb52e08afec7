"""/engine-rest task endpoints (user tasks)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response

import engine
from api.audit import AuditDep
from api.deps import ActorDep, DbDep, call
from api.engine_rest.camunda import Lenient, PagingDep, plain_map, sorting, split, typed_map
from api.engine_rest.models import CountResultDto, TaskDto, VariableValueDto, variables_dto
from api.idempotency import OnceDep
from api.security import Need
from api.security import Permission as P

router = APIRouter(prefix="/task", tags=["engine-rest tasks"], dependencies=[Need(P.WORK_TASKS)])


SORTS = {"priority": "priority", "created": "created", "id": "id", "name": "name", "assignee": "assignee",
         "instanceId": "processInstanceId"}


class TaskQuery:
    """Camunda's task query parameters."""

    def __init__(self,
                 taskId: str | None = None,
                 taskIdIn: Annotated[str | None, Query(description="comma-separated ids")] = None,
                 processInstanceId: str | None = None,
                 processInstanceBusinessKey: str | None = None,
                 processDefinitionId: str | None = None,
                 processDefinitionKey: str | None = None,
                 taskDefinitionKey: str | None = None,
                 taskDefinitionKeyIn: Annotated[str | None, Query(description="comma-separated ids")] = None,
                 nameLike: Annotated[str | None, Query(description="SQL LIKE, % as wildcard")] = None,
                 assignee: str | None = None,
                 assigneeLike: str | None = None,
                 unassigned: bool | None = None,
                 candidateGroup: str | None = None,
                 candidateGroups: Annotated[str | None, Query(description="comma-separated groups")] = None,
                 candidateUser: str | None = None,
                 includeAssignedTasks: bool | None = None,
                 createdBefore: datetime | None = None,
                 createdAfter: datetime | None = None,
                 processVariables: Annotated[str | None, Query(description=(
                     "comma-separated `name_op_value` filters on the instance's variables; op is eq, neq, gt, "
                     "gteq, lt, lteq or like"))] = None,
                 sortBy: Annotated[str | None, Query(description=", ".join(SORTS))] = None,
                 sortOrder: Annotated[str | None, Query(description="asc or desc")] = None) -> None:
        groups = ([candidateGroup] if candidateGroup else []) + (split(candidateGroups) or [])
        if (groups or candidateUser) and not includeAssignedTasks:
            unassigned = True                     # Camunda: candidate filters hide assigned tasks
        ids = ([taskId] if taskId else []) + (split(taskIdIn) or [])
        sort_by, descending = sorting(sortBy, sortOrder, SORTS)
        self.filters = dict(
            ids=ids or None, instance_id=processInstanceId, business_key=processInstanceBusinessKey,
            definition_id=processDefinitionId, definition_key=processDefinitionKey, activity_id=taskDefinitionKey,
            activity_ids=split(taskDefinitionKeyIn), name_like=nameLike, assignee=assignee,
            assignee_like=assigneeLike, unassigned=unassigned, candidate_groups=groups or None,
            candidate_user=candidateUser, created_before=createdBefore, created_after=createdAfter,
            variables=engine.parse_variable_filters(split(processVariables) or []))
        self.sort = dict(sort_by=sort_by, descending=descending)


@router.get("", response_model=list[TaskDto])
async def list_tasks(query: Annotated[TaskQuery, Depends()], paging: PagingDep, db: DbDep,
                     actor: ActorDep) -> list[TaskDto]:
    """Open user tasks you may see, filtered and paged in the database."""
    if paging.maximum == 0:
        return []
    page = await call(db, engine.list_user_tasks, **query.filters, **query.sort, limit=paging.maximum,
                      offset=paging.first, viewer=actor)
    return [TaskDto.of(t) for t in page.data]


@router.get("/count", response_model=CountResultDto)
async def count_tasks(query: Annotated[TaskQuery, Depends()], db: DbDep, actor: ActorDep) -> CountResultDto:
    """How many tasks match the same filters as the list (on PostgreSQL, above 10,000, the planner's estimate)."""
    return CountResultDto(count=(await call(db, engine.list_user_tasks, **query.filters, limit=1, viewer=actor)).count)


@router.get("/{task_id}", response_model=TaskDto)
async def get_task(task_id: str, db: DbDep, actor: ActorDep, audit: AuditDep) -> TaskDto:
    task = await call(db, engine.get_user_task, task_id=task_id, with_variables=False, viewer=actor)
    audit.touched(task.instance_id)
    return TaskDto.of(task)


@router.get("/{task_id}/variables", response_model=dict[str, VariableValueDto])
async def task_variables(task_id: str, db: DbDep, actor: ActorDep, audit: AuditDep) -> dict[str, VariableValueDto]:
    """The variables the task shows: its form's fields, its `reads`, and whose task it is."""
    task = await call(db, engine.get_user_task, task_id=task_id, viewer=actor)
    audit.touched(task.instance_id)
    return variables_dto(task.variables or {})


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
             responses={200: {"description": "withVariablesInReturn: the variables the task shows",
                              "model": dict[str, VariableValueDto]}})
async def complete(task_id: str, body: CompleteIn, db: DbDep, actor: ActorDep, audit: AuditDep,
                   once: OnceDep) -> Response:
    """204, or 200 with the variables the task shows (as the task left them) when
    `withVariablesInReturn` is true. `Idempotency-Key` makes a retry safe."""
    with_variables = bool(body.withVariablesInReturn)

    async def produce(key: engine.IdempotencyKey | None) -> Response:
        result = await call(db, engine.complete_user_task, actor=actor, task_id=task_id,
                            variables=plain_map(body.variables),
                            audit=audit.entry(status=200 if with_variables else 204), idempotency=key)
        return JSONResponse(typed_map(result.variables)) if with_variables else Response(status_code=204)

    async def lost(stored: engine.StoredRequest) -> Response:
        return Response(status_code=204)

    return await once.answer(db, produce, lost)
