"""Safe retries (Idempotency-Key), unique business keys where a process asks for them, and 503
with Retry-After when the database cannot be reached — the event loop answering meanwhile."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid

import httpx
import pytest
import sqlalchemy as sa

import engine
from api.settings import ServerSettings
from tests.conftest import BPMN, Server, bearer, table_counts

UNIQUE = (BPMN / "one_user_task.bpmn").read_bytes().replace(
    b'<bpmn:process id="one_user_task" name="One user task" isExecutable="true">',
    b'<bpmn:process id="unique_case" name="Unique" isExecutable="true"><bpmn:extensionElements>'
    b'<camunda:properties><camunda:property name="businessKeyUnique" value="true"/></camunda:properties>'
    b'</bpmn:extensionElements>')


@pytest.fixture
def c(db: engine.Database, server: Server, keys: dict[str, str]) -> httpx.Client:
    engine.deploy(db, files=[engine.DeployFile("one_user_task.bpmn", (BPMN / "one_user_task.bpmn").read_bytes()),
                             engine.DeployFile("unique_case.bpmn", UNIQUE)], actor=engine.Actor.system("po"))
    with httpx.Client(base_url=server.url, timeout=30, headers=bearer(keys["alice"])) as client:
        yield client


def count_instances(db: engine.Database) -> int:
    return engine.list_instances(db, limit=1).count


def test_a_retried_start_with_the_same_key_answers_the_first_answer_and_makes_one_case(
        db: engine.Database, c: httpx.Client) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = {"definition_key": "one_user_task", "business_key": "SIN-1"}
    first = c.post("/api/v1/instances", json=body, headers=key)
    again = c.post("/api/v1/instances", json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert count_instances(db) == 1
    respaced = c.post("/api/v1/instances", headers={**key, "content-type": "application/json"},
                      content=b'{ "business_key" : "SIN-1",\n  "definition_key": "one_user_task" }')
    assert respaced.status_code == 201 and respaced.json() == first.json()     # the same JSON, written otherwise
    other = c.post("/api/v1/instances", json={**body, "business_key": "SIN-2"}, headers=key)
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert count_instances(db) == 1


def test_racing_twins_make_one_case(db: engine.Database, c: httpx.Client) -> None:
    key = {"Idempotency-Key": "race-1"}
    answers: list[int] = []

    def start() -> None:
        answers.append(c.post("/api/v1/instances", json={"definition_key": "one_user_task"}, headers=key).status_code)

    threads = [threading.Thread(target=start) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert count_instances(db) == 1
    assert set(answers) <= {201, 409} and answers.count(201) >= 1


def test_keys_belong_to_who_sent_them(db: engine.Database, c: httpx.Client, keys: dict[str, str]) -> None:
    body = {"definition_key": "one_user_task"}
    c.post("/api/v1/instances", json=body, headers={"Idempotency-Key": "mine"})
    theirs = c.post("/api/v1/instances", json=body, headers={"Idempotency-Key": "mine", **bearer(keys["admin"])})
    assert theirs.status_code == 201 and "idempotent-replayed" not in theirs.headers
    assert count_instances(db) == 2


def test_a_retried_completion_and_message_replay(db: engine.Database, c: httpx.Client) -> None:
    started = c.post("/api/v1/instances", json={"definition_key": "one_user_task"}).json()
    task = started["user_tasks"][0]["id"]
    key = {"Idempotency-Key": "complete-1"}
    done = c.post(f"/api/v1/user-tasks/{task}/complete", json={"variables": {"approved": True}}, headers=key)
    again = c.post(f"/api/v1/user-tasks/{task}/complete", json={"variables": {"approved": True}}, headers=key)
    assert done.status_code == again.status_code == 200 and again.json() == done.json()
    without = c.post(f"/api/v1/user-tasks/{task}/complete", json={"variables": {"approved": True}})
    assert without.status_code == 409                                  # without a key: the task is done
    camunda = c.post("/engine-rest/process-definition/key/one_user_task/start", json={"businessKey": "B"},
                     headers={"Idempotency-Key": "camunda-1"})
    twice = c.post("/engine-rest/process-definition/key/one_user_task/start", json={"businessKey": "B"},
                   headers={"Idempotency-Key": "camunda-1"})
    assert camunda.status_code == twice.status_code == 200 and camunda.json()["id"] == twice.json()["id"]
    assert engine.list_instances(db, business_key="B").count == 1


def test_a_retry_whose_first_answer_was_lost_gets_the_case(db: engine.Database, c: httpx.Client) -> None:
    key = {"Idempotency-Key": "lost-1"}
    first = c.post("/api/v1/instances", json={"definition_key": "one_user_task"}, headers=key).json()
    with db.engine.begin() as conn:                  # the server stopped after the commit, before storing
        conn.execute(sa.text("UPDATE idempotency_key SET status = NULL, body = NULL"))
    again = c.post("/api/v1/instances", json={"definition_key": "one_user_task"}, headers=key)
    assert again.status_code == 201 and again.json()["id"] == first["id"]
    assert count_instances(db) == 1


def test_a_bad_key_is_refused(db: engine.Database, c: httpx.Client) -> None:
    before = table_counts(db)
    refused = c.post("/api/v1/instances", json={"definition_key": "one_user_task"},
                     headers={"Idempotency-Key": "x" * 300})
    assert refused.status_code == 400 and table_counts(db) == before


def test_a_process_may_keep_business_keys_unique_among_its_open_cases(db: engine.Database, c: httpx.Client) -> None:
    first = c.post("/api/v1/instances", json={"definition_key": "unique_case", "business_key": "SIN-7"})
    assert first.status_code == 201
    before = table_counts(db)
    second = c.post("/api/v1/instances", json={"definition_key": "unique_case", "business_key": "SIN-7"})
    assert second.status_code == 409 and second.json()["error"]["code"] == "business_key_in_use"
    assert table_counts(db) == before
    assert c.post("/api/v1/instances", json={"definition_key": "one_user_task", "business_key": "SIN-7"}
                  ).status_code == 201                                 # other processes are not bound
    c.post(f"/api/v1/instances/{first.json()['id']}/cancel", json={"reason": "duplicate"})
    assert c.post("/api/v1/instances", json={"definition_key": "unique_case", "business_key": "SIN-7"}
                  ).status_code == 201                                 # an ended case frees its key


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_a_database_that_cannot_be_written_answers_503_and_health_answers_meanwhile(
        db: engine.Database, keys: dict[str, str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine.deploy(db, files=[engine.DeployFile("o.bpmn", (BPMN / "one_user_task.bpmn").read_bytes())],
                  actor=engine.Actor.system("po"))
    path = db.url.removeprefix("sqlite:///")
    blocked = engine.Database(db.url, busy_timeout_ms=1500, audit_fast=True)      # a second server's handle
    srv = Server(blocked, ServerSettings()).start()
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")                 # another process holds the database
        order: list[str] = []
        with httpx.Client(base_url=srv.url, timeout=30, headers=bearer(keys["alice"])) as c:
            def start() -> None:
                response = c.post("/api/v1/instances", json={"definition_key": "one_user_task"})
                order.append(f"start {response.status_code} {response.headers.get('retry-after')}")

            runner = threading.Thread(target=start)
            runner.start()
            time.sleep(0.2)
            assert c.get("/api/v1/health").status_code == 200      # the event loop is not waiting
            order.append("health 200")
            runner.join(timeout=30)
            holder.execute("ROLLBACK")
            assert order == ["health 200", "start 503 5"]
            again = c.post("/api/v1/instances", json={"definition_key": "one_user_task"})
            assert again.status_code == 201                        # and it recovers by itself
            camunda = c.get("/engine-rest/process-instance/count")
            assert camunda.status_code == 200
    finally:
        holder.close()
        srv.stop()
        blocked.dispose()
