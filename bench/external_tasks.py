"""External-task benchmark: how fast a long-polling worker gets a service task, and how many tasks 4 workers finish.

Two measurements against the real server (`reviewflow serve --no-workers`, one uvicorn process) in a
subprocess on 127.0.0.1, over a fresh SQLite file, once with REVIEWFLOW_SQLITE_SYNCHRONOUS=FULL (the
default) and once with NORMAL. The diagram is tests/data/bpmn/race_task.bpmn: start -> service task
(topic "race") -> end.

1. hand-off latency  One worker thread long-polls `POST /engine-rest/external-task/fetchAndLock`
                     (maxTasks 1, asyncResponseTimeout 10 s) and completes each task it gets. The driver
                     starts one instance at a time with `POST /api/v1/instances`, which runs the instance
                     to its service task inside the request (the task exists when the 201 returns), and
                     waits for the hand-off before the next start, so the worker is always parked in its
                     long poll when the task appears (the driver also waits --settle-ms after the worker
                     sends its next fetch). Reported, in ms, p50/p90/p99/max of
                       - send:     worker holds the task  minus  just before the start request was sent
                                   (the figure the target is about: p50 < 20 ms);
                       - response: worker holds the task  minus  the start response arrived (a lower
                                   bound: the task is reached during the request; negative when the
                                   worker got the task before the driver got its 201);
                       - start:    the start request alone (send -> 201).
2. throughput        --tasks instances are started first over HTTP (4 client threads, the business-unit
                     key), so every one waits at its service task; then --workers worker threads, each its
                     own httpx.Client, fetch (maxTasks --max-tasks, long polling 1 s) and complete as fast
                     as they can until all are done. Reported: tasks completed per second and the wall
                     time from the go signal to the last 204. Checked: every task was completed exactly
                     once (the set of completed ids equals the set started, every complete was a 204), the
                     server's count of completed instances grew by exactly --tasks, none is left active,
                     and no external task is left.

Both clients and the server share the machine's cores; the throughput rows show server CPU as a share
of one core (a server near 100% is bound by its one event loop). Every authenticated request is also
written to the audit trail, as in production (REVIEWFLOW_AUDIT=true): a write transaction per request.
The server runs with its own defaults otherwise; --server-env changes one for a diagnostic run, and the
report names the git commit measured.

Run from the repository root:

    .venv/bin/python -m bench.external_tasks                      # defaults: 300 samples, 2000 tasks
    .venv/bin/python -m bench.external_tasks --samples 100 --tasks 500 --modes NORMAL
    .venv/bin/python -m bench.external_tasks --json var/bench-external-tasks.json
    .venv/bin/python -m bench.external_tasks --server-env REVIEWFLOW_AUDIT=false   # a diagnostic run
    .venv/bin/python -m bench.external_tasks --server-env REVIEWFLOW_AUDIT_DURABILITY=full --max-tasks 4
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import queue
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

import engine
from bench._common import BenchError, free_port, log_tail, percentile, process_cpu_seconds, stop_process, wait_ready

ROOT = Path(__file__).resolve().parents[1]
DIAGRAM = ROOT / "tests" / "data" / "bpmn" / "race_task.bpmn"
KEY, TOPIC = "race_task", "race"
SYNC_MODES = ("FULL", "NORMAL")
BU_PRINCIPAL, WORKER_PRINCIPAL = "bench-bu", "bench-worker"

TARGET_P50_MS = 20.0

SERVER_START_TIMEOUT_S = 60.0
SERVER_STOP_TIMEOUT_S = 10.0
LATENCY_POLL_MS = 10_000                 # asyncResponseTimeout of the hand-off worker
THROUGHPUT_POLL_MS = 1_000               # ... and of the throughput workers (short: they stop at the end)
LOCK_MS = 60_000                         # far longer than any run: a lock never expires mid-run
REQUEST_TIMEOUT_S = LATENCY_POLL_MS / 1000 + 20.0
HANDOFF_TIMEOUT_S = 15.0                 # a started task not handed off by then is a failure
PRECREATE_CLIENTS = 4
MAX_REQUESTS_PER_SECOND = 5_000          # count bound on the time-bounded loops, far above any real rate



def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def summary_ms(samples_s: list[float]) -> dict[str, float]:
    ordered = sorted(samples_s)
    return {"n": len(ordered), "p50": percentile(ordered, 50) * 1000, "p90": percentile(ordered, 90) * 1000,
            "p99": percentile(ordered, 99) * 1000, "max": (ordered[-1] * 1000) if ordered else float("nan"),
            "min": (ordered[0] * 1000) if ordered else float("nan")}


# --------------------------------------------------------------------------------------------------
# the server

class Server:
    """`reviewflow serve --no-workers` in a subprocess over a fresh SQLite file in `directory`, with a
    business-unit principal and a worker principal created beforehand; stopped by its pid."""

    def __init__(self, directory: Path, synchronous: str, extra_env: dict[str, str]) -> None:
        self.directory, self.synchronous, self.extra_env = directory, synchronous, extra_env
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.database_url = f"sqlite:///{directory / 'bench.db'}"
        self.log_path = directory / "server.log"
        self.bu_headers: dict[str, str] = {}
        self.worker_headers: dict[str, str] = {}
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        script = Path(sys.executable).parent / "reviewflow"
        serve = ["serve", "--no-workers", "--host", "127.0.0.1", "--port", str(self.port)]
        if script.exists():
            return [str(script), *serve]
        return [sys.executable, "-m", "api.cli", *serve]

    def environment(self) -> dict[str, str]:
        bpmn_dir = self.directory / "bpmn"
        bpmn_dir.mkdir(exist_ok=True)
        shutil.copy(DIAGRAM, bpmn_dir / DIAGRAM.name)
        env = {k: v for k, v in os.environ.items() if not k.startswith("REVIEWFLOW_")}
        env.update(REVIEWFLOW_DATABASE_URL=self.database_url, REVIEWFLOW_SQLITE_SYNCHRONOUS=self.synchronous,
                   REVIEWFLOW_HOST="127.0.0.1", REVIEWFLOW_PORT=str(self.port), REVIEWFLOW_BPMN_DIR=str(bpmn_dir),
                   REVIEWFLOW_LOG_LEVEL="WARNING")
        env.update(self.extra_env)
        return env

    def provision(self) -> None:
        """Migrate the database and create the two callers, before serve (so it creates no admin)."""
        db = engine.Database(self.database_url)
        try:
            engine.upgrade(db)
            engine.create_principal(db, principal_id=BU_PRINCIPAL, roles=["business-unit", "process-owner"])
            bu_key = engine.issue_key(db, principal_id=BU_PRINCIPAL).secret
            engine.create_principal(db, principal_id=WORKER_PRINCIPAL, roles=["worker"], kind="worker")
            worker_key = engine.issue_key(db, principal_id=WORKER_PRINCIPAL).secret
        finally:
            db.dispose()
        self.bu_headers = {"Authorization": f"Bearer {bu_key}"}
        self.worker_headers = {"Authorization": f"Bearer {worker_key}"}

    def start(self) -> None:
        self.provision()
        env = self.environment()
        with self.log_path.open("wb") as out:
            self.proc = subprocess.Popen(self.command(), cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self) -> None:
        assert self.proc is not None
        wait_ready(self.proc, self.base_url, SERVER_START_TIMEOUT_S, 0.05)

    def client(self, headers: dict[str, str] | None = None, timeout: float = REQUEST_TIMEOUT_S) -> httpx.Client:
        """A client of this server only (trust_env=False: no proxy from the environment)."""
        return httpx.Client(base_url=self.base_url, headers=headers or {}, timeout=timeout, trust_env=False)

    def check_alive(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            raise BenchError("the server is not running")

    def cpu_seconds(self) -> float | None:
        return process_cpu_seconds(self.proc.pid) if self.proc is not None else None

    def stop(self) -> None:
        stop_process(self.proc, SERVER_STOP_TIMEOUT_S, signal.SIGTERM)

    def log_tail(self, lines: int = 60) -> str:
        return log_tail(self.log_path, lines)


@contextmanager
def running_server(synchronous: str, extra_env: dict[str, str]) -> Iterator[Server]:
    with tempfile.TemporaryDirectory(prefix="rf-bench-ext-") as tmp:
        server = Server(Path(tmp), synchronous, extra_env)
        try:
            server.start()
            yield server
        except BenchError as exc:
            raise BenchError(f"{exc}\nserver log (last lines):\n{server.log_tail()}") from exc
        finally:
            server.stop()


def fetch_body(worker_id: str, max_tasks: int, poll_ms: int) -> dict[str, Any]:
    return {"workerId": worker_id, "maxTasks": max_tasks, "asyncResponseTimeout": poll_ms,
            "topics": [{"topicName": TOPIC, "lockDuration": LOCK_MS}]}


def start_instance(client: httpx.Client) -> httpx.Response:
    return client.post("/api/v1/instances", json={"definition_key": KEY})


def started_task_id(r: httpx.Response) -> str:
    if r.status_code != 201:
        raise BenchError(f"start: HTTP {r.status_code}: {r.text[:300]}")
    tasks = r.json()["external_tasks"]
    if len(tasks) != 1 or tasks[0]["topic"] != TOPIC:
        raise BenchError(f"start: expected one external task of topic {TOPIC!r}, got {tasks!r}")
    return str(tasks[0]["id"])


def count_instances(client: httpx.Client, status: str) -> int:
    r = client.get("/api/v1/instances", params={"definition_key": KEY, "status": status, "limit": 1})
    if r.status_code != 200:
        raise BenchError(f"list instances: HTTP {r.status_code}: {r.text[:300]}")
    return int(r.json()["count"])


def count_external_tasks(client: httpx.Client) -> int:
    r = client.get("/engine-rest/external-task/count", params={"topicName": TOPIC})
    if r.status_code != 200:
        raise BenchError(f"external-task count: HTTP {r.status_code}: {r.text[:300]}")
    return int(r.json()["count"])


# --------------------------------------------------------------------------------------------------
# 1. hand-off latency

class HandoffWorker(threading.Thread):
    """Long-polls for one task at a time and completes it. `polling` is set just before each fetch
    is sent; each task received goes to `received` as (perf_counter at receipt, task id). Stops after
    completing a task once `stop` is set, or at its count or time bound."""

    def __init__(self, server: Server, stop: threading.Event, max_polls: int, seconds: float) -> None:
        super().__init__(name="bench-handoff-worker", daemon=True)
        self.server, self.stop, self.max_polls, self.seconds = server, stop, max_polls, seconds
        self.polling = threading.Event()
        self.received: queue.Queue[tuple[float, str] | None] = queue.Queue()
        self.completed = 0
        self.empty_polls = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        body = fetch_body("w", 1, LATENCY_POLL_MS)
        deadline = time.perf_counter() + self.seconds
        try:
            with self.server.client(self.server.worker_headers) as client:
                for _ in range(self.max_polls):
                    if self.stop.is_set() or time.perf_counter() > deadline:
                        return
                    self.polling.set()
                    r = client.post("/engine-rest/external-task/fetchAndLock", json=body)
                    received_at = time.perf_counter()
                    self.polling.clear()
                    if r.status_code != 200:
                        raise BenchError(f"fetchAndLock: HTTP {r.status_code}: {r.text[:300]}")
                    tasks = r.json()
                    if not tasks:
                        self.empty_polls += 1
                    for task in tasks:
                        self.received.put((received_at, str(task["id"])))
                    for task in tasks:
                        rc = client.post(f"/engine-rest/external-task/{task['id']}/complete", json={"workerId": "w"})
                        if rc.status_code != 204:
                            raise BenchError(f"complete: HTTP {rc.status_code}: {rc.text[:300]}")
                        self.completed += 1
        except BaseException as exc:  # noqa: BLE001 - handed to the driver
            self.error = exc
            self.received.put(None)
        finally:
            self.polling.set()          # never leave the driver waiting


@dataclass
class LatencyResult:
    synchronous: str
    samples: int
    warmup: int
    settle_ms: float
    send_ms: dict[str, float]             # worker holds the task - before the start request was sent
    response_ms: dict[str, float]         # worker holds the task - the start response arrived
    start_ms: dict[str, float]            # the start request itself
    worker_first: int                     # samples where the worker had the task before the driver had its 201
    empty_polls: int


def measure_handoff(server: Server, samples: int, warmup: int, settle_s: float) -> LatencyResult:
    total = warmup + samples
    stop = threading.Event()
    worker = HandoffWorker(server, stop, max_polls=3 * total + 100,
                           seconds=total * (HANDOFF_TIMEOUT_S + 1) + 60)
    send_s: list[float] = []
    response_s: list[float] = []
    start_s: list[float] = []
    worker.start()
    try:
        with server.client(server.bu_headers) as client:
            for i in range(total):
                if not worker.polling.wait(HANDOFF_TIMEOUT_S):
                    raise BenchError("the worker did not come back to fetchAndLock")
                if worker.error is not None:
                    break
                time.sleep(settle_s)                 # let the fetch reach the server and park there
                if i == total - 1:
                    stop.set()                       # the worker leaves after completing this last task
                t0 = time.perf_counter()
                r = start_instance(client)
                t1 = time.perf_counter()
                try:
                    got = worker.received.get(timeout=HANDOFF_TIMEOUT_S)
                except queue.Empty:
                    server.check_alive()
                    raise BenchError(f"sample {i}: no hand-off within {HANDOFF_TIMEOUT_S:.0f} s "
                                     f"(start answered {r.status_code})") from None
                if got is None:
                    break
                received_at, task_id = got
                expected = started_task_id(r)         # parsed after the hand-off: no GIL contention before
                if task_id != expected:
                    raise BenchError(f"sample {i}: the worker got task {task_id}, the start made {expected}")
                if i >= warmup:
                    send_s.append(received_at - t0)
                    response_s.append(received_at - t1)
                    start_s.append(t1 - t0)
    finally:
        stop.set()
        worker.join(HANDOFF_TIMEOUT_S + LATENCY_POLL_MS / 1000 + 5)
    if worker.error is not None:
        raise BenchError(f"hand-off worker failed: {worker.error!r}")
    if worker.is_alive():
        raise BenchError("the hand-off worker did not stop")
    if worker.completed != total:
        raise BenchError(f"the hand-off worker completed {worker.completed} tasks, expected {total}")
    return LatencyResult(server.synchronous, samples, warmup, settle_s * 1000, summary_ms(send_s),
                         summary_ms(response_s), summary_ms(start_s),
                         worker_first=sum(1 for x in response_s if x < 0), empty_polls=worker.empty_polls)


# --------------------------------------------------------------------------------------------------
# 2. throughput

def precreate(server: Server, count: int) -> tuple[set[str], float]:
    """Start `count` instances over HTTP with a few client threads; their external task ids and the
    time it took."""
    ids: set[str] = set()
    lock = threading.Lock()
    tickets = itertools.count()
    errors: list[BaseException] = []
    deadline = time.perf_counter() + 60 + count * 0.1

    def one_client() -> None:
        try:
            with server.client(server.bu_headers) as client:
                for _ in range(count):
                    with lock:
                        if next(tickets) >= count or errors:
                            return
                    if time.perf_counter() > deadline:
                        raise BenchError("pre-creating instances took too long")
                    task_id = started_task_id(start_instance(client))
                    with lock:
                        ids.add(task_id)
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            with lock:
                errors.append(exc)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=one_client, name=f"bench-precreate-{i}", daemon=True)
               for i in range(PRECREATE_CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(deadline - time.perf_counter(), 0) + REQUEST_TIMEOUT_S)
    seconds = time.perf_counter() - t0
    if errors:
        raise BenchError(f"pre-creating instances failed: {errors[0]!r}")
    if any(t.is_alive() for t in threads) or len(ids) != count:
        raise BenchError(f"pre-created {len(ids)} distinct tasks, expected {count}")
    return ids, seconds


@dataclass
class WorkerStats:
    fetches: int = 0
    empty_fetches: int = 0
    completed: list[str] = field(default_factory=list)
    bad_completes: list[tuple[str, int]] = field(default_factory=list)
    fetch_s: list[float] = field(default_factory=list)       # fetches that returned tasks
    complete_s: list[float] = field(default_factory=list)
    error: BaseException | None = None


@dataclass
class ThroughputResult:
    synchronous: str
    workers: int
    max_tasks: int
    tasks: int
    precreate_s: float
    precreate_per_s: float
    seconds: float                          # go -> the last 204
    completed_per_s: float
    fetches: int
    empty_fetches: int
    fetch_ms: dict[str, float]
    complete_ms: dict[str, float]
    server_cpu: float | None                # server CPU seconds per wall second (1.0 = one core)
    driver_cpu: float | None
    verified: dict[str, Any]


def measure_throughput(server: Server, tasks: int, workers: int, max_tasks: int) -> ThroughputResult:
    with server.client(server.bu_headers) as bu:
        completed_before = count_instances(bu, "completed")
        expected_ids, precreate_s = precreate(server, tasks)
        if (active := count_instances(bu, "active")) != tasks:
            raise BenchError(f"{active} active instances after pre-creating {tasks}")

    stats = [WorkerStats() for _ in range(workers)]
    lock = threading.Lock()
    done = threading.Event()
    progress = {"completed": 0, "last_at": 0.0}
    seconds_bound = 120 + tasks * 0.2
    go = threading.Barrier(workers + 1)

    def worker_loop(n: int, st: WorkerStats) -> None:
        worker_id = f"w{n}"
        body = fetch_body(worker_id, max_tasks, THROUGHPUT_POLL_MS)
        try:
            with server.client(server.worker_headers) as client:
                go.wait()
                deadline = time.perf_counter() + seconds_bound
                for _ in range(int(MAX_REQUESTS_PER_SECOND * seconds_bound)):
                    if done.is_set() or time.perf_counter() > deadline:
                        return
                    t0 = time.perf_counter()
                    r = client.post("/engine-rest/external-task/fetchAndLock", json=body)
                    t1 = time.perf_counter()
                    st.fetches += 1
                    if r.status_code != 200:
                        raise BenchError(f"fetchAndLock: HTTP {r.status_code}: {r.text[:300]}")
                    got = r.json()
                    if not got:
                        st.empty_fetches += 1
                        continue
                    st.fetch_s.append(t1 - t0)
                    for task in got:
                        t2 = time.perf_counter()
                        rc = client.post(f"/engine-rest/external-task/{task['id']}/complete",
                                         json={"workerId": worker_id})
                        t3 = time.perf_counter()
                        st.complete_s.append(t3 - t2)
                        if rc.status_code != 204:
                            st.bad_completes.append((str(task["id"]), rc.status_code))
                            continue
                        st.completed.append(str(task["id"]))
                        with lock:
                            progress["completed"] += 1
                            progress["last_at"] = t3
                            if progress["completed"] >= tasks:
                                done.set()
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            st.error = exc
            go.abort()
            done.set()

    threads = [threading.Thread(target=worker_loop, args=(i, s), name=f"bench-worker-{i}", daemon=True)
               for i, s in enumerate(stats)]
    for t in threads:
        t.start()
    try:
        go.wait(timeout=30)
    except threading.BrokenBarrierError:
        pass                                   # a worker failed before the start: reported below
    cpu0, driver0, t0 = server.cpu_seconds(), time.process_time(), time.perf_counter()
    done.wait(seconds_bound + REQUEST_TIMEOUT_S)
    t_done = time.perf_counter()
    cpu1, driver1 = server.cpu_seconds(), time.process_time()
    for t in threads:
        t.join(THROUGHPUT_POLL_MS / 1000 + REQUEST_TIMEOUT_S)
    for s in stats:
        if s.error is not None:
            raise BenchError(f"worker failed: {s.error!r}")
    if any(t.is_alive() for t in threads):
        raise BenchError("workers did not stop in time")
    seconds = (progress["last_at"] or t_done) - t0
    elapsed = t_done - t0

    completed = [x for s in stats for x in s.completed]
    bad = [x for s in stats for x in s.bad_completes]
    with server.client(server.bu_headers) as bu, server.client(server.worker_headers) as wk:
        verified = {
            "completes_204": len(completed),
            "distinct_completed": len(set(completed)),
            "non_204_completes": len(bad),
            "completed_ids_equal_started": set(completed) == expected_ids,
            "completed_instances_delta": count_instances(bu, "completed") - completed_before,
            "active_instances_left": count_instances(bu, "active"),
            "external_tasks_left": count_external_tasks(wk),
        }
    ok = (verified["completes_204"] == tasks and verified["distinct_completed"] == tasks
          and not bad and verified["completed_ids_equal_started"]
          and verified["completed_instances_delta"] == tasks and verified["active_instances_left"] == 0
          and verified["external_tasks_left"] == 0)
    verified["ok"] = ok
    if not ok:
        raise BenchError(f"not every task was completed exactly once: {verified}; bad completes: {bad[:5]}")
    server_cpu = (cpu1 - cpu0) / elapsed if cpu0 is not None and cpu1 is not None and elapsed > 0 else None
    return ThroughputResult(
        server.synchronous, workers, max_tasks, tasks, precreate_s, tasks / precreate_s, seconds,
        tasks / seconds if seconds > 0 else 0.0, sum(s.fetches for s in stats), sum(s.empty_fetches for s in stats),
        summary_ms([x for s in stats for x in s.fetch_s]), summary_ms([x for s in stats for x in s.complete_s]),
        server_cpu, (driver1 - driver0) / elapsed if elapsed > 0 else None, verified)


# --------------------------------------------------------------------------------------------------
# report

def fmt_summary(s: dict[str, float], keys: tuple[str, ...] = ("p50", "p90", "p99", "max")) -> str:
    return " ".join(f"{s[k]:7.2f}" for k in keys)


def fmt_cpu(value: float | None) -> str:
    return f"{value * 100:5.0f}%" if value is not None else f"{'-':>6}"


def print_report(latency: list[LatencyResult], throughput: list[ThroughputResult], extra_env: dict[str, str]) -> None:
    env = environment_info()
    print(f"\nat git {env['git'] or '?'}; Python {env['python']}, SQLite {env['sqlite']}, {env['cpus']} CPUs "
          "shared by server and driver")
    if extra_env:
        print(f"server environment overrides: {' '.join(f'{k}={v}' for k, v in extra_env.items())}")
    if latency:
        print("\nhand-off latency, ms (1 worker parked in fetchAndLock; one instance started at a time)")
        print(f"{'sync':<7} {'n':>4}  {'from start request sent':^31}  {'from 201 received':^23}  "
              f"{'start request':^15}  {'worker':>6}")
        print(f"{'':<7} {'':>4}  {'p50':>7} {'p90':>7} {'p99':>7} {'max':>7}  {'p50':>7} {'p99':>7} {'min':>7}  "
              f"{'p50':>7} {'p99':>7}  {'first':>6}")
        print("-" * 102)
        for r in latency:
            print(f"{r.synchronous:<7} {r.samples:>4}  {fmt_summary(r.send_ms)}  "
                  f"{fmt_summary(r.response_ms, ('p50', 'p99', 'min'))}  {fmt_summary(r.start_ms, ('p50', 'p99'))}  "
                  f"{r.worker_first:>6}")
        print("('worker first': samples where the worker held the task before the driver had its 201)")
    if throughput:
        print("\nthroughput (tasks pre-created over HTTP; workers fetch and complete until all are done)")
        print(f"{'sync':<7} {'workers':>7} {'maxTasks':>8} {'tasks':>6} {'wall s':>7} {'done/s':>7}  "
              f"{'fetch ms':^15}  {'complete ms':^15} {'fetches':>7} {'empty':>5} {'cpu srv':>7} {'cpu drv':>7} "
              f"{'exactly once':>12}")
        print(f"{'':<7} {'':>7} {'':>8} {'':>6} {'':>7} {'':>7}  {'p50':>7} {'p99':>7}  {'p50':>7} {'p99':>7}")
        print("-" * 128)
        for t in throughput:
            print(f"{t.synchronous:<7} {t.workers:>7} {t.max_tasks:>8} {t.tasks:>6} {t.seconds:>7.2f} "
                  f"{t.completed_per_s:>7.0f}  {fmt_summary(t.fetch_ms, ('p50', 'p99'))}  "
                  f"{fmt_summary(t.complete_ms, ('p50', 'p99'))} {t.fetches:>7} {t.empty_fetches:>5} "
                  f" {fmt_cpu(t.server_cpu)}  {fmt_cpu(t.driver_cpu)} {'yes' if t.verified['ok'] else 'NO':>12}")
        for t in throughput:
            print(f"  {t.synchronous}: pre-created {t.tasks} instances over HTTP with {PRECREATE_CLIENTS} clients "
                  f"in {t.precreate_s:.2f} s ({t.precreate_per_s:.0f}/s)")
    if latency:
        print("\ntarget: hand-off p50 (from the start request sent) < "
              f"{TARGET_P50_MS:.0f} ms")
        for r in latency:
            met = "met" if r.send_ms["p50"] < TARGET_P50_MS else "MISSED"
            print(f"  {r.synchronous:<7} p50 {r.send_ms['p50']:6.2f} ms: {met}")


def git_revision() -> str | None:
    """The commit measured, with "+dirty" when the working tree differs from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")


def environment_info() -> dict[str, Any]:
    return {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version, "machine": platform.machine(),
            "cpus": os.cpu_count(), "git": git_revision(), "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def write_json(path: Path, args: argparse.Namespace, latency: list[LatencyResult],
               throughput: list[ThroughputResult]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"environment": environment_info(),
           "settings": {"samples": args.samples, "warmup": args.warmup, "settle_ms": args.settle_ms,
                        "tasks": args.tasks, "workers": args.workers, "max_tasks": args.max_tasks,
                        "modes": list(args.modes), "server_env": args.server_env,
                        "precreated": f"over HTTP, {PRECREATE_CLIENTS} client threads",
                        "latency_async_response_timeout_ms": LATENCY_POLL_MS,
                        "throughput_async_response_timeout_ms": THROUGHPUT_POLL_MS},
           "target": {"handoff_p50_ms_below": TARGET_P50_MS},
           "latency": [asdict(r) for r in latency], "throughput": [asdict(t) for t in throughput]}
    path.write_text(json.dumps(doc, indent=2) + "\n")


# --------------------------------------------------------------------------------------------------
# main

def parse_modes(value: str) -> tuple[str, ...]:
    modes = tuple(m.strip().upper() for m in value.split(",") if m.strip())
    if not modes or set(modes) - set(SYNC_MODES):
        raise argparse.ArgumentTypeError(f"choose from {','.join(SYNC_MODES)} (got {value!r})")
    return modes


def parse_env(value: str) -> tuple[str, str]:
    name, sep, val = value.partition("=")
    if not sep or not name.startswith("REVIEWFLOW_"):
        raise argparse.ArgumentTypeError(f"expected REVIEWFLOW_NAME=VALUE (got {value!r})")
    if name in {"REVIEWFLOW_DATABASE_URL", "REVIEWFLOW_PORT", "REVIEWFLOW_HOST", "REVIEWFLOW_SQLITE_SYNCHRONOUS",
                "REVIEWFLOW_BPMN_DIR"}:
        raise argparse.ArgumentTypeError(f"{name} is set by the benchmark")
    return name, val


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.external_tasks",
                                     description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=300, help="hand-off latency samples (default 300)")
    parser.add_argument("--warmup", type=int, default=30, help="hand-offs before the samples (default 30)")
    parser.add_argument("--settle-ms", type=float, default=10.0,
                        help="wait after the worker sends its fetch before starting the next instance, so the "
                             "fetch is parked in the server (default 10)")
    parser.add_argument("--tasks", type=int, default=2000, help="tasks for the throughput run (default 2000)")
    parser.add_argument("--workers", type=int, default=4, help="worker threads for the throughput run (default 4)")
    parser.add_argument("--max-tasks", type=int, default=1, help="maxTasks per fetch in the throughput run (default 1)")
    parser.add_argument("--modes", type=parse_modes, default=SYNC_MODES, metavar="MODES",
                        help="REVIEWFLOW_SQLITE_SYNCHRONOUS values, comma-separated (default FULL,NORMAL)")
    parser.add_argument("--only", choices=("latency", "throughput"), help="run one measurement only")
    parser.add_argument("--server-env", type=parse_env, action="append", default=[], metavar="REVIEWFLOW_X=V",
                        help="extra server environment, for diagnostic runs (e.g. REVIEWFLOW_AUDIT=false)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON here")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.samples < 1 or args.warmup < 0 or args.tasks < 1 or args.workers < 1 or args.max_tasks < 1 \
            or not 0 <= args.settle_ms <= 1000:
        print("--samples, --tasks, --workers and --max-tasks must be positive, --warmup >= 0, "
              "--settle-ms 0..1000", file=sys.stderr)
        return 2
    extra_env = dict(args.server_env)
    args.server_env = extra_env
    latency: list[LatencyResult] = []
    throughput: list[ThroughputResult] = []
    try:
        for mode in args.modes:
            with running_server(mode, extra_env) as server:
                if args.only in (None, "latency"):
                    log(f"synchronous={mode}: hand-off latency, {args.warmup} + {args.samples} samples …")
                    r = measure_handoff(server, args.samples, args.warmup, args.settle_ms / 1000)
                    latency.append(r)
                    log(f"  p50 {r.send_ms['p50']:.2f} ms, p99 {r.send_ms['p99']:.2f} ms")
                if args.only in (None, "throughput"):
                    log(f"synchronous={mode}: throughput, {args.tasks} tasks, {args.workers} workers "
                        f"(pre-creating over HTTP) …")
                    t = measure_throughput(server, args.tasks, args.workers, args.max_tasks)
                    throughput.append(t)
                    log(f"  {t.completed_per_s:.0f} tasks/s ({t.seconds:.2f} s)")
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    print_report(latency, throughput, extra_env)
    if args.json:
        write_json(args.json, args, latency, throughput)
        print(f"\nresults written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
