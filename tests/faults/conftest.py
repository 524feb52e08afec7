"""The fault suite's real processes: `reviewflow serve` servers and Camunda-client workers on
127.0.0.1, sharing the test's database (the same SQLite file, or the session's PostgreSQL schema);
an HTTP client that retries as a careful one does; and a TCP proxy that can cut PostgreSQL off
without touching the machine's shared server.

Every process is started here and stopped here, by its pid (its process group: a server's script
sandboxes go with it), also when the test fails; then the tail of each one's log is printed.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

import engine
from tests.conftest import BACKENDS, BPMN, PG_URL, create_schema, drop_schema, free_port, pg_database

HERE = Path(__file__).parent
DATA = HERE / "data"
WORKER_SCRIPT = HERE / "worker.py"
START_LIMIT_S = 60.0            # a server or worker that has not come up by then has failed to start
PEOPLE = {"alice": (["business-unit", "process-owner"], ["case-review-group", "business-unit"]),
          "bob": (["crg-member"], ["case-review-group"]),
          "mary": (["crg-member"], ["case-review-group"])}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Keep each phase's report on the item, so fixtures know whether the test failed."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"rep_{report.when}", report)


# -- processes -------------------------------------------------------------------------------------

class Proc:
    """One child process in its own process group, its output appended to a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path, cwd: Path) -> None:
        self.name, self.argv, self.env, self.log_path, self.cwd = name, argv, env, log_path, cwd
        self.popen: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def spawn(self) -> None:
        with open(self.log_path, "ab") as log:
            log.write(f"\n----- {self.name}: start {self.starts + 1} -----\n".encode())
            log.flush()
            self.popen = subprocess.Popen(self.argv, env=self.env, cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, start_new_session=True)
        self.starts += 1

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL, no warning: the process and what it started (its process group)."""
        if self.popen is None:
            return
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.popen.wait(timeout=30)
        self._reap_group()

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after `grace_s`."""
        if self.popen is None:
            return
        if self.popen.poll() is None:
            try:
                os.kill(self.popen.pid, signal.SIGTERM)
                self.popen.wait(timeout=grace_s)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                pass
        self.kill()

    def _reap_group(self) -> None:
        """Anything left in the process group (a server's sandbox processes) goes too."""
        assert self.popen is not None
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def log_size(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def tail(self, lines: int = 30, *, since: int = 0) -> str:
        """The errors the log holds (from byte `since`: what this test saw), each with how often,
        then its last lines."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(since)
                text = log.read().decode(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        errors = Counter(_normalized(line) for line in text.splitlines()
                         if re.match(r"^\S+(Error|Exception)\b|.*\b(ERROR|CRITICAL)\b", line))
        summary = [f"  {n} x {line[:300]}" for line, n in errors.most_common(8)]
        return "\n".join(["errors in this log:", *(summary or ["  none"]), f"last {lines} lines:",
                          *text.splitlines()[-lines:]])


def _normalized(line: str) -> str:
    """A log line without its time and ids, so the same error counts once."""
    line = re.sub(r"\d{4}-\d\d-\d\d[T ][\d:.,]+\S*", "<time>", line.strip())
    return re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<id>", line)


class ServerProc(Proc):
    """`reviewflow serve --no-workers` on a fixed free port (kept across restarts)."""

    def __init__(self, name: str, database_url: str, workdir: Path, **settings: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = clean_env()
        env.update(REVIEWFLOW_DATABASE_URL=database_url, REVIEWFLOW_HOST="127.0.0.1",
                   REVIEWFLOW_PORT=str(self.port), REVIEWFLOW_DEPLOY_ON_START="false",
                   REVIEWFLOW_WORKERS="false", REVIEWFLOW_TIMERS="true", REVIEWFLOW_CONSOLE="false",
                   REVIEWFLOW_LOG_LEVEL="WARNING",
                   REVIEWFLOW_FIRST_KEY_FILE=str(workdir / "admin.key"), REVIEWFLOW_SITE_DIR=str(workdir / "site"),
                   REVIEWFLOW_BPMN_DIR=str(workdir / "bpmn"), PYTHONUNBUFFERED="1")
        env.update({f"REVIEWFLOW_{k.upper()}": v for k, v in settings.items()})
        argv = [sys.executable, "-m", "api.cli", "serve", "--no-workers", "--no-deploy"]
        super().__init__(name, argv, env, workdir / f"{name}.log", workdir)

    def start(self) -> ServerProc:
        """Start and wait until it answers HTTP (its health route, whatever the database says)."""
        self.spawn()
        deadline = time.monotonic() + START_LIMIT_S
        while True:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited at start-up:\n{self.tail()}")
            try:
                httpx.get(f"{self.url}/api/v1/health", timeout=2)
                return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not answer within {START_LIMIT_S:.0f} s:\n{self.tail()}")
            time.sleep(0.05)


class WorkerProc(Proc):
    """tests/faults/worker.py: the real Camunda Python client serving `topics` from two servers."""

    def __init__(self, name: str, workdir: Path, *, urls: list[str], user: str, key: str, topics: list[str],
                 lock_ms: int = 3000, handler_ms: int = 20) -> None:
        self.results = workdir / f"{name}.results.jsonl"
        env = clean_env()
        env.update(FAULT_WORKER_KEY=key, PYTHONUNBUFFERED="1")
        argv = [sys.executable, str(WORKER_SCRIPT), "--worker-id", name, "--user", user, "--topics", ",".join(topics),
                "--lock-ms", str(lock_ms), "--handler-ms", str(handler_ms), "--results", str(self.results),
                *[a for url in urls for a in ("--url", url)]]
        super().__init__(name, argv, env, workdir / f"{name}.log", workdir)

    def start(self) -> WorkerProc:
        self.worker_id = f"{self.name}-{self.starts + 1}"      # each life of the worker has its own id
        self.argv[self.argv.index("--worker-id") + 1] = self.worker_id
        self.spawn()
        return self

    def acknowledged(self) -> list[dict[str, Any]]:
        """Every answer the worker's completions got (one JSON object a line), over all its lives."""
        if not self.results.exists():
            return []
        return [json.loads(line) for line in self.results.read_text().splitlines() if line.strip()]


def stop(*procs: Proc, grace_s: float = 5.0) -> None:
    """SIGTERM to each, then wait for all (SIGKILL for those still running after `grace_s`)."""
    with ThreadPoolExecutor(max(len(procs), 1)) as pool:
        for proc, outcome in zip(procs, pool.map(lambda p: _stop_quietly(p, grace_s), procs), strict=True):
            if outcome is not None:
                print(f"could not stop {proc.name}: {outcome!r}")


def _stop_quietly(proc: Proc, grace_s: float) -> Exception | None:
    try:
        proc.stop(grace_s)
    except Exception as exc:  # noqa: BLE001 - stop the others whatever happens to one
        return exc
    return None


def clean_env() -> dict[str, str]:
    """This environment without the test run's own REVIEWFLOW_* settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith("REVIEWFLOW_")}


# -- the cluster -----------------------------------------------------------------------------------

@dataclass
class Backend:
    """The fault suite's own database: a fresh SQLite file, or a fresh PostgreSQL schema."""

    name: str
    db: engine.Database
    schema: str | None = None

    def url(self, *, port: int | None = None) -> str:
        """The URL a server process opens: the same SQLite file, or this schema on the test
        PostgreSQL server (through `port` on 127.0.0.1 instead, when given: a proxy)."""
        if self.schema is None:
            return self.db.url
        url = sa.engine.make_url(PG_URL or "").update_query_dict({"options": f"-csearch_path={self.schema}"})
        if port is not None:
            url = url.set(host="127.0.0.1", port=port)
        return url.render_as_string(hide_password=False)


@pytest.fixture(scope="package", params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
            sqlite_template: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("faults-sqlite") / "reviewflow.db"
        shutil.copy(sqlite_template, path)
        found = Backend("sqlite", engine.Database(f"sqlite:///{path}", audit_fast=True))
        try:
            yield found
        finally:
            found.db.dispose()
        return
    schema = f"rf_faults_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    create_schema(schema)
    found = Backend("postgresql", pg_database(schema), schema)
    try:
        engine.upgrade(found.db)
        yield found
    finally:
        found.db.dispose()
        drop_schema(schema)


@dataclass
class Cluster:
    """The database the processes share, the keys they use, two servers kept running for the
    whole suite (per backend), and the processes each test starts for itself."""

    backend: Backend
    workdir: Path
    keys: dict[str, str]
    pair: list[ServerProc] = field(default_factory=list)
    own: list[Proc] = field(default_factory=list)            # this test's workers and extra servers

    @property
    def db(self) -> engine.Database:
        return self.backend.db

    @property
    def name(self) -> str:
        return self.backend.name

    def servers(self) -> list[ServerProc]:
        """The two shared servers, started together the first time (as N servers starting at once on
        one database would); any a test left stopped is started again."""
        if not self.pair:
            self.pair = [ServerProc(name, self.backend.url(), self.workdir) for name in ("server-1", "server-2")]
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda s: s if s.alive() else s.start(), self.pair))
        return self.pair

    def server(self, name: str, *, database_url: str | None = None, **settings: str) -> ServerProc:
        """A server of this test's own (stopped when the test ends)."""
        proc = ServerProc(name, database_url or self.backend.url(), self.workdir, **settings)
        self.own.append(proc)
        return proc.start()

    def worker(self, name: str, *, urls: list[str], topics: list[str], **options: Any) -> WorkerProc:
        """A worker of this test's own, with its own key (stopped when the test ends)."""
        user = f"worker-{name}"
        proc = WorkerProc(name, self.workdir, urls=urls, user=user, key=self.keys[user], topics=topics, **options)
        self.own.append(proc)
        return proc.start()

    def stop_own(self) -> None:
        """This test's workers first, then its servers."""
        for kind in (WorkerProc, ServerProc):
            stop(*[p for p in self.own if isinstance(p, kind)])
        self.own.clear()

    def tails(self, since: dict[str, int] | None = None) -> str:
        """Each process's log: its errors and last lines, from where it stood in `since`."""
        return "\n".join(f"===== {p.name} (pid {p.pid if p.popen else '-'}; {p.log_path}) =====\n"
                         f"{p.tail(since=(since or {}).get(p.name, 0))}" for p in [*self.pair, *self.own])

    def client(self, url: str, user: str = "alice") -> httpx.Client:
        return httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {self.keys[user]}"})


WORKERS = ("w1", "w2", "w3", "a", "b")


@pytest.fixture(scope="package")
def shared_cluster(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """People (alice of the business unit, bob and mary of the Case Review Group) and worker
    principals with keys, the suite's diagrams deployed (fault_flow; race_task and one_user_task
    from tests/data/bpmn) — all before any server starts: a server keeps the newest audit entry in
    memory on SQLite, so nothing else writes to the database while servers run. The two shared
    servers are stopped at the end."""
    db = backend.db
    keys: dict[str, str] = {}
    for name, (roles, groups) in PEOPLE.items():
        engine.create_principal(db, principal_id=name, roles=roles, groups=groups)
        keys[name] = engine.issue_key(db, principal_id=name).secret
    for name in WORKERS:
        engine.create_principal(db, principal_id=f"worker-{name}", roles=["worker"], kind="worker")
        keys[f"worker-{name}"] = engine.issue_key(db, principal_id=f"worker-{name}").secret
    paths = [*sorted(DATA.glob("*.bpmn")), BPMN / "race_task.bpmn", BPMN / "one_user_task.bpmn"]
    engine.deploy(db, files=[engine.DeployFile(p.name, p.read_bytes()) for p in paths],
                  actor=engine.Actor.system("fault-suite"))
    c = Cluster(backend=backend, workdir=tmp_path_factory.mktemp(f"faults-{backend.name}-procs"), keys=keys)
    try:
        yield c
    finally:
        stop(*c.pair)


@pytest.fixture
def cluster(shared_cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """The suite's cluster for one test: the processes the test starts are stopped when it ends;
    if it failed, the last lines of every process's log are printed."""
    marks = {p.name: p.log_size() for p in shared_cluster.pair}
    try:
        yield shared_cluster
    finally:
        shared_cluster.stop_own()
        if any(getattr(getattr(request.node, f"rep_{when}", None), "failed", False) for when in ("setup", "call")):
            print(f"\n[fault suite] what the processes logged during this test:\n{shared_cluster.tails(marks)}")


# -- a careful client --------------------------------------------------------------------------------

@dataclass
class Answer:
    """How a request that may have been retried ended: its last status and body, every status it
    got on the way (None: the connection failed), and the server that gave the last answer."""

    status: int
    body: Any
    statuses: list[int | None]
    url: str


class Driver:
    """Sends a request to one server and, on a connection error, a 503, or a 409 saying its twin is
    being carried out right now, sends it again with the same Idempotency-Key to the next server —
    until `deadline_s` runs out. Records every status it saw. `also_retry`: statuses retried as
    well (a 500 is a defect the test reports, but retrying it with the same key is safe, and lets
    the run go on to check everything else)."""

    def __init__(self, urls: list[str], key: str, *, deadline_s: float = 60.0,
                 also_retry: frozenset[int] = frozenset()) -> None:
        self.urls = urls
        self.deadline_s = deadline_s
        self.also_retry = also_retry
        self.clients = [httpx.Client(base_url=u, timeout=20, headers={"Authorization": f"Bearer {key}"})
                        for u in urls]
        self.seen: list[tuple[str, str, int | None]] = []           # (method, path, status)
        self._lock = threading.Lock()

    def close(self) -> None:
        for c in self.clients:
            c.close()

    def send(self, method: str, path: str, *, json_body: Any = None, first: int = 0,
             idempotency_key: str | None = None) -> Answer:
        key = idempotency_key or str(uuid.uuid4())
        statuses: list[int | None] = []
        deadline = time.monotonic() + self.deadline_s
        attempt = first
        while True:
            client = self.clients[attempt % len(self.clients)]
            try:
                response = client.request(method, path, json=json_body, headers={"Idempotency-Key": key})
            except httpx.TransportError:
                status = None
            else:
                status = response.status_code
            statuses.append(status)
            with self._lock:
                self.seen.append((method, path, status))
            if status is not None and status not in self.also_retry and not retryable(response):
                body = response.json() if response.content else None
                return Answer(status, body, statuses, str(client.base_url))
            if time.monotonic() > deadline:
                raise TimeoutError(f"{method} {path} still failing after {self.deadline_s:.0f} s: {statuses}")
            attempt += 1
            time.sleep(0.1 if status is None else 0.3)


def retryable(response: httpx.Response) -> bool:
    if response.status_code == 503:
        return True
    if response.status_code == 409:
        try:
            return response.json()["error"]["code"] == "duplicate_request"
        except (ValueError, KeyError, TypeError):
            return False
    return False


def wait_for(condition: Callable[[], Any], *, limit_s: float, what: str, every_s: float = 0.1) -> Any:
    """Poll `condition` until it is truthy; fail with `what` after `limit_s` (a bound for
    correctness, not a speed target)."""
    deadline = time.monotonic() + limit_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {limit_s:.0f} s")
        time.sleep(every_s)


# -- history, read straight from the database ------------------------------------------------------

@dataclass(frozen=True)
class Event:
    instance_id: str
    kind: str
    task_id: str | None
    activity_id: str | None
    details: dict[str, Any]


def history(db: engine.Database, *kinds: str) -> list[Event]:
    """History events of these kinds, in the order they were written."""
    query = sa.text("SELECT instance_id, kind, task_id, activity_id, details FROM history_event "
                    "WHERE kind IN :kinds ORDER BY id").bindparams(sa.bindparam("kinds", expanding=True))
    with db.engine.connect() as conn:
        rows = conn.execute(query, {"kinds": list(kinds)}).all()
    return [Event(r.instance_id, r.kind, r.task_id, r.activity_id, _details(r.details)) for r in rows]


def _details(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    return json.loads(value) if isinstance(value, str) else dict(value)


def scalar(db: engine.Database, sql: str, **params: Any) -> Any:
    with db.engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar()


# -- a TCP proxy we can cut -----------------------------------------------------------------------

class Proxy:
    """127.0.0.1:port → target, in its own thread and event loop. `cut()` closes every open
    connection and refuses new ones (nothing listens); `restore()` listens again on the same port."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, name="pg-proxy", daemon=True)
        self._open = False                  # False while cut: a connection still being set up is dropped too

    def start(self) -> Proxy:
        self._thread.start()
        self._call(self._listen())
        return self

    def cut(self) -> None:
        self._call(self._cut())

    def restore(self) -> None:
        self._call(self._listen())

    def close(self) -> None:
        try:
            self._call(self._cut())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, reuse_address=True)
        self._open = True

    async def _cut(self) -> None:
        self._open = False
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()                     # a reset, as when a database host goes away
        self._writers.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        if not self._open:                  # cut while this one was being connected
            writer.transport.abort()
            up_writer.transport.abort()
            return
        self._writers.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                if not dst.is_closing():
                    dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers.discard(writer)
        self._writers.discard(up_writer)
