"""A fake Camunda 7 engine for worker tests: the external-task endpoints over in-memory tasks.

FastAPI served by uvicorn in a thread on 127.0.0.1. fetchAndLock long-polls for real (an asyncio.Event
woken when a task becomes fetchable), and every request is recorded.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def typed(value: Any, type_: str) -> dict[str, Any]:
    return {"value": value, "type": type_, "valueInfo": {}}


@dataclass
class FakeTask:
    id: str
    topic: str
    variables: dict[str, Any]
    business_key: str | None = None
    retries: int | None = None
    extension_properties: dict[str, str] = field(default_factory=dict)
    process_instance_id: str = "pi-1"
    activity_instance_id: str = ""
    worker_id: str | None = None
    lock_until: float = 0.0  # time.monotonic()
    state: str = "open"  # open | completed | bpmn_error | incident
    result: dict[str, Any] | None = None  # the body that ended it
    times_locked: int = 0

    def fetchable(self, now: float) -> bool:
        return self.state == "open" and (self.retries is None or self.retries > 0) and self.lock_until <= now


@dataclass
class Recorded:
    action: str  # fetchAndLock | complete | failure | bpmnError | extendLock | unlock
    task_id: str | None
    body: dict[str, Any]
    at: float


class FakeEngine:
    """`engine.add_task(...)`, then look at `engine.tasks` and `engine.requests`."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/engine-rest"
        self.tasks: dict[str, FakeTask] = {}
        self.requests: list[Recorded] = []
        self.lock = threading.Lock()
        self.down = False  # answer every call with 503
        self.fetch_response_delay = 0.0  # seconds between locking tasks and answering
        self.locked = threading.Event()  # set whenever fetchAndLock has locked something
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._closing = False
        self.app = self._build_app()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # --- test side ------------------------------------------------------------------------------

    def add_task(self, topic: str, variables: dict[str, Any] | None = None, **fields: Any) -> FakeTask:
        with self.lock:
            n = next(self._ids)
            task = FakeTask(id=f"task-{n}", topic=topic, variables=variables or {},
                            activity_instance_id=f"{topic}:act-{n}", **fields)
            self.tasks[task.id] = task
        self.notify()
        return task

    def notify(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake_pollers)

    def calls(self, action: str, task_id: str | None = None) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests
                    if r.action == action and (task_id is None or r.task_id == task_id)]

    def wait_for(self, condition: Callable[[], bool], timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.01)
        return condition()

    def start(self) -> FakeEngine:
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                access_log=False, lifespan="on", timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._closing = False
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the fake engine did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._closing = True
        self.notify()
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._server = None

    # --- server side ----------------------------------------------------------------------------

    def _wake_pollers(self) -> None:
        if self._wake is not None:
            self._wake.set()
            self._wake = asyncio.Event()

    def _record(self, action: str, task_id: str | None, body: dict[str, Any]) -> None:
        with self.lock:
            self.requests.append(Recorded(action, task_id, body, time.monotonic()))

    def _lock_some(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        now = time.monotonic()
        topics = {t["topicName"]: t["lockDuration"] for t in body.get("topics") or []}
        out: list[dict[str, Any]] = []
        with self.lock:
            for task in self.tasks.values():
                if len(out) >= int(body.get("maxTasks") or 1):
                    break
                if task.topic in topics and task.fetchable(now):
                    task.worker_id = str(body["workerId"])
                    task.lock_until = now + topics[task.topic] / 1000
                    task.times_locked += 1
                    out.append(self._wire(task))
        return out

    @staticmethod
    def _wire(task: FakeTask) -> dict[str, Any]:
        return {
            "id": task.id, "topicName": task.topic, "workerId": task.worker_id,
            "processInstanceId": task.process_instance_id, "processDefinitionId": "review:1:def",
            "processDefinitionKey": "review", "processDefinitionVersionTag": None,
            "activityId": task.topic.replace("-", "_"), "activityInstanceId": task.activity_instance_id,
            "executionId": "ex-1", "businessKey": task.business_key, "tenantId": None,
            "retries": task.retries, "priority": 0, "suspended": False, "errorMessage": None,
            "errorDetails": None, "lockExpirationTime": "2026-11-25T19:14:56.736+0000",
            "createTime": "2026-11-25T19:14:56.736+0000", "variables": task.variables,
            "extensionProperties": task.extension_properties,
        }

    def _next_expiry(self, now: float) -> float | None:
        with self.lock:
            times = [t.lock_until for t in self.tasks.values()
                     if t.state == "open" and t.lock_until > now and (t.retries is None or t.retries > 0)]
        return min(times) if times else None

    def _task_for(self, task_id: str, body: dict[str, Any],
                  need_lock: bool = True) -> tuple[FakeTask | None, JSONResponse | None]:
        task = self.tasks.get(task_id)
        if task is None or task.state != "open":
            return None, JSONResponse({"type": "RestException",
                                       "message": f"External task with id {task_id} does not exist"}, 404)
        if need_lock and task.worker_id != str(body.get("workerId")):
            return None, JSONResponse({"type": "BadUserRequestException",
                                       "message": f"External Task {task_id} cannot be completed by worker "
                                                  f"'{body.get('workerId')}'. It is locked by worker "
                                                  f"'{task.worker_id}'."}, 400)
        return task, None

    def _build_app(self) -> FastAPI:
        from contextlib import asynccontextmanager

        @asynccontextmanager
        async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
            self._loop = asyncio.get_running_loop()
            self._wake = asyncio.Event()
            yield
            self._loop = None

        app = FastAPI(lifespan=lifespan)
        unavailable = JSONResponse({"type": "ServiceUnavailable", "message": "down for the test"}, 503)

        @app.post("/engine-rest/external-task/fetchAndLock")
        async def fetch_and_lock(request: Request) -> Any:
            body = await request.json()
            self._record("fetchAndLock", None, body)
            if self.down:
                return unavailable
            deadline = time.monotonic() + (body.get("asyncResponseTimeout") or 0) / 1000
            while True:
                if await request.is_disconnected():
                    return []
                locked = self._lock_some(body)
                if locked:
                    self.locked.set()
                    if self.fetch_response_delay:
                        await asyncio.sleep(self.fetch_response_delay)
                    return locked
                now = time.monotonic()
                if now >= deadline or self._closing:
                    return []
                wake = self._wake
                assert wake is not None
                wait = deadline - now
                if (expiry := self._next_expiry(now)) is not None:
                    wait = min(wait, expiry - now + 0.005)
                try:
                    await asyncio.wait_for(wake.wait(), min(wait, 0.5))  # 0.5: notice a disconnect
                except TimeoutError:
                    pass

        @app.post("/engine-rest/external-task/{task_id}/complete")
        async def complete(task_id: str, request: Request) -> Response:
            body = await request.json()
            self._record("complete", task_id, body)
            if self.down:
                return unavailable
            with self.lock:
                task, error = self._task_for(task_id, body)
                if error:
                    return error
                assert task is not None
                task.state, task.result = "completed", body
            return Response(status_code=204)

        @app.post("/engine-rest/external-task/{task_id}/failure")
        async def failure(task_id: str, request: Request) -> Response:
            body = await request.json()
            self._record("failure", task_id, body)
            if self.down:
                return unavailable
            with self.lock:
                task, error = self._task_for(task_id, body)
                if error:
                    return error
                assert task is not None
                task.retries = int(body["retries"])
                task.lock_until = time.monotonic() + int(body.get("retryTimeout") or 0) / 1000
                task.result = body
                if task.retries <= 0:
                    task.state = "incident"
            self.notify()
            return Response(status_code=204)

        @app.post("/engine-rest/external-task/{task_id}/bpmnError")
        async def bpmn_error(task_id: str, request: Request) -> Response:
            body = await request.json()
            self._record("bpmnError", task_id, body)
            if self.down:
                return unavailable
            with self.lock:
                task, error = self._task_for(task_id, body)
                if error:
                    return error
                assert task is not None
                task.state, task.result = "bpmn_error", body
            return Response(status_code=204)

        @app.post("/engine-rest/external-task/{task_id}/extendLock")
        async def extend_lock(task_id: str, request: Request) -> Response:
            body = await request.json()
            self._record("extendLock", task_id, body)
            if self.down:
                return unavailable
            with self.lock:
                task, error = self._task_for(task_id, body)
                if error:
                    return error
                assert task is not None
                task.lock_until = time.monotonic() + int(body["newDuration"]) / 1000
            return Response(status_code=204)

        @app.post("/engine-rest/external-task/{task_id}/unlock")
        async def unlock(task_id: str, request: Request) -> Response:
            body = await request.json()
            self._record("unlock", task_id, body)
            if self.down:
                return unavailable
            with self.lock:
                task, error = self._task_for(task_id, body, need_lock=False)
                if error:
                    return error
                assert task is not None
                task.worker_id, task.lock_until = None, 0.0
            self.notify()
            return Response(status_code=204)

        return app
