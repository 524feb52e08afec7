"""Engine benchmark: instances per second on one diagram, from bare SpiffWorkflow up to the HTTP API.

One run measures, side by side (the machine's speed drifts, so compare ratios within a run):

1. bare    SpiffWorkflow in memory, JSON round trip at the wait state: create, run to the user task,
           dumps + loads, complete the task, run to the end, dumps. The ceiling.
2. engine  `engine.start_instance` + `engine.complete_user_task` on a SQLite file (WAL), one thread,
           with synchronous=FULL (the default) and NORMAL. Target: engine/bare >= 0.33.
3. http    the real server (`reviewflow serve`, spelled `python -m api.cli serve`: one uvicorn
           process, default settings) in a subprocess on 127.0.0.1, over a fresh SQLite file in which
           a `business-unit` user and its API key are created first. Driven by 4 client threads
           (one httpx.Client each), then by 1, for a fixed time each: POST /api/v1/instances, then
           POST /api/v1/user-tasks/{id}/complete. FULL and NORMAL, a fresh server each.
           Targets: >= 300 instances/s with 4 clients; http(4 clients, FULL)/bare >= 0.35 (issue 16; a
           prototype of this design reached 0.28 at NORMAL, about 0.21 at FULL).

The whole sequence runs --runs times (3 by default: the issue's figure is the median of three runs);
each run prints its table, and a last table puts the runs side by side with their medians.

The diagram is tests/data/bpmn/one_user_task.bpmn (start -> user task -> exclusive gateway -> end),
completed with {"approved": True/False} alternating. One instance = one start + one completion.
Each part warms up first. Bare runs again at the end as a drift check; ratios use the mean of both.

Run from the repository root:

    .venv/bin/python -m bench.engine                      # everything, 3 runs (about 5 min)
    .venv/bin/python -m bench.engine --runs 1             # one run (about 90 s)
    .venv/bin/python -m bench.engine --instances 300 --seconds 5 --only bare,engine
    .venv/bin/python -m bench.engine --json var/bench.json
    .venv/bin/python -m bench.engine --only http --profile-server var/prof   # server under cProfile
    .venv/bin/python -m bench.engine --only http --server-env REVIEWFLOW_AUDIT=false   # a diagnostic run

The HTTP rows also show CPU use as a share of one core, for the server process and for this driver
process; both share the machine's cores. A server near 100% is bound by its one event loop.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from lxml import etree
from SpiffWorkflow.util.task import TaskState

import engine
from bench._common import BenchError, free_port, log_tail, percentile, process_cpu_seconds, stop_process, wait_ready
from engine.bpmn import state
from engine.bpmn.parser import SAFE_XML, ReviewflowParser
from engine.store.specs import build_specs

ROOT = Path(__file__).resolve().parents[1]
DIAGRAM = ROOT / "tests" / "data" / "bpmn" / "one_user_task.bpmn"
KEY = "one_user_task"
ACTOR = engine.Actor.system("bench")
HTTP_USER, HTTP_ROLE, HTTP_GROUP = "bench", "business-unit", "case-review-group"   # may start and complete
PARTS = ("bare", "engine", "http")
SYNC_MODES = ("FULL", "NORMAL")
HTTP_CLIENTS = (4, 1)                    # the first is the one the targets are about
BENCH_SET_ENV = {"REVIEWFLOW_DATABASE_URL", "REVIEWFLOW_PORT", "REVIEWFLOW_HOST", "REVIEWFLOW_SQLITE_SYNCHRONOUS",
                 "REVIEWFLOW_BPMN_DIR"}

TARGET_ENGINE_RATIO = 0.33
TARGET_HTTP_RATE = 300.0
TARGET_HTTP_RATIO = 0.35                 # issue 16: http FULL, 4 clients, the median of three runs

SERVER_START_TIMEOUT_S = 60.0
SERVER_STOP_TIMEOUT_S = 10.0
REQUEST_TIMEOUT_S = 10.0
MAX_PAIRS_PER_CLIENT_SECOND = 5_000      # count bound on every load loop, far above any real rate



@dataclass
class Result:
    part: str                                   # bare | engine | http
    synchronous: str | None                     # SQLite synchronous mode; None in memory
    clients: int | None                         # concurrent HTTP clients; None without HTTP
    instances: int
    seconds: float
    latency_ms: dict[str, dict[str, float]] = field(default_factory=dict)   # start|complete -> p50, p99
    server_cpu: float | None = None             # server CPU seconds per wall second (1.0 = one core)
    driver_cpu: float | None = None             # the same for this process, while driving

    @property
    def rate(self) -> float:
        return self.instances / self.seconds if self.seconds > 0 else 0.0

    @property
    def config(self) -> str:
        if self.synchronous is None:
            return "in memory"
        if self.clients is None:
            return self.synchronous
        return f"{self.synchronous}, {self.clients} client{'s' if self.clients > 1 else ''}"

    @property
    def is_http_target(self) -> bool:
        return self.part == "http" and self.clients == HTTP_CLIENTS[0]

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "config": self.config, "instances_per_s": round(self.rate, 1)}


# --------------------------------------------------------------------------------------------------
# small helpers

def latency_summary(samples_s: list[float]) -> dict[str, float]:
    ordered = sorted(samples_s)
    return {"p50": percentile(ordered, 50) * 1000, "p99": percentile(ordered, 99) * 1000, "n": len(ordered)}


def run_timed(count: int, fn: Callable[[int], None]) -> float:
    """Call fn(0) … fn(count - 1); the wall time in seconds."""
    start = time.perf_counter()
    for i in range(count):
        fn(i)
    return time.perf_counter() - start


def warmup_count(instances: int) -> int:
    return max(20, instances // 10)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------
# 1. bare SpiffWorkflow

def load_specs() -> state.SpecPair:
    """Parse the diagram once, as the engine's spec cache does."""
    parser = ReviewflowParser()
    parser.add_bpmn_xml(etree.fromstring(DIAGRAM.read_bytes(), parser=SAFE_XML), DIAGRAM.name)
    return build_specs(parser, KEY, "bench:" + KEY)


def bare_instance(pair: state.SpecPair, approved: bool) -> None:
    def loader(_definition_id: str) -> state.SpecPair:
        return pair

    wf = state.new_workflow(pair)
    wf.do_engine_steps()
    wf = state.loads(state.dumps(wf), state.STATE_FORMAT, loader)
    (task,) = wf.get_tasks(state=TaskState.READY, manual=True)
    task.data.update({"approved": approved})
    task.run()
    wf.do_engine_steps()
    state.dumps(wf)
    if not wf.is_completed():
        raise BenchError("bare: the workflow did not complete")


def bench_bare(instances: int) -> Result:
    pair = load_specs()

    def one(i: int) -> None:
        bare_instance(pair, approved=i % 2 == 0)

    run_timed(warmup_count(instances), one)
    return Result("bare", None, None, instances, run_timed(instances, one))


# --------------------------------------------------------------------------------------------------
# 2. the engine layer on SQLite

def open_engine_db(directory: Path, synchronous: str) -> engine.Database:
    db = engine.Database(f"sqlite:///{directory / 'engine.db'}", sqlite_synchronous=synchronous)
    engine.upgrade(db)
    engine.deploy(db, files=[engine.DeployFile(DIAGRAM.name, DIAGRAM.read_bytes())], actor=ACTOR)
    return db


def engine_instance(db: engine.Database, approved: bool, latencies: dict[str, list[float]]) -> None:
    t0 = time.perf_counter()
    started = engine.start_instance(db, actor=ACTOR, definition_key=KEY)
    t1 = time.perf_counter()
    done = engine.complete_user_task(db, actor=ACTOR, task_id=started.user_tasks[0].id,
                                     variables={"approved": approved})
    t2 = time.perf_counter()
    if done.status != "completed":
        raise BenchError(f"engine: instance {done.id} is {done.status} after completing its user task")
    latencies["start"].append(t1 - t0)
    latencies["complete"].append(t2 - t1)


def bench_engine(instances: int, synchronous: str) -> Result:
    latencies: dict[str, list[float]] = {"start": [], "complete": []}
    with tempfile.TemporaryDirectory(prefix="rf-bench-engine-") as tmp:
        db = open_engine_db(Path(tmp), synchronous)
        try:
            def one(i: int) -> None:
                engine_instance(db, i % 2 == 0, latencies)

            run_timed(warmup_count(instances), one)
            for samples in latencies.values():
                samples.clear()
            seconds = run_timed(instances, one)
        finally:
            db.dispose()
    return Result("engine", synchronous, None, instances, seconds,
                  latency_ms={kind: latency_summary(v) for kind, v in latencies.items()})


# --------------------------------------------------------------------------------------------------
# 3. the HTTP path: the real server in a subprocess

class Server:
    """`reviewflow serve` in a subprocess over a fresh SQLite file in `directory`; stopped by its pid.
    The database is prepared first with a caller and its API key, so serve creates no administrator."""

    def __init__(self, directory: Path, synchronous: str, extra_env: dict[str, str] | None = None,
                 profile_to: Path | None = None) -> None:
        self.directory, self.synchronous, self.profile_to = directory, synchronous, profile_to
        self.extra_env = extra_env or {}
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.database_url = f"sqlite:///{directory / 'bench.db'}"
        self.log_path = directory / "server.log"
        self.headers: dict[str, str] = {}
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        """`.venv/bin/reviewflow serve`, spelled with this interpreter (optionally under cProfile)."""
        serve = ["-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        if self.profile_to is None:
            return [sys.executable, *serve]
        return [sys.executable, "-m", "cProfile", "-o", str(self.profile_to), *serve]

    def environment(self) -> dict[str, str]:
        bpmn_dir = self.directory / "bpmn"
        bpmn_dir.mkdir(exist_ok=True)
        shutil.copy(DIAGRAM, bpmn_dir / DIAGRAM.name)
        env = {k: v for k, v in os.environ.items() if not k.startswith("REVIEWFLOW_")}
        env.update(REVIEWFLOW_DATABASE_URL=self.database_url,
                   REVIEWFLOW_SQLITE_SYNCHRONOUS=self.synchronous, REVIEWFLOW_HOST="127.0.0.1",
                   REVIEWFLOW_PORT=str(self.port), REVIEWFLOW_BPMN_DIR=str(bpmn_dir), **self.extra_env)
        return env

    def provision_caller(self) -> str:
        """Migrate the database and create the benchmark's user; its API key."""
        db = engine.Database(self.database_url, sqlite_synchronous=self.synchronous)
        try:
            engine.upgrade(db)
            engine.create_principal(db, principal_id=HTTP_USER, roles=[HTTP_ROLE], groups=[HTTP_GROUP])
            return engine.issue_key(db, principal_id=HTTP_USER, name="bench").secret
        finally:
            db.dispose()

    def start(self) -> None:
        self.headers = {"Authorization": f"Bearer {self.provision_caller()}"}
        with self.log_path.open("wb") as out:
            self.proc = subprocess.Popen(self.command(), cwd=ROOT, env=self.environment(),
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self) -> None:
        assert self.proc is not None
        wait_ready(self.proc, self.base_url, SERVER_START_TIMEOUT_S, 0.05, log=self.log_tail)

    def cpu_seconds(self) -> float | None:
        return process_cpu_seconds(self.proc.pid) if self.proc is not None else None

    def stop(self) -> None:
        """A signal uvicorn shuts down cleanly on, SIGKILL if it hangs. Under cProfile, SIGINT: uvicorn
        re-raises the signal it caught, and only KeyboardInterrupt lets cProfile write its file."""
        stop_process(self.proc, SERVER_STOP_TIMEOUT_S, signal.SIGINT if self.profile_to is not None else signal.SIGTERM)

    def log_tail(self, lines: int = 30) -> str:
        return log_tail(self.log_path, lines)


@contextmanager
def running_server(synchronous: str, extra_env: dict[str, str], profile_dir: Path | None) -> Iterator[Server]:
    with tempfile.TemporaryDirectory(prefix="rf-bench-http-") as tmp:
        profile_to = profile_dir / f"server-{synchronous}.prof" if profile_dir else None
        server = Server(Path(tmp), synchronous, extra_env, profile_to)
        try:
            server.start()
            yield server
        finally:
            server.stop()


@dataclass
class ClientStats:
    start_s: list[float] = field(default_factory=list)
    complete_s: list[float] = field(default_factory=list)
    error: BaseException | None = None


def client_loop(server: Server, go: threading.Barrier, seconds: float, stats: ClientStats,
                approved: bool) -> None:
    """One client on one keep-alive connection: start, complete, repeat until time is up."""
    try:
        with httpx.Client(base_url=server.base_url, headers=server.headers, timeout=REQUEST_TIMEOUT_S) as client:
            go.wait()
            deadline = time.perf_counter() + seconds
            complete_body = {"variables": {"approved": approved}}
            for _ in range(int(MAX_PAIRS_PER_CLIENT_SECOND * seconds) + 1):
                if time.perf_counter() >= deadline:
                    break
                t0 = time.perf_counter()
                r = client.post("/api/v1/instances", json={"definition_key": KEY})
                t1 = time.perf_counter()
                if r.status_code != 201:
                    raise BenchError(f"start: HTTP {r.status_code}: {r.text[:300]}")
                task_id = r.json()["user_tasks"][0]["id"]
                t2 = time.perf_counter()
                r = client.post(f"/api/v1/user-tasks/{task_id}/complete", json=complete_body)
                t3 = time.perf_counter()
                if r.status_code != 200:
                    raise BenchError(f"complete: HTTP {r.status_code}: {r.text[:300]}")
                stats.start_s.append(t1 - t0)
                stats.complete_s.append(t3 - t2)
    except BaseException as exc:  # noqa: BLE001 - handed to the main thread
        stats.error = exc
        go.abort()


def drive(server: Server, clients: int, seconds: float) -> Result:
    """`clients` threads with a sync httpx.Client each, for `seconds`. Threads, not asyncio: measured
    here, httpx.AsyncClient spent about twice the driver CPU per request, CPU the server then lacks."""
    stats = [ClientStats() for _ in range(clients)]
    go = threading.Barrier(clients + 1)
    threads = [threading.Thread(target=client_loop, name=f"bench-client-{i}", daemon=True,
                                args=(server, go, seconds, s, i % 2 == 0))
               for i, s in enumerate(stats)]
    for t in threads:
        t.start()
    try:
        go.wait(timeout=30)
    except threading.BrokenBarrierError:
        pass                                           # a client failed before the start: reported below
    server_cpu0, driver_cpu0, t0 = server.cpu_seconds(), time.process_time(), time.perf_counter()
    for t in threads:
        t.join(seconds + 2 * REQUEST_TIMEOUT_S + 30)
    elapsed = time.perf_counter() - t0
    server_cpu1, driver_cpu1 = server.cpu_seconds(), time.process_time()
    for s in stats:
        if s.error is not None:
            raise BenchError(f"HTTP client failed: {s.error!r}\nserver log:\n{server.log_tail()}")
    if any(t.is_alive() for t in threads):
        raise BenchError("HTTP clients did not finish in time")
    server_cpu = None
    if server_cpu0 is not None and server_cpu1 is not None:
        server_cpu = (server_cpu1 - server_cpu0) / elapsed
    return Result("http", server.synchronous, clients, sum(len(s.complete_s) for s in stats), elapsed,
                  latency_ms={"start": latency_summary([x for s in stats for x in s.start_s]),
                              "complete": latency_summary([x for s in stats for x in s.complete_s])},
                  server_cpu=server_cpu, driver_cpu=(driver_cpu1 - driver_cpu0) / elapsed)


def bench_http(seconds: float, synchronous: str, extra_env: dict[str, str],
               profile_dir: Path | None) -> list[Result]:
    with running_server(synchronous, extra_env, profile_dir) as server:
        drive(server, HTTP_CLIENTS[0], min(3.0, max(1.0, seconds / 5)))          # warm-up
        return [drive(server, clients, seconds) for clients in HTTP_CLIENTS]


# --------------------------------------------------------------------------------------------------
# report

def bare_rate(results: list[Result]) -> float | None:
    rates = [r.rate for r in results if r.part == "bare"]
    return sum(rates) / len(rates) if rates else None


def ratios(results: list[Result]) -> dict[str, float]:
    """engine/bare and http(4 clients)/bare, per synchronous mode."""
    bare = bare_rate(results)
    if not bare:
        return {}
    return {f"{r.part} {r.config} / bare": r.rate / bare
            for r in results if r.part == "engine" or r.is_http_target}


def verdict(value: float, target: float) -> str:
    return "met" if value >= target else "MISSED"


def verdicts(results: list[Result]) -> list[str]:
    lines = []
    for name, value in ratios(results).items():
        target = TARGET_ENGINE_RATIO if name.startswith("engine") else TARGET_HTTP_RATIO
        lines.append(f"  {name:<32} {value:6.2f}   (target >= {target:.2f}: {verdict(value, target)})")
    for r in results:
        if r.is_http_target:
            lines.append(f"  http {r.config:<27} {r.rate:6.0f}/s (target >= {TARGET_HTTP_RATE:.0f}/s: "
                         f"{verdict(r.rate, TARGET_HTTP_RATE)})")
    return lines


def fmt_latency(result: Result, kind: str) -> str:
    lat = result.latency_ms.get(kind)
    return f"{lat['p50']:7.2f} {lat['p99']:7.2f}" if lat else f"{'-':>7} {'-':>7}"


def fmt_cpu(value: float | None) -> str:
    return f"{value * 100:6.0f}%" if value is not None else f"{'-':>7}"


def print_table(results: list[Result], server_env: dict[str, str]) -> None:
    bare = bare_rate(results)
    print()
    if server_env and any(r.part == "http" for r in results):
        print("server environment (diagnostic run): " + " ".join(f"{k}={v}" for k, v in server_env.items()))
    print(f"{'part':<7} {'configuration':<18} {'inst':>6} {'inst/s':>7} {'/bare':>6}  "
          f"{'start ms':^15}  {'complete ms':^15}  {'cpu srv':>7} {'cpu drv':>7}")
    print(f"{'':<7} {'':<18} {'':>6} {'':>7} {'':>6}  {'p50':>7} {'p99':>7}  {'p50':>7} {'p99':>7}")
    print("-" * 103)
    for r in results:
        rel = f"{r.rate / bare:6.2f}" if bare else f"{'-':>6}"
        print(f"{r.part:<7} {r.config:<18} {r.instances:>6} {r.rate:>7.0f} {rel}  "
              f"{fmt_latency(r, 'start')}  {fmt_latency(r, 'complete')}  "
              f"{fmt_cpu(r.server_cpu)} {fmt_cpu(r.driver_cpu)}")
    bares = [r.rate for r in results if r.part == "bare"]
    if len(bares) > 1:
        print(f"\nbare drift over the run: {bares[0]:.0f}/s -> {bares[-1]:.0f}/s "
              f"({bares[-1] / bares[0] - 1:+.0%}); ratios use the mean")
    if lines := verdicts(results):
        print("\nratios and targets:")
        print("\n".join(lines))
    if bare is None:
        print("\n(ratios need the bare part: include 'bare' in --only)")


def environment_info() -> dict[str, Any]:
    return {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "machine": platform.machine(), "cpus": os.cpu_count(),
            "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def side_by_side(runs: list[list[Result]]) -> dict[str, list[float]]:
    """Each run's figures that the targets are about, in run order: the ratios to bare, then the
    4-client HTTP rates."""
    rows: dict[str, list[float]] = {}
    for results in runs:
        for name, value in ratios(results).items():
            rows.setdefault(name, []).append(value)
        for r in results:
            if r.is_http_target:
                rows.setdefault(f"http {r.config} (instances/s)", []).append(r.rate)
    return rows


def print_runs(runs: list[list[Result]]) -> None:
    rows = side_by_side(runs)
    if len(runs) < 2 or not rows:
        return
    print(f"\n{len(runs)} runs side by side, and their median:")
    print(f"  {'':<36}" + "".join(f"{'run ' + str(i + 1):>9}" for i in range(len(runs))) + f"{'median':>9}  target")
    for name, values in rows.items():
        rate = name.endswith("(instances/s)")
        target = TARGET_HTTP_RATE if rate else TARGET_ENGINE_RATIO if name.startswith("engine") else TARGET_HTTP_RATIO
        fmt = "{:9.0f}" if rate else "{:9.2f}"
        middle = statistics.median(values)
        print(f"  {name:<36}" + "".join(fmt.format(v) for v in values) + fmt.format(middle)
              + f"  >= {target:g}: {verdict(middle, target)}")


def write_json(path: Path, args: argparse.Namespace, runs: list[list[Result]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"environment": environment_info(),
           "settings": {"instances": args.instances, "seconds": args.seconds, "only": sorted(args.only),
                        "server_env": args.server_env, "runs": args.runs},
           "runs": [{"results": [r.as_dict() for r in results], "ratios": ratios(results)} for results in runs],
           "medians": {name: statistics.median(values) for name, values in side_by_side(runs).items()},
           "targets": {"engine_ratio": TARGET_ENGINE_RATIO, "http_ratio": TARGET_HTTP_RATIO,
                       "http_rate": TARGET_HTTP_RATE}}
    path.write_text(json.dumps(doc, indent=2) + "\n")


# --------------------------------------------------------------------------------------------------
# main

def parse_only(value: str) -> set[str]:
    parts = {p.strip() for p in value.split(",") if p.strip()}
    if not parts or parts - set(PARTS):
        raise argparse.ArgumentTypeError(f"choose from {','.join(PARTS)} (got {value!r})")
    return parts


def parse_env(value: str) -> tuple[str, str]:
    name, sep, val = value.partition("=")
    if not sep or not name.startswith("REVIEWFLOW_"):
        raise argparse.ArgumentTypeError(f"expected REVIEWFLOW_NAME=VALUE (got {value!r})")
    if name in BENCH_SET_ENV:
        raise argparse.ArgumentTypeError(f"{name} is set by the benchmark")
    return name, val


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.engine",
                                     description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=1000,
                        help="instances for the bare and engine parts (default 1000)")
    parser.add_argument("--seconds", type=float, default=15.0,
                        help="duration of each HTTP run (default 15)")
    parser.add_argument("--only", type=parse_only, default=set(PARTS), metavar="PARTS",
                        help="comma-separated subset of bare,engine,http (default: all)")
    parser.add_argument("--runs", type=int, default=3,
                        help="how many times to run the whole sequence (default 3: targets are judged on the "
                             "median)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON here")
    parser.add_argument("--server-env", type=parse_env, action="append", default=[], metavar="REVIEWFLOW_X=V",
                        help="extra server environment, for diagnostic runs (e.g. REVIEWFLOW_AUDIT=false)")
    parser.add_argument("--profile-server", type=Path, metavar="DIR",
                        help="run the HTTP server under cProfile and write DIR/server-<mode>.prof "
                             "(slows the server: its throughput is then not comparable)")
    return parser


def run(args: argparse.Namespace) -> list[Result]:
    results: list[Result] = []

    def record(result: Result) -> None:
        results.append(result)
        log(f"  {result.part:<6} {result.config:<18} {result.rate:8.0f} instances/s")

    if "bare" in args.only:
        log("bare SpiffWorkflow …")
        record(bench_bare(args.instances))
    if "engine" in args.only:
        for mode in SYNC_MODES:
            log(f"engine on SQLite, synchronous={mode} …")
            record(bench_engine(args.instances, mode))
    if "http" in args.only:
        for mode in SYNC_MODES:
            log(f"HTTP, synchronous={mode}: {' then '.join(map(str, HTTP_CLIENTS))} clients, "
                f"{args.seconds:g} s each …")
            for result in bench_http(args.seconds, mode, args.server_env, args.profile_server):
                record(result)
    if "bare" in args.only and len(args.only) > 1:
        log("bare SpiffWorkflow again (drift check) …")
        record(bench_bare(args.instances))
    return results


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.instances < 1 or args.seconds <= 0 or args.runs < 1:
        print("--instances, --seconds and --runs must be positive", file=sys.stderr)
        return 2
    args.server_env = dict(args.server_env)
    if args.profile_server:
        args.profile_server = args.profile_server.resolve()
        args.profile_server.mkdir(parents=True, exist_ok=True)
    runs: list[list[Result]] = []
    try:
        for n in range(args.runs):
            if args.runs > 1:
                log(f"run {n + 1} of {args.runs}")
            runs.append(run(args))
            if args.runs > 1:
                print(f"\nrun {n + 1} of {args.runs}")
            print_table(runs[-1], args.server_env)
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    print_runs(runs)
    if args.json:
        write_json(args.json, args, runs)
        print(f"\nresults written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
