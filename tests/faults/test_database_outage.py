"""The database goes away for five seconds while a server is busy. Every answer meanwhile is a 503
with Retry-After — never a 500 — over connections that stay open; /api/v1/health keeps answering;
a start refused with "nothing was changed" made no case. Afterwards the same server process serves
normally again, without a restart.

PostgreSQL: the server reaches the database through a TCP proxy of the test's own (the machine's
PostgreSQL server is shared, and is never stopped); cutting the proxy closes every open connection
and refuses new ones. SQLite: another connection holds the database with BEGIN EXCLUSIVE, and the
server waits at most a second for a lock (REVIEWFLOW_SQLITE_BUSY_TIMEOUT_MS=1000, an operator's
setting) before answering 503.
"""

from __future__ import annotations

import base64
import http.client
import itertools
import json
import sqlite3
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from tests.conftest import PG_URL
from tests.faults.conftest import Cluster, Proxy, ServerProc

OUTAGE_S = 5.0
RECOVERY_LIMIT_S = 30.0          # every kind of request must be served again by then (a bound, not a target)
TASKS = 10                       # open user tasks to complete, taken in turn


class KeepAlive(http.client.HTTPConnection):
    """One HTTP/1.1 connection, kept open between requests; counts how often it had to connect."""

    def __init__(self, port: int) -> None:
        super().__init__("127.0.0.1", port, timeout=30)
        self.connects = 0

    def connect(self) -> None:
        self.connects += 1
        super().connect()


@dataclass(frozen=True)
class Seen:
    kind: str
    phase: str                     # "outage" or "after"
    status: int | None             # None: no answer (the connection failed)
    retry_after: str | None
    connection: str | None         # the Connection header ("close" means the server drops it)
    code: str | None
    message: str | None
    business_key: str | None = None


class Client:
    """Sends one kind of request over its own kept-alive connection, again and again."""

    def __init__(self, kind: str, port: int, authorization: str, make: Callable[[int], tuple[str, str, Any]]) -> None:
        self.kind, self.make, self.authorization = kind, make, authorization
        self.conn = KeepAlive(port)
        self.n = itertools.count()

    def once(self, phase: str) -> Seen:
        method, path, body = self.make(next(self.n))
        headers = {"Authorization": self.authorization, "Idempotency-Key": str(uuid.uuid4())}
        payload = None
        if body is not None:
            payload = json.dumps(body)
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, body=payload, headers=headers)
            response = self.conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            return Seen(self.kind, phase, None, None, None, None, None)
        code = message = None
        try:
            data = json.loads(raw) if raw else None
            error = data.get("error") if isinstance(data, dict) else None
            code = error.get("code") if error else (data.get("type") if isinstance(data, dict) else None)
            message = error.get("message") if error else (data.get("message") if isinstance(data, dict) else None)
        except ValueError:
            pass
        business_key = body.get("business_key") if isinstance(body, dict) else None
        return Seen(self.kind, phase, response.status, response.getheader("Retry-After"),
                    response.getheader("Connection"), code, message, business_key)


def test_a_database_gone_for_five_seconds_is_503_with_retry_after_then_served_again_without_a_restart(
        cluster: Cluster) -> None:
    with outage_for(cluster) as (server, cut, restore):
        clients = prepare(cluster, server)
        seen: list[Seen] = []
        lock = threading.Lock()
        phase = {"now": "before"}
        stop = threading.Event()
        served_again: set[str] = set()

        def loop(client: Client) -> None:
            while not stop.is_set():
                current = phase["now"]
                if current == "before":
                    time.sleep(0.01)
                    continue
                answer = client.once(current)
                with lock:
                    seen.append(answer)
                    if current == "after" and answer.status is not None and answer.status < 300:
                        served_again.add(client.kind)
                if current == "after" and client.kind in served_again:
                    return
                time.sleep(0.1)

        threads = [threading.Thread(target=loop, args=(c,), daemon=True) for c in clients]
        for t in threads:
            t.start()
        cut()
        phase["now"] = "outage"
        time.sleep(OUTAGE_S)
        restore()
        phase["now"] = "after"
        deadline = time.monotonic() + RECOVERY_LIMIT_S
        while len(served_again) < len(clients) and time.monotonic() < deadline:
            time.sleep(0.1)
        stop.set()
        for t in threads:
            t.join(timeout=30)
        normal = [c.once("normal") for c in clients]                     # and once more, all served
        connects = {c.kind: c.conn.connects for c in clients}
        for c in clients:
            c.conn.close()
        alive, starts = server.alive(), server.starts

    during = [s for s in seen if s.phase == "outage"]
    summary = Counter((s.kind, s.status) for s in during)
    print(f"\n[{cluster.name}] during the outage: {dict(summary)}; served again: {sorted(served_again)}; "
          f"connections opened per client: {connects}")
    problems: list[str] = []
    if bad := [s for s in seen if s.status is None or (s.status >= 500 and s.status != 503)]:
        problems.append(f"{len(bad)} answers were a server error or no answer at all: {bad[:3]}")
    if no_retry := [s for s in seen if s.status == 503 and s.kind != "health" and not s.retry_after]:
        problems.append(f"{len(no_retry)} 503s without Retry-After: {no_retry[:3]}")
    if closing := [s for s in seen if s.connection and s.connection.lower() == "close"]:
        problems.append(f"{len(closing)} answers closed the connection: {closing[:3]}")
    if reconnected := {k: n for k, n in connects.items() if n != 1}:
        problems.append(f"connections not kept alive through the outage (connects per client): {reconnected}")
    if not any(s.status == 503 for s in during if s.kind in ("start", "complete", "fetch")):
        problems.append(f"no write was refused with a 503 while the database was gone: {dict(summary)}")
    health = [s for s in during if s.kind == "health"]
    if not health or any(s.status not in (200, 503) for s in health):
        problems.append(f"/api/v1/health did not keep answering: {health}")
    if missing := {c.kind for c in clients} - served_again:
        problems.append(f"not served again within {RECOVERY_LIMIT_S:.0f} s of the database coming back: {missing}")
    if wrong := [s for s in normal if s.status is None or s.status >= 300]:
        problems.append(f"not served normally afterwards: {wrong}")
    if not alive or starts != 1:
        problems.append(f"the server was restarted or died (alive={alive}, starts={starts})")
    problems += check_refused_starts_made_no_case(cluster, seen + normal)
    assert not problems, "\n".join(problems)


def check_refused_starts_made_no_case(cluster: Cluster, seen: list[Seen]) -> list[str]:
    """A start refused with "nothing was changed" has no case; one that answered 201 has one."""
    problems = []
    with cluster.db.engine.connect() as conn:
        existing = set(conn.execute(sa.text("SELECT business_key FROM instance WHERE business_key LIKE 'OUTAGE-%'"))
                       .scalars())                                    # each run's keys are its own (OUTAGE-<run>-n)
    for s in seen:
        if s.kind != "start" or s.business_key is None:
            continue
        if s.status == 201 and s.business_key not in existing:
            problems.append(f"start {s.business_key} answered 201 but made no case")
        if s.status == 503 and "nothing was changed" in (s.message or "") and s.business_key in existing:
            problems.append(f"start {s.business_key} answered 503 'nothing was changed' but made a case")
    return problems


def prepare(cluster: Cluster, server: ServerProc) -> list[Client]:
    """Work to do before the database goes: open tasks to complete, and one client per kind of
    request — a start, a list, a completion, a worker's fetch, the health check."""
    people = f"Bearer {cluster.keys['alice']}"
    basic = base64.b64encode(f"worker-a:{cluster.keys['worker-a']}".encode()).decode()
    run = uuid.uuid4().hex[:8]
    with cluster.client(server.url) as alice:
        tasks = []
        for _ in range(TASKS):
            answer = alice.post("/api/v1/instances", json={"definition_key": "one_user_task"})
            assert answer.status_code == 201, answer.text
            tasks.append(answer.json()["user_tasks"][0]["id"])
        assert alice.get("/api/v1/health").status_code == 200
    port = server.port
    return [
        Client("start", port, people, lambda n: ("POST", "/api/v1/instances",
                                                 {"definition_key": "one_user_task",
                                                  "business_key": f"OUTAGE-{run}-{n}"})),
        Client("list", port, people, lambda n: ("GET", "/api/v1/instances?limit=5", None)),
        Client("complete", port, people, lambda n: ("POST", f"/api/v1/user-tasks/{tasks[n % TASKS]}/complete",
                                                    {"variables": {"approved": True}})),
        Client("fetch", port, f"Basic {basic}", lambda n: ("POST", "/engine-rest/external-task/fetchAndLock", {
            "workerId": "outage", "maxTasks": 1, "topics": [{"topicName": "race", "lockDuration": 1000}]})),
        Client("health", port, people, lambda n: ("GET", "/api/v1/health", None)),
    ]


@contextmanager
def outage_for(cluster: Cluster) -> Iterator[tuple[ServerProc, Callable[[], None], Callable[[], None]]]:
    """A server of its own, and how to take its database away and give it back."""
    if cluster.name == "postgresql":
        target = sa.engine.make_url(PG_URL or "")
        proxy = Proxy(target.host or "127.0.0.1", target.port or 5432).start()
        try:
            server = cluster.server("outage-server", database_url=cluster.backend.url(port=proxy.port))
            yield server, proxy.cut, proxy.restore
        finally:
            proxy.close()
        return
    server = cluster.server("outage-server", sqlite_busy_timeout_ms="1000")
    holder = sqlite3.connect(cluster.db.url.removeprefix("sqlite:///"), isolation_level=None, timeout=30)
    try:
        yield server, lambda: holder.execute("BEGIN EXCLUSIVE"), lambda: holder.execute("ROLLBACK")
    finally:
        if holder.in_transaction:
            holder.execute("ROLLBACK")
        holder.close()
