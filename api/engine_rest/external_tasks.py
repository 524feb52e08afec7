"""/engine-rest/external-task: the Camunda 7 external-task protocol workers speak."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import Field

import engine
from api.audit import AuditDep
from api.deps import DbDep, call
from api.engine_rest.camunda import Lenient, PagingDep, WorkerId, plain_map
from api.engine_rest.models import CountResultDto, ExternalTaskDto, LockedExternalTaskDto
from api.security import Caller, CallerDep, Need
from api.security import Permission as P

router = APIRouter(prefix="/external-task", tags=["engine-rest external tasks"],
                   dependencies=[Need(P.WORK_EXTERNAL_TASKS)])

MAX_ASYNC_RESPONSE_MS = 1_800_000
ANSWER_MARGIN_S = 0.05            # answer a little before asyncResponseTimeout, never after
DISCONNECT_CHECK_S = 1.0          # a parked long poll notices a vanished worker this quickly


class FetchTopic(Lenient):
    topicName: str
    lockDuration: int | None = None
    variables: list[str] | None = None
    localVariables: bool | None = None
    deserializeValues: bool | None = None
    includeExtensionProperties: bool | None = None
    processVariables: dict[str, Any] | None = None
    businessKey: str | None = None
    processDefinitionId: str | None = None
    processDefinitionIdIn: list[str] | None = None
    processDefinitionKey: str | None = None
    processDefinitionKeyIn: list[str] | None = None


class FetchAndLockIn(Lenient):
    workerId: WorkerId
    maxTasks: int | None = 1
    usePriority: bool | None = False
    asyncResponseTimeout: int | None = None
    topics: list[FetchTopic] | None = None
    sorting: Any = None


class CompleteIn(Lenient):
    workerId: WorkerId
    variables: dict[str, Any] | None = None
    localVariables: dict[str, Any] | None = None


class FailureIn(Lenient):
    workerId: WorkerId
    errorMessage: str | None = None
    errorDetails: Any = None
    retries: int | None = None
    retryTimeout: int | None = None
    variables: dict[str, Any] | None = None
    localVariables: dict[str, Any] | None = None


class BpmnErrorIn(Lenient):
    workerId: WorkerId
    errorCode: str | None = None
    errorMessage: str | None = None
    variables: dict[str, Any] | None = None


class ExtendLockIn(Lenient):
    workerId: WorkerId
    newDuration: int | None = None


class RetriesIn(Lenient):
    retries: int | None = Field(None, ge=0, le=2**31 - 1)


def _topic_request(t: FetchTopic) -> Any:
    keys = list(t.processDefinitionKeyIn or []) + ([t.processDefinitionKey] if t.processDefinitionKey else [])
    ids = list(t.processDefinitionIdIn or []) + ([t.processDefinitionId] if t.processDefinitionId else [])
    return engine.TopicRequest(
        name=t.topicName, lock_duration_ms=t.lockDuration if t.lockDuration is not None else 300_000,
        variables=t.variables, process_variables=dict(t.processVariables or {}),
        business_key=t.businessKey, definition_keys=keys or None, definition_ids=ids or None)


@router.post("/fetchAndLock", summary="Fetch and lock external tasks (long polling)",
             response_model=list[LockedExternalTaskDto])
async def fetch_and_lock(body: FetchAndLockIn, request: Request, db: DbDep, caller: CallerDep,
                         audit: AuditDep) -> JSONResponse:
    """Lock up to `maxTasks` tasks of the given topics for `workerId`. With `asyncResponseTimeout`
    (ms, at most 30 minutes) the request is held until a task can be locked or the time is up — the
    answer comes as soon as a task appears, and never after the timeout. Always 200 with a list."""
    topics = [_topic_request(t) for t in body.topics or []]
    if caller.topics is not None and (refused := sorted({t.name for t in topics} - caller.topics)):
        raise HTTPException(403, f"this worker may not serve topic(s) {', '.join(refused)}")
    extension = {t.topicName: t.includeExtensionProperties is not False for t in body.topics or []}
    timeout_s = min(max(body.asyncResponseTimeout or 0, 0), MAX_ASYNC_RESPONSE_MS) / 1000
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(timeout_s - ANSWER_MARGIN_S, 0)
    waiters = request.app.state.task_waiters
    waiter = waiters.register({t.name for t in topics}) if timeout_s > 0 else None
    try:
        while True:
            if waiter is not None:
                waiter.event.clear()
            result = await call(db, engine.fetch_and_lock, worker_id=body.workerId, topics=topics,
                                max_tasks=max(body.maxTasks or 1, 1), use_priority=bool(body.usePriority),
                                actor=caller.actor, audit=audit.entry(only_if_touched=True))
            remaining = deadline - loop.time()
            if result.tasks or waiter is None or remaining <= 0:
                return JSONResponse([LockedExternalTaskDto.locked(
                    t, extension_properties=extension.get(t.task.topic, True)).model_dump() for t in result.tasks])
            wait = remaining
            if result.next_available_at is not None:      # a lock expires or a retry timeout ends
                wait = min(wait, max((result.next_available_at - engine.clock.now()).total_seconds(), 0) + 0.01)
            if not await _park(request, waiter.event, wait):
                return JSONResponse([])                   # the worker went away: lock nothing for it
    finally:
        if waiter is not None:
            waiters.unregister(waiter)


async def _park(request: Request, event: asyncio.Event, seconds: float) -> bool:
    """Wait until `event` is set or `seconds` pass, noticing within a second if the client has gone.
    False: the client disconnected."""
    loop = asyncio.get_running_loop()
    until = loop.time() + seconds
    while True:
        left = until - loop.time()
        if left <= 0 or event.is_set():
            return True
        try:
            await asyncio.wait_for(event.wait(), timeout=min(left, DISCONNECT_CHECK_S))
            return True
        except TimeoutError:
            if await request.is_disconnected():
                return False


@router.post("/{task_id}/complete", status_code=204, response_class=Response)
async def complete(task_id: str, caller: CallerDep, body: CompleteIn, db: DbDep, audit: AuditDep) -> Response:
    """Complete the task with variables: 204; 404 if it no longer exists (finished or cancelled);
    400 if it is not locked by this worker (the same worker id, with the same key)."""
    await _allowed(db, caller, task_id)
    await call(db, engine.complete_external_task, task_id=task_id, worker_id=body.workerId, actor=caller.actor,
               variables=plain_map(body.variables), local_variables=plain_map(body.localVariables),
               audit=audit.entry())
    return Response(status_code=204)


@router.post("/{task_id}/failure", status_code=204, response_class=Response)
async def failure(task_id: str, caller: CallerDep, body: FailureIn, db: DbDep, audit: AuditDep) -> Response:
    """Report a failed attempt with the retries left; retries 0 opens an incident."""
    await _allowed(db, caller, task_id)
    details = body.errorDetails
    if details is not None and not isinstance(details, str):
        details = json.dumps(details, default=str)
    await call(db, engine.handle_failure, task_id=task_id, worker_id=body.workerId, actor=caller.actor,
               error_message=body.errorMessage, error_details=details,
               retries=body.retries if body.retries is not None else 0,
               retry_timeout_ms=body.retryTimeout if body.retryTimeout is not None else 0, audit=audit.entry())
    return Response(status_code=204)


@router.post("/{task_id}/bpmnError", status_code=204, response_class=Response)
async def bpmn_error(task_id: str, caller: CallerDep, body: BpmnErrorIn, db: DbDep, audit: AuditDep) -> Response:
    """Report a business error: a matching error boundary event catches it; uncaught, it opens an
    incident (a deliberate deviation from Camunda 7, where the activity would silently end)."""
    await _allowed(db, caller, task_id)
    await call(db, engine.handle_bpmn_error, task_id=task_id, worker_id=body.workerId, actor=caller.actor,
               error_code=body.errorCode or "", error_message=body.errorMessage,
               variables=plain_map(body.variables), audit=audit.entry())
    return Response(status_code=204)


@router.post("/{task_id}/extendLock", status_code=204, response_class=Response)
async def extend_lock(task_id: str, caller: CallerDep, body: ExtendLockIn, db: DbDep, audit: AuditDep) -> Response:
    await _allowed(db, caller, task_id)
    await call(db, engine.extend_lock, task_id=task_id, worker_id=body.workerId, actor=caller.actor,
               new_duration_ms=body.newDuration if body.newDuration is not None else 0, audit=audit.entry())
    return Response(status_code=204)


@router.post("/{task_id}/unlock", status_code=204, response_class=Response)
async def unlock(task_id: str, caller: CallerDep, db: DbDep, audit: AuditDep) -> Response:
    """Release this worker's lock (any lock, for those who manage tasks)."""
    await _allowed(db, caller, task_id)
    await call(db, engine.unlock_external_task, task_id=task_id, actor=caller.actor, audit=audit.entry())
    return Response(status_code=204)


@router.put("/{task_id}/retries", status_code=204, response_class=Response)
async def set_retries(task_id: str, caller: CallerDep, body: RetriesIn, db: DbDep, audit: AuditDep) -> Response:
    """Set the retries left; above 0 resolves the task's incident and makes it fetchable again."""
    await _allowed(db, caller, task_id)
    if body.retries is None:
        raise engine.Invalid("retries is required")
    await call(db, engine.set_external_task_retries, task_id=task_id, retries=body.retries, actor=caller.actor,
               audit=audit.entry())
    return Response(status_code=204)


@router.get("/{task_id}/errorDetails", response_class=PlainTextResponse)
async def error_details(task_id: str, caller: CallerDep, db: DbDep) -> PlainTextResponse:
    await _allowed(db, caller, task_id)
    task = await call(db, engine.get_external_task, task_id=task_id)
    return PlainTextResponse(task.error_details or "")


class ExternalTaskQuery:
    """Camunda's external-task query parameters."""

    def __init__(self, externalTaskId: str | None = None, topicName: str | None = None,
                 workerId: str | None = None, locked: bool | None = None, notLocked: bool | None = None,
                 withRetriesLeft: bool | None = None, noRetriesLeft: bool | None = None,
                 processInstanceId: str | None = None, activityId: str | None = None,
                 processDefinitionId: str | None = None, businessKey: str | None = None) -> None:
        self.filters = dict(task_id=externalTaskId, topic=topicName, worker_id=workerId,
                            locked=True if locked else (False if notLocked else None),
                            with_retries_left=withRetriesLeft, no_retries_left=noRetriesLeft,
                            instance_id=processInstanceId, activity_id=activityId,
                            definition_id=processDefinitionId, business_key=businessKey)


@router.get("/count", response_model=CountResultDto)
async def count(query: Annotated[ExternalTaskQuery, Depends()], db: DbDep, caller: CallerDep) -> CountResultDto:
    """How many external tasks match; a worker key counts only its topics."""
    _, total = await call(db, engine.list_external_tasks, limit=1, topics=caller.topics, **query.filters)
    return CountResultDto(count=total)


@router.get("/{task_id}", response_model=ExternalTaskDto)
async def get_one(task_id: str, caller: CallerDep, db: DbDep) -> ExternalTaskDto:
    await _allowed(db, caller, task_id)
    return ExternalTaskDto.of(await call(db, engine.get_external_task, task_id=task_id))


@router.get("", response_model=list[ExternalTaskDto])
async def list_all(query: Annotated[ExternalTaskQuery, Depends()], paging: PagingDep, db: DbDep,
                   caller: CallerDep) -> list[ExternalTaskDto]:
    """External tasks by Camunda's filters; a worker key sees only its topics."""
    if paging.maximum == 0:
        return []
    tasks, _ = await call(db, engine.list_external_tasks, limit=paging.maximum, offset=paging.first,
                          topics=caller.topics, **query.filters)
    return [ExternalTaskDto.of(t) for t in tasks]


@router.get("/{task_id}/documents")
async def task_documents(task_id: str, caller: CallerDep, db: DbDep, audit: AuditDep) -> list[dict[str, Any]]:
    """(Reviewflow extension) The documents of the case this locked task belongs to."""
    task = await _task(db, caller, task_id)
    audit.touched(task.task.instance_id)
    docs = await call(db, engine.list_documents, instance_id=task.task.instance_id)
    return [{"id": d.id, "kind": d.kind, "filename": d.filename, "contentType": d.content_type, "size": d.size,
             "sha256": d.sha256, "taskId": d.task_id} for d in docs]


@router.get("/{task_id}/documents/{document_id}")
async def task_document(task_id: str, document_id: str, caller: CallerDep, db: DbDep,
                        audit: AuditDep) -> Response:
    """(Reviewflow extension) One document of the task's case."""
    task = await _task(db, caller, task_id)
    audit.touched(task.task.instance_id)
    info, content = await call(db, engine.get_document, document_id=document_id, instance_id=task.task.instance_id)
    return Response(content, media_type=info.content_type)


@router.post("/{task_id}/documents", status_code=201)
async def add_task_document(task_id: str, request: Request, caller: CallerDep, db: DbDep,
                            audit: AuditDep) -> dict[str, Any]:
    """(Reviewflow extension) Attach a generated document (a merged chronology, a briefing) to the case."""
    task = await _task(db, caller, task_id)
    form = await request.form(max_files=1)
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise engine.Invalid("send the document as multipart field 'file'")
    kind = form.get("kind")
    content = await upload.read(request.app.state.settings.max_document_bytes + 1)
    info = await call(db, engine.add_document, actor=engine.Actor.system(caller.id), audit=audit.entry(),
                      instance_id=task.task.instance_id, filename=upload.filename or "document",
                      content_type=upload.content_type or "", content=content,
                      kind=kind if isinstance(kind, str) else None,
                      max_bytes=request.app.state.settings.max_document_bytes)
    return {"id": info.id, "filename": info.filename, "contentType": info.content_type, "size": info.size,
            "sha256": info.sha256}


async def _allowed(db: engine.Database, caller: Caller, task_id: str) -> engine.LockedTask | None:
    """A worker key serves only its topics: tasks of other topics are refused (403). Returns the
    task when it had to be read (always for `_task`)."""
    if caller.topics is None:
        return None
    task = await call(db, engine.get_external_task, task_id=task_id)
    if task.task.topic not in caller.topics:
        raise HTTPException(403, f"this worker may not serve topic {task.task.topic}")
    return task


async def _task(db: engine.Database, caller: Caller, task_id: str) -> engine.LockedTask:
    """The task, if the caller holds its lock now (or administers the service): a worker reaches a
    case's documents only through a task it is working on."""
    task = await _allowed(db, caller, task_id) or await call(db, engine.get_external_task, task_id=task_id)
    holds = (task.task.lock_owner == caller.id and task.task.lock_expires_at is not None
             and task.task.lock_expires_at > engine.clock.now())
    if not holds and not caller.can(P.ADMINISTER):
        raise HTTPException(403, "this worker does not hold the task's lock")
    return task
