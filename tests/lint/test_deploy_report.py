"""Deploy runs lint: it refuses on errors with the whole report — native and Camunda's ParseException —
and answers a successful deployment with its warnings. Nothing is written when it refuses."""

from __future__ import annotations

import httpx
import pytest

import engine
from tests.conftest import BPMN, Server, bearer, table_counts

LINT = BPMN / "lint"


def part(name: str) -> tuple[str, tuple[str, bytes]]:
    return ("files", (name, (LINT / name).read_bytes()))


def test_the_engine_refuses_with_every_problem(db: engine.Database, actor: engine.Actor) -> None:
    before = table_counts(db)
    with pytest.raises(engine.DeploymentError) as raised:
        engine.deploy(db, files=[engine.DeployFile("many_problems.bpmn", (LINT / "many_problems.bpmn").read_bytes())],
                      actor=actor)
    error = raised.value
    assert [(p.code, p.element_id) for p in error.problems if p.is_error] == [
        ("form-missing", "record"), ("service-no-topic", "submit"), ("gateway-condition", "decide"),
        ("timer-iso", "wait"), ("unreachable", "orphan")]
    assert (error.file, error.element_id) == ("many_problems.bpmn", "record")       # the first error
    assert error.message.startswith("5 errors stop this deployment: file many_problems.bpmn, line 5, element record")
    assert table_counts(db) == before


def test_the_native_answer_lists_every_problem(db: engine.Database, client: httpx.Client) -> None:
    before = table_counts(db)
    answer = client.post("/api/v1/deployments", files=[part("many_problems.bpmn"), part("unreachable.bpmn")])
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert (error["code"], error["file"], error["element_id"], error["line"]) == (
        "deployment_invalid", "many_problems.bpmn", "record", 5)
    errors = [(p["file"], p["element_id"], p["code"]) for p in error["problems"] if p["severity"] == "error"]
    many = "many_problems.bpmn"
    assert errors == [(many, "record", "form-missing"), (many, "submit", "service-no-topic"),
                      (many, "decide", "gateway-condition"), (many, "wait", "timer-iso"),
                      (many, "orphan", "unreachable"), ("unreachable.bpmn", "forgotten", "unreachable")]
    gateway = next(p for p in error["problems"] if p["code"] == "gateway-condition")
    assert gateway == {"severity": "error", "file": "many_problems.bpmn", "line": 7, "element_id": "decide",
                       "message": gateway["message"], "code": "gateway-condition", "related_ids": ["f4", "f5"]}
    assert table_counts(db) == before


def test_the_camunda_answer_is_a_parse_exception_with_details_per_resource(db: engine.Database,
                                                                          client: httpx.Client) -> None:
    before = table_counts(db)
    answer = client.post("/engine-rest/deployment/create", data={"deployment-name": "broken"},
                         files=[part("many_problems.bpmn"), part("implicit_end.bpmn")])
    assert answer.status_code == 400
    body = answer.json()
    assert body["type"] == "ParseException"
    assert body["message"].startswith("ENGINE-09005 Could not parse BPMN process. Errors: \n* ")
    assert "| resource many_problems.bpmn | line 7" in body["message"]
    assert set(body["details"]) == {"many_problems.bpmn", "implicit_end.bpmn"}
    errors = body["details"]["many_problems.bpmn"]["errors"]
    assert [e["mainElementId"] for e in errors] == ["record", "submit", "decide", "wait", "orphan"]
    assert errors[2] == {"message": errors[2]["message"], "line": 7, "column": 0, "mainElementId": "decide",
                         "elementIds": ["decide", "f4", "f5"]}
    assert body["details"]["implicit_end.bpmn"]["errors"] == []
    assert [w["mainElementId"] for w in body["details"]["implicit_end.bpmn"]["warnings"]] == ["task", "task"]
    assert table_counts(db) == before


def test_a_deployment_with_warnings_succeeds_and_says_so(db: engine.Database, keys: dict[str, str]) -> None:
    from api.cli import handler_topics
    server = Server(db, handler_topics=handler_topics()).start()          # as `reviewflow serve` makes it
    try:
        with httpx.Client(base_url=server.url, timeout=10, headers=bearer(keys["alice"])) as client:
            answer = client.post("/api/v1/deployments", files=[part("unknown_topic.bpmn")])
    finally:
        server.stop()
    assert answer.status_code == 201
    warnings = {(w["code"], w["element_id"]) for w in answer.json()["warnings"]}
    assert ("topic-no-handler", "task") in warnings                  # the server knows its handlers
    assert answer.json()["definitions"][0]["id"] == "unknown_topic:1"


def test_the_partnership_s_diagrams_deploy_without_warnings(db: engine.Database, actor: engine.Actor) -> None:
    from api.cli import deploy_directory
    result = deploy_directory(db, BPMN.parents[2] / "bpmn")
    assert result is not None
    assert sorted(d.definition.key for d in result.definitions) == [
        "action_plan", "agency_led_review", "agency_return", "case_screening", "cross_boundary_review",
        "information_request_elsewhere", "lcspr", "lcspr_review", "learning_dissemination", "local_learning_review",
        "national_panel_submission", "panel_meeting", "publication", "rapid_review", "rapid_review_work",
        "review_led_elsewhere", "reviewer_commissioning"]
    assert all(d.definition.version == 1 for d in result.definitions)
    assert result.warnings == ()


def test_deployments_are_listed_camunda_style(client: httpx.Client) -> None:
    first = client.post("/engine-rest/deployment/create", files=[part("no_candidate_group.bpmn")]).json()["id"]
    second = client.post("/engine-rest/deployment/create", files=[part("unknown_topic.bpmn")]).json()["id"]
    client.post("/engine-rest/deployment/create", files=[part("unknown_topic.bpmn")])      # unchanged: no deployment
    listed = client.get("/engine-rest/deployment").json()
    assert [d["id"] for d in listed] == [first, second]
    assert set(listed[0]) == {"links", "id", "name", "source", "tenantId", "deploymentTime"}
    assert [d["id"] for d in client.get("/engine-rest/deployment", params={"sortOrder": "desc"}).json()] == [
        second, first]
    assert [d["id"] for d in client.get("/engine-rest/deployment",
                                        params={"firstResult": 1, "maxResults": 1}).json()] == [second]
    assert client.get("/engine-rest/deployment", params={"maxResults": 0}).json() == []
