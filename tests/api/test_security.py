"""Who may see and do what: the permission matrix, need-to-know, keys, tokens, the audit trail."""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jwt
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import rsa

import engine
from api.settings import ServerSettings
from tests.conftest import BPMN, Server, bearer
from tests.permissions import DF, MG, ROLE_GRANTS, RP, A, D, E, M, R, S, U, W

X = "00000000-0000-0000-0000-000000000000"

# every route and the permission it needs; the test fails if a route is missing here
ROUTES: dict[tuple[str, str], str | tuple[str, ...] | None] = {      # a tuple: any one of them
    ("GET", "/api/v1/health"): None,
    ("GET", "/api/v1/ready"): None,
    ("POST", "/api/v1/deployments"): D,
    ("GET", "/api/v1/definitions"): DF,
    ("GET", "/api/v1/definitions/{definition_id}"): DF,
    ("GET", "/api/v1/definitions/{definition_id}/xml"): DF,
    ("GET", "/api/v1/definitions/{definition_id}/diff"): DF,
    ("POST", "/api/v1/migrations/plan"): MG,
    ("POST", "/api/v1/migrations"): MG,
    ("PUT", "/api/v1/instances/{instance_id}/variables/{name}"): RP,
    ("DELETE", "/api/v1/instances/{instance_id}/variables/{name}"): RP,
    ("POST", "/api/v1/instances/{instance_id}/modification"): RP,
    ("POST", "/api/v1/instances/{instance_id}/suspend"): RP,
    ("POST", "/api/v1/instances/{instance_id}/resume"): RP,
    ("POST", "/api/v1/instances"): S,
    ("GET", "/api/v1/instances"): R,
    ("GET", "/api/v1/instances/{instance_id}"): R,
    ("POST", "/api/v1/instances/{instance_id}/cancel"): S,
    ("GET", "/api/v1/instances/{instance_id}/history"): R,
    ("GET", "/api/v1/user-tasks"): W,
    ("GET", "/api/v1/user-tasks/{task_id}"): W,
    ("POST", "/api/v1/user-tasks/{task_id}/claim"): W,
    ("POST", "/api/v1/user-tasks/{task_id}/assign"): M,
    ("POST", "/api/v1/user-tasks/{task_id}/unclaim"): W,
    ("POST", "/api/v1/user-tasks/{task_id}/complete"): W,
    ("GET", "/api/v1/incidents"): R,
    ("GET", "/api/v1/incidents/{incident_id}"): A,
    ("POST", "/api/v1/incidents/{incident_id}/retry"): A,
    ("POST", "/api/v1/messages"): S,
    ("POST", "/api/v1/instances/{instance_id}/shares"): S,
    ("GET", "/api/v1/audit/instances/{instance_id}"): U,
    ("POST", "/api/v1/instances/{instance_id}/documents"): W,
    ("POST", "/api/v1/user-tasks/{task_id}/documents"): W,
    ("GET", "/api/v1/instances/{instance_id}/documents"): W,
    ("GET", "/api/v1/documents/{document_id}"): (R, W),
    ("GET", "/engine-rest/external-task/{task_id}/documents"): E,
    ("GET", "/engine-rest/external-task/{task_id}/documents/{document_id}"): E,
    ("POST", "/engine-rest/external-task/{task_id}/documents"): E,
    ("POST", "/engine-rest/external-task/fetchAndLock"): E,
    ("POST", "/engine-rest/external-task/{task_id}/complete"): E,
    ("POST", "/engine-rest/external-task/{task_id}/failure"): E,
    ("POST", "/engine-rest/external-task/{task_id}/bpmnError"): E,
    ("POST", "/engine-rest/external-task/{task_id}/extendLock"): E,
    ("POST", "/engine-rest/external-task/{task_id}/unlock"): E,
    ("PUT", "/engine-rest/external-task/{task_id}/retries"): E,
    ("GET", "/engine-rest/external-task/{task_id}/errorDetails"): E,
    ("GET", "/engine-rest/external-task/count"): E,
    ("GET", "/engine-rest/external-task/{task_id}"): E,
    ("GET", "/engine-rest/external-task"): E,
    ("POST", "/engine-rest/deployment/create"): D,
    ("GET", "/engine-rest/deployment"): D,
    ("GET", "/engine-rest/process-definition"): DF,
    ("GET", "/engine-rest/process-definition/count"): DF,
    ("GET", "/engine-rest/process-definition/key/{key}"): DF,
    ("GET", "/engine-rest/process-definition/key/{key}/xml"): DF,
    ("GET", "/engine-rest/process-definition/{definition_id}"): DF,
    ("GET", "/engine-rest/process-definition/{definition_id}/xml"): DF,
    ("POST", "/engine-rest/process-definition/key/{key}/start"): S,
    ("POST", "/engine-rest/process-definition/key/{key}/tenant-id/{tenant_id}/start"): S,
    ("POST", "/engine-rest/process-definition/{definition_id}/start"): S,
    ("GET", "/engine-rest/process-instance"): R,
    ("GET", "/engine-rest/process-instance/count"): R,
    ("GET", "/engine-rest/process-instance/{instance_id}"): R,
    ("DELETE", "/engine-rest/process-instance/{instance_id}"): S,
    ("GET", "/engine-rest/process-instance/{instance_id}/variables"): R,
    ("GET", "/engine-rest/process-instance/{instance_id}/variables/{name}"): R,
    ("PUT", "/engine-rest/process-instance/{instance_id}/variables/{name}"): RP,      # and R: every RP has it
    ("DELETE", "/engine-rest/process-instance/{instance_id}/variables/{name}"): RP,
    ("POST", "/engine-rest/process-instance/{instance_id}/modification"): RP,
    ("PUT", "/engine-rest/process-instance/{instance_id}/suspended"): RP,
    ("POST", "/engine-rest/migration/generate"): MG,
    ("POST", "/engine-rest/migration/validate"): MG,
    ("POST", "/engine-rest/migration/execute"): MG,
    ("GET", "/engine-rest/task"): W,
    ("GET", "/engine-rest/task/count"): W,
    ("GET", "/engine-rest/task/{task_id}"): W,
    ("GET", "/engine-rest/task/{task_id}/variables"): W,
    ("POST", "/engine-rest/task/{task_id}/claim"): W,
    ("POST", "/engine-rest/task/{task_id}/assignee"): M,
    ("POST", "/engine-rest/task/{task_id}/unclaim"): W,
    ("POST", "/engine-rest/task/{task_id}/complete"): W,
    ("GET", "/engine-rest/incident"): R,
    ("GET", "/engine-rest/incident/count"): R,
    ("POST", "/engine-rest/message"): S,
    ("GET", "/api/v1/reports/timeliness"): R,
    ("GET", "/api/v1/reports/timeliness.csv"): R,
}
PARAMS = {"definition_id": "nope:1", "instance_id": X, "task_id": X, "incident_id": X, "key": "nope",
          "tenant_id": "t", "name": "v", "document_id": X}


@pytest.fixture
def role_keys(db: engine.Database) -> dict[str, str]:
    out = {}
    for role in ROLE_GRANTS:
        engine.create_principal(db, principal_id=f"user-{role}", roles=[role], groups=["case-review-group"],
                                kind="worker" if role == "worker" else "user",
                                organisation="police" if role == "agency-lead" else None)
        out[role] = engine.issue_key(db, principal_id=f"user-{role}").secret
    return out


def test_the_matrix_covers_every_route(server: Server) -> None:
    spec = server.app.openapi()
    routes = {(m.upper(), p) for p, item in spec["paths"].items() for m in item}
    assert routes == set(ROUTES)


def test_every_route_for_every_role(server: Server, role_keys: dict[str, str]) -> None:
    wrong: list[str] = []
    with httpx.Client(base_url=server.url, timeout=10) as c:
        for (method, template), needed in ROUTES.items():
            path = template.format(**PARAMS)
            anonymous = c.request(method, path, json={})
            if needed is None:
                if anonymous.status_code != 200:
                    wrong.append(f"anonymous {method} {template}: {anonymous.status_code}")
                continue
            if anonymous.status_code != 401:
                wrong.append(f"anonymous {method} {template}: {anonymous.status_code}, expected 401")
            for role, key in role_keys.items():
                status = c.request(method, path, json={}, headers=bearer(key)).status_code
                allowed = bool(set(needed if isinstance(needed, tuple) else (needed,)) & ROLE_GRANTS[role])
                if allowed and status in (401, 403):
                    wrong.append(f"{role} {method} {template}: {status}, should be allowed")
                if not allowed and status != 403:
                    wrong.append(f"{role} {method} {template}: {status}, expected 403")
    assert wrong == []


def test_an_agency_lead_sees_only_their_agencys_requests(db: engine.Database, server: Server,
                                                        role_keys: dict[str, str], keys: dict[str, str]) -> None:
    engine.deploy(db, files=[engine.DeployFile("s.bpmn", (BPMN / "scoping_requests.bpmn").read_bytes())],
                  actor=engine.Actor.system("po"))
    started = engine.start_instance(db, actor=engine.Actor.system("bu"), definition_key="scoping_requests",
                                    variables={"agencies": ["police", "icb", "school"]})
    engine.create_principal(db, principal_id="icb-lead", roles=["agency-lead"], groups=["agency-leads"],
                            organisation="icb")
    icb_key = engine.issue_key(db, principal_id="icb-lead").secret
    engine.create_principal(db, principal_id="police-lead", roles=["agency-lead"], groups=["agency-leads"],
                            organisation="police")
    police_key = engine.issue_key(db, principal_id="police-lead").secret
    police_task = next(t for t in started.user_tasks if t.organisation == "police")
    with httpx.Client(base_url=server.url, timeout=10) as c:
        for key, agency in ((icb_key, "icb"), (police_key, "police")):
            listed = c.get("/api/v1/user-tasks", headers=bearer(key)).json()
            assert [t["id"] for t in listed["data"]] == [t.id for t in started.user_tasks if t.organisation == agency]
            assert listed["count"] == 1
            camunda = c.get("/engine-rest/task", headers=bearer(key)).json()
            assert len(camunda) == 1
        assert c.get(f"/api/v1/user-tasks/{police_task.id}", headers=bearer(icb_key)).status_code == 404
        refused = c.post(f"/api/v1/user-tasks/{police_task.id}/complete", headers=bearer(icb_key),
                         json={"variables": {"scoping_document": {"summary": "not mine"}}})
        assert refused.status_code == 404
        assert c.post(f"/api/v1/user-tasks/{police_task.id}/complete", headers=bearer(police_key),
                      json={"variables": {"scoping_document": {"summary": "ours"}}}).status_code == 200


def test_need_to_know_on_cases_and_sharing(db: engine.Database, server: Server, keys: dict[str, str]) -> None:
    engine.deploy(db, files=[engine.DeployFile("o.bpmn", (BPMN / "one_user_task.bpmn").read_bytes())],
                  actor=engine.Actor.system("po"))
    case = engine.start_instance(db, actor=engine.Actor.system("bu"), definition_key="one_user_task")
    engine.create_principal(db, principal_id="pat", roles=["panel-member"], groups=["lcspr-panel"])
    pat = bearer(engine.issue_key(db, principal_id="pat").secret)
    with httpx.Client(base_url=server.url, timeout=10) as c:
        assert c.get(f"/api/v1/instances/{case.id}", headers=bearer(keys["bob"])).status_code == 200  # a candidate
        assert c.get(f"/api/v1/instances/{case.id}", headers=pat).status_code == 404
        assert c.get("/api/v1/instances", headers=pat).json()["count"] == 0
        assert c.get(f"/api/v1/instances/{case.id}/history", headers=pat).status_code == 404
        shared = c.post(f"/api/v1/instances/{case.id}/shares", json={"group": "lcspr-panel"},
                        headers=bearer(keys["alice"]))
        assert shared.status_code == 204
        assert c.get(f"/api/v1/instances/{case.id}", headers=pat).status_code == 200
        assert c.get("/api/v1/instances", headers=pat).json()["count"] == 1


def test_a_revoked_key_or_disabled_user_stops_working_at_once(db: engine.Database, server: Server) -> None:
    engine.create_principal(db, principal_id="temp", roles=["business-unit"])
    issued = engine.issue_key(db, principal_id="temp")
    other = engine.issue_key(db, principal_id="temp")
    with httpx.Client(base_url=server.url, timeout=10) as c:
        assert c.get("/api/v1/instances", headers=bearer(issued.secret)).status_code == 200
        engine.revoke_key(db, key_id=issued.key.id)
        assert c.get("/api/v1/instances", headers=bearer(issued.secret)).status_code == 401
        assert c.get("/api/v1/instances", headers=bearer(other.secret)).status_code == 200
        engine.disable_principal(db, principal_id="temp")
        assert c.get("/api/v1/instances", headers=bearer(other.secret)).status_code == 401
        tampered = issued.secret[:-2] + ("aa" if not issued.secret.endswith("aa") else "bb")
        assert c.get("/api/v1/instances", headers=bearer(tampered)).status_code == 401
        basic = base64.b64encode(f"someone-else:{other.secret}".encode()).decode()
        assert c.get("/api/v1/instances", headers={"Authorization": f"Basic {basic}"}).status_code == 401
        assert c.get("/api/v1/instances").headers["www-authenticate"].startswith("Bearer")


def test_a_worker_key_serves_only_its_topics(db: engine.Database, server: Server) -> None:
    engine.deploy(db, files=[engine.DeployFile(n, (BPMN / n).read_bytes())
                             for n in ("external_task.bpmn", "race_task.bpmn")], actor=engine.Actor.system("po"))
    engine.start_instance(db, actor=engine.Actor.system("bu"), definition_key="external_task")
    engine.start_instance(db, actor=engine.Actor.system("bu"), definition_key="race_task")
    engine.create_principal(db, principal_id="racer", roles=["worker"], kind="worker", topics=["race"])
    racer = bearer(engine.issue_key(db, principal_id="racer").secret)
    with httpx.Client(base_url=f"{server.url}/engine-rest", timeout=10, headers=racer) as c:
        body = {"workerId": "racer", "maxTasks": 5, "topics": [{"topicName": "national-panel-submission",
                                                                "lockDuration": 1000}]}
        assert c.post("/external-task/fetchAndLock", json=body).status_code == 403
        body["topics"][0]["topicName"] = "race"
        assert len(c.post("/external-task/fetchAndLock", json=body).json()) == 1
        other = engine.list_external_tasks(db, topic="national-panel-submission")[0][0].task.id
        assert c.post(f"/external-task/{other}/complete", json={"workerId": "racer"}).status_code == 403
        assert c.get("/process-instance").status_code == 403                    # workers serve tasks only


def test_openid_connect_tokens(db: engine.Database, tmp_path: Path) -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}))
    settings = ServerSettings(oidc_issuer="https://login.example.test", oidc_audience="reviewflow",
                              oidc_jwks_file=tmp_path / "jwks.json")
    engine.deploy(db, files=[engine.DeployFile("o.bpmn", (BPMN / "one_user_task.bpmn").read_bytes())],
                  actor=engine.Actor.system("po"))
    case = engine.start_instance(db, actor=engine.Actor.system("bu"), definition_key="one_user_task")

    def token(**claims: object) -> str:
        base = {"iss": "https://login.example.test", "aud": "reviewflow", "sub": "chris",
                "exp": int(time.time()) + 300, "roles": ["crg-member"], "groups": ["case-review-group"]}
        return jwt.encode({**base, **claims}, private, algorithm="RS256", headers={"kid": "k1"})

    srv = Server(db, settings).start()
    try:
        with httpx.Client(base_url=srv.url, timeout=10) as c:
            tasks = c.get("/api/v1/user-tasks", headers=bearer(token())).json()
            assert [t["id"] for t in tasks["data"]] == [case.user_tasks[0].id]
            done = c.post(f"/api/v1/user-tasks/{case.user_tasks[0].id}/complete", headers=bearer(token()),
                          json={"variables": {"approved": True}})
            assert done.status_code == 200
            history = c.get(f"/api/v1/instances/{case.id}/history", headers=bearer(token())).json()["data"]
            assert history[-2]["actor"] == "chris"
            assert c.get("/api/v1/instances", headers=bearer(token(exp=int(time.time()) - 10))).status_code == 401
            assert c.get("/api/v1/instances", headers=bearer(token(aud="someone-else"))).status_code == 401
            forged_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            forged = jwt.encode({"iss": "https://login.example.test", "aud": "reviewflow", "sub": "eve",
                                 "exp": int(time.time()) + 300, "roles": ["admin"]}, forged_key, algorithm="RS256",
                                headers={"kid": "k1"})
            assert c.get("/api/v1/instances", headers=bearer(forged)).status_code == 401
            assert c.post("/api/v1/deployments", headers=bearer(token()),
                          content=b"<x/>").status_code == 403                      # crg-member cannot deploy
    finally:
        srv.stop()


def test_the_audit_trail_records_reads_and_detects_tampering(db: engine.Database, server: Server,
                                                             keys: dict[str, str], role_keys: dict[str, str]) -> None:
    engine.deploy(db, files=[engine.DeployFile("o.bpmn", (BPMN / "one_user_task.bpmn").read_bytes())],
                  actor=engine.Actor.system("po"))
    case = engine.start_instance(db, actor=engine.Actor.system("bu"), definition_key="one_user_task")
    with httpx.Client(base_url=server.url, timeout=10) as c:
        assert c.get(f"/api/v1/instances/{case.id}", headers=bearer(keys["bob"])).status_code == 200
        c.get(f"/api/v1/user-tasks/{case.user_tasks[0].id}", headers=bearer(keys["bob"]))
        log = c.get(f"/api/v1/audit/instances/{case.id}", headers=bearer(role_keys["auditor"])).json()["data"]
    assert [(e["actor"], e["action"]) for e in log] == [
        ("bob", "GET /api/v1/instances/{instance_id}"), ("bob", "GET /api/v1/user-tasks/{task_id}")]
    assert all(e["client"] == "127.0.0.1" and e["status"] == 200 for e in log)
    assert engine.verify_audit(db).ok

    with db.engine.begin() as conn:                       # someone edits a row …
        conn.execute(sa.text("UPDATE audit_event SET actor = 'nobody' WHERE seq = "
                             "(SELECT MIN(seq) FROM audit_event WHERE instance_id = :i)"), {"i": case.id})
    edited = engine.verify_audit(db)
    assert not edited.ok and "altered" in (edited.problem or "")
    with db.engine.begin() as conn:                       # … or deletes one
        conn.execute(sa.text("UPDATE audit_event SET actor = 'bob' WHERE actor = 'nobody'"))
    assert engine.verify_audit(db).ok
    with db.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_event WHERE seq = (SELECT MIN(seq) FROM audit_event)"))
    deleted = engine.verify_audit(db)
    assert not deleted.ok and "deleted" in (deleted.problem or "")


def test_each_change_over_http_is_audited_once_with_its_outcome(db: engine.Database, server: Server,
                                                                keys: dict[str, str],
                                                                role_keys: dict[str, str]) -> None:
    engine.deploy(db, files=[engine.DeployFile("o.bpmn", (BPMN / "one_user_task.bpmn").read_bytes())],
                  actor=engine.Actor.system("po"))
    with httpx.Client(base_url=server.url, timeout=10, headers=bearer(keys["alice"])) as c:
        started = c.post("/api/v1/instances", json={"definition_key": "one_user_task"})
        case_id, task_id = started.json()["id"], started.json()["user_tasks"][0]["id"]
        for _ in range(2):                                        # the second is refused: 409
            c.post(f"/api/v1/user-tasks/{task_id}/complete", json={"variables": {"approved": True}})
        log = c.get(f"/api/v1/audit/instances/{case_id}", headers=bearer(role_keys["auditor"])).json()["data"]
    assert [(e["actor"], e["action"], e["status"]) for e in log] == [
        ("alice", "POST /api/v1/instances", 201),
        ("alice", "POST /api/v1/user-tasks/{task_id}/complete", 200),
        ("alice", "POST /api/v1/user-tasks/{task_id}/complete", 409)]
    assert engine.verify_audit(db).ok


@pytest.mark.parametrize(("with_variables", "status"), [(True, 200), (False, 204)])
def test_a_route_that_may_succeed_two_ways_is_audited_with_the_real_answer(
        db: engine.Database, server: Server, keys: dict[str, str], role_keys: dict[str, str],
        with_variables: bool, status: int) -> None:
    engine.deploy(db, files=[engine.DeployFile("o.bpmn", (BPMN / "one_user_task.bpmn").read_bytes())],
                  actor=engine.Actor.system("po"))
    case = engine.start_instance(db, actor=engine.Actor.system("alice"), definition_key="one_user_task")
    with httpx.Client(base_url=server.url, timeout=10, headers=bearer(keys["alice"])) as c:
        done = c.post(f"/engine-rest/task/{case.user_tasks[0].id}/complete",
                      json={"variables": {"approved": {"value": True}}, "withVariablesInReturn": with_variables})
        assert done.status_code == status
        log = c.get(f"/api/v1/audit/instances/{case.id}", headers=bearer(role_keys["auditor"])).json()["data"]
    assert [(e["action"], e["status"]) for e in log] == [("POST /engine-rest/task/{task_id}/complete", status)]


def test_audit_verify_on_the_command_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    db = engine.Database(url)
    engine.upgrade(db)
    for i in range(3):
        engine.append_audit(db, actor="alice", action="GET /x", target=f"/x/{i}", status=200)
    env = {**os.environ, "REVIEWFLOW_DATABASE_URL": url}
    ok = subprocess.run([sys.executable, "-m", "api.cli", "audit", "verify"], env=env, capture_output=True,
                        text=True, cwd=Path(__file__).parents[2])
    assert ok.returncode == 0 and "3 entries" in ok.stdout
    with db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_event SET status = 500 WHERE seq = 2"))
    db.dispose()
    broken = subprocess.run([sys.executable, "-m", "api.cli", "audit", "verify"], env=env, capture_output=True,
                            text=True, cwd=Path(__file__).parents[2])
    assert broken.returncode == 1 and "entry 2" in broken.stderr


def test_security_headers(client: httpx.Client) -> None:
    headers = client.get("/api/v1/instances").headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["cache-control"] == "no-store"
    assert "default-src 'none'" in headers["content-security-policy"]


def test_no_case_data_reaches_the_logs(db: engine.Database, client: httpx.Client,
                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sentinel = "Sentinel-Child-Name-7731"
    client.post("/api/v1/deployments", files=[("files", ("f.bpmn", (BPMN / "failing_script.bpmn").read_bytes()))])
    client.post("/api/v1/instances", json={"definition_key": "failing_script",
                                           "variables": {"child_name": sentinel, "total": 1, "count": 0}})
    assert caplog.records, "something was logged at all"
    for record in caplog.records:
        assert sentinel not in str(record.__dict__)


def test_variables_over_the_size_limit_are_refused(client: httpx.Client) -> None:
    client.post("/api/v1/deployments", files=[("files", ("o.bpmn", (BPMN / "one_user_task.bpmn").read_bytes()))])
    huge = {"definition_key": "one_user_task", "variables": {"notes": "x" * (1024 * 1024 + 10)}}
    response = client.post("/api/v1/instances", json=huge)
    assert response.status_code == 400 and response.json()["error"]["code"] == "variables_invalid"
