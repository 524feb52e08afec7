"""EngineClient: the requests it sends, and how it translates the answers."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
import pytest

from tests.workers.conftest import quick_settings
from tests.workers.runtime.fake_engine import FakeEngine, free_port, typed
from workers.runtime import (
    EngineClient,
    EngineRejected,
    EngineUnavailable,
    InvalidRequest,
    LockLost,
    NotAuthorized,
    ProtocolError,
    TaskGone,
)


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


def test_fetch_and_lock_sends_the_contract_s_body_and_decodes_tasks(fake_engine: FakeEngine) -> None:
    fake_engine.add_task("review", {"doc": typed('{"a":1}', "Json")}, business_key="bk-42", retries=2)

    async def go() -> Any:
        async with EngineClient(quick_settings(fake_engine.url)) as client:
            return await client.fetch_and_lock({"review": 60_000, "other": 1000}, max_tasks=3,
                                               long_poll_ms=500)

    (task,) = run(go())
    assert task.topic == "review" and task.business_key == "bk-42" and task.retries == 2
    assert task.variables == {"doc": {"a": 1}}
    assert task.worker_id == "test-worker"
    assert task.activity_instance_id == "review:act-1"
    body = fake_engine.calls("fetchAndLock")[0].body
    assert body["workerId"] == "test-worker"
    assert body["maxTasks"] == 3
    assert body["asyncResponseTimeout"] == 500
    assert [(t["topicName"], t["lockDuration"]) for t in body["topics"]] == [("review", 60_000),
                                                                             ("other", 1000)]


def test_an_empty_long_poll_waits_and_answers_an_empty_list(fake_engine: FakeEngine) -> None:
    async def go() -> Any:
        async with EngineClient(quick_settings(fake_engine.url)) as client:
            loop = asyncio.get_running_loop()
            began = loop.time()
            tasks = await client.fetch_and_lock({"nothing": 1000}, max_tasks=1, long_poll_ms=300)
            return tasks, loop.time() - began

    tasks, took = run(go())
    assert tasks == [] and 0.25 < took < 2


def test_task_calls_send_worker_id_and_typed_variables(fake_engine: FakeEngine) -> None:
    a, b, c = (fake_engine.add_task("t") for _ in range(3))

    async def go() -> None:
        async with EngineClient(quick_settings(fake_engine.url)) as client:
            await client.fetch_and_lock({"t": 10_000}, max_tasks=3, long_poll_ms=0)
            await client.extend_lock(a.id, 20_000)
            await client.complete(a.id, {"ok": True})
            await client.failure(b.id, "ValueError", "", retries=2, retry_timeout_ms=1000)
            await client.bpmn_error(c.id, "REJECTED", "no", {"why": "late"})

    run(go())
    assert fake_engine.calls("extendLock", a.id)[0].body == {"workerId": "test-worker", "newDuration": 20_000}
    assert fake_engine.calls("complete", a.id)[0].body == {
        "workerId": "test-worker", "variables": {"ok": typed(True, "Boolean")}, "localVariables": {}}
    assert fake_engine.calls("failure", b.id)[0].body == {
        "workerId": "test-worker", "errorMessage": "ValueError", "retries": 2, "retryTimeout": 1000}
    assert fake_engine.calls("bpmnError", c.id)[0].body == {
        "workerId": "test-worker", "errorCode": "REJECTED", "errorMessage": "no",
        "variables": {"why": typed("late", "String")}}


def with_answer(answer: Callable[[httpx.Request], httpx.Response], **settings: Any) -> EngineClient:
    return EngineClient(quick_settings("http://engine.test/engine-rest", **settings),
                        transport=httpx.MockTransport(answer))


def error(status: int, type_: str = "", message: str = "") -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(status, json={"type": type_, "message": message})


@pytest.mark.parametrize(("answer", "expected"), [
    (error(404, "RestException", "External task with id t-1 does not exist"), TaskGone),
    (error(400, "BadUserRequestException", "… It is locked by worker 'other'."), LockLost),
    (error(400, "InvalidRequestException", "Cannot convert value"), InvalidRequest),
    (error(401, "AuthenticationException"), NotAuthorized),
    (error(403, "AuthorizationException"), NotAuthorized),
    (error(409, "Conflict"), EngineRejected),
    (error(500, "ProcessEngineException"), EngineUnavailable),
    (error(503), EngineUnavailable),
    (lambda request: httpx.Response(502, text="<html>bad gateway</html>"), EngineUnavailable),
])
def test_answers_become_the_runtime_s_errors(answer: Callable[[httpx.Request], httpx.Response],
                                             expected: type[Exception]) -> None:
    async def go() -> None:
        async with with_answer(answer) as client:
            await client.complete("t-1", {})

    with pytest.raises(expected) as raised:
        run(go())
    assert type(raised.value) is expected


def test_a_rejection_keeps_the_engine_s_type_and_message() -> None:
    async def go() -> None:
        async with with_answer(error(400, "BadUserRequestException", "locked by worker 'B'")) as client:
            await client.unlock("t-1")

    with pytest.raises(LockLost) as raised:
        run(go())
    assert raised.value.status == 400
    assert raised.value.type == "BadUserRequestException"
    assert raised.value.engine_message == "locked by worker 'B'"


def test_transport_errors_become_engine_unavailable() -> None:
    def time_out(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    async def go(client: EngineClient) -> None:
        async with client:
            await client.fetch_and_lock({"t": 1000}, max_tasks=1, long_poll_ms=10)

    with pytest.raises(EngineUnavailable):
        run(go(with_answer(time_out)))
    refused = EngineClient(quick_settings(f"http://127.0.0.1:{free_port()}/engine-rest"))
    with pytest.raises(EngineUnavailable) as raised:
        run(go(refused))
    assert isinstance(raised.value.__cause__, httpx.ConnectError)


@pytest.mark.parametrize("body", ["not json", '{"an": "object"}'])
def test_a_fetch_answer_of_the_wrong_shape_is_a_protocol_error(body: str) -> None:
    async def go() -> None:
        async with with_answer(lambda request: httpx.Response(200, text=body)) as client:
            await client.fetch_and_lock({"t": 1000}, max_tasks=1)

    with pytest.raises(ProtocolError):
        run(go())


def test_fetch_read_timeout_is_the_long_poll_plus_a_margin() -> None:
    seen: dict[str, Any] = {}

    def answer(request: httpx.Request) -> httpx.Response:
        seen.update(request.extensions["timeout"])
        seen["body"] = json.loads(request.content)
        return httpx.Response(200, json=[])

    async def go() -> None:
        async with with_answer(answer) as client:
            await client.fetch_and_lock({"t": 1000}, max_tasks=1, long_poll_ms=30_000)

    run(go())
    assert seen["read"] == 35.0
    assert seen["body"]["asyncResponseTimeout"] == 30_000


def test_basic_and_bearer_credentials_are_sent() -> None:
    headers: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        headers.append(request.headers.get("authorization"))
        return httpx.Response(204)

    async def go(**settings: Any) -> None:
        async with with_answer(answer, **settings) as client:
            await client.unlock("t-1")

    run(go(username="demo", password="demo"))
    run(go(token="Bearer abc"))
    run(go(token="abc"))
    run(go())
    assert headers == ["Basic " + base64.b64encode(b"demo:demo").decode(), "Bearer abc", "Bearer abc", None]
