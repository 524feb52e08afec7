"""Repairing a stuck case over HTTP (administrators, with a reason that is audited): the case stuck
on a missing variable — by a script (the "improvements only" choice) or by a worker — gets the
variable through the API, its incident is retried, and the case ends. Tokens move with Camunda's
modification shape; a suspended case waits."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa

import engine
from engine.store.tables import audit_event
from tests.conftest import Server, bearer, table_counts
from tests.migration_of_cases.conftest import DATA

WHY = "the partners chose improvements only; the document came by email (ticket 4411)"


@pytest.fixture
def admin(server: Server, keys: dict[str, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30, headers=bearer(keys["admin"])) as c:
        yield c


def deploy(client: httpx.Client, name: str, resource: str) -> None:
    answer = client.post("/api/v1/deployments",
                         files={"files": (resource, (DATA / name).read_bytes(), "application/xml")})
    assert answer.status_code == 201, answer.text


def test_a_case_stuck_on_a_missing_variable_is_repaired_through_the_native_api(
        db: engine.Database, client: httpx.Client, admin: httpx.Client) -> None:
    deploy(client, "choose_v1.bpmn", "choose.bpmn")
    case = client.post("/api/v1/instances", json={"definition_key": "choose", "variables": {
        "publication_choice": "improvements_only", "final_report_id": "doc-1"}}).json()
    [incident] = case["incidents"]
    assert incident["activity_id"] == "choose_version"
    path = f"/api/v1/instances/{case['id']}/variables/improvements_document_id"

    before = table_counts(db)
    assert client.put(path, json={"value": "doc-7", "reason": WHY}).status_code == 403     # administrators only
    assert admin.put(path, json={"value": "doc-7"}).status_code == 400                      # the reason is required
    assert table_counts(db) == before

    fixed = admin.put(path, json={"value": "doc-7", "reason": WHY})
    assert fixed.status_code == 200 and fixed.json()["variables"]["improvements_document_id"] == "doc-7"
    retried = admin.post(f"/api/v1/incidents/{incident['id']}/retry")
    assert retried.status_code == 200 and retried.json()["incidents"] == []
    [check] = retried.json()["user_tasks"]
    done = client.post(f"/api/v1/user-tasks/{check['id']}/complete", json={"variables": {}})
    assert done.status_code == 200 and done.json()["status"] == "completed"
    assert engine.get_instance(db, instance_id=case["id"]).variables["publication_document_id"] == "doc-7"

    history = admin.get(f"/api/v1/instances/{case['id']}/history").json()["data"]
    [repair] = [e for e in history if e["kind"] == "variable_set"]
    assert (repair["actor"], repair["details"]) == ("admin", {"name": "improvements_document_id", "reason": WHY})
    audit = admin.get(f"/api/v1/audit/instances/{case['id']}").json()["data"]
    [entry] = [e for e in audit if e["action"] == "PUT /api/v1/instances/{instance_id}/variables/{name}"
               and e["status"] == 200]
    assert entry["actor"] == "admin" and entry["target"].endswith(f"(reason: {WHY})")


def test_a_case_a_worker_could_not_finish_is_repaired_through_engine_rest(
        db: engine.Database, server: Server, client: httpx.Client, admin: httpx.Client, keys: dict[str, str]) -> None:
    deploy(client, "publish.bpmn", "publish.bpmn")
    case = client.post("/api/v1/instances", json={"definition_key": "publish", "business_key": "SIN-5",
                                                  "variables": {"publication_scope": "improvements_only"}}).json()
    rest = f"{server.url}/engine-rest"
    with httpx.Client(base_url=rest, timeout=30, headers=bearer(keys["worker"])) as worker:
        def fetch() -> list[dict]:
            answer = worker.post("/external-task/fetchAndLock", json={
                "workerId": "publisher", "maxTasks": 1, "asyncResponseTimeout": 500,
                "topics": [{"topicName": "publication-test", "lockDuration": 60000}]})
            assert answer.status_code == 200
            return answer.json()

        [task] = fetch()
        assert "improvements_document_id" not in task["variables"]           # the worker cannot publish
        failed = worker.post(f"/external-task/{task['id']}/failure", json={
            "workerId": "publisher", "errorMessage": "no improvements_document_id", "retries": 0, "retryTimeout": 0})
        assert failed.status_code == 204
        assert fetch() == []                                                   # stuck: an incident, nothing to fetch

        variable = f"{rest}/process-instance/{case['id']}/variables/improvements_document_id"
        refused = httpx.put(variable, json={"value": "doc-7", "type": "String"}, headers=bearer(keys["admin"]))
        assert (refused.status_code, refused.json()["type"]) == (400, "InvalidRequestException")   # no annotation
        put = httpx.put(variable, params={"annotation": WHY}, json={"value": "doc-7", "type": "String"},
                        headers=bearer(keys["admin"]))
        assert put.status_code == 204, put.text
        retried = httpx.put(f"{rest}/external-task/{task['id']}/retries", json={"retries": 1},
                            headers=bearer(keys["admin"]))
        assert retried.status_code == 204
        [again] = fetch()
        assert again["variables"]["improvements_document_id"]["value"] == "doc-7"
        assert worker.post(f"/external-task/{again['id']}/complete", json={"workerId": "publisher"}).status_code == 204
    assert engine.get_instance(db, instance_id=case["id"]).status == "completed"


def test_moving_a_token_with_camundas_modification_shape(db: engine.Database, server: Server, client: httpx.Client,
                                                         keys: dict[str, str]) -> None:
    deploy(client, "case_review_v1.bpmn", "case_review.bpmn")
    case = client.post("/api/v1/instances", json={"definition_key": "case_review", "variables": {"path": "review"}})
    case_id = case.json()["id"]
    url = f"{server.url}/engine-rest/process-instance/{case_id}/modification"
    body = {"skipCustomListeners": True, "skipIoMappings": True, "annotation": WHY, "instructions": [
        {"type": "cancel", "activityId": "review"},
        {"type": "startBeforeActivity", "activityId": "sign_off",
         "variables": {"skipped_review": {"value": True, "type": "Boolean", "local": False}}}]}
    assert httpx.post(url, json=body, headers=bearer(keys["alice"])).status_code == 403     # not an administrator
    before = table_counts(db)
    unknown = httpx.post(url, json={**body, "instructions": [{"type": "startTransition", "transitionId": "to_end"}]},
                         headers=bearer(keys["admin"]))
    assert (unknown.status_code, unknown.json()["type"]) == (400, "InvalidRequestException")
    assert table_counts(db) == before
    moved = httpx.post(url, json=body, headers=bearer(keys["admin"]))
    assert moved.status_code == 204, moved.text
    after = engine.get_instance(db, instance_id=case_id)
    assert [t.activity_id for t in after.user_tasks] == ["sign_off"] and after.variables["skipped_review"] is True


def test_a_suspended_case_waits_until_resumed(db: engine.Database, server: Server, client: httpx.Client,
                                              keys: dict[str, str]) -> None:
    deploy(client, "case_review_v1.bpmn", "case_review.bpmn")
    case = client.post("/api/v1/instances", json={"definition_key": "case_review", "variables": {"path": "review"}})
    case_id, [task] = case.json()["id"], case.json()["user_tasks"]
    rest = f"{server.url}/engine-rest"
    suspend = httpx.put(f"{rest}/process-instance/{case_id}/suspended", json={"suspended": True, "annotation": WHY},
                        headers=bearer(keys["admin"]))
    assert suspend.status_code == 204
    assert httpx.get(f"{rest}/process-instance/{case_id}", headers=bearer(keys["alice"])).json()["suspended"] is True
    refused = httpx.post(f"{rest}/task/{task['id']}/complete", json={}, headers=bearer(keys["alice"]))
    assert refused.status_code == 400 and "suspended" in refused.json()["message"]
    resumed = httpx.put(f"{rest}/process-instance/{case_id}/suspended", params={"annotation": WHY},
                        json={"suspended": False}, headers=bearer(keys["admin"]))
    assert resumed.status_code == 204
    assert httpx.post(f"{rest}/task/{task['id']}/complete", json={}, headers=bearer(keys["alice"])).status_code == 204
    kinds = [e.kind for e in engine.instance_history(db, instance_id=case_id)]
    assert kinds[kinds.index("instance_suspended"):][:2] == ["instance_suspended", "instance_resumed"]


def test_a_case_id_no_case_could_have_is_a_404_and_still_audited(db: engine.Database, server: Server,
                                                                  keys: dict[str, str]) -> None:
    """schemathesis found it on PostgreSQL: the refusal's audit entry named the id as a case, longer
    than the column holds, and the answer became a 500."""
    long_id = "x" * 80
    answer = httpx.put(f"{server.url}/engine-rest/process-instance/{long_id}/variables/a", params={"annotation": WHY},
                       json={"value": 1}, headers=bearer(keys["admin"]))
    assert answer.status_code == 404, answer.text
    with db.read() as conn:
        row = conn.execute(sa.select(audit_event).order_by(audit_event.c.seq.desc()).limit(1)).one()
    assert (row.status, row.instance_id, long_id in row.target) == (404, None, True)
    assert engine.verify_audit(db).ok
