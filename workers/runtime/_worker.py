"""The worker: fetch and lock with long polling, run handlers on bounded threads, report, stop gracefully."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from types import TracebackType
from typing import Any

from workers.runtime._client import EngineClient
from workers.runtime._exceptions import (
    EngineClientError,
    EngineUnavailable,
    HandlerDefinitionError,
    InvalidRequest,
    LockLost,
    NotAuthorized,
    TaskGone,
)
from workers.runtime._execute import run_handler
from workers.runtime._handler import HandlerModule
from workers.runtime._outcomes import (
    Complete,
    Dropped,
    Failure,
    Interrupted,
    Outcome,
    ReportBpmnError,
    Unlock,
    qualified_name,
    safe_traceback,
)
from workers.runtime._request_id import new_request_id, request_id
from workers.runtime._retry import Backoff
from workers.runtime._settings import WorkerSettings
from workers.runtime._task import LockedTask

__all__ = ["Worker"]

log = logging.getLogger(__name__)

POLL_GRACE = timedelta(seconds=1)
"""On stop, how long a fetchAndLock already in flight may still deliver (capped by graceful_shutdown)."""


@dataclass(eq=False)
class _Job:
    """One fetched task on its way through the worker. Touched on the event loop, except `lock_until`
    and `given_up`, which the handler's thread reads and writes (plain attribute access)."""

    locked: LockedTask
    handler: HandlerModule | None
    lock_until: float  # time.monotonic() when this worker's lock runs out, as far as it knows
    began: float = field(default_factory=time.monotonic)
    request_id: str = field(default_factory=new_request_id)   # on every call and log record about it
    process: asyncio.Task[None] | None = None
    given_up: bool = False


class Worker:
    """Runs handlers for their topics: fetch and lock, execute, report the outcome — until stopped.

    One fetchAndLock at a time long-polls for all the worker's topics (each with its handler's LOCK),
    asking only for as many tasks as it has free slots, so at most `max_concurrency` handlers run at
    once, each on its own daemon thread. Outcomes are reported as they come: Complete → complete,
    BpmnError → bpmnError, Incident and retryable failures → failure (retries and delay from the
    settings' RetryPolicy). When the engine is unreachable or answers 5xx, the worker waits with
    exponential backoff and jitter (`server_down_backoff_base` … `_max`) and never spins; an outcome
    it could not report is sent again the same way until the task's lock runs out.

    Graceful shutdown (`stop()`, or the event given to `run_until`), in this order:

    1. stop fetching: no new fetchAndLock; one already in flight gets up to POLL_GRACE (1 s, at most
       `graceful_shutdown`) to deliver tasks the engine has already locked, then is abandoned;
    2. `task.shutting_down` turns true for every running handler (`stop_if_shutting_down()` then
       raises Interrupted, and the runtime unlocks that task; a handler not yet begun is not begun);
    3. wait up to `graceful_shutdown` for running handlers to finish and their outcomes to be reported;
    4. `unlock` every task fetched but not started and every task still unfinished, so another worker
       takes it at once (idempotency keys make any overlap harmless); a handler still running is
       abandoned on its daemon thread, and whatever it returns later is discarded;
    5. close the client.

    `start()` runs the worker on a background thread (embedded in the server process); `stop()`
    shuts it down as above and is idempotent and safe before `start()`; `run_until(event)` does both
    around a `threading.Event`. Signal handling belongs to the entry point (`workers.cli`), not here.
    """

    def __init__(self, client: EngineClient, handlers: Iterable[HandlerModule],
                 settings: WorkerSettings | None = None, services: Any = None) -> None:
        """Raises: HandlerDefinitionError for two handlers of one topic; ValueError for none at all."""
        self._client = client
        self._settings = settings or client.settings
        self._services = services
        self._policy = self._settings.retry_policy()
        self._handlers: dict[str, HandlerModule] = {}
        for handler in handlers:
            if handler.topic in self._handlers:
                raise HandlerDefinitionError(f"topic {handler.topic!r} has two handlers: "
                                             f"{self._handlers[handler.topic].name} and {handler.name}")
            self._handlers[handler.topic] = handler
        if not self._handlers:
            raise ValueError("a Worker needs at least one handler")
        self._shutting_down = threading.Event()
        self._lifecycle = threading.Lock()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._done = threading.Event()
        self._stop_called = False
        self._crash: BaseException | None = None
        # below: the event loop's own state, used on the worker's thread only
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_requested: asyncio.Event | None = None
        self._slot_freed: asyncio.Event | None = None
        self._stopping = False
        self._jobs: dict[str, _Job] = {}
        self._not_started: list[LockedTask] = []

    # --- lifecycle (any thread) -------------------------------------------------------------------

    @property
    def topics(self) -> list[str]:
        return sorted(self._handlers)

    @property
    def running(self) -> bool:
        return self._thread is not None and not self._done.is_set()

    def start(self) -> None:
        """Start fetching on a background thread; returns once the worker's event loop runs.

        Raises: RuntimeError when already started or stopped.
        """
        with self._lifecycle:
            if self._stop_called:
                raise RuntimeError("a stopped Worker cannot start again")
            if self._thread is not None:
                raise RuntimeError("the Worker is already running")
            self._thread = threading.Thread(target=self._thread_main, name="reviewflow-worker", daemon=True)
            self._thread.start()
            self._ready.wait()
        if self._crash is not None:
            raise RuntimeError("the worker could not start") from self._crash

    def stop(self) -> None:
        """Shut down gracefully (see the class docstring) and return when done. Idempotent: a second
        call waits for the first to finish; before `start()` it only closes the client."""
        with self._lifecycle:
            first = not self._stop_called
            self._stop_called = True
            thread = self._thread
            if thread is None:
                if first:
                    self._close_unstarted_client()
                return
            loop, stop_requested = self._loop, self._stop_requested
            if first and loop is not None and stop_requested is not None:
                with contextlib.suppress(RuntimeError):  # the loop has already ended
                    loop.call_soon_threadsafe(stop_requested.set)
        thread.join()

    def run_until(self, stop_event: threading.Event) -> None:
        """Run until `stop_event` is set, then shut down gracefully.

        Raises: RuntimeError (from the cause) when the worker ended on an unexpected error.
        """
        self.start()
        try:
            while not stop_event.wait(0.5):
                if self._done.is_set():
                    break
        finally:
            self.stop()
        if self._crash is not None:
            raise RuntimeError("the worker stopped on an unexpected error") from self._crash

    def __enter__(self) -> Worker:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _close_unstarted_client(self) -> None:
        closer = threading.Thread(target=lambda: asyncio.run(self._client.aclose()),
                                  name="reviewflow-worker-close")
        closer.start()
        closer.join()

    def _thread_main(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # a bug in the runtime: say so without case data, and end
            self._crash = exc
            log.error("the worker stopped on an unexpected error\n%s", safe_traceback(exc))
        finally:
            self._ready.set()
            self._done.set()

    # --- the event loop ---------------------------------------------------------------------------

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_requested = asyncio.Event()
        self._slot_freed = asyncio.Event()
        self._ready.set()
        log.info("worker %s started: topics %s, up to %d at a time", self._client.worker_id,
                 ", ".join(self.topics), self._settings.max_concurrency,
                 extra={"worker_id": self._client.worker_id})
        poller = asyncio.create_task(self._poll(), name="fetch-and-lock")
        try:
            await self._stop_requested.wait()
        finally:
            await self._shutdown(poller)

    async def _pause(self, seconds: float) -> None:
        """Sleep, but wake at once when stop is requested."""
        assert self._stop_requested is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop_requested.wait(), seconds)

    async def _poll(self) -> None:
        assert self._slot_freed is not None
        settings = self._settings
        down = Backoff(settings.server_down_backoff_base, settings.server_down_backoff_max)
        idle = Backoff(settings.server_down_backoff_base, settings.server_down_backoff_max)
        topics = {topic: int(h.lock.total_seconds() * 1000) for topic, h in self._handlers.items()}
        extra = {"worker_id": self._client.worker_id}
        while not self._stopping:
            free = settings.max_concurrency - len(self._jobs)
            if free <= 0:
                self._slot_freed.clear()
                await self._slot_freed.wait()
                continue
            began = time.monotonic()
            with request_id() as poll_id:           # this fetchAndLock's: on the call and on what it logs
                extra["request_id"] = poll_id
                try:
                    locked = await self._client.fetch_and_lock(topics, free, settings.long_poll_ms)
                except Exception as exc:
                    delay = down.next()
                    if isinstance(exc, EngineUnavailable):
                        level = logging.WARNING if down.attempts == 1 else logging.DEBUG
                        log.log(level, "engine unavailable (%s); fetching again in %.1f s", exc, delay,
                                extra=extra)
                    elif isinstance(exc, EngineClientError):
                        log.error("fetchAndLock refused (%s); fetching again in %.1f s", exc, delay,
                                  extra=extra)
                    else:
                        log.error("fetchAndLock failed unexpectedly; fetching again in %.1f s\n%s", delay,
                                  safe_traceback(exc), extra=extra)
                    await self._pause(delay)
                    continue
            if down.attempts:
                log.info("engine reachable again", extra=extra)
                down.reset()
            if self._stopping:  # answered during the grace period: fetched, never started
                self._not_started.extend(locked)
                return
            log.debug("fetched %d task(s)", len(locked), extra=extra)
            for task in locked[:free]:
                self._begin(task)
            for task in locked[free:]:  # the engine locked more than asked: give them back
                log.warning("the engine locked more tasks than asked for; unlocking", extra=task.log_extra)
                self._begin(task, give_back=True)
            if not locked and time.monotonic() - began < settings.long_poll.total_seconds() / 2:
                await self._pause(idle.next())  # an engine that does not hold the poll: do not spin
            else:
                idle.reset()

    def _begin(self, locked: LockedTask, *, give_back: bool = False) -> None:
        handler = None if give_back else self._handlers.get(locked.topic)
        lock = handler.lock if handler else timedelta(0)
        if (running := self._jobs.get(locked.id)) is not None:
            # our lock ran out while the handler ran and the engine handed the task back to us: the
            # running execution keeps it, under the new lock; a second one would only duplicate it
            log.warning("lock ran out while the handler ran (call task.extend_lock() more often)",
                        extra=locked.log_extra)
            running.lock_until = time.monotonic() + lock.total_seconds()
            return
        job = _Job(locked, handler, lock_until=time.monotonic() + lock.total_seconds())
        self._jobs[locked.id] = job
        job.process = asyncio.create_task(self._process(job), name=f"task-{locked.id}")
        job.process.add_done_callback(partial(self._job_done, job))

    def _job_done(self, job: _Job, process: asyncio.Task[None]) -> None:
        if self._jobs.get(job.locked.id) is job:
            del self._jobs[job.locked.id]
        assert self._slot_freed is not None
        self._slot_freed.set()
        if not process.cancelled() and (exc := process.exception()) is not None:
            log.error("reporting the task failed unexpectedly\n%s", safe_traceback(exc),
                      extra=job.locked.log_extra | {"request_id": job.request_id})

    async def _process(self, job: _Job) -> None:
        with request_id(job.request_id):       # this task's own asyncio context: its calls and records
            await self._process_as_job(job)

    async def _process_as_job(self, job: _Job) -> None:
        if job.handler is None:
            if job.locked.topic not in self._handlers:
                log.error("fetched a task of a topic this worker has no handler for; unlocking",
                          extra=job.locked.log_extra)
            outcome: Outcome = Unlock("not this worker's task")
        else:
            outcome = await self._execute(job, job.handler)
        await self._report(job, outcome)

    async def _execute(self, job: _Job, handler: HandlerModule) -> Outcome:
        """Run the handler on a daemon thread of its own; resolve with its outcome."""
        loop = asyncio.get_running_loop()
        result: asyncio.Future[Outcome] = loop.create_future()
        extra = job.locked.log_extra

        def deliver(outcome: Outcome) -> None:
            if result.done():  # given up meanwhile (shutdown step 4)
                log.warning("handler finished after its task was given up; result discarded", extra=extra)
            else:
                result.set_result(outcome)

        def target() -> None:
            if self._shutting_down.is_set():
                outcome: Outcome = Unlock("not started: the worker is shutting down")
            else:
                log.debug("handler %s started", handler.name, extra=extra)
                try:
                    outcome = run_handler(handler, job.locked, self._services, policy=self._policy,
                                          heartbeat=partial(self._heartbeat, job),
                                          shutdown=self._shutting_down)
                except BaseException as exc:  # KeyboardInterrupt, SystemExit raised inside a handler
                    retries, delay = self._policy.after(job.locked.retries)
                    outcome = Failure(qualified_name(type(exc)), safe_traceback(exc), retries, delay,
                                      error_type=qualified_name(type(exc)))
            try:
                loop.call_soon_threadsafe(deliver, outcome)
            except RuntimeError:  # the event loop has ended: the worker stopped and unlocked the task
                log.warning("handler finished after the worker stopped; result discarded", extra=extra)

        context = contextvars.copy_context()    # the handler's thread keeps the task's request id
        threading.Thread(target=context.run, args=(target,), name=f"reviewflow-task-{job.locked.topic}",
                         daemon=True).start()
        return await result

    def _heartbeat(self, job: _Job, duration: timedelta) -> None:
        """`task.extend_lock()`, called on the handler's thread."""
        loop = self._loop
        if job.given_up or loop is None or loop.is_closed():
            raise Interrupted("the worker has given this task up")
        ms = int(duration.total_seconds() * 1000)
        call = self._client.extend_lock(job.locked.id, ms)
        try:
            future = asyncio.run_coroutine_threadsafe(call, loop)
        except RuntimeError:
            call.close()
            raise Interrupted("the worker has stopped") from None
        try:
            future.result(timeout=self._settings.request_timeout.total_seconds() + 1)
        except (LockLost, TaskGone) as exc:
            log.warning("lock not extended: %s", type(exc).__name__, extra=job.locked.log_extra)
            raise
        except (EngineClientError, concurrent.futures.TimeoutError, concurrent.futures.CancelledError) as exc:
            log.warning("lock not extended (%s); the handler goes on", type(exc).__name__,
                        extra=job.locked.log_extra)
            return
        job.lock_until = max(job.lock_until, time.monotonic() + duration.total_seconds())
        log.debug("lock extended by %d ms", ms, extra=job.locked.log_extra)

    async def _send(self, job: _Job, outcome: Outcome) -> None:
        task_id = job.locked.id
        if isinstance(outcome, Complete):
            await self._client.complete(task_id, outcome.variables)
        elif isinstance(outcome, ReportBpmnError):
            await self._client.bpmn_error(task_id, outcome.code, outcome.message, outcome.variables)
        elif isinstance(outcome, Failure):
            await self._client.failure(task_id, outcome.message, outcome.details, outcome.retries,
                                       int(outcome.retry_timeout.total_seconds() * 1000))
        elif isinstance(outcome, Unlock):
            await self._client.unlock(task_id)

    async def _report(self, job: _Job, outcome: Outcome) -> None:
        """Send the outcome; while the engine is unreachable, again with backoff until the lock runs out."""
        settings = self._settings
        extra = job.locked.log_extra
        backoff = Backoff(settings.server_down_backoff_base, settings.server_down_backoff_max)
        while True:
            try:
                await self._send(job, outcome)
            except (TaskGone, LockLost) as exc:
                log.warning("the engine did not take the %s: %s", _kind(outcome), type(exc).__name__,
                            extra=extra)
                return
            except InvalidRequest as exc:
                if isinstance(outcome, Complete | ReportBpmnError):
                    log.error("the engine refused the %s (%s); reporting an incident", _kind(outcome),
                              exc.type or exc.status, extra=extra)
                    name = job.handler.name if job.handler else job.locked.topic
                    outcome = Failure(f"the engine refused the {_kind(outcome)} of {name}: "
                                      f"{exc.engine_message or exc.type or exc.status}", "", retries=0,
                                      error_type="InvalidRequest")
                    continue
                log.error("the engine refused the %s: %s", _kind(outcome), exc, extra=extra)
                return
            except (EngineUnavailable, NotAuthorized) as exc:
                left = job.lock_until - time.monotonic()
                if left <= 0:
                    log.error("could not report the %s before the lock ran out (%s); the task will run again",
                              _kind(outcome), type(exc).__name__, extra=extra)
                    return
                delay = min(backoff.next(), left)
                log.warning("could not report the %s (%s); trying again in %.1f s", _kind(outcome), exc,
                            delay, extra=extra)
                await asyncio.sleep(delay)
                continue
            except EngineClientError as exc:
                log.error("could not report the %s: %s", _kind(outcome), exc, extra=extra)
                return
            _log_outcome(job, outcome)
            return

    async def _unlock_quietly(self, task_id: str, extra: dict[str, Any]) -> None:
        try:
            with request_id(extra.get("request_id")):
                await self._client.unlock(task_id)
        except (TaskGone, LockLost) as exc:
            log.debug("nothing to unlock (%s)", type(exc).__name__, extra=extra)
        except EngineClientError as exc:
            log.warning("could not unlock (%s); fetchable again when its lock runs out", exc, extra=extra)
        else:
            log.info("unlocked for another worker", extra=extra)

    async def _shutdown(self, poller: asyncio.Task[None]) -> None:
        """The sequence in the class docstring."""
        assert self._slot_freed is not None
        settings = self._settings
        graceful = settings.graceful_shutdown.total_seconds()
        extra = {"worker_id": self._client.worker_id}
        log.info("worker stopping: fetching stopped; %d task(s) running", len(self._jobs), extra=extra)
        # 1. stop fetching; a poll in flight may still deliver (before handlers unlock anything,
        #    or it could fetch back what they give up)
        self._stopping = True
        self._slot_freed.set()
        await asyncio.wait({poller}, timeout=min(POLL_GRACE.total_seconds(), graceful))
        if not poller.done():
            poller.cancel()
        await asyncio.gather(poller, return_exceptions=True)
        # 2. tell running handlers
        self._shutting_down.set()
        deadline = time.monotonic() + graceful
        # 3. wait for running handlers and their reports
        running = [job.process for job in self._jobs.values() if job.process is not None]
        if running:
            await asyncio.wait(running, timeout=max(0.0, deadline - time.monotonic()))
        # 4. give back what was fetched but not started, and what is unfinished
        unfinished = list(self._jobs.values())
        for job in unfinished:
            job.given_up = True
            if job.process is not None:
                job.process.cancel()
        await asyncio.gather(*(job.process for job in unfinished if job.process is not None),
                             return_exceptions=True)
        if unfinished:
            log.warning("%d task(s) did not finish within graceful_shutdown; unlocking them", len(unfinished),
                        extra=extra)
        give_back = [task.log_extra | {"id": task.id} for task in self._not_started]
        give_back += [job.locked.log_extra | {"id": job.locked.id, "request_id": job.request_id}
                      for job in unfinished]
        await asyncio.gather(*(self._unlock_quietly(item.pop("id"), item) for item in give_back))
        # 5. close the client
        await self._client.aclose()
        log.info("worker stopped", extra=extra)


def _kind(outcome: Outcome) -> str:
    return {Complete: "completion", ReportBpmnError: "BPMN error", Failure: "failure", Unlock: "unlock",
            Dropped: "nothing"}[type(outcome)]


def _log_outcome(job: _Job, outcome: Outcome) -> None:
    extra = job.locked.log_extra
    took = time.monotonic() - job.began
    if isinstance(outcome, Complete):
        log.info("task completed in %.1f s", took, extra=extra)
    elif isinstance(outcome, ReportBpmnError):
        log.info("BPMN error %s reported after %.1f s", outcome.code, took, extra=extra)
    elif isinstance(outcome, Failure) and outcome.retries > 0:
        log.warning("handler failed (%s); %d retries left, next in %.1f s", outcome.error_type,
                    outcome.retries, outcome.retry_timeout.total_seconds(), extra=extra)
        log.debug("where it failed:\n%s", outcome.details, extra=extra)
    elif isinstance(outcome, Failure):
        log.error("incident reported (%s)", outcome.error_type, extra=extra)
    elif isinstance(outcome, Unlock):
        log.info("task unlocked: %s", outcome.reason, extra=extra)
    else:
        log.warning("task dropped: %s", outcome.reason, extra=extra)
