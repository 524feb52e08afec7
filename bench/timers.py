"""Timer benchmark: 10,000 instances waiting on a timer a year away cost no CPU and do not slow the API.

Two real servers (`reviewflow serve`, one uvicorn process each, subprocesses on 127.0.0.1), each over
its own SQLite file in a temporary directory, prepared alike (schema, the two diagrams):

A  none waiting   nothing waits on a timer.
B  N waiting      before B's server starts, N `year_wait` instances (start -> timer catch event P1Y ->
                  user task -> end) are started directly through the engine in this process
                  (`engine.start_instance`; SQLite synchronous=NORMAL for this load only: set-up, not
                  measured). B's server then starts over them: its start-up is timed like A's.

Both are checked over the API first: B has N active `year_wait` instances, each with `next_timer_at`
about a year away (all of them through the paged list, a sample one by one), A has none. Then:

* idle      both servers are left alone for the same --idle-seconds window. Read from /proc for each:
            CPU time (user + system; as % of one core and CPU-ms per minute, and the busiest
            second), context switches (its wake-ups: the main thread's event loop apart from the
            other threads, the timer scheduler's among them), read/write system calls, and whether
            its database files changed. uvicorn itself wakes 10 times a second (its `main_loop`
            tick), so a small baseline shows in both: what matters is B against A. With
            --count-queries, also the SQL statements each server executed.
* latency   one client per server on one keep-alive connection, sequential requests, each probe
            in its own block after a short warm-up: GET /api/v1/instances/{id} (an open
            `one_user_task` instance); POST /api/v1/instances (`one_user_task`, runs to its user
            task) then POST /api/v1/user-tasks/{id}/complete; GET /api/v1/instances?status=active
            &limit=50 (this one counts and sorts the matching rows, so it is expected to cost more
            with N more of them). --requests per probe and server, in rounds that alternate A and B
            (AB, BA, …): this machine's speed drifts, so A and B are measured side by side.

At the end B's N instances are checked again: none fired while its server ran.

Run from the repository root:

    .venv/bin/python -m bench.timers                  # 10,000 instances, 20 s idle: about 2 minutes
    .venv/bin/python -m bench.timers --instances 1000 --idle-seconds 5 --requests 100
    .venv/bin/python -m bench.timers --json var/bench-timers.json --count-queries

The server is `reviewflow serve` spelled `python -m api.cli serve` (the console script calls the same
`api.cli.main`; this form runs the code of the tree this file is in, as bench.engine does).
--count-queries starts the same CLI through a few lines that count SQLAlchemy cursor executions and
report the count on SIGUSR1; the counting adds a little work to every statement (BEGIN counts too).
When the engine has API keys, each database gets an admin principal and key for the bench.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

import engine
from bench._common import BenchError, free_port, log_tail, percentile, stop_process, wait_ready

ROOT = Path(__file__).resolve().parents[1]
PROBE_DIAGRAM = ROOT / "tests" / "data" / "bpmn" / "one_user_task.bpmn"
PROBE_KEY = "one_user_task"
WAIT_KEY = "year_wait"
ACTOR = engine.Actor.system("bench")

YEAR_WAIT_BPMN = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
                  id="defs_{WAIT_KEY}" targetNamespace="http://reviewflow.example/bench">
  <bpmn:process id="{WAIT_KEY}" name="Wait a year" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:intermediateCatchEvent id="wait_a_year" name="A year">
      <bpmn:timerEventDefinition><bpmn:timeDuration>P1Y</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:userTask id="after" name="After a year" camunda:candidateGroups="case-review-group"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait_a_year"/>
    <bpmn:sequenceFlow id="f2" sourceRef="wait_a_year" targetRef="after"/>
    <bpmn:sequenceFlow id="f3" sourceRef="after" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""

# `api.cli.main` with every SQL statement counted; SIGUSR1 writes the count to RF_BENCH_QUERY_FILE.
COUNTING_SERVER = """
import os, signal, sys
import sqlalchemy as sa
from sqlalchemy import event
executed = [0]
def _count(*_args):
    executed[0] += 1
event.listen(sa.engine.Engine, "before_cursor_execute", _count)
path = os.environ["RF_BENCH_QUERY_FILE"]
def _report(*_args):
    with open(path + ".tmp", "w") as out:
        out.write(str(executed[0]))
    os.replace(path + ".tmp", path)
signal.signal(signal.SIGUSR1, _report)
from api.cli import main
sys.exit(main(sys.argv[1:]))
"""

YEAR_MIN, YEAR_MAX = timedelta(days=364), timedelta(days=367)   # "about a year away"
SERVER_START_TIMEOUT_S = 120.0
SERVER_STOP_TIMEOUT_S = 15.0
REQUEST_TIMEOUT_S = 30.0
READY_POLL_S = 0.02
SETTLE_S = 2.0                     # after the warm-up, before the idle window
LATENCY_ROUNDS = 5                 # A and B alternate this many times
LOAD_REPORT_EVERY = 2000
LOAD_TIMEOUT_S = 1800.0            # the direct load gives up after this long
PAGE = 200                         # the API's largest page
SAMPLE_GETS = 50                   # waiting instances read one by one over the API



def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------
# /proc readings of the server process

def clock_ticks() -> int:
    return os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process (all its threads), from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / clock_ticks()


@dataclass(frozen=True)
class ThreadReading:
    cpu_s: float
    switches: int                         # voluntary + involuntary context switches: its wake-ups


def thread_readings(pid: int) -> dict[int, ThreadReading]:
    """Per live thread (by tid; the main thread's tid is the pid): CPU time and context switches."""
    readings: dict[int, ThreadReading] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            status = (task / "status").read_text().splitlines()
        except OSError:
            continue                      # the thread ended meanwhile
        switches = sum(int(line.split()[1]) for line in status
                       if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")))
        readings[int(task.name)] = ThreadReading((int(fields[11]) + int(fields[12])) / clock_ticks(), switches)
    return readings


def thread_deltas(pid: int, before: dict[int, ThreadReading],
                  after: dict[int, ThreadReading]) -> tuple[ThreadReading, ThreadReading]:
    """(main thread, all other threads) CPU and switches between two readings."""
    def delta(tid: int) -> ThreadReading:
        b, a = before.get(tid, ThreadReading(0.0, 0)), after[tid]
        return ThreadReading(a.cpu_s - b.cpu_s, a.switches - b.switches)

    others = [delta(tid) for tid in after if tid != pid]
    return delta(pid), ThreadReading(sum(d.cpu_s for d in others), sum(d.switches for d in others))


def io_syscalls(pid: int) -> int | None:
    """read + write system calls (files and sockets) so far; None when /proc/<pid>/io is unreadable."""
    try:
        values = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
    except OSError:
        return None
    return int(values["syscr"]) + int(values["syscw"])


def file_states(paths: list[Path]) -> dict[str, tuple[int, int] | None]:
    """(size, mtime_ns) of each file, None when it does not exist."""
    out: dict[str, tuple[int, int] | None] = {}
    for p in paths:
        try:
            st = p.stat()
            out[p.name] = (st.st_size, st.st_mtime_ns)
        except FileNotFoundError:
            out[p.name] = None
    return out


# --------------------------------------------------------------------------------------------------
# the server subprocess

def reviewflow_command() -> list[str]:
    """`reviewflow` as `.venv/bin/reviewflow` runs it (`api.cli.main`), spelled `python -m api.cli` with
    cwd=ROOT so that the server runs this tree's code, not whichever tree the editable install names."""
    return [sys.executable, "-m", "api.cli"]


class Server:
    """`reviewflow serve` on 127.0.0.1 over `workdir/bench.db`; always stopped by its own pid."""

    def __init__(self, workdir: Path, name: str, bpmn_dir: Path, count_queries: bool) -> None:
        self.workdir, self.name, self.bpmn_dir, self.count_queries = workdir, name, bpmn_dir, count_queries
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"server-{name}.log"
        self.query_file = workdir / f"queries-{name}.txt"
        self.proc: subprocess.Popen[bytes] | None = None
        self.startup_s: float | None = None

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise BenchError("the server is not running")
        return self.proc.pid

    def command(self) -> list[str]:
        serve = ["serve", "--host", "127.0.0.1", "--port", str(self.port)]
        if self.count_queries:
            return [sys.executable, "-c", COUNTING_SERVER, *serve]
        return [*reviewflow_command(), *serve]

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("REVIEWFLOW_")}
        env.update(REVIEWFLOW_DATABASE_URL=database_url(self.workdir), REVIEWFLOW_HOST="127.0.0.1",
                   REVIEWFLOW_PORT=str(self.port), REVIEWFLOW_BPMN_DIR=str(self.bpmn_dir),
                   REVIEWFLOW_LOG_LEVEL="WARNING", RF_BENCH_QUERY_FILE=str(self.query_file))
        return env

    def start(self) -> None:
        t0 = time.perf_counter()
        with self.log_path.open("wb") as out:
            self.proc = subprocess.Popen(self.command(), cwd=ROOT, env=self.environment(),
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        self._wait_ready()
        self.startup_s = time.perf_counter() - t0

    def _wait_ready(self) -> None:
        assert self.proc is not None
        wait_ready(self.proc, self.base_url, SERVER_START_TIMEOUT_S, READY_POLL_S, log=self.log_tail)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def queries(self) -> int | None:
        """SQL statements executed so far (--count-queries only): asks by SIGUSR1, waits for the file."""
        if not self.count_queries or not self.alive():
            return None
        self.query_file.unlink(missing_ok=True)
        os.kill(self.pid, signal.SIGUSR1)
        for _ in range(500):                                   # up to 5 s
            if self.query_file.exists():
                return int(self.query_file.read_text())
            time.sleep(0.01)
        raise BenchError("the server did not report its query count")

    def stop(self) -> None:
        """SIGTERM to our pid (uvicorn shuts down cleanly), SIGKILL if it hangs."""
        stop_process(self.proc, SERVER_STOP_TIMEOUT_S, signal.SIGTERM)

    def log_tail(self, lines: int = 30) -> str:
        return log_tail(self.log_path, lines)


@contextmanager
def running_server(workdir: Path, name: str, bpmn_dir: Path, count_queries: bool) -> Iterator[Server]:
    server = Server(workdir, name, bpmn_dir, count_queries)
    try:
        server.start()
        yield server
    finally:
        server.stop()
    if server.proc is not None and server.proc.returncode not in (0, -signal.SIGTERM):
        log(f"  (server {name} exited with {server.proc.returncode}; log tail:\n{server.log_tail(10)})")


# --------------------------------------------------------------------------------------------------
# set-up: the diagrams, the two databases, the direct load

def database_url(workdir: Path) -> str:
    return f"sqlite:///{workdir / 'bench.db'}"


def write_diagrams(directory: Path) -> Path:
    bpmn = directory / "bpmn"
    bpmn.mkdir()
    (bpmn / f"{WAIT_KEY}.bpmn").write_text(YEAR_WAIT_BPMN)
    shutil.copy(PROBE_DIAGRAM, bpmn / PROBE_DIAGRAM.name)
    return bpmn


def prepare_database(workdir: Path, bpmn_dir: Path) -> dict[str, str]:
    """Schema and diagrams (the server finds them unchanged at start-up) and, when the engine has API
    keys, an admin principal with a key for this bench; the headers every request then carries."""
    workdir.mkdir()
    db = engine.Database(database_url(workdir))
    try:
        engine.upgrade(db)
        engine.deploy(db, files=[engine.DeployFile(p.name, p.read_bytes()) for p in sorted(bpmn_dir.glob("*.bpmn"))],
                      actor=ACTOR)
        if not (hasattr(engine, "create_principal") and hasattr(engine, "issue_key")):
            return {}                     # no authentication in this tree
        engine.create_principal(db, principal_id="bench", roles=["admin"])
        issued = engine.issue_key(db, principal_id="bench", name="bench.timers")
        return {"Authorization": f"Bearer {issued.secret}"}
    finally:
        db.dispose()


def load_waiting(workdir: Path, count: int) -> float:
    """Start `count` year_wait instances through the engine (no server running); the seconds taken."""
    db = engine.Database(database_url(workdir), sqlite_synchronous="NORMAL")
    t0 = time.perf_counter()
    try:
        for i in range(count):
            info = engine.start_instance(db, actor=ACTOR, definition_key=WAIT_KEY)
            if info.status != "active" or info.next_timer_at is None:
                raise BenchError(f"year_wait instance {info.id} is {info.status}, timer {info.next_timer_at}")
            if (i + 1) % LOAD_REPORT_EVERY == 0:
                log(f"  {i + 1:>6} started ({(i + 1) / (time.perf_counter() - t0):.0f}/s)")
            if time.perf_counter() - t0 > LOAD_TIMEOUT_S:
                raise BenchError(f"loading took more than {LOAD_TIMEOUT_S:.0f} s ({i + 1} started)")
    finally:
        db.dispose()
    return time.perf_counter() - t0


# --------------------------------------------------------------------------------------------------
# checks over the API

def expect(response: httpx.Response, status: int, what: str) -> Any:
    if response.status_code != status:
        raise BenchError(f"{what}: HTTP {response.status_code} (expected {status}): {response.text[:300]}")
    return response.json()


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def a_year_away(due: datetime | None, now: datetime) -> bool:
    return due is not None and YEAR_MIN <= due - now <= YEAR_MAX


def waiting_count(client: httpx.Client) -> int:
    body = expect(client.get("/api/v1/instances", params={"definition_key": WAIT_KEY, "status": "active",
                                                         "limit": 1}), 200, "list waiting")
    return int(body["count"])


def check_waiting(client: httpx.Client, expected: int) -> dict[str, Any]:
    """All `expected` year_wait instances are active with a timer about a year away (paged list), and a
    random sample of them read one by one says the same."""
    if (count := waiting_count(client)) != expected:
        raise BenchError(f"{count} active {WAIT_KEY} instances, expected {expected}")
    now = datetime.now(UTC)
    ids: list[str] = []
    dues: list[datetime | None] = []
    for page in range((expected + PAGE - 1) // PAGE):
        body = expect(client.get("/api/v1/instances", params={
            "definition_key": WAIT_KEY, "status": "active", "limit": PAGE, "offset": page * PAGE}), 200, "page")
        ids += [item["id"] for item in body["data"]]
        dues += [parse_time(item["next_timer_at"]) for item in body["data"]]
    if len(set(ids)) != expected or not all(a_year_away(d, now) for d in dues):
        known = [d for d in dues if d is not None]
        raise BenchError(f"{len(set(ids))} distinct ids; timers not all a year away "
                         f"(from {min(known, default=None)} to {max(known, default=None)})")
    sample = random.Random(1).sample(ids, min(SAMPLE_GETS, len(ids)))
    for instance_id in sample:
        one = expect(client.get(f"/api/v1/instances/{instance_id}"), 200, "get waiting")
        if one["status"] != "active" or one["user_tasks"] or not a_year_away(parse_time(one["next_timer_at"]), now):
            raise BenchError(f"instance {instance_id}: {one['status']}, timer {one['next_timer_at']}, "
                             f"{len(one['user_tasks'])} user tasks")
    away = [(d - now).total_seconds() / 86400 for d in dues if d is not None]
    return {"active": count, "checked_in_pages": len(ids), "read_one_by_one": len(sample),
            "days_away_min": round(min(away), 2) if away else None,
            "days_away_max": round(max(away), 2) if away else None}


# --------------------------------------------------------------------------------------------------
# idle: /proc readings over one window, for every server at once

@dataclass
class Idle:
    seconds: float
    cpu_s: float
    busiest_second_cpu_s: float
    main_thread: ThreadReading           # uvicorn's event loop (requests run inline on it with SQLite)
    other_threads: ThreadReading         # the timer scheduler's thread among them
    io_syscalls: int | None
    threads: int
    db_files_changed: list[str]
    sql_statements: int | None

    @property
    def cpu_percent(self) -> float:
        return 100 * self.cpu_s / self.seconds

    @property
    def cpu_ms_per_minute(self) -> float:
        return 1000 * self.cpu_s * 60 / self.seconds

    @property
    def wakeups_per_s(self) -> float:
        return (self.main_thread.switches + self.other_threads.switches) / self.seconds

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "cpu_percent": self.cpu_percent, "cpu_ms_per_minute": self.cpu_ms_per_minute,
                "wakeups_per_s": self.wakeups_per_s}


@dataclass
class Reading:
    cpu_s: float
    threads: dict[int, ThreadReading]
    io: int | None
    files: dict[str, tuple[int, int] | None]
    queries: int | None


def db_files(server: Server) -> list[Path]:
    return [server.workdir / n for n in ("bench.db", "bench.db-wal", "bench.db-shm")]


def read_server(server: Server, *, first: bool) -> Reading:
    """With --count-queries the server writes its count to a file when asked: ask before the other
    readings at the start of the window and after them at its end, so that write falls outside."""
    pid = server.pid
    queries = server.queries() if first else None
    reading = Reading(cpu_seconds(pid), thread_readings(pid), io_syscalls(pid), file_states(db_files(server)),
                      queries)
    if not first:
        reading.queries = server.queries()
    return reading


def idle_between(server: Server, before: Reading, after: Reading, seconds: float, busiest: float) -> Idle:
    main, others = thread_deltas(server.pid, before.threads, after.threads)
    return Idle(seconds=seconds, cpu_s=after.cpu_s - before.cpu_s, busiest_second_cpu_s=busiest,
                main_thread=main, other_threads=others,
                io_syscalls=None if before.io is None or after.io is None else after.io - before.io,
                threads=len(after.threads),
                db_files_changed=sorted(n for n in before.files if before.files[n] != after.files[n]),
                sql_statements=None if before.queries is None or after.queries is None
                else after.queries - before.queries)


def measure_idle(servers: list[Server], seconds: float) -> list[Idle]:
    """Leave every server alone for the same `seconds`; sample their CPU time once a second."""
    before = [read_server(s, first=True) for s in servers]
    last = [r.cpu_s for r in before]
    busiest = [0.0 for _ in servers]
    t0 = time.perf_counter()
    for _ in range(int(seconds) + 2):
        remaining = seconds - (time.perf_counter() - t0)
        if remaining <= 0:
            break
        time.sleep(min(1.0, remaining))
        for i, server in enumerate(servers):
            now_cpu = cpu_seconds(server.pid)
            busiest[i], last[i] = max(busiest[i], now_cpu - last[i]), now_cpu
    elapsed = time.perf_counter() - t0
    after = [read_server(s, first=False) for s in servers]
    for server in servers:
        if not server.alive():
            raise BenchError(f"server {server.name} died while idle:\n{server.log_tail()}")
    return [idle_between(s, b, a, elapsed, busy) for s, b, a, busy in zip(servers, before, after, busiest, strict=True)]


# --------------------------------------------------------------------------------------------------
# latency probes

Samples = dict[str, list[float]]

PROBES = {
    "get": "GET /instances/{id}",
    "start": "POST /instances",
    "complete": "POST /user-tasks/{id}/complete",
    "pair": "start + complete",
    "list": "GET /instances?status=active",
}


def timed(fn: Callable[[], httpx.Response]) -> tuple[float, httpx.Response]:
    t0 = time.perf_counter()
    response = fn()
    return time.perf_counter() - t0, response


def start_probe(client: httpx.Client) -> tuple[float, dict[str, Any]]:
    took, r = timed(lambda: client.post("/api/v1/instances", json={"definition_key": PROBE_KEY}))
    return took, expect(r, 201, "start one_user_task")


def complete_probe(client: httpx.Client, started: dict[str, Any]) -> float:
    task_id = started["user_tasks"][0]["id"]
    took, r = timed(lambda: client.post(f"/api/v1/user-tasks/{task_id}/complete",
                                        json={"variables": {"approved": True}}))
    if expect(r, 200, "complete user task")["status"] != "completed":
        raise BenchError(f"instance {started['id']} did not complete")
    return took


def probe_get(client: httpx.Client, target_id: str, samples: Samples) -> None:
    took, r = timed(lambda: client.get(f"/api/v1/instances/{target_id}"))
    expect(r, 200, "get instance")
    samples["get"].append(took)


def probe_pair(client: httpx.Client, _target_id: str, samples: Samples) -> None:
    took_start, started = start_probe(client)
    took_complete = complete_probe(client, started)
    samples["start"].append(took_start)
    samples["complete"].append(took_complete)
    samples["pair"].append(took_start + took_complete)


def probe_list(client: httpx.Client, _target_id: str, samples: Samples) -> None:
    took, r = timed(lambda: client.get("/api/v1/instances", params={"status": "active", "limit": 50}))
    expect(r, 200, "list instances")
    samples["list"].append(took)


# Each probe runs as its own block after a short warm-up, so that one probe's work (the list reads
# every active row) does not cool the caches the next one uses.
PROBE_BLOCKS: tuple[Callable[[httpx.Client, str, Samples], None], ...] = (probe_get, probe_pair, probe_list)


def probe_blocks(client: httpx.Client, target_id: str, samples: Samples, requests: int, warmup: int) -> None:
    for probe in PROBE_BLOCKS:
        scratch: Samples = {k: [] for k in PROBES}
        for _ in range(warmup):
            probe(client, target_id, scratch)
        for _ in range(requests):
            probe(client, target_id, samples)


def summary_ms(samples_s: list[float]) -> dict[str, float]:
    ordered = sorted(samples_s)
    return {"p50": percentile(ordered, 50) * 1000, "p99": percentile(ordered, 99) * 1000,
            "max": ordered[-1] * 1000 if ordered else float("nan"), "n": len(ordered)}


# --------------------------------------------------------------------------------------------------
# the two sides

@dataclass
class Side:
    """One server and what was measured on it."""
    name: str
    waiting: int
    workdir: Path
    headers: dict[str, str]
    server: Server | None = None
    client: httpx.Client | None = None
    target_id: str = ""
    samples: Samples = field(default_factory=lambda: {k: [] for k in PROBES})
    startup_s: float = 0.0
    startup_sql_statements: int | None = None      # --count-queries: from spawn to ready
    check: dict[str, Any] = field(default_factory=dict)
    idle: Idle | None = None
    still_waiting: int | None = None

    @property
    def latency_ms(self) -> dict[str, dict[str, float]]:
        return {k: summary_ms(v) for k, v in self.samples.items()}

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "waiting": self.waiting, "startup_s": self.startup_s,
                "startup_sql_statements": self.startup_sql_statements, "check": self.check,
                "idle": self.idle.as_dict() if self.idle else None, "latency_ms": self.latency_ms,
                "still_waiting_at_the_end": self.still_waiting}


def bring_up(side: Side, stack: ExitStack, bpmn_dir: Path, args: argparse.Namespace) -> None:
    """Start the side's server (timed), check what waits, open the instance the GET probe reads."""
    side.server = stack.enter_context(running_server(side.workdir, side.name, bpmn_dir, args.count_queries))
    side.startup_s = side.server.startup_s or 0.0
    side.startup_sql_statements = side.server.queries()
    log(f"  {side.name}: server up in {side.startup_s:.2f} s (pid {side.server.pid}, port {side.server.port})")
    side.client = stack.enter_context(httpx.Client(base_url=side.server.base_url, timeout=REQUEST_TIMEOUT_S,
                                                   headers=side.headers))
    side.check = check_waiting(side.client, side.waiting)
    log(f"  {side.name}: {side.check['active']} waiting, checked")
    side.target_id = start_probe(side.client)[1]["id"]


def client_of(side: Side) -> httpx.Client:
    if side.client is None:
        raise BenchError(f"side {side.name} is not up")
    return side.client


def measure_latency(sides: list[Side], requests: int, warmup: int) -> None:
    """`requests` per probe and side, in rounds alternating the order of the sides (AB, BA, …)."""
    per_block_warmup = max(1, warmup // LATENCY_ROUNDS)
    for r in range(LATENCY_ROUNDS):
        share = requests // LATENCY_ROUNDS + (1 if r < requests % LATENCY_ROUNDS else 0)
        for side in (sides if r % 2 == 0 else sides[::-1]):
            probe_blocks(client_of(side), side.target_id, side.samples, share, per_block_warmup)


def run(args: argparse.Namespace) -> tuple[Side, Side, float]:
    with tempfile.TemporaryDirectory(prefix="rf-bench-timers-") as tmp:
        bpmn_dir = write_diagrams(Path(tmp))
        a = Side("A", 0, Path(tmp) / "a", {})
        b = Side("B", args.instances, Path(tmp) / "b", {})
        for side in (a, b):
            side.headers = prepare_database(side.workdir, bpmn_dir)
        log(f"loading {args.instances:,} {WAIT_KEY} instances into B directly through the engine …")
        load_s = load_waiting(b.workdir, args.instances)
        log(f"  loaded in {load_s:.1f} s; starting the servers" + (" (requests carry an API key)" if a.headers else ""))
        with ExitStack() as stack:
            for side in (a, b):
                bring_up(side, stack, bpmn_dir, args)
            for side in (a, b):
                probe_blocks(client_of(side), side.target_id, {k: [] for k in PROBES}, 0, args.warmup)
            time.sleep(SETTLE_S)
            log(f"idle: both servers alone for {args.idle_seconds:g} s …")
            servers = [s.server for s in (a, b) if s.server is not None]
            a.idle, b.idle = measure_idle(servers, args.idle_seconds)
            log(f"latency: {args.requests} requests per probe and server, {LATENCY_ROUNDS} alternating rounds …")
            measure_latency([a, b], args.requests, args.warmup)
            for side in (a, b):
                side.still_waiting = waiting_count(client_of(side))
                if side.still_waiting != side.waiting:
                    raise BenchError(f"{side.still_waiting} {WAIT_KEY} instances still active on {side.name} at "
                                     f"the end, expected {side.waiting}: timers fired")
    return a, b, load_s


# --------------------------------------------------------------------------------------------------
# report

def ratio(a: float, b: float) -> str:
    return f"{b / a:5.2f}x" if a > 0 else "    -"


def row(label: str, a: str, b: str, note: str = "") -> str:
    return f"  {label:<40} {a:>22} {b:>22}  {note}".rstrip()


def opt(value: int | None) -> str:
    return "-" if value is None else str(value)


def idle_rows(a: Idle, b: Idle) -> list[str]:
    return [
        row("idle window (s, the same for both)", f"{a.seconds:.1f}", f"{b.seconds:.1f}"),
        row("server CPU, % of one core", f"{a.cpu_percent:.3f}", f"{b.cpu_percent:.3f}"),
        row("server CPU-ms per minute", f"{a.cpu_ms_per_minute:.0f}", f"{b.cpu_ms_per_minute:.0f}",
            f"(/proc tick = {1000 / clock_ticks():.0f} ms)"),
        row("busiest second, CPU-ms", f"{a.busiest_second_cpu_s * 1000:.0f}", f"{b.busiest_second_cpu_s * 1000:.0f}"),
        row("context switches per s (all threads)", f"{a.wakeups_per_s:.1f}", f"{b.wakeups_per_s:.1f}"),
        row("  main thread (event loop): switches", str(a.main_thread.switches), str(b.main_thread.switches),
            "(uvicorn ticks 10/s)"),
        row("  main thread: CPU-ms", f"{a.main_thread.cpu_s * 1000:.0f}", f"{b.main_thread.cpu_s * 1000:.0f}"),
        row("  other threads (scheduler…): switches", str(a.other_threads.switches), str(b.other_threads.switches)),
        row("  other threads: CPU-ms", f"{a.other_threads.cpu_s * 1000:.0f}", f"{b.other_threads.cpu_s * 1000:.0f}"),
        row("read/write syscalls in window", opt(a.io_syscalls), opt(b.io_syscalls)),
        row("SQL statements in window", opt(a.sql_statements), opt(b.sql_statements),
            "" if a.sql_statements is not None else "(--count-queries)"),
        row("database files changed", ",".join(a.db_files_changed) or "none", ",".join(b.db_files_changed) or "none"),
        row("server threads", str(a.threads), str(b.threads)),
    ]


def latency_rows(a: Side, b: Side) -> list[str]:
    la, lb = a.latency_ms, b.latency_ms
    return [row(f"{label} p50 / p99", f"{la[k]['p50']:.2f} / {la[k]['p99']:.2f}",
                f"{lb[k]['p50']:.2f} / {lb[k]['p99']:.2f}",
                f"p50 {ratio(la[k]['p50'], lb[k]['p50'])}  p99 {ratio(la[k]['p99'], lb[k]['p99'])}")
            for k, label in PROBES.items()]


def print_report(a: Side, b: Side, load_s: float, args: argparse.Namespace) -> None:
    assert a.idle is not None and b.idle is not None
    print()
    print(f"Timer benchmark: {b.waiting:,} instances waiting on a P1Y timer (loaded directly through the engine "
          f"in {load_s:.1f} s, {b.waiting / max(load_s, 1e-9):.0f}/s)")
    print(row("", "A: none waiting", f"B: {b.waiting:,} waiting", "B/A"))
    print("  " + "-" * 110)
    print(row("server start-up (spawn -> health 200), s", f"{a.startup_s:.2f}", f"{b.startup_s:.2f}"))
    print(row("SQL statements during start-up", opt(a.startup_sql_statements), opt(b.startup_sql_statements)))
    print(row("waiting instances checked over the API", str(a.check["active"]),
              f"{b.check['active']} ({b.check['days_away_min']}-{b.check['days_away_max']} d)"))
    print(row("still waiting at the end", opt(a.still_waiting), opt(b.still_waiting)))
    print("  idle")
    print("\n".join(idle_rows(a.idle, b.idle)))
    print(f"  latency, ms ({args.requests} sequential requests per probe and server, one client each, "
          f"{LATENCY_ROUNDS} rounds alternating A and B)")
    print("\n".join(latency_rows(a, b)))


def environment_info() -> dict[str, Any]:
    return {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version, "machine": platform.machine(),
            "cpus": os.cpu_count(), "loadavg_at_end": os.getloadavg(), "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def write_json(path: Path, args: argparse.Namespace, a: Side, b: Side, load_s: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"environment": environment_info(),
           "settings": {"instances": args.instances, "idle_seconds": args.idle_seconds, "requests": args.requests,
                        "warmup": args.warmup, "count_queries": args.count_queries, "rounds": LATENCY_ROUNDS,
                        "load": "direct through the engine before B's server started, synchronous=NORMAL"},
           "load_seconds": load_s, "servers": [a.as_dict(), b.as_dict()]}
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n")


# --------------------------------------------------------------------------------------------------
# main

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.timers", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=10_000, help="instances waiting a year (default 10000)")
    parser.add_argument("--idle-seconds", type=float, default=20.0, help="idle window (default 20)")
    parser.add_argument("--requests", type=int, default=500,
                        help="measured requests per probe and server (default 500)")
    parser.add_argument("--warmup", type=int, default=50, help="warm-up requests per probe and server (default 50)")
    parser.add_argument("--count-queries", action="store_true",
                        help="count the servers' SQL statements (starts the CLI through a counting wrapper)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON here")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.instances < 1 or args.idle_seconds <= 0 or args.requests < 1 or args.warmup < 0:
        print("--instances, --idle-seconds and --requests must be positive, --warmup not negative", file=sys.stderr)
        return 2
    if not Path("/proc/self/stat").exists():
        print("this benchmark reads /proc (Linux only)", file=sys.stderr)
        return 2
    try:
        a, b, load_s = run(args)
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    print_report(a, b, load_s, args)
    if args.json:
        write_json(args.json, args, a, b, load_s)
        print(f"\nresults written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
