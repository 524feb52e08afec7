"""How fast the console's busiest pages render with 10,000 open cases: the dashboard (every open case,
its next statutory deadline and RAG status, overdue first) and the task list. Target: under 300 ms
on the server (issue 17) — measured here, never asserted in a test.

  python -m bench.console [--cases 10000] [--requests 30] [--workdir var/bench-console] [--reuse]

The cases are real: the bpmn/ diagrams, each case started and its notification recorded through
the engine (40% then wait for the business unit, 60% have had their agencies asked and wait for
three agencies' scoping documents; one in ten is shared with the Case Review Group), notification
dates spread over the last 18 months so that every RAG status occurs. `reviewflow serve` (one
uvicorn process, a subprocess on 127.0.0.1) serves them; one client signs in through /sign-in and
times GET requests on one keep-alive connection: the time to the whole answer is the server's
render plus a loopback round trip. Each row is timed for a person who sees every case (business
unit) and for one who sees cases by need-to-know (a Case Review Group member). --reuse keeps a
database built by an earlier run with the same --cases.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx

from bench._common import BenchError, free_port, log_tail, percentile, stop_process, timed_gets, wait_ready

ROOT = Path(__file__).resolve().parents[1]
TARGET_MS = 300
AGENCIES = ["Police", "Integrated care board", "Local authority children's services"]


def build(db_path: Path, cases: int) -> dict[str, str]:
    import engine  # noqa: PLC0415
    from api.cli import deploy_directory  # noqa: PLC0415

    db = engine.Database(f"sqlite:///{db_path}", sqlite_synchronous="NORMAL")
    engine.upgrade(db)
    deploy_directory(db, ROOT / "bpmn")
    people = {"bu-officer": (["business-unit"], ["business-unit", "case-review-group"]),
              "crg-chair": (["crg-member"], ["case-review-group"])}
    keys = {}
    for user, (roles, groups) in people.items():
        engine.create_principal(db, principal_id=user, roles=roles, groups=groups)
        keys[user] = engine.issue_key(db, principal_id=user).secret
    engine.create_principal(db, principal_id="bench-worker", roles=["worker"], kind="worker")
    rng = random.Random(17)
    bu = engine.Actor("bu-officer", frozenset({"business-unit", "case-review-group"}))
    today = date.today()
    t0 = time.perf_counter()
    for n in range(cases):
        case = engine.start_instance(db, actor=bu, definition_key="rapid_review", business_key=f"SIN-B-{n:05d}")
        if n % 10 == 0:                                  # the Case Review Group sees one case in ten
            engine.share_case(db, actor=bu, instance_id=case.id, group="case-review-group")
        if n % 5 < 2:
            continue                                     # 40%: the notification is still to be recorded
        sent = today - timedelta(days=rng.randint(0, 540))
        engine.complete_user_task(db, actor=bu, task_id=case.user_tasks[0].id, variables={
            "case_reference": f"CR-{n}", "became_aware_on": (sent - timedelta(days=2)).isoformat(),
            "sin_sent_on": sent.isoformat(), "incident_type": "serious_harm", "agencies": AGENCIES,
            "confidential_names": [f"Child {n}"], "child_looked_after": False})
        if (n + 1) % 1000 == 0:
            print(f"  {n + 1} cases in {time.perf_counter() - t0:.0f} s", flush=True)
    while True:                                          # the agencies are asked: 3 scoping tasks a case
        locked = engine.fetch_and_lock(db, actor=engine.Actor.system("worker"), worker_id="bench-worker", max_tasks=200,
                                       topics=[engine.TopicRequest("information-request", 600_000)]).tasks
        if not locked:
            break
        for t in locked:
            engine.complete_external_task(db, actor=engine.Actor.system("worker"), task_id=t.task.id,
                                          worker_id="bench-worker")
    db.dispose()
    return keys


def sign_in(client: httpx.Client, user: str, key: str) -> None:
    page = client.get("/sign-in")
    token = re.search(r'name="signin_token" value="([^"]+)"', page.text)
    if token is None:
        raise BenchError("no sign-in form")
    answer = client.post("/sign-in", data={"user": user, "key": key, "signin_token": token.group(1)},
                         headers={"Sec-Fetch-Site": "same-origin"})
    if answer.status_code != 303:
        raise BenchError(f"sign-in as {user}: {answer.status_code}")


def timed(client: httpx.Client, path: str, requests: int) -> tuple[list[float], httpx.Response]:
    answer = client.get(path)                            # warm: caches, the first parse of the diagrams
    if answer.status_code != 200:
        raise BenchError(f"GET {path}: {answer.status_code}")
    return timed_gets(client, path, requests)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--workdir", type=Path, default=ROOT / "var" / "bench-console")
    parser.add_argument("--reuse", action="store_true", help="keep the database of an earlier run")
    args = parser.parse_args(argv)
    db_path = args.workdir / f"console-{args.cases}.db"
    keys_path = args.workdir / f"console-{args.cases}.keys"
    if not (args.reuse and db_path.exists() and keys_path.exists()):
        shutil.rmtree(args.workdir, ignore_errors=True)
        args.workdir.mkdir(parents=True)
        print(f"building {args.cases} cases in {db_path} ...", flush=True)
        t0 = time.perf_counter()
        keys = build(db_path, args.cases)
        keys_path.write_text("\n".join(f"{k} {v}" for k, v in keys.items()))
        print(f"built in {time.perf_counter() - t0:.0f} s", flush=True)
    keys = dict(line.split(" ", 1) for line in keys_path.read_text().splitlines())
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("REVIEWFLOW_")}
    env.update(REVIEWFLOW_DATABASE_URL=f"sqlite:///{db_path}", REVIEWFLOW_TIMERS="false",
               REVIEWFLOW_WORKERS="false", REVIEWFLOW_LOG_LEVEL="WARNING", REVIEWFLOW_BPMN_DIR=str(ROOT / "bpmn"),
               REVIEWFLOW_SITE_DIR=str(args.workdir / "site"))
    log = args.workdir / "server.log"
    proc = None
    try:
        with log.open("wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--no-deploy", "--host", "127.0.0.1",
                                     "--port", str(port)], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.STDOUT)
        wait_ready(proc, base, 60, log=lambda: log_tail(log))
        print(f"\n{args.cases} open cases; {args.requests} sequential requests per row, after one warm-up "
              f"({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores)\n")
        print(f"{'page':<44} {'rows':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}   target {TARGET_MS} ms")
        worst = 0.0
        for user in ("bu-officer", "crg-chair"):
            with httpx.Client(base_url=base, timeout=60, follow_redirects=False, trust_env=False) as client:
                sign_in(client, user, keys[user])
                for path in ("/", "/?rag=red", "/tasks", "/tasks?view=all"):
                    times, answer = timed(client, path, args.requests)
                    rows = answer.text.count('class="govuk-table__row"') - 1
                    p50, p95 = percentile(times, 50), percentile(times, 95)
                    worst = max(worst, p95)
                    verdict = "ok" if p95 < TARGET_MS else "OVER"
                    label = f"{user} GET {path}"
                    print(f"{label:<44} {rows:>6} {p50:>8.1f} {p95:>8.1f} {times[-1]:>8.1f}   {verdict}")
        print(f"\nworst p95: {worst:.1f} ms ({'under' if worst < TARGET_MS else 'OVER'} the {TARGET_MS} ms target)")
        return 0
    finally:
        stop_process(proc, 10)


if __name__ == "__main__":
    raise SystemExit(main())
