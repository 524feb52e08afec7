"""How the reads answer at 100,000 cases (issue 16): the instance lists with filters, sorts and later
pages, counts, /engine-rest's process-instance list and count, variable filters, withIncident,
incidents, history, a group's task lists and an instance's page; the serving process's RSS and the
database's size per completed case. Targets: p99 under 50 ms, RSS under 250 MB — measured here,
never asserted in a test.

  python -m bench.scale [--instances 100000] [--open 0.1] [--requests 100] [--database-url URL]
                        [--workdir /tmp/reviewflow-bench-scale] [--reuse] [--only withIncident]
  python -m bench.scale --engine-only     # a case looping 1000 times; a multi-instance over 100 agencies

The rows are the engine's own: `reviewflow demo` drives an LCSPR case and a Learning Dissemination
case to their end through the real server and workers, and the engine starts a handful of Rapid
Reviews that stay open (their agencies asked, one with an incident, one shared with the Case Review
Group). Those cases' rows — instance, user and external tasks, incidents, message subscriptions,
shares, history and the variable index — are then copied in bulk with new ids, business keys, case
references and start dates spread over three years, until there are --instances cases, --open of them open. An open copy
gets new task ids inside its serialized state too, so its tasks can be read and completed; a completed
copy keeps its template's internal task ids (nothing refers to them). Documents and the audit trail
are not copied. `reviewflow serve` (one uvicorn process on 127.0.0.1) then answers --requests
sequential GETs per route on one keep-alive connection, after one warm-up.

SQLite by default (a file under --workdir); --database-url postgresql://... fills that database
instead (its tables are dropped and created again: give it a scratch database).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from bench._common import BenchError, free_port, log_tail, percentile, stop_process, timed_gets, wait_ready

ROOT = Path(__file__).resolve().parents[1]
TARGET_MS = 50
TARGET_RSS_MB = 250
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
AGENCIES = ["Police", "Integrated care board", "Local authority children's services"]
BATCH = 500


def _template(workdir: Path, url: str) -> dict[str, str]:
    """Real cases in the scratch database: two completed by the demo, six open Rapid Reviews."""
    import engine  # noqa: PLC0415
    from api.cli import open_database  # noqa: PLC0415
    from api.demo import Demo  # noqa: PLC0415
    from api.settings import ServerSettings  # noqa: PLC0415

    if url.startswith("postgresql"):
        _drop_everything(url)
    db = open_database(ServerSettings(database_url=url, site_dir=workdir / "site", sqlite_synchronous="NORMAL"))
    demo = Demo(root=workdir / "demo", out=lambda *a: None, db=db)
    demo.start()
    try:
        for decision, key in (("lcspr", "TPL-LCSPR"), ("learning_dissemination", "TPL-LD")):
            result = demo.run_case(decision, key)
            if result["case"]["status"] != "completed":
                raise BenchError(f"the {decision} template case did not complete")
        keys = dict(demo.keys)
    finally:
        demo.stop()
    bu = engine.Actor("bu-officer", frozenset({"business-unit"}))
    worker = engine.Actor.system("worker")
    today = datetime.now(UTC).date()
    opened = []
    for n in range(6):
        case = engine.start_instance(db, actor=bu, definition_key="rapid_review", business_key=f"TPL-OPEN-{n}")
        opened.append(case.id)
        if n == 0:
            engine.share_case(db, actor=engine.Actor.system("admin"), instance_id=case.id, group="case-review-group")
        if n < 2:
            continue                                     # the notification is still to be recorded
        sent = today - timedelta(days=3 * n)
        engine.complete_user_task(db, actor=bu, task_id=case.user_tasks[0].id, variables={
            "case_reference": f"CR-TPL-{n}", "became_aware_on": (sent - timedelta(days=2)).isoformat(),
            "sin_sent_on": sent.isoformat(), "incident_type": "serious_harm", "agencies": AGENCIES,
            "confidential_names": [f"Child {n}"], "child_looked_after": False})
    failed = False
    while True:                                          # the agencies are asked; one request fails for good
        locked = engine.fetch_and_lock(db, actor=worker, worker_id="demo-worker", max_tasks=50,
                                       topics=[engine.TopicRequest("information-request", 600_000)]).tasks
        if not locked:
            break
        for t in locked:
            if not failed and t.task.instance_id in opened:
                engine.handle_failure(db, actor=worker, task_id=t.task.id, worker_id="demo-worker",
                                      error_message="the agency's mailbox refused the request",
                                      error_details=None, retries=0, retry_timeout_ms=0)
                failed = True
            else:
                engine.complete_external_task(db, actor=worker, task_id=t.task.id, worker_id="demo-worker")
    db.dispose()
    return keys


def _drop_everything(url: str) -> None:
    eng = sa.create_engine(url)
    with eng.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    eng.dispose()


CLONED = ("instance", "user_task", "external_task", "incident", "message_subscription", "case_share", "history_event")


def _fill(url: str, instances: int, open_share: float, seed: int = 16) -> dict[str, int]:
    """Copy the template cases in bulk until there are `instances`, `open_share` of them open."""
    from engine.store import tables, variable_index  # noqa: PLC0415

    eng = sa.create_engine(url)
    if url.startswith("sqlite"):
        @sa.event.listens_for(eng, "connect")
        def _fast(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.execute("PRAGMA synchronous=OFF")
    rng = random.Random(seed)
    with eng.connect() as conn:
        rows = {name: [dict(r._mapping) for r in conn.execute(sa.select(tables.metadata.tables[name]))]
                for name in CLONED}
    by_instance: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for name in CLONED[1:]:
        for r in rows[name]:
            by_instance.setdefault(r["instance_id"], {}).setdefault(name, []).append(r)
    completed = [r for r in rows["instance"] if r["status"] == "completed"]
    active = [r for r in rows["instance"] if r["status"] == "active"]
    if not completed or not active:
        raise BenchError("the template has no completed or no open case")
    todo = instances - len(rows["instance"])
    n_open = max(0, round(instances * open_share) - len(active))
    now = datetime.now(UTC)
    written = ("instance", "instance_variable", *CLONED[1:])     # the variable index follows its instance
    batch: dict[str, list[dict[str, Any]]] = {name: [] for name in written}
    t0 = time.perf_counter()

    def flush() -> None:
        with eng.begin() as conn:
            for name in written:
                if batch[name]:
                    conn.execute(tables.metadata.tables[name].insert(), batch[name])
                    batch[name].clear()

    for n in range(todo):
        is_open = n < n_open
        tpl = active[n % len(active)] if is_open else completed[n % len(completed)]
        new_id = str(uuid.uuid4())
        ids = {tpl["id"]: new_id}
        state = tpl["state"]
        if is_open:                                       # its tasks are live: new ids, inside the state too
            for found in set(UUID_RE.findall(state)):
                ids.setdefault(found, str(uuid.uuid4()))
            state = UUID_RE.sub(lambda m, ids=ids: ids.get(m.group(0), m.group(0)), state)  # type: ignore[misc]
        shift = (now - timedelta(days=rng.uniform(0, 3 * 365))) - _aware(tpl["started_at"])
        number = f"{n:07d}"
        variables = dict(tpl["variables"])
        for name, value in list(variables.items()):
            if name == "case_reference" or (isinstance(value, str) and value.startswith("CR-")):
                variables[name] = f"CR-{number}"
        variables["incident_type"] = rng.choice(["serious_harm", "death", "serious_harm", "serious_harm"])
        key = f"SIN-{number}"
        batch["instance"].append({**tpl, "id": new_id, "business_key": key, "state": state, "variables": variables,
                                  "unique_key": None, **_shifted(tpl, shift, "started_at", "updated_at",
                                                                 "ended_at", "next_timer_at")})
        batch["instance_variable"] += variable_index.rows(new_id, variables)
        for name, children in by_instance.get(tpl["id"], {}).items():
            for child in children:
                copy = {**child, "instance_id": new_id, **_shifted(child, shift, "created_at", "at", "shared_at",
                                                                   "claimed_at", "lock_expires_at", "resolved_at")}
                if "business_key" in copy and copy["business_key"] is not None:
                    copy["business_key"] = key
                for column in ("id", "task_id"):
                    if column in copy and copy[column] is not None and name != "history_event":
                        copy[column] = ids.setdefault(copy[column], str(uuid.uuid4()))
                if name == "history_event":
                    copy.pop("id")
                    if copy["task_id"] is not None:
                        copy["task_id"] = ids.get(copy["task_id"], copy["task_id"])
                batch[name].append(copy)
        if len(batch["instance"]) >= BATCH:
            flush()
        if (n + 1) % 10_000 == 0:
            print(f"  {n + 1 + len(rows['instance'])} cases in {time.perf_counter() - t0:.0f} s", flush=True)
    flush()
    if eng.dialect.name == "postgresql":     # as autovacuum leaves bulk-inserted tables: statistics, and
        with eng.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:   # the visibility map
            conn.execute(sa.text("VACUUM (ANALYZE)"))                                 # index-only scans need
    with eng.begin() as conn:
        if eng.dialect.name != "postgresql":
            conn.execute(sa.text("ANALYZE"))
        counts = dict(conn.execute(sa.text("SELECT status, count(*) FROM instance GROUP BY status")).all())
    eng.dispose()
    return counts


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _shifted(row: dict[str, Any], shift: timedelta, *columns: str) -> dict[str, Any]:
    out = {}
    for column in columns:
        value = row.get(column)
        if isinstance(value, datetime):
            moved = _aware(value) + shift
            out[column] = moved if value.tzinfo is not None else moved.replace(tzinfo=None)
    return out


LOOP = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:process id="chase_loop" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="chase" name="Chase the agency"/>
    <bpmn:scriptTask id="count"><bpmn:script>rounds = rounds + 1</bpmn:script></bpmn:scriptTask>
    <bpmn:exclusiveGateway id="answered" default="again"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="chase"/>
    <bpmn:sequenceFlow id="f2" sourceRef="chase" targetRef="count"/>
    <bpmn:sequenceFlow id="f3" sourceRef="count" targetRef="answered"/>
    <bpmn:sequenceFlow id="done" sourceRef="answered" targetRef="end">
      <bpmn:conditionExpression>answered</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="again" sourceRef="answered" targetRef="chase"/>
  </bpmn:process>
  <bpmn:process id="agencies_mi" isExecutable="true">
    <bpmn:startEvent id="mi_start"/>
    <bpmn:userTask id="agency_return" name="Send the agency's return">
      <bpmn:multiInstanceLoopCharacteristics>
        <bpmn:loopDataInputRef>agencies</bpmn:loopDataInputRef><bpmn:loopDataOutputRef>returns</bpmn:loopDataOutputRef>
        <bpmn:inputDataItem id="agency" name="agency"/><bpmn:outputDataItem id="agency_answer" name="agency_answer"/>
      </bpmn:multiInstanceLoopCharacteristics>
    </bpmn:userTask>
    <bpmn:endEvent id="mi_end"/>
    <bpmn:sequenceFlow id="m1" sourceRef="mi_start" targetRef="agency_return"/>
    <bpmn:sequenceFlow id="m2" sourceRef="agency_return" targetRef="mi_end"/>
  </bpmn:process>
</bpmn:definitions>"""


def engine_costs(workdir: Path, rounds: int = 1000, agencies: int = 100) -> None:
    """Loading and saving one case at its 10th and its 1000th step (state size, time to complete a
    task), and a multi-instance over `agencies` agencies — through the engine on a scratch SQLite."""
    import engine  # noqa: PLC0415
    from engine.store.tables import instance  # noqa: PLC0415

    path = workdir / "engine-costs.db"
    for old in workdir.glob("engine-costs.db*"):
        old.unlink()
    db = engine.Database(f"sqlite:///{path}", sqlite_synchronous="NORMAL")
    engine.upgrade(db)
    actor = engine.Actor.system("bench")
    engine.deploy(db, files=[engine.DeployFile("costs.bpmn", LOOP)], actor=actor)

    def size(instance_id: str) -> int:
        with db.read() as conn:
            return len(conn.execute(sa.select(instance.c.state).where(instance.c.id == instance_id)).scalar_one())

    case = engine.start_instance(db, actor=actor, definition_key="chase_loop",
                                 variables={"rounds": 0, "answered": False})
    times: dict[int, float] = {}
    sizes: dict[int, int] = {}
    for n in range(1, rounds + 1):
        t0 = time.perf_counter()
        case = engine.complete_user_task(db, actor=actor, task_id=case.user_tasks[0].id,
                                         variables={"answered": n == rounds})
        times[n] = (time.perf_counter() - t0) * 1000
        sizes[n] = size(case.id)
    around = {m: sorted(times[k] for k in range(max(1, m - 9), m + 1))[4] for m in (10, 100, rounds - 1)}
    print(f"a case looping {rounds} times (user task, script, gateway): state {sizes[10] / 1e3:.1f} kB at step 10, "
          f"{sizes[100] / 1e3:.1f} at 100, {sizes[rounds - 1] / 1e3:.1f} at {rounds - 1} "
          f"(largest {max(sizes.values()) / 1e3:.1f}); completing a task (load, run, save) "
          f"{around[10]:.1f} ms at step 10, "
          f"{around[100]:.1f} at 100, {around[rounds - 1]:.1f} at {rounds - 1} (median of the 10 steps up to each); "
          f"{case.status}, rounds = {engine.get_instance(db, instance_id=case.id).variables.get('rounds')}")
    names = [f"Agency {i:03d}" for i in range(agencies)]
    t0 = time.perf_counter()
    case = engine.start_instance(db, actor=actor, definition_key="agencies_mi", variables={"agencies": names})
    started = (time.perf_counter() - t0) * 1000
    open_tasks = len(case.user_tasks)
    mi_times = []
    tasks = [t.id for t in case.user_tasks]
    for i, task_id in enumerate(tasks):
        t0 = time.perf_counter()
        case = engine.complete_user_task(db, actor=actor, task_id=task_id, variables={"agency_answer": f"return {i}"})
        mi_times.append((time.perf_counter() - t0) * 1000)
    returns = engine.get_instance(db, instance_id=case.id).variables.get("returns") or []
    print(f"a multi-instance over {agencies} agencies: start {started:.0f} ms ({open_tasks} open tasks, state "
          f"{size(case.id) / 1e3:.0f} kB at the end); completing one return {percentile(sorted(mi_times), 50):.1f} ms "
          f"median, first {mi_times[0]:.1f}, last {mi_times[-1]:.1f}; {case.status} with {len(returns)} returns")
    db.dispose()


def database_size(url: str, db_path: Path | None) -> int:
    if db_path is not None:
        return sum(p.stat().st_size for p in db_path.parent.glob(db_path.name + "*"))
    eng = sa.create_engine(url)
    with eng.connect() as conn:
        size = int(conn.execute(sa.text("SELECT pg_database_size(current_database())")).scalar_one())
    eng.dispose()
    return size


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timed(client: httpx.Client, path: str, requests: int) -> tuple[list[float], httpx.Response]:
    """`requests` timed GETs after one warm-up; only 5 when the warm-up took over a second, and the
    warm-up alone over 5 s (slow routes before the fixes would take hours at 100 each)."""
    t0 = time.perf_counter()
    answer = client.get(path)                            # warm: caches, the first parse of the diagrams
    warm = (time.perf_counter() - t0) * 1000
    if answer.status_code != 200:
        raise BenchError(f"GET {path}: {answer.status_code} {answer.text[:300]}")
    if warm > 5000:                                      # minutes at 100 requests: the warm-up alone says enough
        return [warm], answer
    if warm > 1000:
        requests = min(requests, 5)
    return timed_gets(client, path, requests)


def routes(client: httpx.Client) -> list[tuple[str, str]]:
    """(who, path) per measured row; ids come from the data."""
    one_open = client.get("/api/v1/instances", params={"status": "active", "limit": 1}).json()["data"][0]["id"]
    done = client.get("/api/v1/instances", params={"status": "completed", "limit": 1, "offset": 777}).json()["data"][0]
    ref = "CR-0012345"
    return [
        ("bu", "/api/v1/instances?limit=50"),
        ("bu", "/api/v1/instances?limit=50&offset=5000"),
        ("bu", "/api/v1/instances?limit=50&status=active"),
        ("bu", "/api/v1/instances?limit=50&status=completed&offset=2000"),
        ("bu", "/api/v1/instances?limit=50&definition_key=rapid_review&status=active"),
        ("bu", f"/api/v1/instances?business_key={done['business_key']}"),
        ("bu", "/engine-rest/process-instance?maxResults=50"),
        ("bu", "/engine-rest/process-instance?maxResults=50&firstResult=5000"),
        ("bu", "/engine-rest/process-instance?maxResults=50&sortBy=businessKey&sortOrder=asc"),
        ("bu", "/engine-rest/process-instance?maxResults=50&active=true&sortBy=startTime&sortOrder=asc"),
        ("bu", "/engine-rest/process-instance/count"),
        ("bu", "/engine-rest/process-instance/count?active=true"),
        ("bu", f"/engine-rest/process-instance?maxResults=50&variables=case_reference_eq_{ref}"),
        ("bu", "/engine-rest/process-instance?maxResults=50&variables=incident_type_eq_death"),
        ("bu", "/engine-rest/process-instance/count?variables=incident_type_eq_death"),
        ("bu", "/engine-rest/process-instance?maxResults=50&withIncident=true"),
        ("bu", "/engine-rest/process-instance/count?withIncident=true"),
        ("bu", "/api/v1/incidents?limit=50"),
        ("bu", "/engine-rest/incident/count"),
        ("bu", f"/api/v1/instances/{done['id']}/history"),
        ("bu", "/api/v1/user-tasks?candidate_group=business-unit&limit=50"),
        ("bu", "/engine-rest/task?candidateGroup=business-unit&maxResults=50"),
        ("bu", "/engine-rest/task/count?candidateGroup=business-unit"),
        ("bu", f"/api/v1/instances/{one_open}"),
        ("bu", f"/api/v1/instances/{done['id']}"),
        ("crg", "/api/v1/instances?limit=50"),
        ("crg", "/api/v1/user-tasks?limit=50"),
        ("lead", "/api/v1/user-tasks?limit=50"),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=100_000)
    parser.add_argument("--open", type=float, default=0.1, help="the share of cases still open")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--database-url", default=None, help="a scratch PostgreSQL database (default: SQLite)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/reviewflow-bench-scale"))
    parser.add_argument("--reuse", action="store_true", help="keep the database of an earlier run")
    parser.add_argument("--only", default="", help="time only the routes whose path contains this")
    parser.add_argument("--engine-only", action="store_true",
                        help="only the long-lived case and the multi-instance, no database to fill")
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    if args.engine_only:
        engine_costs(args.workdir)
        return 0
    db_path = None if args.database_url else args.workdir / f"scale-{args.instances}.db"
    url = args.database_url or f"sqlite:///{db_path}"
    keys_path = args.workdir / f"scale-{args.instances}{'-pg' if args.database_url else ''}.keys"
    if not (args.reuse and keys_path.exists() and (db_path is None or db_path.exists())):
        shutil.rmtree(args.workdir / "demo", ignore_errors=True)
        args.workdir.mkdir(parents=True, exist_ok=True)
        if db_path is not None:
            for old in db_path.parent.glob(db_path.name + "*"):
                old.unlink()
        t0 = time.perf_counter()
        print(f"template cases in {url} ...", flush=True)
        keys = _template(args.workdir, url)
        print(f"  in {time.perf_counter() - t0:.0f} s; copying to {args.instances} cases ...", flush=True)
        counts = _fill(url, args.instances, args.open)
        keys_path.write_text(json.dumps(keys))
        print(f"built {counts} in {time.perf_counter() - t0:.0f} s", flush=True)
    keys = json.loads(keys_path.read_text())
    eng = sa.create_engine(url)
    with eng.connect() as conn:
        completed = conn.execute(sa.text("SELECT count(*) FROM instance WHERE status = 'completed'")).scalar_one()
        total = conn.execute(sa.text("SELECT count(*) FROM instance")).scalar_one()
        state_avg = conn.execute(sa.text("SELECT avg(length(state)) FROM (SELECT state FROM instance "
                                         "WHERE status = 'completed' LIMIT 500) AS sample")).scalar_one()
    eng.dispose()
    size = database_size(url, db_path)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("REVIEWFLOW_")}
    env.update(REVIEWFLOW_DATABASE_URL=url, REVIEWFLOW_TIMERS="false", REVIEWFLOW_WORKERS="false",
               REVIEWFLOW_LOG_LEVEL="WARNING", REVIEWFLOW_BPMN_DIR=str(ROOT / "bpmn"),
               REVIEWFLOW_SITE_DIR=str(args.workdir / "site"))
    log = args.workdir / "server.log"
    proc = None
    lead = next((k for k in keys if k.startswith("lead-")), "bu-officer")
    who = {"bu": "bu-officer", "crg": "crg-chair", "lead": lead}
    try:
        with log.open("wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--no-deploy", "--host", "127.0.0.1",
                                     "--port", str(port)], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.STDOUT)
        wait_ready(proc, base, 120, log=lambda: log_tail(log))
        clients = {k: httpx.Client(base_url=base, timeout=120, trust_env=False,
                                   headers={"Authorization": f"Bearer {keys[v]}"}) for k, v in who.items()}
        print(f"\n{total} cases, {completed} completed, on {url.split(':')[0]}; {args.requests} sequential requests "
              f"per row after one warm-up ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
              f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())})\n")
        print(f"{'who':<5} {'GET':<82} {'rows':>6} {'count':>8} {'p50 ms':>8} {'p99 ms':>8} {'n':>4}")
        worst = 0.0
        for user, path in routes(clients["bu"]):
            if args.only not in path:
                continue
            times, answer = timed(clients[user], path, args.requests)
            body = answer.json()
            rows = len(body["data"]) if isinstance(body, dict) and "data" in body else (
                len(body) if isinstance(body, list) else 1)
            count = body.get("count", "") if isinstance(body, dict) else ""
            p50, p99 = percentile(times, 50), percentile(times, 99)
            worst = max(worst, p99)
            flag = "" if p99 < TARGET_MS else "  OVER"
            if isinstance(body, dict) and body.get("count_exact") is False:
                count = f"~{count}"
            print(f"{user:<5} {path[:82]:<82} {rows:>6} {count!s:>8} {p50:>8.1f} {p99:>8.1f} {len(times):>4}{flag}",
                  flush=True)
        rss = rss_mb(proc.pid)
        for c in clients.values():
            c.close()
        print(f"\nworst p99: {worst:.1f} ms (target {TARGET_MS} ms); "
              f"server RSS {rss:.0f} MB (target {TARGET_RSS_MB} MB)")
        print(f"database {size / 1e6:.0f} MB: {size / max(completed, 1) / 1e3:.1f} kB per completed case "
              f"(all rows / completed cases); a completed case's state {float(state_avg or 0) / 1e3:.1f} kB "
              f"(500 sampled); "
              f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        return 0
    finally:
        stop_process(proc, 10)


if __name__ == "__main__":
    raise SystemExit(main())
