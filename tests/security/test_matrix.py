"""The permission matrix: every route × every role, against two organisations' cases (issue 11).

Two organisations — north and south — each have their own people (one per role), their own
group (`north-team`, `south-team`), their own worker topics, and cases whose variables, business
key and documents carry a marker string. Every person of north calls every route, once with the
real ids of a north case and once with the real ids of a south case. Each answer's status is
asserted exactly, from the oracle written out below (not read from the code under test); and no
answer to someone without every-case access contains the south marker.

Each role works on its own pair of cases, so what one role's requests change (a claim, a
delivered message, a retried incident, a cancellation — the last steps) cannot change another
role's answers. The test fails when a route exists that the matrix does not list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

import engine
from api.security import ROLES
from tests.conftest import Server, bearer
from tests.permissions import DF, MG, RP, A, D, E, M, R, S, U, W
from tests.permissions import ROLE_GRANTS as GRANTS
from tests.security.conftest import DATA

MARK = {"north": "NORTH-Q3X", "south": "SOUTH-Q3X"}

DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs_{org}" targetNamespace="http://reviewflow.example/m">
  <bpmn:message id="m_note_{org}" name="{org}_note"/>
  <bpmn:message id="m_rest_{org}" name="{org}_rest"/>
  <bpmn:process id="{org}_case" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:parallelGateway id="fork"/>
    <bpmn:userTask id="review" name="Review" camunda:candidateGroups="{org}-team" camunda:formKey="agency_return">
      <bpmn:extensionElements>
        <camunda:properties><camunda:property name="reads" value="child_name"/></camunda:properties>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:serviceTask id="work" camunda:type="external" camunda:topic="{org}-work"/>
    <bpmn:serviceTask id="fails" camunda:type="external" camunda:topic="{org}-fail"/>
    <bpmn:intermediateCatchEvent id="note">
      <bpmn:messageEventDefinition messageRef="m_note_{org}"/></bpmn:intermediateCatchEvent>
    <bpmn:intermediateCatchEvent id="rest">
      <bpmn:messageEventDefinition messageRef="m_rest_{org}"/></bpmn:intermediateCatchEvent>
    <bpmn:parallelGateway id="join"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="fork"/>
    <bpmn:sequenceFlow id="f1" sourceRef="fork" targetRef="review"/>
    <bpmn:sequenceFlow id="f2" sourceRef="fork" targetRef="work"/>
    <bpmn:sequenceFlow id="f3" sourceRef="fork" targetRef="fails"/>
    <bpmn:sequenceFlow id="f4" sourceRef="fork" targetRef="note"/>
    <bpmn:sequenceFlow id="f5" sourceRef="fork" targetRef="rest"/>
    <bpmn:sequenceFlow id="g1" sourceRef="review" targetRef="join"/>
    <bpmn:sequenceFlow id="g2" sourceRef="work" targetRef="join"/>
    <bpmn:sequenceFlow id="g3" sourceRef="fails" targetRef="join"/>
    <bpmn:sequenceFlow id="g4" sourceRef="note" targetRef="join"/>
    <bpmn:sequenceFlow id="g5" sourceRef="rest" targetRef="join"/>
    <bpmn:sequenceFlow id="g6" sourceRef="join" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""

# permissions, and what each role may do: one oracle, written out once in tests/api/test_security.py
SEES_ALL = {"admin", "business-unit", "auditor"}      # need-to-know does not apply to them
MANAGES = {"admin", "business-unit"}                  # may give tasks to others, take locks back

OWN, OTHER = "own", "other"


@dataclass(frozen=True)
class Step:
    """One request. `need`: the permissions any one of which lets it through (None: no login).
    `own`: the answer on the caller's own case; `hidden`: on the other organisation's case for
    someone need-to-know applies to; `seen`: on it for someone who sees every case (and, for
    external tasks, for someone not limited to topics). `body` and `files` build the request."""

    method: str
    path: str
    need: tuple[str, ...] | None
    own: int
    hidden: int
    seen: int
    body: Callable[[dict[str, Any]], Any] | None = None
    files: Callable[[dict[str, Any]], Any] | None = None
    params: Callable[[dict[str, Any]], Any] | None = None


def _file(name: str) -> Callable[[dict[str, Any]], Any]:
    return lambda c: {"file": (name, b"matrix upload", "text/plain")}


def _deploy(field: str) -> Callable[[dict[str, Any]], Any]:
    return lambda c: {field: (f"{c['org']}_case.bpmn", DIAGRAM.format(org=c["org"]).encode(), "application/xml")}


WRONG_WORKER = {"workerId": "not-the-holder"}
WAITING = ["review", "work", "fails", "note", "rest"]         # where a matrix case waits


def SAME_VERSION(c: dict[str, Any]) -> dict[str, Any]:  # noqa: N802 - reads as a constant body
    return {"source_definition_id": c["definition_id"], "target_definition_id": c["definition_id"]}


def CAMUNDA_PLAN(c: dict[str, Any], activities: list[str]) -> dict[str, Any]:  # noqa: N802
    return {"sourceProcessDefinitionId": c["definition_id"], "targetProcessDefinitionId": c["definition_id"],
            "instructions": [{"sourceActivityIds": [a], "targetActivityIds": [a]} for a in activities]}

# In order: what changes a case (claims are given back; messages, retries, cancellations) comes late.
STEPS: list[Step] = [
    Step("GET", "/api/v1/health", None, 200, 200, 200),
    Step("GET", "/api/v1/ready", None, 200, 200, 200),
    Step("POST", "/api/v1/deployments", (D,), 200, 200, 200, files=_deploy("files")),
    Step("POST", "/engine-rest/deployment/create", (D,), 200, 200, 200, files=_deploy("data")),
    Step("GET", "/api/v1/definitions", (DF,), 200, 200, 200),
    Step("GET", "/api/v1/definitions/{definition_id}", (DF,), 200, 200, 200),
    Step("GET", "/api/v1/definitions/{definition_id}/xml", (DF,), 200, 200, 200),
    Step("GET", "/api/v1/definitions/{definition_id}/diff", (DF,), 200, 200, 200,
         params=lambda c: {"against": c["definition_id"]}),
    Step("GET", "/engine-rest/deployment", (D,), 200, 200, 200),
    Step("GET", "/engine-rest/process-definition", (DF,), 200, 200, 200),
    Step("GET", "/engine-rest/process-definition/count", (DF,), 200, 200, 200),
    Step("GET", "/engine-rest/process-definition/key/{key}", (DF,), 200, 200, 200),
    Step("GET", "/engine-rest/process-definition/key/{key}/xml", (DF,), 200, 200, 200),
    Step("GET", "/engine-rest/process-definition/{definition_id}", (DF,), 200, 200, 200),
    Step("GET", "/engine-rest/process-definition/{definition_id}/xml", (DF,), 200, 200, 200),
    # cases
    Step("GET", "/api/v1/instances", (R,), 200, 200, 200, params=lambda c: {"business_key": c["business_key"]}),
    Step("GET", "/api/v1/instances/{instance_id}", (R,), 200, 404, 200),
    Step("GET", "/api/v1/instances/{instance_id}/history", (R,), 200, 404, 200),
    Step("GET", "/engine-rest/process-instance", (R,), 200, 200, 200,
         params=lambda c: {"businessKey": c["business_key"]}),
    Step("GET", "/engine-rest/process-instance/count", (R,), 200, 200, 200),
    Step("GET", "/engine-rest/process-instance/{instance_id}", (R,), 200, 404, 200),
    Step("GET", "/engine-rest/process-instance/{instance_id}/variables", (R,), 200, 404, 200),
    Step("GET", "/engine-rest/process-instance/{instance_id}/variables/{name}", (R,), 200, 404, 200),
    Step("GET", "/api/v1/audit/instances/{instance_id}", (U,), 200, 200, 200),
    Step("GET", "/api/v1/incidents", (R,), 200, 200, 200, params=lambda c: {"instance_id": c["instance_id"]}),
    Step("GET", "/engine-rest/incident/count", (R,), 200, 200, 200,
         params=lambda c: {"processInstanceId": c["instance_id"]}),
    Step("GET", "/api/v1/reports/timeliness", (R,), 200, 200, 200),
    Step("GET", "/api/v1/reports/timeliness.csv", (R,), 200, 200, 200),
    Step("GET", "/engine-rest/incident", (R,), 200, 200, 200,
         params=lambda c: {"processInstanceId": c["instance_id"]}),
    Step("GET", "/api/v1/incidents/{incident_id}", (A,), 200, 200, 200),
    # user tasks
    Step("GET", "/api/v1/user-tasks", (W,), 200, 200, 200, params=lambda c: {"instance_id": c["instance_id"]}),
    Step("GET", "/api/v1/user-tasks/{task_id}", (W,), 200, 404, 200),
    Step("GET", "/engine-rest/task", (W,), 200, 200, 200, params=lambda c: {"processInstanceId": c["instance_id"]}),
    Step("GET", "/engine-rest/task/count", (W,), 200, 200, 200),
    Step("GET", "/engine-rest/task/{task_id}", (W,), 200, 404, 200),
    Step("GET", "/engine-rest/task/{task_id}/variables", (W,), 200, 404, 200),
    Step("POST", "/api/v1/user-tasks/{task_id}/complete", (W,), 400, 404, 400,
         body=lambda c: {"variables": {"agency_return": 42}}),              # fails the task's form
    Step("POST", "/engine-rest/task/{task_id}/complete", (W,), 400, 404, 400,
         body=lambda c: {"variables": {"agency_return": {"value": 42, "type": "Integer"}}}),
    Step("POST", "/api/v1/user-tasks/{task_id}/claim", (W,), 200, 404, 403),    # seen, but not a candidate
    Step("POST", "/api/v1/user-tasks/{task_id}/unclaim", (W,), 200, 404, 200),
    Step("POST", "/engine-rest/task/{task_id}/claim", (W,), 204, 404, 403, body=lambda c: {}),
    Step("POST", "/engine-rest/task/{task_id}/unclaim", (W,), 204, 404, 204),
    Step("POST", "/api/v1/user-tasks/{task_id}/assign", (M,), 400, 400, 400,     # to no known user
         body=lambda c: {"assignee": "no-such-person"}),
    Step("POST", "/engine-rest/task/{task_id}/assignee", (M,), 400, 400, 400,
         body=lambda c: {"userId": "no-such-person"}),
    # documents; the documents the caller may see: none of a case they may not see (as of a case that does not exist)
    Step("GET", "/api/v1/instances/{instance_id}/documents", (W,), 200, 200, 200),
    Step("GET", "/api/v1/documents/{document_id}", (R, W), 200, 404, 200),
    Step("POST", "/api/v1/instances/{instance_id}/documents", (W,), 201, 404, 201, files=_file("minutes.txt")),
    Step("POST", "/api/v1/user-tasks/{task_id}/documents", (W,), 201, 404, 201, files=_file("imr.txt")),
    Step("POST", "/api/v1/instances/{instance_id}/shares", (S,), 204, 404, 204, body=lambda c: {"group": "observers"}),
    # external tasks: "hidden" is a worker limited to its own topics
    Step("POST", "/engine-rest/external-task/fetchAndLock", (E,), 200, 403, 200, body=lambda c: {
        "workerId": c["worker_id"], "maxTasks": 5,
        "topics": [{"topicName": f"{c['org']}-work", "lockDuration": 600000, "businessKey": c["business_key"]}]}),
    Step("GET", "/engine-rest/external-task", (E,), 200, 200, 200,
         params=lambda c: {"processInstanceId": c["instance_id"]}),
    Step("GET", "/engine-rest/external-task/count", (E,), 200, 200, 200),
    Step("GET", "/engine-rest/external-task/{external_id}", (E,), 200, 403, 200),
    Step("GET", "/engine-rest/external-task/{external_id}/errorDetails", (E,), 200, 403, 200),
    Step("GET", "/engine-rest/external-task/{external_id}/documents", (E,), 200, 403, 200),
    Step("GET", "/engine-rest/external-task/{external_id}/documents/{document_id}", (E,), 200, 403, 200),
    Step("POST", "/engine-rest/external-task/{external_id}/documents", (E,), 201, 403, 201, files=_file("brief.txt")),
    Step("POST", "/engine-rest/external-task/{external_id}/complete", (E,), 400, 403, 400, body=lambda c: WRONG_WORKER),
    Step("POST", "/engine-rest/external-task/{external_id}/failure", (E,), 400, 403, 400,
         body=lambda c: {**WRONG_WORKER, "retries": 1, "retryTimeout": 0}),
    Step("POST", "/engine-rest/external-task/{external_id}/bpmnError", (E,), 400, 403, 400,
         body=lambda c: {**WRONG_WORKER, "errorCode": "X"}),
    Step("POST", "/engine-rest/external-task/{external_id}/extendLock", (E,), 400, 403, 400,
         body=lambda c: {**WRONG_WORKER, "newDuration": 1000}),
    Step("POST", "/engine-rest/external-task/{external_id}/unlock", (E,), 204, 403, 204),
    Step("PUT", "/engine-rest/external-task/{external_id}/retries", (E,), 204, 403, 204, body=lambda c: {"retries": 2}),
    # moving cases between versions (here onto the version they run on): a process owner moves anyone's
    # cases, and is told only case ids and activity ids
    Step("POST", "/api/v1/migrations/plan", (MG,), 200, 200, 200, body=lambda c: SAME_VERSION(c)),
    Step("POST", "/api/v1/migrations", (MG,), 200, 200, 200,
         body=lambda c: {**SAME_VERSION(c), "instance_ids": [c["instance_id"]]}),
    Step("POST", "/engine-rest/migration/generate", (MG,), 200, 200, 200, body=lambda c: CAMUNDA_PLAN(c, [])),
    Step("POST", "/engine-rest/migration/validate", (MG,), 200, 200, 200, body=lambda c: CAMUNDA_PLAN(c, WAITING)),
    Step("POST", "/engine-rest/migration/execute", (MG,), 204, 204, 204, body=lambda c: {
        "migrationPlan": CAMUNDA_PLAN(c, WAITING), "processInstanceIds": [c["instance_id"]]}),
    # repairs: administrators only, always with a reason
    Step("PUT", "/api/v1/instances/{instance_id}/variables/{name}", (RP,), 200, 200, 200,
         body=lambda c: {"value": "repaired", "reason": "matrix"}),
    Step("DELETE", "/api/v1/instances/{instance_id}/variables/{name}", (RP,), 200, 200, 200,
         params=lambda c: {"reason": "matrix"}),
    Step("PUT", "/engine-rest/process-instance/{instance_id}/variables/{name}", (RP,), 204, 204, 204,
         body=lambda c: {"value": "again", "type": "String"}, params=lambda c: {"annotation": "matrix"}),
    Step("DELETE", "/engine-rest/process-instance/{instance_id}/variables/{name}", (RP,), 204, 204, 204,
         params=lambda c: {"annotation": "matrix"}),
    Step("POST", "/api/v1/instances/{instance_id}/modification", (RP,), 200, 200, 200, body=lambda c: {
        "instructions": [{"type": "cancel", "activity_id": "rest"},
                         {"type": "startBeforeActivity", "activity_id": "rest"}], "reason": "matrix"}),
    Step("POST", "/engine-rest/process-instance/{instance_id}/modification", (RP,), 204, 204, 204, body=lambda c: {
        "instructions": [{"type": "cancel", "activityId": "note"},
                         {"type": "startBeforeActivity", "activityId": "note"}], "annotation": "matrix"}),
    Step("POST", "/api/v1/instances/{instance_id}/suspend", (RP,), 200, 200, 200, body=lambda c: {"reason": "matrix"}),
    Step("POST", "/api/v1/instances/{instance_id}/resume", (RP,), 200, 200, 200, body=lambda c: {"reason": "matrix"}),
    Step("PUT", "/engine-rest/process-instance/{instance_id}/suspended", (RP,), 204, 204, 204,
         body=lambda c: {"suspended": False, "annotation": "matrix"}),
    # changes that stay: messages, a retried incident, new cases, cancellation
    Step("POST", "/api/v1/messages", (S,), 200, 404, 200,
         body=lambda c: {"message_name": f"{c['org']}_note", "business_key": c["business_key"]}),
    Step("POST", "/engine-rest/message", (S,), 204, 400, 204,
         body=lambda c: {"messageName": f"{c['org']}_rest", "businessKey": c["business_key"]}),
    Step("POST", "/api/v1/incidents/{incident_id}/retry", (A,), 200, 200, 200),
    Step("POST", "/api/v1/instances", (S,), 201, 201, 201, body=lambda c: {"definition_key": f"{c['org']}_case"}),
    Step("POST", "/engine-rest/process-definition/key/{key}/start", (S,), 200, 200, 200, body=lambda c: {}),
    Step("POST", "/engine-rest/process-definition/key/{key}/tenant-id/{tenant_id}/start", (S,), 200, 200, 200,
         body=lambda c: {}),
    Step("POST", "/engine-rest/process-definition/{definition_id}/start", (S,), 200, 200, 200, body=lambda c: {}),
    Step("POST", "/api/v1/instances/{instance_id}/cancel", (S,), 200, 404, 200, body=lambda c: {"reason": "matrix"}),
    # already cancelled: Reviewflow keeps ended cases, so refuses (Camunda, which forgets them, would say 404)
    Step("DELETE", "/engine-rest/process-instance/{instance_id}", (S,), 400, 404, 400),
]

# Where a role's answer is not the rule's: each with its reason.
EXCEPTIONS: dict[tuple[str, str, str, str], int] = {
    # an agency lead sees their tasks, never whole cases: not the case's own documents, no upload to the case
    ("agency-lead", "GET", "/api/v1/documents/{document_id}", OWN): 404,
    ("agency-lead", "POST", "/api/v1/instances/{instance_id}/documents", OWN): 404,
    # the worker holds the own task's lock after fetchAndLock: wrong worker ids are still refused (400)
}


def status_for(step: Step, role: str | None, target: str) -> int:
    """The oracle: what `role` (None: nobody signed in) gets for `step` on its own or the other case."""
    if step.need is None:
        return step.own
    if role is None:
        return 401
    if not set(step.need) & GRANTS[role]:
        return 403
    if (role, step.method, step.path, target) in EXCEPTIONS:
        return EXCEPTIONS[(role, step.method, step.path, target)]
    if target == OWN:
        return step.own
    unrestricted = role in SEES_ALL if step.need != (E,) else role != "worker"
    return step.seen if unrestricted else step.hidden


def test_the_oracle_knows_every_role() -> None:
    assert set(GRANTS) == set(ROLES)


def test_the_matrix_covers_every_route(server: Server) -> None:
    spec = server.app.openapi()
    routes = {(method.upper(), path) for path, item in spec["paths"].items() for method in item}
    listed = {(s.method, s.path.replace("{external_id}", "{task_id}")) for s in STEPS}
    assert len(listed) == len(STEPS)
    assert listed == routes


def make_case(client: httpx.Client, org: str, role: str) -> dict[str, Any]:
    """A case of `org` for `role`'s requests: its user task, external tasks, an incident, a document."""
    business_key = f"{MARK[org]}-{role}"
    started = client.post("/api/v1/instances", json={
        "definition_key": f"{org}_case", "business_key": business_key,
        "variables": {"child_name": f"{MARK[org]} child", "agency": org}})
    assert started.status_code == 201, started.text
    case = started.json()
    [task] = case["user_tasks"]
    externals = {t["activity_id"]: t["id"] for t in case["external_tasks"]}
    document = client.post(f"/api/v1/instances/{case['id']}/documents",
                           files={"file": (f"{MARK[org]}-imr.txt", f"{MARK[org]} IMR".encode(), "text/plain")})
    assert document.status_code == 201, document.text
    return {"org": org, "instance_id": case["id"], "task_id": task["id"], "external_id": externals["work"],
            "failing_id": externals["fails"], "document_id": document.json()["id"], "business_key": business_key,
            "definition_id": f"{org}_case:1", "key": f"{org}_case", "tenant_id": "t", "name": "child_name"}


@pytest.fixture
def organisations(db: engine.Database, server: Server, keys: dict[str, str]) -> dict[str, Any]:
    """North's people with keys, south's people, and a pair of cases (north, south) per caller."""
    callers: dict[str, str] = {}
    for org in ("north", "south"):
        for role in GRANTS:
            principal = f"{role}-{org}"
            worker = role == "worker"
            engine.create_principal(db, principal_id=principal, roles=[role], groups=[f"{org}-team"],
                                    organisation=org if role == "agency-lead" else None,
                                    kind="worker" if worker else "user",
                                    topics=[f"{org}-work", f"{org}-fail"] if worker else None)
            if org == "north":
                callers[role] = engine.issue_key(db, principal_id=principal).secret
    with httpx.Client(base_url=server.url, timeout=30, headers=bearer(keys["admin"])) as admin:
        form = (DATA / "forms/agency_return.json").read_bytes()
        deployed = admin.post("/api/v1/deployments", files=[
            ("files", (f"{org}_case.bpmn", DIAGRAM.format(org=org).encode(), "application/xml"))
            for org in ("north", "south")] + [("files", ("forms/agency_return.json", form, "application/json"))])
        assert deployed.status_code == 201, deployed.text
        cases = {role: {OWN: make_case(admin, "north", role), OTHER: make_case(admin, "south", role)}
                 for role in [*GRANTS, "anonymous"]}
        failing = admin.post("/engine-rest/external-task/fetchAndLock", json={
            "workerId": "setup", "maxTasks": 100, "topics": [{"topicName": "north-fail", "lockDuration": 60000},
                                                             {"topicName": "south-fail", "lockDuration": 60000}]})
        assert len(failing.json()) == 2 * len(cases), failing.text
        for task in failing.json():
            failed = admin.post(f"/engine-rest/external-task/{task['id']}/failure",
                                json={"workerId": "setup", "errorMessage": "boom", "retries": 0, "retryTimeout": 0})
            assert failed.status_code == 204, failed.text
        for pair in cases.values():
            for case in pair.values():
                [incident] = admin.get("/api/v1/incidents", params={"instance_id": case["instance_id"]}).json()["data"]
                case["incident_id"] = incident["id"]
    return {"callers": callers, "cases": cases}


def test_every_route_for_every_role_on_both_organisations_cases(server: Server, organisations: dict[str, Any]) -> None:
    wrong: list[str] = []
    leaks: list[str] = []
    own_marks_seen: set[str] = set()          # the control: the check does see a marker where it may be
    callers: dict[str, str | None] = {**organisations["callers"], "anonymous": None}
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for role, key in callers.items():
            headers = bearer(key) if key else {}
            for step in STEPS:
                for target in (OWN, OTHER):
                    case = {**organisations["cases"][role][target], "worker_id": f"matrix-{role}"}
                    path = step.path.format(**case)
                    answer = http.request(step.method, path, headers=headers,
                                          json=step.body(case) if step.body else None,
                                          files=step.files(case) if step.files else None,
                                          params=step.params(case) if step.params else None)
                    expected = status_for(step, None if role == "anonymous" else role, target)
                    if answer.status_code != expected:
                        wrong.append(f"{role} {step.method} {step.path} ({target} case): {answer.status_code}, "
                                     f"expected {expected}: {answer.text[:160]}")
                    said = answer.text
                    if answer.status_code >= 400:       # a refusal may repeat what the caller sent it
                        said = said.replace(case["business_key"], "")
                    if role not in SEES_ALL and MARK["south"] in said:
                        leaks.append(f"{role} {step.method} {step.path} ({target} case): {answer.text[:200]}")
                    if target == OWN and MARK["north"] in said:
                        own_marks_seen.add(role)
    assert own_marks_seen >= {"crg-member", "agency-lead", "worker", "reviewer"}
    assert "process-owner" not in own_marks_seen           # it reads no case data, not even its own group's
    assert leaks == [], "\n".join(leaks)
    assert wrong == [], "\n".join(wrong)
