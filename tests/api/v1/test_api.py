"""The native API over real HTTP: the newcomer's path, and every refusal a clear 4xx that writes nothing."""

from __future__ import annotations

import threading

import httpx
import pytest

import engine
from tests.conftest import BPMN, bearer, table_counts


def deploy_file(client: httpx.Client, *names: str) -> httpx.Response:
    return client.post("/api/v1/deployments",
                       files=[("files", (n, (BPMN / n).read_bytes())) for n in names])


def test_deploy_start_complete_and_read_history(client: httpx.Client) -> None:
    deployed = deploy_file(client, "one_user_task.bpmn")
    assert deployed.status_code == 201
    assert deployed.json()["definitions"][0]["id"] == "one_user_task:1"
    started = client.post("/api/v1/instances", json={"definition_key": "one_user_task", "business_key": "SIN-1",
                                                     "variables": {"child_age": 7}})
    assert started.status_code == 201
    body = started.json()
    [task] = body["user_tasks"]
    listed = client.get("/api/v1/user-tasks", params={"candidate_group": "case-review-group"}).json()
    assert [t["id"] for t in listed["data"]] == [task["id"]] and listed["count"] == 1
    detail = client.get(f"/api/v1/user-tasks/{task['id']}").json()
    assert detail["variables"] == {"child_age": 7} and detail["form_schema"] is None
    done = client.post(f"/api/v1/user-tasks/{task['id']}/complete", json={"variables": {"approved": True}})
    assert done.status_code == 200 and done.json()["status"] == "completed"
    history = client.get(f"/api/v1/instances/{body['id']}/history").json()
    assert [e["kind"] for e in history["data"]] == ["instance_started", "task_created", "task_completed",
                                                    "instance_completed"]
    assert history["data"][2]["actor"] == "alice"
    got = client.get(f"/api/v1/instances/{body['id']}").json()
    assert got["variables"] == {"child_age": 7, "approved": True}


def test_redeploying_the_same_xml_says_unchanged(client: httpx.Client) -> None:
    assert deploy_file(client, "one_user_task.bpmn").status_code == 201
    again = deploy_file(client, "one_user_task.bpmn")
    assert again.status_code == 200
    assert again.json()["message"] == "0 new versions, 1 unchanged"
    assert again.json()["definitions"][0]["created"] is False


def test_a_raw_xml_body_deploys_too(client: httpx.Client) -> None:
    response = client.post("/api/v1/deployments", params={"filename": "one.bpmn"},
                           content=(BPMN / "one_user_task.bpmn").read_bytes(),
                           headers={"content-type": "application/xml"})
    assert response.status_code == 201
    assert client.get("/api/v1/definitions/one_user_task:1/xml").text.startswith("<?xml")


@pytest.mark.parametrize(("files", "where"), [
    ([("files", ("broken.bpmn", b"<bpmn:definitions"))], {"file": "broken.bpmn", "line": 1}),
    ([("files", ("bomb.bpmn",
                 b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><l>&b;</l>'))],
     {"file": "bomb.bpmn"}),
    ([("files", ("svc.bpmn", (BPMN / "service_without_topic.bpmn").read_bytes()))], {"file": "svc.bpmn"}),
])
def test_bad_deployments_answer_400_naming_the_file(db: engine.Database, client: httpx.Client,
                                                    files: list, where: dict) -> None:
    before = table_counts(db)
    response = client.post("/api/v1/deployments", files=files)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "deployment_invalid" and error["message"]
    assert {k: error.get(k) for k in where} == where
    assert table_counts(db) == before


@pytest.mark.parametrize(("method", "path", "json", "status", "code"), [
    ("post", "/api/v1/instances", {"definition_key": "nope"}, 404, "definition_not_found"),
    ("post", "/api/v1/instances", {"definition_key": "one_user_task", "variables": [1, 2]}, 400, "invalid_request"),
    ("post", "/api/v1/instances", {"definition_key": "one_user_task", "variables": {"1x": 1}}, 400,
     "variables_invalid"),
    ("post", "/api/v1/instances", {"definition_key": 12}, 400, "invalid_request"),
    ("post", "/api/v1/instances", {"definition_key": "one_user_task", "surprise": 1}, 400, "invalid_request"),
    ("post", "/api/v1/instances", {}, 400, "invalid"),
    ("post", "/api/v1/user-tasks/00000000-0000-0000-0000-000000000000/complete", {"variables": {}}, 404,
     "task_not_found"),
    ("get", "/api/v1/instances/unknown", None, 404, "instance_not_found"),
    ("post", "/api/v1/instances/unknown/cancel", {"reason": "x"}, 404, "instance_not_found"),
    ("post", "/api/v1/instances/unknown/cancel", {}, 400, "invalid_request"),
    ("get", "/api/v1/instances?status=weird", None, 400, "invalid_request"),
    ("get", "/api/v1/instances?limit=100000", None, 400, "invalid_request"),
])
def test_bad_requests_get_a_clear_error_and_write_nothing(db: engine.Database, client: httpx.Client, method: str,
                                                          path: str, json: object, status: int, code: str) -> None:
    deploy_file(client, "one_user_task.bpmn")
    before = table_counts(db)
    response = client.request(method.upper(), path, json=json)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code and body["error"]["message"]
    assert table_counts(db) == before


def test_malformed_json_is_a_400(client: httpx.Client) -> None:
    response = client.post("/api/v1/instances", content=b"{nope", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "the request body is not valid JSON"


def test_a_task_claimed_by_someone_else_cannot_be_completed(db: engine.Database, client: httpx.Client,
                                                           keys: dict[str, str]) -> None:
    deploy_file(client, "one_user_task.bpmn")
    task = client.post("/api/v1/instances", json={"definition_key": "one_user_task"}).json()["user_tasks"][0]
    claimed = client.post(f"/api/v1/user-tasks/{task['id']}/claim", json={"assignee": "bob"})
    assert claimed.status_code == 200 and claimed.json()["assignee"] == "bob"
    before = table_counts(db)
    response = client.post(f"/api/v1/user-tasks/{task['id']}/complete", json={"variables": {}})
    assert response.status_code == 409 and response.json()["error"]["code"] == "task_claimed_by_other"
    assert table_counts(db) == before
    as_bob = client.post(f"/api/v1/user-tasks/{task['id']}/complete", json={"variables": {}},
                         headers=bearer(keys["bob"]))
    assert as_bob.status_code == 200


def test_concurrent_http_completions_one_wins_the_rest_409(db: engine.Database, client: httpx.Client,
                                                           server, keys) -> None:  # type: ignore[no-untyped-def]
    deploy_file(client, "one_user_task.bpmn")
    started = client.post("/api/v1/instances", json={"definition_key": "one_user_task"}).json()
    task_id = started["user_tasks"][0]["id"]
    barrier = threading.Barrier(6)
    codes: list[int] = []

    def go() -> None:
        with httpx.Client(base_url=server.url, timeout=10, headers=bearer(keys["alice"])) as c:
            barrier.wait()
            codes.append(c.post(f"/api/v1/user-tasks/{task_id}/complete",
                                json={"variables": {"approved": True}}).status_code)

    threads = [threading.Thread(target=go) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(codes) == [200, 409, 409, 409, 409, 409]
    assert client.get(f"/api/v1/instances/{started['id']}").json()["version"] == 2


def test_cancel_and_list_filters(client: httpx.Client) -> None:
    deploy_file(client, "one_user_task.bpmn")
    ids = [client.post("/api/v1/instances", json={"definition_key": "one_user_task",
                                                  "business_key": f"case-{i}"}).json()["id"] for i in range(3)]
    cancelled = client.post(f"/api/v1/instances/{ids[0]}/cancel", json={"reason": "duplicate notification"})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = client.post(f"/api/v1/instances/{ids[0]}/cancel", json={"reason": "again"})
    assert again.status_code == 409
    assert client.get("/api/v1/instances", params={"status": "active"}).json()["count"] == 2
    page = client.get("/api/v1/instances", params={"limit": 1, "offset": 1}).json()
    assert page["count"] == 3 and len(page["data"]) == 1
    assert client.get("/api/v1/instances", params={"business_key": "case-2"}).json()["data"][0]["id"] == ids[2]


def test_incidents_can_be_listed_and_retried(client: httpx.Client) -> None:
    deploy_file(client, "failing_script.bpmn")
    started = client.post("/api/v1/instances", json={"definition_key": "failing_script",
                                                     "variables": {"total": 1, "count": 0}}).json()
    [incident] = client.get("/api/v1/incidents", params={"instance_id": started["id"]}).json()["data"]
    assert incident["type"] == "failedTask" and incident["activity_id"] == "divide"
    assert client.get("/api/v1/incidents", params={"type": "failedExternalTask"}).json()["count"] == 0
    retried = client.post(f"/api/v1/incidents/{incident['id']}/retry")
    assert retried.status_code == 200
    assert client.post(f"/api/v1/incidents/{incident['id']}/retry").status_code == 400   # already resolved


def test_health_and_openapi(db: engine.Database, client: httpx.Client) -> None:
    assert client.get("/api/v1/health").json() == {"status": "ok"}       # liveness; /ready asks the database
    assert client.get("/api/v1/ready").json()["checks"]["database"] == {"ok": True, "problem": None,
                                                                         "dialect": db.dialect.name}
    spec = client.get("/openapi.json").json()
    operations = [op for path in spec["paths"].values() for op in path.values()]
    native = [op for p, item in spec["paths"].items() if p.startswith("/api/v1") for op in item.values()]
    assert all(op.get("description") or op.get("summary") for op in operations)
    assert all(op["operationId"].count("-") >= 1 for op in native)
    assert "example" in str(spec["components"]["schemas"]["StartInstanceIn"])
    assert client.get("/docs").status_code == 200


def test_a_body_over_the_limit_is_refused(client: httpx.Client) -> None:
    big = b"x" * (26 * 1024 * 1024)
    response = client.post("/api/v1/deployments", content=big, headers={"content-type": "application/xml"})
    assert response.status_code == 413
