"""The migration the issue asks for, over real HTTP, natively and through /engine-rest with Camunda's
request shapes, on SQLite and PostgreSQL: 20 cases of v1 wait at a user task (some claimed), an
external task (some locked by a worker) and a timer; v2 renames one activity and adds one. The
plan moves every case but those at the renamed activity, refused by name; with a mapping those move
too — but one, which finishes on v1 while the moved ones finish on v2."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

import engine
from tests.conftest import Server, bearer
from tests.migration_of_cases.conftest import DATA

V1, V2 = "case_review:1", "case_review:2"
PATHS = ["review"] * 8 + ["reports"] * 6 + ["wait"] * 6
NO_INSTRUCTION = "There is no migration instruction for this instance's activity"


@pytest.fixture
def owner(db: engine.Database, server: Server) -> Iterator[httpx.Client]:
    """Pat, a process owner: deploys and migrates, reads no case data."""
    engine.create_principal(db, principal_id="pat", roles=["process-owner"])
    key = engine.issue_key(db, principal_id="pat").secret
    with httpx.Client(base_url=server.url, timeout=30, headers=bearer(key)) as c:
        yield c


def deploy(client: httpx.Client, name: str) -> None:
    answer = client.post("/api/v1/deployments", files={"files": ("case_review.bpmn", (DATA / name).read_bytes(),
                                                                 "application/xml")})
    assert answer.status_code == 201, answer.text


def cases_on(db: engine.Database, definition_id: str) -> set[str]:
    return {i.id for i in engine.list_instances(db, definition_id=definition_id, status="active", limit=200).data}


def start_twenty(client: httpx.Client, worker: httpx.Client) -> dict[str, Any]:
    """20 cases of v1: 8 at review (3 claimed), 6 at gather_reports (3 locked by a worker), 6 at a timer."""
    started = [client.post("/api/v1/instances", json={"definition_id": V1, "variables": {"path": p}}).json()
               for p in PATHS]
    at = {p: [s for s, q in zip(started, PATHS, strict=True) if q == p] for p in set(PATHS)}
    claimed = {s["user_tasks"][0]["id"] for s in at["review"][:3]}
    for task_id in claimed:
        assert client.post(f"/api/v1/user-tasks/{task_id}/claim").status_code == 200
    locked = worker.post("/engine-rest/external-task/fetchAndLock", json={
        "workerId": "reports-worker", "maxTasks": 3,
        "topics": [{"topicName": "gather-reports", "lockDuration": 600000}]})
    assert locked.status_code == 200 and len(locked.json()) == 3
    timers = {s["id"]: s["next_timer_at"] for s in at["wait"]}
    return {"at": at, "claimed": claimed, "locked": locked.json(), "timers": timers}


def refused_natively(owner: httpx.Client) -> set[str]:
    dry = owner.post("/api/v1/migrations", json={"source_definition_id": V1, "target_definition_id": V2,
                                                 "dry_run": True})
    assert dry.status_code == 200, dry.text
    report = dry.json()
    assert report["valid"] and report["unmapped_activities"] == ["review"]
    assert (report["movable"], report["refused"], report["moved"]) == (12, 8, 0)
    refused = [i for i in report["instances"] if not i["movable"]]
    assert {i["waiting_at"][0] for i in refused} == {"review"}
    for case in refused:
        assert [(a["activity_id"], a["failures"]) for a in case["activities"]] == [("review", [NO_INSTRUCTION])]
    return {i["instance_id"] for i in refused}


def refused_through_engine_rest(owner: httpx.Client, everyone: list[str]) -> tuple[dict[str, Any], set[str]]:
    plan = owner.post("/engine-rest/migration/generate", json={
        "sourceProcessDefinitionId": V1, "targetProcessDefinitionId": V2, "updateEventTriggers": False})
    assert plan.status_code == 200, plan.text
    body = plan.json()
    assert {(i["sourceActivityIds"][0], i["targetActivityIds"][0]) for i in body["instructions"]} == {
        ("cooling_off", "cooling_off"), ("gather_reports", "gather_reports"), ("sign_off", "sign_off")}
    validated = owner.post("/engine-rest/migration/validate", json=body)
    assert validated.status_code == 200 and validated.json() == {"instructionReports": [], "variableReports": {}}
    all_of_them = owner.post("/engine-rest/migration/execute", json={
        "migrationPlan": body, "processInstanceIds": everyone, "skipCustomListeners": True})
    assert all_of_them.status_code == 400, all_of_them.text
    refusal = all_of_them.json()
    assert refusal["type"] == "MigratingProcessInstanceValidationException"
    first = refusal["validationReport"]["processInstanceId"]
    assert refusal["message"].startswith(f"Cannot migrate process instance '{first}'")
    reports = refusal["validationReports"]
    assert refusal["validationReport"] == reports[0] and len(reports) == 8
    for report in reports:
        [activity] = report["activityInstanceValidationReports"]
        assert (activity["sourceScopeId"], activity["failures"], activity["migrationInstruction"]) == (
            "review", [NO_INSTRUCTION], None)
    return body, {r["processInstanceId"] for r in reports}


@pytest.mark.parametrize("via", ["native", "engine-rest"])
def test_twenty_cases_move_to_v2_and_finish_there(db: engine.Database, server: Server, client: httpx.Client,
                                                  keys: dict[str, str], owner: httpx.Client, via: str) -> None:
    deploy(owner, "case_review_v1.bpmn")
    with httpx.Client(base_url=server.url, timeout=30, headers=bearer(keys["worker"])) as worker:
        state = start_twenty(client, worker)
    deploy(owner, "case_review_v2.bpmn")
    everyone = sorted(cases_on(db, V1))
    assert len(everyone) == 20

    # validate: all but the cases at the renamed activity can move; those are refused by name
    if via == "native":
        refused = refused_natively(owner)
    else:
        plan, refused = refused_through_engine_rest(owner, everyone)
    assert refused == {s["id"] for s in state["at"]["review"]}
    assert cases_on(db, V1) == set(everyone)                     # refused: nothing moved

    # execute the plan for the cases it can move; then, with a mapping, all but one of the others
    movable = sorted(set(everyone) - refused)
    left_behind = sorted(refused)[0]
    mapped = sorted(refused - {left_behind})
    if via == "native":
        done = owner.post("/api/v1/migrations", json={"source_definition_id": V1, "target_definition_id": V2})
        assert done.status_code == 200 and (done.json()["moved"], done.json()["refused"]) == (12, 8)
        done = owner.post("/api/v1/migrations", json={"source_definition_id": V1, "target_definition_id": V2,
                                                      "mapping": {"review": "review_case"}, "instance_ids": mapped})
        assert done.status_code == 200 and done.json()["moved"] == 7, done.text
    else:
        done = owner.post("/engine-rest/migration/execute", json={"migrationPlan": plan,
                                                                  "processInstanceIds": movable})
        assert done.status_code == 204, done.text
        plan["instructions"].append({"sourceActivityIds": ["review"], "targetActivityIds": ["review_case"]})
        done = owner.post("/engine-rest/migration/execute", json={
            "migrationPlan": plan, "processInstanceQuery": {"processInstanceIds": mapped}})
        assert done.status_code == 204, done.text
    assert cases_on(db, V1) == {left_behind} and cases_on(db, V2) == set(everyone) - {left_behind}

    # claims, locks and timers survived the move
    for case_id in mapped:
        [task] = engine.get_instance(db, instance_id=case_id).user_tasks
        assert task.activity_id == "review_case"
        assert (task.assignee == "alice") == (task.id in state["claimed"])
    for locked in state["locked"]:
        assert httpx.post(f"{server.url}/engine-rest/external-task/{locked['id']}/complete", headers=bearer(
            keys["worker"]), json={"workerId": "reports-worker"}, timeout=10).status_code == 204
    for case_id, due in state["timers"].items():
        assert client.get(f"/api/v1/instances/{case_id}").json()["next_timer_at"] == due

    # every history says who moved it; the process owner saw no case data on the way
    for case_id in everyone:
        history = client.get(f"/api/v1/instances/{case_id}/history").json()["data"]
        migrated = [e for e in history if e["kind"] == "instance_migrated"]
        assert [(e["actor"], e["details"]["to_definition"]) for e in migrated] == (
            [] if case_id == left_behind else [("pat", V2)])
    action = "POST /api/v1/migrations" if via == "native" else "POST /engine-rest/migration/execute"
    with httpx.Client(base_url=client.base_url, timeout=30, headers=bearer(keys["admin"])) as admin:
        for case_id in set(everyone) - {left_behind}:
            trail = admin.get(f"/api/v1/audit/instances/{case_id}").json()["data"]
            assert [(e["actor"], e["status"]) for e in trail if e["action"] == action] == [
                ("pat", 200 if via == "native" else 204)]
    assert owner.get(f"/api/v1/instances/{everyone[0]}").status_code == 403
    assert owner.get(f"/api/v1/instances/{everyone[0]}/history").status_code == 403
    assert owner.get(f"/engine-rest/process-instance/{everyone[0]}/variables").status_code == 403
    assert owner.get("/api/v1/definitions/case_review:2").status_code == 200

    # everything finishes: the moved cases through v2's new quality check, the one left behind on v1
    finish(db, client, keys, state)
    for case_id in everyone:
        case = engine.get_instance(db, instance_id=case_id)
        assert case.status == "completed", case
        done_here = {e.activity_id for e in engine.instance_history(db, instance_id=case_id)
                     if e.kind == "task_completed"}
        assert ("quality_check" in done_here) == (case_id != left_behind)
        assert case.definition_id == (V1 if case_id == left_behind else V2)


def finish(db: engine.Database, client: httpx.Client, keys: dict[str, str], state: dict[str, Any]) -> None:
    with httpx.Client(base_url=client.base_url, timeout=30, headers=bearer(keys["worker"])) as worker:
        fetched = worker.post("/engine-rest/external-task/fetchAndLock", json={
            "workerId": "w2", "maxTasks": 10, "topics": [{"topicName": "gather-reports", "lockDuration": 60000}]})
        for task in fetched.json():
            assert worker.post(f"/engine-rest/external-task/{task['id']}/complete",
                               json={"workerId": "w2"}).status_code == 204
    engine.clock.advance(timedelta(days=31))
    try:
        engine.fire_due_timers(db)
        deadline = time.monotonic() + 10
        while any(engine.get_instance(db, instance_id=c).next_timer_at for c in state["timers"]) \
                and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        engine.clock.reset()
    for _ in range(5):
        tasks = client.get("/api/v1/user-tasks", params={"limit": 200}).json()["data"]
        if not tasks:
            return
        for task in tasks:
            answer = client.post(f"/api/v1/user-tasks/{task['id']}/complete", json={"variables": {}})
            assert answer.status_code == 200, answer.text
    raise AssertionError("cases still have open tasks")
