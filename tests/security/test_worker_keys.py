"""Attacks with worker keys (issue 11, finding 6 — medium/low).

* `reviewflow users add NAME --role worker --topic T` without `--worker` stored no topic limit:
  the key worked for every topic.
* `GET /engine-rest/external-task` and `/count` ignored the key's topics.
* The `workerId` in a request was not tied to the key — another key sending the same worker id
  could complete, extend or fail the task — and an error message revealed which worker held it.

`--topic` always limits the key; lists and counts are filtered by it; a lock belongs to the key
that took it; a refusal does not say who holds the lock.
"""

from __future__ import annotations

from typing import Any

import pytest

import engine
from tests.security.conftest import Client, Command, Deployer, Person, snapshot, start

HOLDER_ID = "panel-worker-Marker-7"          # the worker id the lock holder sends




@pytest.fixture
def two_topics(keys: dict[str, str], deploy_http: Deployer, as_: Client) -> list[dict[str, Any]]:
    """Two cases, each waiting on panel-formation and on national-panel-submission."""
    deploy_http("two_topics.bpmn")
    return [start(as_(keys["alice"]), "two_topics", child_name="Marker-Child") for _ in range(2)]


def fetch(client: Any, topic: str, worker_id: str = HOLDER_ID, max_tasks: int = 1) -> Any:
    return client.post("/engine-rest/external-task/fetchAndLock", json={
        "workerId": worker_id, "maxTasks": max_tasks, "topics": [{"topicName": topic, "lockDuration": 60000}]})


def test_a_topic_given_without_worker_still_limits_the_key(db: engine.Database, two_topics: list[dict[str, Any]],
                                                           reviewflow: Command, as_: Client) -> None:
    status, out, _ = reviewflow("users", "add", "courier", "--role", "worker", "--topic", "national-panel-submission",
                                "--key")
    assert status == 0, out
    courier = as_(out.strip().splitlines()[-1].split(": ", 1)[1])
    before = snapshot(db)

    other = fetch(courier, "panel-formation")

    assert other.status_code == 403, other.text
    assert snapshot(db) == before
    own = fetch(courier, "national-panel-submission")
    assert own.status_code == 200 and [t["topicName"] for t in own.json()] == ["national-panel-submission"]


def test_the_external_task_list_and_count_show_only_the_keys_topics(
        db: engine.Database, two_topics: list[dict[str, Any]], person: Person, as_: Client) -> None:
    courier = as_(person("courier", roles=["worker"], kind="worker", topics=["national-panel-submission"]))

    listed = courier.get("/engine-rest/external-task")
    counted = courier.get("/engine-rest/external-task/count")
    asked_for_other = courier.get("/engine-rest/external-task", params={"topicName": "panel-formation"})
    counted_other = courier.get("/engine-rest/external-task/count", params={"topicName": "panel-formation"})

    assert listed.status_code == 200, listed.text
    assert sorted(t["topicName"] for t in listed.json()) == ["national-panel-submission"] * 2
    assert counted.json() == {"count": 2}
    assert asked_for_other.json() == [] and counted_other.json() == {"count": 0}


@pytest.fixture
def locked(db: engine.Database, two_topics: list[dict[str, Any]], person: Person, as_: Client) -> dict[str, Any]:
    """A task locked by one worker key; another worker key, for the same topic, that did not lock it."""
    holder = as_(person("courier-holder", roles=["worker"], kind="worker", topics=["national-panel-submission"]))
    intruder = as_(person("intruder", roles=["worker"], kind="worker", topics=["national-panel-submission"]))
    [task] = fetch(holder, "national-panel-submission").json()
    return {"task": task, "holder": holder, "intruder": intruder}


@pytest.mark.parametrize(("action", "body"), [
    ("complete", {"variables": {"submitted": {"value": True, "type": "Boolean"}}}),
    ("extendLock", {"newDuration": 600000}),
    ("failure", {"errorMessage": "gave up", "retries": 0, "retryTimeout": 0}),
    ("bpmnError", {"errorCode": "REJECTED"}),
])
def test_another_key_cannot_report_on_a_task_by_sending_the_holders_worker_id(
        db: engine.Database, locked: dict[str, Any], action: str, body: dict[str, Any]) -> None:
    before = snapshot(db)
    answer = locked["intruder"].post(f"/engine-rest/external-task/{locked['task']['id']}/{action}",
                                     json={"workerId": HOLDER_ID, **body})
    assert answer.status_code == 400, answer.text
    assert answer.json()["type"] == "BadUserRequestException"
    assert snapshot(db) == before
    extended = locked["holder"].post(f"/engine-rest/external-task/{locked['task']['id']}/extendLock",
                                     json={"workerId": HOLDER_ID, "newDuration": 60000})
    assert extended.status_code == 204          # still the holder's


def test_a_refusal_does_not_say_who_holds_the_lock(db: engine.Database, locked: dict[str, Any]) -> None:
    task_id = locked["task"]["id"]
    for action, body in (("complete", {}), ("extendLock", {"newDuration": 1000}),
                         ("failure", {"retries": 1, "retryTimeout": 0}), ("bpmnError", {"errorCode": "X"})):
        answer = locked["intruder"].post(f"/engine-rest/external-task/{task_id}/{action}",
                                         json={"workerId": "intruder-1", **body})
        assert answer.status_code == 400, answer.text
        assert HOLDER_ID not in answer.text and "courier-holder" not in answer.text, answer.text
