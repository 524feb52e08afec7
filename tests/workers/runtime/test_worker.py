"""The Worker against a fake engine on 127.0.0.1: outcomes, retries, concurrency, backoff, shutdown."""

from __future__ import annotations

import logging
import threading
import time
import types
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.workers.conftest import WorkerFactory, quick_settings
from tests.workers.runtime.fake_engine import FakeEngine, free_port, typed
from workers.runtime import (
    BpmnError,
    Complete,
    EngineClient,
    ExternalTask,
    HandlerModule,
    Incident,
    NoInput,
    handler,
)

SECRET = "Jane Doe"  # stands for case data: it must reach neither logs nor errorDetails


@dataclass(frozen=True)
class Review:
    case_ref: str
    agencies: list[str]
    urgent: bool = False


@dataclass(frozen=True)
class CaseRef:
    case_ref: str


def test_a_handler_s_complete_variables_arrive_typed(fake_engine: FakeEngine,
                                                     make_worker: WorkerFactory) -> None:
    seen: dict[str, Any] = {}

    @handler(topic="review", lock=timedelta(seconds=30), input=Review)
    def review(task: ExternalTask[Review], services: Any) -> Complete:
        seen.update(input=task.input, business_key=task.business_key, services=services,
                    activity_instance_id=task.activity_instance_id, variables=dict(task.variables),
                    properties=dict(task.extension_properties), retries=task.retries,
                    instance=task.process_instance_id)
        return Complete(text="ok", count=5, big=2**40, ratio=0.5, flag=True, nothing=None,
                        doc={"a": [1, 2]}, items=[1, "x"],
                        when=datetime(2026, 11, 25, 19, 14, 56, 736000, tzinfo=UTC))

    task = fake_engine.add_task("review", {
        "case_ref": typed("C-1", "String"),
        "agencies": typed('["police","health"]', "Json"),
        "unrelated": typed(7, "Integer"),
    }, business_key="bk-42", extension_properties={"team": "crg"})
    services = object()
    make_worker([review], services=services)

    assert fake_engine.wait_for(lambda: task.state == "completed")
    assert task.result is not None
    assert task.result["workerId"] == "test-worker"
    assert task.result["variables"] == {
        "text": typed("ok", "String"),
        "count": typed(5, "Integer"),
        "big": typed(2**40, "Long"),
        "ratio": typed(0.5, "Double"),
        "flag": typed(True, "Boolean"),
        "nothing": typed(None, "Null"),
        "doc": typed('{"a":[1,2]}', "Json"),
        "items": typed('[1,"x"]', "Json"),
        "when": typed("2026-11-25T19:14:56.736+0000", "Date"),
    }
    assert seen["input"] == Review("C-1", ["police", "health"])
    assert seen["business_key"] == "bk-42"
    assert seen["activity_instance_id"] == task.activity_instance_id
    assert seen["variables"] == {"case_ref": "C-1", "agencies": ["police", "health"], "unrelated": 7}
    assert seen["properties"] == {"team": "crg"}
    assert seen["retries"] is None
    assert seen["instance"] == "pi-1"
    assert seen["services"] is services


def test_a_dict_or_none_also_completes(fake_engine: FakeEngine, make_worker: WorkerFactory) -> None:
    @handler(topic="as-dict", lock=timedelta(seconds=30))
    def as_dict(task: ExternalTask[NoInput], services: Any) -> dict[str, Any]:
        return {"answer": 42}

    @handler(topic="as-none", lock=timedelta(seconds=30))
    def as_none(task: ExternalTask[NoInput], services: Any) -> None:
        return None

    first, second = fake_engine.add_task("as-dict"), fake_engine.add_task("as-none")
    make_worker([as_dict, as_none])

    assert fake_engine.wait_for(lambda: first.state == second.state == "completed")
    assert first.result is not None and second.result is not None
    assert first.result["variables"] == {"answer": typed(42, "Integer")}
    assert second.result["variables"] == {}


def test_a_handler_module_runs_as_its_topic(fake_engine: FakeEngine, make_worker: WorkerFactory) -> None:
    module = types.ModuleType("workers.handlers.panel_formation")
    module.TOPIC = "panel-formation"  # type: ignore[attr-defined]
    module.LOCK = timedelta(minutes=2)  # type: ignore[attr-defined]
    module.Input = CaseRef  # type: ignore[attr-defined]
    module.handle = lambda task, services: Complete(panel_for=task.input.case_ref)  # type: ignore[attr-defined]
    task = fake_engine.add_task("panel-formation", {"case_ref": typed("C-9", "String")})
    make_worker([HandlerModule.from_module(module)])

    assert fake_engine.wait_for(lambda: task.state == "completed")
    assert task.result is not None and task.result["variables"] == {"panel_for": typed("C-9", "String")}
    fetch = fake_engine.calls("fetchAndLock")[0].body
    assert fetch["topics"][0]["topicName"] == "panel-formation"
    assert fetch["topics"][0]["lockDuration"] == 120_000


def test_an_exception_is_retried_with_growing_delays_then_becomes_an_incident(
        fake_engine: FakeEngine, make_worker: WorkerFactory) -> None:
    retries_seen: list[int | None] = []

    @handler(topic="flaky", lock=timedelta(seconds=30))
    def flaky(task: ExternalTask[NoInput], services: Any) -> Complete:
        retries_seen.append(task.retries)
        name = SECRET
        raise ValueError(f"could not reach the panel for {name}")

    task = fake_engine.add_task("flaky")
    make_worker([flaky], max_retries=3)

    assert fake_engine.wait_for(lambda: task.state == "incident")
    failures = [r.body for r in fake_engine.calls("failure", task.id)]
    assert [f["retries"] for f in failures] == [3, 2, 1, 0]
    assert [f["retryTimeout"] for f in failures] == [50, 100, 200, 0]
    assert retries_seen == [None, 3, 2, 1]
    for body in failures:
        assert body["errorMessage"] == "ValueError"
        assert "Traceback" in body["errorDetails"] and "in flaky" in body["errorDetails"]
        assert SECRET not in body["errorDetails"] and SECRET not in body["errorMessage"]


def test_an_incident_reports_no_retries_left(fake_engine: FakeEngine, make_worker: WorkerFactory) -> None:
    calls = []

    @handler(topic="commission-reviewer", lock=timedelta(seconds=30))
    def commission(task: ExternalTask[NoInput], services: Any) -> Complete:
        calls.append(task.id)
        raise Incident("the reviewer register answered 403: check the service account")

    task = fake_engine.add_task("commission-reviewer")
    make_worker([commission])

    assert fake_engine.wait_for(lambda: task.state == "incident")
    (failure,) = [r.body for r in fake_engine.calls("failure", task.id)]
    assert failure["retries"] == 0
    assert failure["errorMessage"] == "the reviewer register answered 403: check the service account"
    assert "Incident" in failure["errorDetails"]
    assert calls == [task.id]


def test_a_bpmn_error_posts_its_code_message_and_variables(fake_engine: FakeEngine,
                                                           make_worker: WorkerFactory) -> None:
    @handler(topic="national-panel-submission", lock=timedelta(seconds=30))
    def submit(task: ExternalTask[NoInput], services: Any) -> Complete:
        raise BpmnError("PANEL_REJECTED", "reason code 7", reason_code=7, details={"resubmit": True})

    task = fake_engine.add_task("national-panel-submission")
    make_worker([submit])

    assert fake_engine.wait_for(lambda: task.state == "bpmn_error")
    (body,) = [r.body for r in fake_engine.calls("bpmnError", task.id)]
    assert body["errorCode"] == "PANEL_REJECTED"
    assert body["errorMessage"] == "reason code 7"
    assert body["variables"] == {"reason_code": typed(7, "Integer"),
                                 "details": typed('{"resubmit":true}', "Json")}


def test_a_missing_input_field_becomes_an_incident_naming_it(fake_engine: FakeEngine,
                                                             make_worker: WorkerFactory) -> None:
    calls = []

    @handler(topic="needs-case", lock=timedelta(seconds=30), input=CaseRef)
    def needs_case(task: ExternalTask[CaseRef], services: Any) -> Complete:
        calls.append(task.id)
        return Complete()

    task = fake_engine.add_task("needs-case", {"other": typed(SECRET, "String")})
    make_worker([needs_case])

    assert fake_engine.wait_for(lambda: task.state == "incident")
    (failure,) = [r.body for r in fake_engine.calls("failure", task.id)]
    assert failure["retries"] == 0
    assert "missing variable 'case_ref'" in failure["errorMessage"]
    assert SECRET not in failure["errorMessage"] + failure.get("errorDetails", "")
    assert calls == []


def test_concurrency_never_exceeds_max_concurrency(fake_engine: FakeEngine,
                                                   make_worker: WorkerFactory) -> None:
    lock = threading.Lock()
    running = peak = 0

    @handler(topic="slow", lock=timedelta(seconds=30))
    def slow(task: ExternalTask[NoInput], services: Any) -> Complete:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.15)
        with lock:
            running -= 1
        return Complete()

    tasks = [fake_engine.add_task("slow") for _ in range(10)]
    make_worker([slow], max_concurrency=3)

    assert fake_engine.wait_for(lambda: all(t.state == "completed" for t in tasks), timeout=10)
    assert peak == 3
    assert all(1 <= r.body["maxTasks"] <= 3 for r in fake_engine.calls("fetchAndLock"))


def test_a_long_handler_extends_its_lock(fake_engine: FakeEngine, make_worker: WorkerFactory) -> None:
    @handler(topic="publish", lock=timedelta(seconds=30))
    def publish(task: ExternalTask[NoInput], services: Any) -> Complete:
        for step in (None, timedelta(seconds=5)):
            time.sleep(0.05)  # a step of the work
            task.extend_lock(step)
        return Complete(published=True)

    task = fake_engine.add_task("publish")
    make_worker([publish])

    assert fake_engine.wait_for(lambda: task.state == "completed")
    extends = [r.body for r in fake_engine.calls("extendLock", task.id)]
    assert [e["newDuration"] for e in extends] == [30_000, 5_000]
    assert {e["workerId"] for e in extends} == {"test-worker"}


def test_a_lost_lock_stops_the_handler_and_reports_nothing(fake_engine: FakeEngine,
                                                           make_worker: WorkerFactory) -> None:
    after_extend = []

    @handler(topic="contested", lock=timedelta(seconds=30))
    def contested(task: ExternalTask[NoInput], services: Any) -> Complete:
        fake_engine.tasks[task.id].worker_id = "another-worker"  # the lock expired and someone took it
        task.extend_lock()
        after_extend.append(task.id)
        return Complete()

    task = fake_engine.add_task("contested")
    make_worker([contested])

    assert fake_engine.wait_for(lambda: len(fake_engine.calls("extendLock", task.id)) == 1)
    time.sleep(0.2)
    assert after_extend == []
    assert task.state == "open"
    for action in ("complete", "failure", "bpmnError", "unlock"):
        assert fake_engine.calls(action, task.id) == []


def test_while_the_engine_answers_503_the_worker_backs_off_then_recovers(
        fake_engine: FakeEngine, make_worker: WorkerFactory) -> None:
    @handler(topic="ping", lock=timedelta(seconds=30))
    def ping(task: ExternalTask[NoInput], services: Any) -> Complete:
        return Complete()

    fake_engine.down = True
    make_worker([ping])
    time.sleep(1.0)
    tries = len(fake_engine.calls("fetchAndLock"))
    assert 2 <= tries <= 12  # backoff 50 ms doubling to 400 ms, with jitter; a busy loop would be hundreds

    fake_engine.down = False
    task = fake_engine.add_task("ping")
    assert fake_engine.wait_for(lambda: task.state == "completed", timeout=3)


class CountingTransport(httpx.AsyncBaseTransport):
    """Counts the requests the client tries, including those that never reach a server."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.count = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.count += 1
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_with_the_engine_down_the_worker_backs_off_then_recovers_when_it_returns(
        make_worker: WorkerFactory) -> None:
    @handler(topic="ping", lock=timedelta(seconds=30))
    def ping(task: ExternalTask[NoInput], services: Any) -> Complete:
        return Complete()

    port = free_port()
    url = f"http://127.0.0.1:{port}/engine-rest"
    transport = CountingTransport()
    client = EngineClient(quick_settings(url), transport=transport)
    make_worker([ping], client=client, url=url)
    time.sleep(1.0)
    assert 2 <= transport.count <= 12  # connection refused each time: no busy loop

    engine = FakeEngine(port).start()
    try:
        task = engine.add_task("ping")
        assert engine.wait_for(lambda: task.state == "completed", timeout=3)
    finally:
        engine.stop()


def test_an_engine_that_does_not_hold_the_poll_is_not_hammered(make_worker: WorkerFactory) -> None:
    calls = 0

    def answer_at_once(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(200, json=[])

    url = "http://engine.test/engine-rest"
    client = EngineClient(quick_settings(url), transport=httpx.MockTransport(answer_at_once))

    @handler(topic="ping", lock=timedelta(seconds=30))
    def ping(task: ExternalTask[NoInput], services: Any) -> Complete:
        return Complete()

    make_worker([ping], client=client, url=url)
    time.sleep(1.0)
    assert 2 <= calls <= 12


def test_on_stop_a_running_handler_sees_shutting_down_and_its_result_is_reported(
        fake_engine: FakeEngine, make_worker: WorkerFactory) -> None:
    started = threading.Event()

    @handler(topic="interview", lock=timedelta(seconds=30))
    def interview(task: ExternalTask[NoInput], services: Any) -> Complete:
        started.set()
        deadline = time.monotonic() + 5
        while not task.shutting_down and time.monotonic() < deadline:
            time.sleep(0.01)
        return Complete(saw_shutdown=task.shutting_down)

    task = fake_engine.add_task("interview")
    worker = make_worker([interview])
    assert started.wait(3)

    began = time.monotonic()
    worker.stop()
    assert time.monotonic() - began < 2
    assert task.state == "completed"
    assert task.result is not None and task.result["variables"] == {"saw_shutdown": typed(True, "Boolean")}
    assert not worker.running


def test_stop_if_shutting_down_unlocks_the_task_for_another_worker(fake_engine: FakeEngine,
                                                                   make_worker: WorkerFactory) -> None:
    started = threading.Event()

    @handler(topic="publication", lock=timedelta(seconds=30))
    def publication(task: ExternalTask[NoInput], services: Any) -> Complete:
        started.set()
        for _ in range(500):
            task.stop_if_shutting_down()
            time.sleep(0.01)
        return Complete()

    task = fake_engine.add_task("publication")
    worker = make_worker([publication])
    assert started.wait(3)
    worker.stop()

    assert [r.task_id for r in fake_engine.calls("unlock")] == [task.id]
    assert task.state == "open" and task.worker_id is None
    assert fake_engine.calls("complete") == fake_engine.calls("failure") == []


def test_tasks_fetched_but_not_started_are_unlocked_on_stop(fake_engine: FakeEngine,
                                                            make_worker: WorkerFactory) -> None:
    calls = []

    @handler(topic="late", lock=timedelta(seconds=30))
    def late(task: ExternalTask[NoInput], services: Any) -> Complete:
        calls.append(task.id)
        return Complete()

    fake_engine.fetch_response_delay = 0.25  # the engine locks, then answers a little later
    worker = make_worker([late])
    time.sleep(0.1)  # the worker is long-polling
    tasks = [fake_engine.add_task("late"), fake_engine.add_task("late")]
    assert fake_engine.locked.wait(3)

    began = time.monotonic()
    worker.stop()
    assert time.monotonic() - began < 2
    assert calls == []
    assert sorted(r.task_id or "" for r in fake_engine.calls("unlock")) == sorted(t.id for t in tasks)
    assert all(t.worker_id is None for t in tasks)


def test_a_handler_that_outlives_graceful_shutdown_is_unlocked_and_its_result_discarded(
        fake_engine: FakeEngine, make_worker: WorkerFactory) -> None:
    started, release, finished = threading.Event(), threading.Event(), threading.Event()

    @handler(topic="stubborn", lock=timedelta(seconds=30))
    def stubborn(task: ExternalTask[NoInput], services: Any) -> Complete:
        started.set()
        release.wait(5)
        finished.set()
        return Complete(late=True)

    task = fake_engine.add_task("stubborn")
    worker = make_worker([stubborn], graceful_shutdown=timedelta(milliseconds=300))
    assert started.wait(3)

    began = time.monotonic()
    worker.stop()
    assert time.monotonic() - began < 2
    assert [r.task_id for r in fake_engine.calls("unlock")] == [task.id]

    release.set()
    assert finished.wait(3)
    time.sleep(0.1)
    assert fake_engine.calls("complete") == []
    assert task.state == "open"


def test_stop_is_idempotent_and_safe_before_start(fake_engine: FakeEngine,
                                                  make_worker: WorkerFactory) -> None:
    @handler(topic="ping", lock=timedelta(seconds=30))
    def ping(task: ExternalTask[NoInput], services: Any) -> Complete:
        return Complete()

    never_started = make_worker([ping], start=False)
    never_started.stop()
    never_started.stop()
    with pytest.raises(RuntimeError):
        never_started.start()

    worker = make_worker([ping])
    worker.stop()
    worker.stop()
    assert not worker.running
    assert fake_engine.calls("fetchAndLock")  # it did poll


def test_run_until_returns_after_the_event_is_set(fake_engine: FakeEngine,
                                                  make_worker: WorkerFactory) -> None:
    @handler(topic="ping", lock=timedelta(seconds=30))
    def ping(task: ExternalTask[NoInput], services: Any) -> Complete:
        return Complete()

    worker = make_worker([ping], start=False)
    stop = threading.Event()
    runner = threading.Thread(target=worker.run_until, args=(stop,))
    runner.start()
    task = fake_engine.add_task("ping")
    assert fake_engine.wait_for(lambda: task.state == "completed")
    stop.set()
    runner.join(3)
    assert not runner.is_alive()
    assert not worker.running


def test_logs_carry_ids_and_never_variable_values(fake_engine: FakeEngine, make_worker: WorkerFactory,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    @handler(topic="sensitive", lock=timedelta(seconds=30), input=CaseRef)
    def sensitive(task: ExternalTask[CaseRef], services: Any) -> Complete:
        if task.input.case_ref == "fail":
            raise KeyError(SECRET)
        task.logger.info("working on it")
        return Complete(child_name=SECRET)

    caplog.set_level(logging.DEBUG)
    ok = fake_engine.add_task("sensitive", {"case_ref": typed("ok", "String"),
                                            "name": typed(SECRET, "String")})
    bad = fake_engine.add_task("sensitive", {"case_ref": typed("fail", "String")})
    worker = make_worker([sensitive], max_retries=0)
    assert fake_engine.wait_for(lambda: ok.state == "completed" and bad.state == "incident")
    worker.stop()

    records = [r for r in caplog.records if r.name.startswith("workers")]
    assert records
    for record in records:
        assert SECRET not in record.getMessage()
        assert record.exc_info is None
    by_task = {r.task_id for r in records if hasattr(r, "task_id")}  # type: ignore[attr-defined]
    assert {ok.id, bad.id} <= by_task
    mine = [r for r in records if r.getMessage() == "working on it"]
    assert mine and mine[0].topic == "sensitive" and mine[0].instance_id == "pi-1"  # type: ignore[attr-defined]


def test_a_task_fetched_again_after_its_lock_ran_out_is_not_run_twice(fake_engine: FakeEngine,
                                                                       make_worker: WorkerFactory) -> None:
    calls = []

    @handler(topic="overrun", lock=timedelta(seconds=1))
    def overrun(task: ExternalTask[NoInput], services: Any) -> Complete:
        calls.append(task.id)
        time.sleep(1.4)  # longer than LOCK, without extend_lock()
        return Complete()

    task = fake_engine.add_task("overrun")
    make_worker([overrun])

    assert fake_engine.wait_for(lambda: task.state == "completed")
    assert task.times_locked == 2  # fetched again by this worker while the handler ran
    assert calls == [task.id]
