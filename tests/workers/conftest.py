"""Fixtures for worker tests: a fake engine (and its documents endpoints) on 127.0.0.1, and workers with
test-sized timings."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from tests.workers.runtime.fake_engine import FakeEngine
from tests.workers.services.fakes import FakeEngineDocuments
from workers.runtime import EngineClient, HandlerModule, Worker, WorkerSettings

MS = timedelta(milliseconds=1)


def quick_settings(url: str, **overrides: Any) -> WorkerSettings:
    """Timings in tens of milliseconds, so tests never sleep long."""
    values: dict[str, Any] = {
        "engine_url": url,
        "worker_id": "test-worker",
        "max_concurrency": 4,
        "long_poll": timedelta(seconds=1),
        "request_timeout": timedelta(seconds=2),
        "graceful_shutdown": 500 * MS,
        "max_retries": 3,
        "retry_base": 50 * MS,
        "retry_max": 400 * MS,
        "server_down_backoff_base": 50 * MS,
        "server_down_backoff_max": 400 * MS,
    }
    values.update(overrides)
    return WorkerSettings(**values)


@pytest.fixture
def engine_documents() -> Iterator[FakeEngineDocuments]:
    fake = FakeEngineDocuments()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_engine() -> Iterator[FakeEngine]:
    engine = FakeEngine().start()
    yield engine
    engine.stop()


WorkerFactory = Callable[..., Worker]


@pytest.fixture
def make_worker(fake_engine: FakeEngine) -> Iterator[WorkerFactory]:
    """make_worker(handlers, services=None, client=None, **settings): a started Worker, stopped after."""
    started: list[Worker] = []

    def make(handlers: Iterable[HandlerModule], services: Any = None, client: EngineClient | None = None,
             start: bool = True, **overrides: Any) -> Worker:
        settings = quick_settings(overrides.pop("url", fake_engine.url), **overrides)
        worker = Worker(client or EngineClient(settings), handlers, settings, services)
        if start:
            worker.start()
        started.append(worker)
        return worker

    yield make
    for worker in started:
        worker.stop()
