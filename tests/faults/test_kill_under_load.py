"""Two servers and three workers run 300 cases of a diagram with user tasks, an external task and
a timer while one server and one worker are SIGKILLed mid-flight and started again. At the end,
from the database: every case completed, every task completed exactly once, every timer fired
once, and everything a client or a worker was told was done is there."""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections import Counter
from typing import Any

import sqlalchemy as sa

from tests.faults.conftest import Cluster, Driver, history, scalar, stop

CASES = 300
DRIVERS = 6                 # people working through the servers at once
RUN_LIMIT_S = 150.0         # the whole run must end by then (a bound, not a speed target)
KILL_SERVER_AFTER = 100     # acknowledged starts
KILL_WORKER_AFTER = 150


class Run:
    """The clients: start the cases, complete each user task once, through either server."""

    def __init__(self, driver: Driver) -> None:
        self.driver = driver
        self.jobs: queue.PriorityQueue[tuple[int, int, str, str]] = queue.PriorityQueue()
        self.order = itertools.count()
        self.started: dict[str, str] = {}          # business key -> instance id (201 received)
        self.completed: dict[str, str] = {}        # task id -> instance id (200 received)
        self.queued: set[str] = set()
        self.unexpected: list[str] = []
        self.lock = threading.Lock()
        self.done = threading.Event()

    def queue_start(self, business_key: str) -> None:
        self.jobs.put((1, next(self.order), "start", business_key))

    def queue_complete(self, task_id: str) -> None:
        with self.lock:
            if task_id in self.queued:
                return
            self.queued.add(task_id)
        self.jobs.put((0, next(self.order), "complete", task_id))      # finishing work goes first

    def work(self) -> None:
        while not self.done.is_set():
            try:
                _, n, kind, what = self.jobs.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                if kind == "start":
                    self._start(what, n)
                else:
                    self._complete(what, n)
            except Exception as exc:  # noqa: BLE001 - recorded, and the test fails on it
                with self.lock:
                    self.unexpected.append(f"{kind} {what}: {exc!r}")

    def _start(self, business_key: str, n: int) -> None:
        answer = self.driver.send("POST", "/api/v1/instances", first=n,
                                  json_body={"definition_key": "fault_flow", "business_key": business_key})
        if answer.status != 201:
            with self.lock:
                self.unexpected.append(f"start {business_key}: {answer.status} {answer.body} after {answer.statuses}")
            return
        with self.lock:
            self.started[business_key] = answer.body["id"]
        for task in answer.body["user_tasks"]:
            self.queue_complete(task["id"])

    def _complete(self, task_id: str, n: int) -> None:
        answer = self.driver.send("POST", f"/api/v1/user-tasks/{task_id}/complete", first=n,
                                  json_body={"variables": {"checked": True}})
        if answer.status != 200:
            with self.lock:
                self.unexpected.append(f"complete {task_id}: {answer.status} {answer.body} after {answer.statuses}")
            return
        with self.lock:
            self.completed[task_id] = answer.body.get("id", "")

    def find_sign_offs(self) -> None:
        """The second user task appears once the worker and the timer are done: look for it."""
        answer = self.driver.send("GET", "/api/v1/user-tasks?definition_key=fault_flow&activity_id=sign_off"
                                         "&limit=200", first=next(self.order))
        if answer.status == 200:
            for task in answer.body["data"]:
                self.queue_complete(task["id"])


def test_two_servers_three_workers_300_cases_one_server_and_one_worker_killed(cluster: Cluster) -> None:
    servers = cluster.servers()
    starts_before = servers[0].starts
    urls = [s.url for s in servers]
    workers = [cluster.worker(name, urls=urls, topics=["fault-work"], lock_ms=3000, handler_ms=20)
               for name in ("w1", "w2", "w3")]
    driver = Driver(urls, cluster.keys["alice"], deadline_s=60, also_retry=frozenset({500}))
    run = Run(driver)
    for i in range(CASES):
        run.queue_start(f"FAULT-{i:03d}")
    threads = [threading.Thread(target=run.work, name=f"driver-{i}", daemon=True) for i in range(DRIVERS)]
    for t in threads:
        t.start()

    events: list[str] = []
    restarting: list[threading.Thread] = []
    began = time.monotonic()
    try:
        while True:
            with run.lock:
                started, completed = len(run.started), len(run.completed)
            if not events and started >= KILL_SERVER_AFTER:
                servers[0].kill()                             # mid-flight: drivers and workers are using it
                events.append(f"server-1 SIGKILLed after {started} starts, {completed} completions")
                t = threading.Thread(target=servers[0].start, name="restart-server-1", daemon=True)
                t.start()
                restarting.append(t)
            elif len(events) == 1 and started >= KILL_WORKER_AFTER:
                workers[1].kill()
                events.append(f"worker {workers[1].worker_id} SIGKILLed after {started} starts")
                time.sleep(0.5)
                workers[1].start()
                events.append(f"worker restarted as {workers[1].worker_id}")
            if (started >= CASES and completed >= 2 * CASES) or len(run.unexpected) > 20:
                break                                          # done, or failed (the asserts below say how)
            assert time.monotonic() - began < RUN_LIMIT_S, (
                f"the run did not finish within {RUN_LIMIT_S:.0f} s: {started} started, {completed} tasks "
                f"completed; {events}; unexpected: {run.unexpected[:5]}; {status_summary(cluster)}")
            run.find_sign_offs()
            time.sleep(0.3)
    finally:
        run.done.set()
        for t in threads + restarting:
            t.join(timeout=30)
        driver.close()
    elapsed = time.monotonic() - began
    stop(*workers)                                      # their last answers are in their results files

    seen = Counter(status for _, _, status in driver.seen)
    print(f"\n[{cluster.name}] {CASES} cases in {elapsed:.1f} s; {'; '.join(events)}; "
          f"client answers by status: {dict(seen)}")
    problems = check(cluster, run, workers, seen)
    assert len(events) == 3 and servers[0].alive() and servers[0].starts == starts_before + 1, events
    assert seen[None] > 0, "the kill interrupted no request: it was not mid-flight"
    assert not problems, "\n".join(problems)


def check(cluster: Cluster, run: Run, workers: list[Any], seen: Counter[int | None]) -> list[str]:
    """Everything the run must have left true, each failure described (all of them, not the first)."""
    problems: list[str] = []
    db = cluster.db
    if run.unexpected:
        problems.append(f"{len(run.unexpected)} requests ended with an unexpected answer, e.g. {run.unexpected[:3]}")
    errors = {s: n for s, n in seen.items() if s is not None and s >= 500 and s != 503}
    if errors:
        problems.append(f"server errors among {seen.total()} answers: {errors} (each retried with its key)")

    # every case started once (a retried start made no second case) and completed
    rows = _instances(cluster)
    if len(rows) != CASES or {r.business_key: r.id for r in rows} != run.started:
        problems.append(f"{len(rows)} cases in the database for {len(run.started)} acknowledged starts of {CASES}")
    if {r.status for r in rows} != {"completed"}:
        problems.append(f"cases by status: {Counter(r.status for r in rows)}")

    # every task completed exactly once, every timer fired once: each case's history
    mine = {r.id for r in rows}
    done = [e for e in history(db, "task_completed", "external_task_completed", "timer_fired") if e.instance_id in mine]
    per_case = Counter((e.instance_id, e.kind, e.activity_id) for e in done)
    expected = Counter({(r.id, kind, activity): 1 for r in rows for kind, activity in
                        (("task_completed", "review"), ("task_completed", "sign_off"),
                         ("external_task_completed", "work"), ("timer_fired", "cool_off"))})
    if per_case != expected:
        problems.append(_diff(per_case, expected))
    twice = [t for t, n in Counter(e.task_id for e in done if e.kind != "timer_fired").items() if n > 1]
    if twice:
        problems.append(f"{len(twice)} tasks completed more than once, e.g. {twice[:3]}")

    # what the clients were told was done is there
    user_completions = {e.task_id for e in done if e.kind == "task_completed"}
    if lost := set(run.completed) - user_completions:
        problems.append(f"{len(lost)} acknowledged user-task completions are not in the history: {sorted(lost)[:3]}")

    # what the workers were told was done is there, done by that worker, and told to one worker only
    external = {e.task_id: e.details.get("worker_id") for e in done if e.kind == "external_task_completed"}
    answers = [a for w in workers for a in w.acknowledged()]
    acknowledged = [a for a in answers if a["status"] == 204]
    if doubles := [t for t, n in Counter(a["task"] for a in acknowledged).items() if n > 1]:
        problems.append(f"{len(doubles)} external tasks acknowledged (204) to two workers: {doubles[:3]}")
    if wrong := [a for a in acknowledged if external.get(a["task"]) != a["worker"]]:
        problems.append(f"{len(wrong)} worker completions acknowledged but not recorded as theirs: {wrong[:3]}")
    refused = Counter(a["status"] for a in answers if a["status"] != 204)
    if set(refused) - {400, 404}:
        problems.append(f"worker completions answered otherwise than 204 or a 4xx: {dict(refused)}")

    # each hand-out is in the history; the killed worker's tasks went to another once its locks ran out
    locks = [e for e in history(db, "external_task_locked") if e.instance_id in mine]
    locked_by = {(e.task_id, e.details.get("worker_id")) for e in locks}
    if unlocked := [t for t, w in external.items() if (t, w) not in locked_by]:
        problems.append(f"{len(unlocked)} external tasks completed by a worker without its lock in the history")
    killed_life = f"{workers[1].name}-1"
    taken_over = {e.task_id for e in locks if e.details.get("worker_id") == killed_life} - {
        t for t, w in external.items() if w == killed_life}
    print(f"[{cluster.name}] worker answers: {len(acknowledged)} x 204, refused {dict(refused)}; "
          f"{len(locks)} locks for {len(external)} external tasks; {len(taken_over)} of the killed worker's "
          f"tasks finished by another worker")
    left = (scalar(db, "SELECT COUNT(*) FROM external_task WHERE definition_key = 'fault_flow'"),
            scalar(db, "SELECT COUNT(*) FROM user_task WHERE definition_key = 'fault_flow'"))
    if left != (0, 0):
        problems.append(f"open tasks left: {left[0]} external, {left[1]} user; {status_summary(cluster)}")
    return problems


def _instances(cluster: Cluster) -> list[Any]:
    with cluster.db.engine.connect() as conn:
        return conn.execute(sa.text("SELECT id, business_key, status FROM instance WHERE definition_key = "
                                    "'fault_flow'")).all()


def status_summary(cluster: Cluster) -> str:
    """Where the run's cases are, for a failure message."""
    db, mine = cluster.db, "definition_key = 'fault_flow'"
    counts = {what: scalar(db, f"SELECT COUNT(*) FROM {table} WHERE {mine}{extra}") for what, table, extra in (
        ("active", "instance", " AND status = 'active'"), ("completed", "instance", " AND status = 'completed'"),
        ("open user tasks", "user_task", ""), ("external tasks", "external_task", ""),
        ("timers waiting", "instance", " AND next_timer_at IS NOT NULL"))}
    incidents = scalar(db, f"SELECT COUNT(*) FROM incident WHERE instance_id IN (SELECT id FROM instance WHERE {mine})")
    return f"{counts}, incidents {incidents}"


def _diff(got: Counter[Any], expected: Counter[Any]) -> str:
    wrong = [(k, got.get(k, 0), v) for k, v in expected.items() if got.get(k, 0) != v]
    extra = [(k, n) for k, n in got.items() if k not in expected]
    return f"{len(wrong)} (case, event, activity) counts differ, e.g. {wrong[:5]}; unexpected: {extra[:5]}"
