"""The races the fault-injection run found, run many times over real servers.

* Finding 1: worker A completes an external task right at its lock expiry while worker B (another
  key) polls. The task must go to one of them only: either A's completion wins (204, and B never
  gets the task) or B's fetch does (B gets it and completes it; A gets a 4xx) — never a 204 to A
  for a task B was handed.
* Finding 2: a claim racing a completion: one wins, the other gets a 409 — never a 500.

A works through one server, B (and the claimer) through the other.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from tests.faults.conftest import Cluster, history, scalar

LOCK_EXPIRY_TRIALS = 200
BATCH = 40                          # trials at once: A locks them in one fetch, so their locks expire together
LOCK_MS = 400                       # A's lock: short, so the race comes quickly
OFFSETS_MS = (-40, 60)              # A completes this far from its lock's expiry
CLAIM_TRIALS = 100


@dataclass
class Trial:
    task_id: str
    expires_at: float                                    # epoch seconds, from the server's lockExpirationTime
    a_status: int | None = None
    b_got: int = 0                                       # how many times B was handed the task
    b_status: int | None = None
    statuses: list[int] = field(default_factory=list)


def epoch(camunda_time: str) -> float:
    return datetime.strptime(camunda_time, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def worker_client(url: str, user: str, key: str) -> httpx.Client:
    """Camunda clients authenticate with HTTP Basic: the user name and the key as password."""
    return httpx.Client(base_url=f"{url}/engine-rest", auth=(user, key), timeout=30,
                        limits=httpx.Limits(max_connections=64, max_keepalive_connections=64))


NO_ANSWER = 0                       # the connection failed: no status
SEEN: Counter[int] = Counter()      # every status the race tests got
_seen_lock = threading.Lock()


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any


def post(client: httpx.Client, path: str, body: object = None, *, tries: int = 1) -> Reply:
    """POST, noting the status (NO_ANSWER when the connection failed); a 5xx or a failed
    connection is sent again up to `tries` times (the test fails on it anyway; trying again lets it
    go on to check the rest)."""
    for attempt in range(tries):
        try:
            response = client.post(path, json=body)
            reply = Reply(response.status_code, response.json() if response.content else None)
        except httpx.TransportError:
            reply = Reply(NO_ANSWER, None)
        with _seen_lock:
            SEEN[reply.status] += 1
        if NO_ANSWER < reply.status < 500 or attempt == tries - 1:
            return reply
        time.sleep(0.1)
    raise AssertionError("unreachable")


def fetch(client: httpx.Client, worker_id: str, max_tasks: int, lock_ms: int, *, tries: int = 1) -> list[Any]:
    reply = post(client, "/external-task/fetchAndLock", {
        "workerId": worker_id, "maxTasks": max_tasks, "topics": [{"topicName": "race", "lockDuration": lock_ms}]},
        tries=tries)
    return reply.body if reply.status == 200 else []


def complete(client: httpx.Client, task_id: str, worker_id: str, *, tries: int = 1) -> int:
    return post(client, f"/external-task/{task_id}/complete", {"workerId": worker_id}, tries=tries).status


def start_cases(client: httpx.Client, key: str, count: int) -> list[Any]:
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda _: post(client, "/api/v1/instances", {"definition_key": key}, tries=5),
                                range(count)))
    assert [r.status for r in replies] == [201] * count, [(r.status, r.body) for r in replies]
    return [r.body for r in replies]


def test_a_completion_at_lock_expiry_racing_another_workers_fetch_hands_the_task_to_one_worker(
        cluster: Cluster) -> None:
    SEEN.clear()
    s1, s2 = cluster.servers()
    people = cluster.client(s1.url)
    a = worker_client(s1.url, "worker-a", cluster.keys["worker-a"])
    b = worker_client(s2.url, "worker-b", cluster.keys["worker-b"])
    rng = random.Random(16)
    trials: list[Trial] = []
    strays: list[str] = []
    try:
        for _ in range(LOCK_EXPIRY_TRIALS // BATCH):
            start_cases(people, "race_task", BATCH)
            locked = fetch(a, "A", BATCH, LOCK_MS, tries=5)
            assert len(locked) == BATCH, locked
            batch = [Trial(t["id"], epoch(t["lockExpirationTime"])) for t in locked]
            strays += race(a, b, batch, rng)
            trials += batch
    finally:
        a.close()
        b.close()
        people.close()

    problems: list[str] = []
    statuses = Counter(s for t in trials for s in t.statuses)
    if errors := {s: n for s, n in SEEN.items() if s >= 500 or s == NO_ANSWER}:
        problems.append(f"server errors (0: the connection failed) among {SEEN.total()} answers: {errors}")
    doubles = [t for t in trials if t.b_got and t.a_status == 204]
    if doubles:
        problems.append(f"{len(doubles)} of {len(trials)} tasks handed to B after A was told 204 (double hand-out), "
                        f"e.g. {doubles[:2]}")
    if twice := [t for t in trials if t.b_got > 1]:
        problems.append(f"{len(twice)} tasks handed to B twice: {twice[:2]}")
    if lost := [t for t in trials if t.b_got and t.b_status != 204]:
        problems.append(f"{len(lost)} tasks handed to B whose completion B could not make: {lost[:2]}")
    if refused := [t for t in trials if not t.b_got and t.a_status != 204]:
        problems.append(f"{len(refused)} tasks nobody else had, yet A's completion was refused: {refused[:2]}")
    if loser := Counter(t.a_status for t in trials if t.b_got):
        if set(loser) - {400, 404}:
            problems.append(f"A's completion of a task B had: {dict(loser)}, not a 4xx")

    # the database agrees: one completion per task, by the worker that won; every hand-out recorded
    done = history(cluster.db, "external_task_completed")
    by_task = Counter(e.task_id for e in done)
    winners = {e.task_id: e.details.get("worker_id") for e in done}
    for t in trials:
        expected = "B" if t.b_got else "A"
        if by_task[t.task_id] != 1 or winners.get(t.task_id) != expected:
            problems.append(f"task {t.task_id}: {by_task[t.task_id]} completions, by {winners.get(t.task_id)}, "
                            f"expected one by {expected} ({t})")
    locks = Counter(e.task_id for e in history(cluster.db, "external_task_locked"))
    if wrong := [t for t in trials if locks[t.task_id] != 1 + t.b_got]:
        problems.append(f"{len(wrong)} tasks whose hand-outs the history does not show: {wrong[:2]}")
    if left := scalar(cluster.db, "SELECT COUNT(*) FROM external_task WHERE topic = 'race'"):
        problems.append(f"{left} external tasks left open")
    if strays:
        problems.append(f"{len(strays)} tasks left over from an earlier race went to B in a later one: {strays[:3]}")

    b_won = sum(1 for t in trials if t.b_got)
    print(f"\n[{cluster.name}] {len(trials)} lock-expiry races: A's completion won {len(trials) - b_won}, "
          f"B's fetch won {b_won}; the racers' completions answered {dict(statuses)}; all answers {dict(SEEN)}")
    assert not problems, "\n".join(problems[:12])
    assert 0 < b_won < len(trials), "the race was not run: one side won every time"


def race(a: httpx.Client, b: httpx.Client, batch: list[Trial], rng: random.Random) -> list[str]:
    """A completes each task at its lock's expiry plus a random offset, while two of B's pollers
    fetch as fast as they can around that moment; then B completes what it was handed. Returns
    the tasks B was handed that were not in this race (left over by an earlier one that failed)."""
    by_id = {t.task_id: t for t in batch}
    strays: list[str] = []
    lock = threading.Lock()
    a_done = threading.Event()
    expiry = min(t.expires_at for t in batch)

    def a_completes(t: Trial) -> None:
        time.sleep(max(t.expires_at + rng.uniform(*OFFSETS_MS) / 1000 - time.time(), 0))
        t.a_status = complete(a, t.task_id, "A")
        with lock:
            t.statuses.append(t.a_status)

    def b_polls() -> None:
        time.sleep(max(expiry - 0.05 - time.time(), 0))
        while not a_done.is_set():
            for task in fetch(b, "B", 3, 60_000):
                with lock:
                    if task["id"] in by_id:
                        by_id[task["id"]].b_got += 1
                    else:
                        strays.append(task["id"])

    pollers = [threading.Thread(target=b_polls, daemon=True) for _ in range(2)]
    for p in pollers:
        p.start()
    with ThreadPoolExecutor(len(batch)) as pool:
        list(pool.map(a_completes, batch))
    time.sleep(0.05)                            # B keeps polling a moment after A's last answer
    a_done.set()
    for p in pollers:
        p.join(timeout=30)
    for t in batch:
        if t.b_got:
            t.b_status = complete(b, t.task_id, "B", tries=5)
            t.statuses.append(t.b_status)
    for task_id in strays:
        complete(b, task_id, "B", tries=5)
    return strays


def test_a_claim_racing_a_completion_is_a_409_never_a_500(cluster: Cluster) -> None:
    SEEN.clear()
    s1, s2 = cluster.servers()
    with cluster.client(s1.url) as alice, cluster.client(s1.url, "bob") as bob, \
            cluster.client(s2.url, "mary") as mary:
        tasks = [case["user_tasks"][0]["id"] for case in start_cases(alice, "one_user_task", CLAIM_TRIALS)]
        results: list[tuple[str, int, int, str, str]] = []

        def one(task_id: str) -> None:
            barrier = threading.Barrier(2)
            answers: dict[str, Reply] = {}

            def go(name: str, send: object) -> None:
                barrier.wait()
                answers[name] = send()  # type: ignore[operator]

            pair = [threading.Thread(target=go, args=("complete", lambda: post(
                        bob, f"/api/v1/user-tasks/{task_id}/complete", {"variables": {"approved": True}}))),
                    threading.Thread(target=go, args=("claim", lambda: post(
                        mary, f"/api/v1/user-tasks/{task_id}/claim")))]
            for t in pair:
                t.start()
            for t in pair:
                t.join()
            results.append((task_id, answers["complete"].status, answers["claim"].status,
                            _code(answers["complete"]), _code(answers["claim"])))

        with ThreadPoolExecutor(10) as pool:
            list(pool.map(one, tasks))

    problems: list[str] = []
    statuses = Counter(s for r in results for s in r[1:3])
    if errors := [r for r in results if {r[1], r[2]} & ({NO_ANSWER} | set(range(500, 600)))]:
        problems.append(f"{len(errors)} of {len(results)} races answered a 5xx or nothing (0), e.g. {errors[:3]}")
    outcomes = Counter((r[1], r[2]) for r in results)
    if set(outcomes) - {(200, 409), (409, 200)}:
        problems.append(f"each race must have one winner and a 409 for the other: {dict(outcomes)}")
    completed = {e.task_id for e in history(cluster.db, "task_completed")}
    claimed = {e.task_id for e in history(cluster.db, "task_claimed")}
    for task_id, completion, claim, *_ in results:
        if (completion == 200) != (task_id in completed) or (claim == 200) != (task_id in claimed):
            problems.append(f"task {task_id}: completion {completion}, claim {claim}, but the history says "
                            f"completed={task_id in completed}, claimed={task_id in claimed}")
    codes = Counter(code for r in results for code in r[3:5] if code)
    print(f"\n[{cluster.name}] {len(results)} claim/complete races: {dict(outcomes)}; error codes {dict(codes)}")
    assert not problems, "\n".join(problems[:12])
    assert statuses[200] == len(results)


def _code(reply: Reply) -> str:
    try:
        return reply.body["error"]["code"] if reply.status >= 400 else ""
    except (KeyError, TypeError):
        return f"(no error code: {reply.body!r:.80})"
