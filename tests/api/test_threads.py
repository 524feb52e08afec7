"""The engine's thread pool (api.threads): calls run off the event loop, bounded, in the caller's
context, and a cancelled request still lets its call finish before the cancellation goes on."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time

from api import threads

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


def test_a_call_runs_in_another_thread_with_the_callers_context() -> None:
    async def main() -> tuple[str, str]:
        request_id.set("req-42")
        return await threads.run_engine(None, lambda: (threading.current_thread().name, request_id.get()))

    name, seen = asyncio.run(main())
    assert name.startswith("engine") and name != threading.main_thread().name
    assert seen == "req-42"


def test_the_event_loop_answers_while_a_call_waits() -> None:
    release = threading.Event()

    async def main() -> list[str]:
        order: list[str] = []
        waiting = asyncio.ensure_future(threads.run_engine(None, lambda: release.wait(5) and order.append("engine")))
        await asyncio.sleep(0.05)
        order.append("loop")                    # the loop is free while the engine call waits
        release.set()
        await waiting
        return order

    assert asyncio.run(main()) == ["loop", "engine"]


def test_the_pool_is_bounded() -> None:
    threads.configure(2)
    try:
        running, peak, lock = 0, 0, threading.Lock()

        def work() -> None:
            nonlocal running, peak
            with lock:
                running += 1
                peak = max(peak, running)
            time.sleep(0.05)
            with lock:
                running -= 1

        async def main() -> None:
            await asyncio.gather(*(threads.run_engine(None, work) for _ in range(6)))

        asyncio.run(main())
        assert peak == 2
    finally:
        threads.configure(threads.DEFAULT_THREADS)


def test_a_cancelled_request_waits_for_its_call_to_finish() -> None:
    finished = threading.Event()

    def slow() -> None:
        time.sleep(0.2)
        finished.set()

    async def main() -> bool:
        task = asyncio.ensure_future(threads.run_engine(None, slow))
        await asyncio.sleep(0.05)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return finished.is_set()            # the change committed (or rolled back) whole first
        raise AssertionError("the cancellation was swallowed")

    assert asyncio.run(main()) is True
