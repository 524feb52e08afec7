"""/engine-rest/external-task: locking, long polling, leniency and errors, over real HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta

import httpx
import pytest

import engine
from tests.conftest import Deployer, Server, bearer, table_counts

TOPIC = "national-panel-submission"
LOCKED_TASK_KEYS = {"id", "topicName", "workerId", "processInstanceId", "processDefinitionId",
                    "processDefinitionKey", "processDefinitionVersionTag", "activityId", "activityInstanceId",
                    "executionId", "businessKey", "tenantId", "retries", "priority", "suspended", "errorMessage",
                    "errorDetails", "lockExpirationTime", "createTime", "variables", "extensionProperties"}


@pytest.fixture
def rest(server: Server, keys: dict[str, str]):  # type: ignore[no-untyped-def]
    """A worker's client: its key may serve every topic."""
    with httpx.Client(base_url=f"{server.url}/engine-rest", timeout=10, headers=bearer(keys["worker"])) as c:
        yield c


@pytest.fixture
def moved_clock():  # type: ignore[no-untyped-def]
    yield engine.clock
    engine.clock.reset()


def start(db: engine.Database, key: str = "external_task", **kw) -> engine.InstanceInfo:  # type: ignore[no-untyped-def]
    return engine.start_instance(db, actor=engine.Actor.system("bu"), definition_key=key, **kw)


def fetch(rest: httpx.Client, worker: object = "w1", topic: str = TOPIC, lock: int = 60_000,
          timeout: int | None = None, max_tasks: int = 1, **topic_extra: object) -> list[dict]:
    body = {"workerId": worker, "maxTasks": max_tasks, "usePriority": False, "sorting": None,
            "topics": [{"topicName": topic, "lockDuration": lock, "variables": None, "processVariables": {},
                        **topic_extra}]}
    if timeout is not None:
        body["asyncResponseTimeout"] = timeout
    response = rest.post("/external-task/fetchAndLock", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_locked_task_carries_every_camunda_field(db: engine.Database, deploy: Deployer, rest: httpx.Client) -> None:
    deploy("external_task.bpmn")
    started = start(db, business_key="SIN-1", variables={"case_ref": "SIN-1", "count": 3, "ratio": 0.5,
                                                           "flag": True, "nothing": None, "items": [1, 2]})
    [task] = fetch(rest)
    assert set(task) == LOCKED_TASK_KEYS
    assert task["processInstanceId"] == started.id and task["businessKey"] == "SIN-1"
    assert (task["activityId"], task["priority"], task["retries"], task["workerId"]) == ("submit", 5, None, "w1")
    assert task["extensionProperties"] == {"document": "rapid_review"}
    assert task["variables"] == {
        "case_ref": {"type": "String", "value": "SIN-1", "valueInfo": {}},
        "count": {"type": "Integer", "value": 3, "valueInfo": {}},
        "ratio": {"type": "Double", "value": 0.5, "valueInfo": {}},
        "flag": {"type": "Boolean", "value": True, "valueInfo": {}},
        "nothing": {"type": "Null", "value": None, "valueInfo": {}},
        "items": {"type": "Json", "value": "[1,2]", "valueInfo": {}}}
    assert task["lockExpirationTime"].endswith("+0000") and "." in task["lockExpirationTime"]
    assert fetch(rest, worker="w2") == []            # locked by exactly one worker


def test_variables_filter_and_process_variables_filter(db: engine.Database, deploy: Deployer,
                                                       rest: httpx.Client) -> None:
    deploy("external_task.bpmn")
    start(db, variables={"agency": "police", "secret": "x"})
    start(db, variables={"agency": "icb", "secret": "y"})
    [task] = fetch(rest, variables=["agency"], processVariables={"agency": "icb"})
    assert task["variables"] == {"agency": {"type": "String", "value": "icb", "valueInfo": {}}}
    assert fetch(rest, processVariables={"agency": "nobody"}) == []
    assert len(fetch(rest, processDefinitionKeyIn=["external_task"], max_tasks=5)) == 1


def test_use_priority_takes_the_highest_first(db: engine.Database, deploy: Deployer, rest: httpx.Client) -> None:
    deploy("race_task.bpmn", "external_task.bpmn")
    start(db, key="race_task")
    start(db, key="external_task")
    body = {"workerId": "w", "maxTasks": 1, "usePriority": True,
            "topics": [{"topicName": "race", "lockDuration": 1000}, {"topicName": TOPIC, "lockDuration": 1000}]}
    [first] = rest.post("/external-task/fetchAndLock", json=body).json()
    assert first["priority"] == 5


def test_long_polling_answers_as_soon_as_a_task_appears(db: engine.Database, deploy: Deployer,
                                                        rest: httpx.Client) -> None:
    deploy("external_task.bpmn")
    timer = threading.Timer(0.3, lambda: start(db))
    began = time.monotonic()
    timer.start()
    tasks = fetch(rest, timeout=20_000)
    elapsed = time.monotonic() - began
    assert len(tasks) == 1
    assert elapsed < 10, "woken by the new task, not by the 20 s timeout"


def test_an_empty_long_poll_answers_by_the_timeout(db: engine.Database, deploy: Deployer, rest: httpx.Client) -> None:
    began = time.monotonic()
    assert fetch(rest, timeout=500) == []
    elapsed = time.monotonic() - began
    assert 0.3 <= elapsed <= 1.5


def test_an_expired_lock_makes_the_task_fetchable_again(db: engine.Database, deploy: Deployer, rest: httpx.Client,
                                                        moved_clock: engine.clock.__class__) -> None:
    deploy("external_task.bpmn")
    start(db)
    [task] = fetch(rest, worker="w1", lock=5_000)
    assert fetch(rest, worker="w2") == []
    moved_clock.advance(timedelta(seconds=6))
    [again] = fetch(rest, worker="w2")
    assert again["id"] == task["id"] and again["workerId"] == "w2"
    wrong = rest.post(f"/external-task/{task['id']}/complete", json={"workerId": "w1", "variables": {}})
    assert wrong.status_code == 400 and wrong.json()["type"] == "BadUserRequestException"
    assert rest.post(f"/external-task/{task['id']}/complete", json={"workerId": "w2"}).status_code == 204


def test_lenient_requests_numeric_worker_ids_and_nulls(db: engine.Database, deploy: Deployer,
                                                       rest: httpx.Client) -> None:
    deploy("external_task.bpmn")
    started = start(db)
    [task] = fetch(rest, worker=0)
    assert task["workerId"] == "0"
    response = rest.post(f"/external-task/{task['id']}/complete",
                         json={"workerId": 0, "variables": {"receipt": {"value": "NP-9", "type": None,
                                                                        "valueInfo": None},
                                                            "nested": {"a": {"b": 1}}},
                               "localVariables": None})
    assert response.status_code == 204 and response.content == b""
    variables = engine.get_instance(db, instance_id=started.id).variables
    assert variables["receipt"] == "NP-9" and variables["nested"] == {"a": {"b": 1}}


def test_errors_are_camunda_shaped_and_change_nothing(db: engine.Database, deploy: Deployer,
                                                      rest: httpx.Client) -> None:
    deploy("external_task.bpmn")
    start(db)
    [task] = fetch(rest)
    before = table_counts(db)
    unknown = rest.post("/external-task/00000000-0000-0000-0000-000000000000/complete", json={"workerId": "w1"})
    assert unknown.status_code == 404 and set(unknown.json()) == {"type", "message"}
    bad = rest.post("/external-task/fetchAndLock", json={"maxTasks": 1, "topics": []})
    assert bad.status_code == 400 and bad.json()["type"] == "InvalidRequestException"
    not_json = rest.post(f"/external-task/{task['id']}/complete", content=b"{",
                         headers={"content-type": "application/json"})
    assert not_json.status_code == 400 and "type" in not_json.json()
    extend = rest.post(f"/external-task/{task['id']}/extendLock", json={"workerId": "other", "newDuration": 1000})
    assert extend.status_code == 400
    assert table_counts(db) == before


def test_extend_lock_unlock_and_get(db: engine.Database, deploy: Deployer, rest: httpx.Client,
                                    moved_clock: engine.clock.__class__) -> None:
    deploy("external_task.bpmn")
    start(db)
    [task] = fetch(rest, lock=5_000)
    assert rest.post(f"/external-task/{task['id']}/extendLock",
                     json={"workerId": "w1", "newDuration": 60_000}).status_code == 204
    moved_clock.advance(timedelta(seconds=10))
    assert fetch(rest, worker="w2") == []            # the extended lock still holds
    got = rest.get(f"/external-task/{task['id']}").json()
    assert got["workerId"] == "w1" and "variables" not in got
    assert rest.get("/external-task", params={"topicName": TOPIC, "locked": "true"}).json()[0]["id"] == task["id"]
    assert rest.get("/external-task/count", params={"workerId": "w1"}).json() == {"count": 1}
    assert rest.post(f"/external-task/{task['id']}/unlock", json={}).status_code == 204
    [again] = fetch(rest, worker="w2")
    assert again["id"] == task["id"]


def test_completing_a_task_of_a_cancelled_instance_is_404_and_changes_nothing(
        db: engine.Database, deploy: Deployer, rest: httpx.Client) -> None:
    deploy("external_task.bpmn")
    started = start(db)
    [task] = fetch(rest)
    engine.cancel_instance(db, actor=engine.Actor.system("bu"), instance_id=started.id, reason="withdrawn")
    before = table_counts(db)
    late = rest.post(f"/external-task/{task['id']}/complete", json={"workerId": "w1", "variables": {}})
    assert late.status_code == 404
    assert table_counts(db) == before
    assert engine.get_instance(db, instance_id=started.id).status == "cancelled"


def test_four_workers_racing_for_200_tasks_complete_each_exactly_once(db: engine.Database, deploy: Deployer,
                                                                      server: Server, keys: dict[str, str]) -> None:
    deploy("race_task.bpmn")
    ids = [start(db, key="race_task").id for _ in range(200)]
    completed: Counter[str] = Counter()
    refused: list[int] = []
    lock = threading.Lock()

    def work(name: str) -> None:
        with httpx.Client(base_url=f"{server.url}/engine-rest", timeout=10, headers=bearer(keys["worker"])) as c:
            for _ in range(400):
                tasks = c.post("/external-task/fetchAndLock", json={
                    "workerId": name, "maxTasks": 3, "topics": [{"topicName": "race", "lockDuration": 60_000}]}).json()
                if not tasks:
                    return
                for t in tasks:
                    r = c.post(f"/external-task/{t['id']}/complete", json={"workerId": name, "variables": {
                        "done_by": {"value": name}}})
                    with lock:
                        if r.status_code == 204:
                            completed[t["id"]] += 1
                        else:
                            refused.append(r.status_code)

    threads = [threading.Thread(target=work, args=(f"worker-{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert refused == []
    assert len(completed) == 200 and set(completed.values()) == {1}
    statuses = Counter(engine.get_instance(db, instance_id=i).status for i in ids)
    assert statuses == {"completed": 200}
    history = [e for i in ids for e in engine.instance_history(db, instance_id=i)
               if e.kind == "external_task_completed"]
    assert len(history) == 200
    assert len({e.details["worker_id"] for e in history}) > 1        # the work really was shared


WORKER_SCRIPT = """
import sys, time, httpx
url, key = sys.argv[1:]
tasks = httpx.post(url + "/external-task/fetchAndLock", json={"workerId": "doomed", "maxTasks": 1,
                   "topics": [{"topicName": "race", "lockDuration": 30000}]},
                   headers={"Authorization": "Bearer " + key}).json()
print(tasks[0]["id"], flush=True)
time.sleep(60)
"""


def test_a_worker_killed_mid_task_loses_it_when_the_lock_expires(db: engine.Database, deploy: Deployer,
                                                                 server: Server, rest: httpx.Client,
                                                                 moved_clock: engine.clock.__class__,
                                                                 keys: dict[str, str]) -> None:
    deploy("race_task.bpmn")
    started = start(db, key="race_task")
    proc = subprocess.Popen([sys.executable, "-c", WORKER_SCRIPT, f"{server.url}/engine-rest", keys["worker"]],
                            stdout=subprocess.PIPE, text=True)
    try:
        task_id = proc.stdout.readline().strip()          # type: ignore[union-attr]
        os.kill(proc.pid, signal.SIGKILL)                 # no unlock, no failure: just gone
    finally:
        proc.wait(timeout=10)
    assert fetch(rest, worker="rescuer", topic="race") == []
    moved_clock.advance(timedelta(seconds=31))
    [redelivered] = fetch(rest, worker="rescuer", topic="race")
    assert redelivered["id"] == task_id
    assert rest.post(f"/external-task/{task_id}/complete", json={"workerId": "rescuer"}).status_code == 204
    assert engine.get_instance(db, instance_id=started.id).status == "completed"


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)      # SQLite has no NOTIFY: one server only
def test_a_long_poll_is_woken_by_another_processs_commit(db: engine.Database, deploy: Deployer,
                                                         rest: httpx.Client, pg_schema: str) -> None:
    from tests.conftest import pg_database
    deploy("external_task.bpmn")
    other = pg_database(pg_schema)              # another server's handle: its own signals, none shared
    try:
        timer = threading.Timer(0.5, lambda: engine.start_instance(other, actor=engine.Actor.system("bu"),
                                                                   definition_key="external_task"))
        began = time.monotonic()
        timer.start()
        tasks = fetch(rest, timeout=20_000)
        elapsed = time.monotonic() - began
    finally:
        timer.join()
        other.dispose()
    assert len(tasks) == 1
    assert elapsed < 10, "woken by PostgreSQL NOTIFY from the other handle, not by the 20 s timeout"
