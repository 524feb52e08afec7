"""Camunda Modeler's "Deploy current diagram", replayed byte for byte against /engine-rest/deployment/create.

What Camunda Modeler 5 sends (camunda/camunda-modeler, client/src/plugins/camunda-plugin/shared/CamundaAPI.js,
`deployDiagram`, and RestAPI.js): a browser FormData multipart POST with `accept: application/json` and
`authorization: Basic base64(user:password)`, whose parts are, in this order:
  deployment-name             the name typed in the dialog (by default the file name without extension)
  deployment-source           "Camunda Modeler"
  enable-duplicate-filtering  "true"
  tenant-id                   only when one is typed in
  <diagram file name>         the diagram, as a text/xml blob named after the file (the part name too)
  <attachment file name>      each file attached in the dialog, as an untyped blob (application/octet-stream)
Before it deploys, the dialog checks the endpoint with `GET /deployment?maxResults=0` — first without
credentials (a 401 makes it ask for them), then with them — and will not deploy unless that answers 2xx.
It then asks `GET /version`, and goes on when that fails. Modelers before 4.7 sent
`deploy-changed-only=true` instead of `enable-duplicate-filtering` (commit 0218a202b, March 2021); that
older request is replayed too. A successful answer is read for
`id` and `deployedProcessDefinitions`; an error answer whose message starts with "ENGINE-09005 Could not
parse BPMN process." is shown as a parse error, with the message as the list of problems.
"""

from __future__ import annotations

import base64
import json

import httpx
import pytest

import engine
from tests.conftest import BPMN, Server, table_counts

DIAGRAM = BPMN / "lint" / "diff" / "v2"
BOUNDARY = "----WebKitFormBoundaryq2C7bJ6eRk4Jp3Nx"


def modeler_request(parts: list[tuple[str, str | None, str | None, bytes]]) -> bytes:
    """A multipart body as Chromium's FormData writes it: (name, filename, content type, content)."""
    body = b""
    for name, filename, content_type, content in parts:
        disposition = f'Content-Disposition: form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        head = disposition + (f"\r\nContent-Type: {content_type}" if content_type else "")
        body += f"--{BOUNDARY}\r\n{head}\r\n\r\n".encode() + content + b"\r\n"
    return body + f"--{BOUNDARY}--\r\n".encode()


def check_connection(server: Server, user: str | None = None, key: str | None = None) -> httpx.Response:
    headers = {"accept": "application/json"}
    if user is not None:
        headers["authorization"] = "Basic " + base64.b64encode(f"{user}:{key}".encode()).decode()
    return httpx.get(f"{server.url}/engine-rest/deployment?maxResults=0", headers=headers, timeout=10)


def deploy_current_diagram(server: Server, user: str, key: str, *, diagram: bytes,
                           attachments: list[tuple[str, bytes]], tenant_id: str | None = None,
                           flag: str = "enable-duplicate-filtering") -> httpx.Response:
    parts: list[tuple[str, str | None, str | None, bytes]] = [
        ("deployment-name", None, None, b"review_pathway"),
        ("deployment-source", None, None, b"Camunda Modeler"),
        (flag, None, None, b"true")]
    if tenant_id:
        parts.append(("tenant-id", None, None, tenant_id.encode()))
    parts.append(("review_pathway.bpmn", "review_pathway.bpmn", "text/xml", diagram))
    parts += [(name, name, "application/octet-stream", content) for name, content in attachments]
    credentials = base64.b64encode(f"{user}:{key}".encode()).decode()
    return httpx.post(f"{server.url}/engine-rest/deployment/create", content=modeler_request(parts), timeout=10,
                      headers={"accept": "application/json", "authorization": f"Basic {credentials}",
                               "content-type": f"multipart/form-data; boundary={BOUNDARY}"})


@pytest.fixture
def owner_key(db: engine.Database) -> str:
    engine.create_principal(db, principal_id="pat-owner", roles=["process-owner"], display_name="Process owner")
    return engine.issue_key(db, principal_id="pat-owner").secret


FORM = (DIAGRAM / "forms" / "decision.json").read_bytes()


@pytest.mark.parametrize("flag", ["enable-duplicate-filtering", "deploy-changed-only"], ids=["Modeler 5", "Modeler 4"])
def test_the_modeler_deploys_the_diagram_and_its_attached_form(db: engine.Database, server: Server, owner_key: str,
                                                               flag: str) -> None:
    assert check_connection(server).status_code == 401                  # the dialog asks for credentials
    checked = check_connection(server, "pat-owner", owner_key)
    assert (checked.status_code, checked.json()) == (200, [])           # the dialog lets the deployment go
    diagram = (DIAGRAM / "review_pathway.bpmn").read_bytes()
    answer = deploy_current_diagram(server, "pat-owner", owner_key, diagram=diagram,
                                    attachments=[("decision.json", FORM)], tenant_id="partnership", flag=flag)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["name"], body["source"]) == ("review_pathway", "Camunda Modeler")
    [deployed] = body["deployedProcessDefinitions"].values()            # what the Modeler links to
    assert (deployed["id"], deployed["key"], deployed["version"]) == ("review_pathway:1", "review_pathway", 1)
    assert deployed["deploymentId"] == body["id"]
    started = engine.start_instance(db, actor=engine.Actor.system("bu"), definition_key="review_pathway")
    [task] = started.user_tasks
    assert (task.activity_id, task.form_key) == ("review", "decision")
    assert engine.get_user_task(db, task_id=task.id).form_schema == json.loads(FORM)   # the attached form, used

    again = deploy_current_diagram(server, "pat-owner", owner_key, diagram=diagram,
                                   attachments=[("decision.json", FORM)], flag=flag)
    assert again.status_code == 200 and again.json()["deployedProcessDefinitions"] is None   # duplicate: nothing new
    assert engine.latest_definition(db, key="review_pathway").version == 1
    listed = httpx.get(f"{server.url}/engine-rest/deployment", auth=("pat-owner", owner_key), timeout=10).json()
    assert [d["id"] for d in listed] == [body["id"]]


def test_a_diagram_with_problems_is_shown_by_the_modeler_as_a_parse_error(db: engine.Database, server: Server,
                                                                         owner_key: str) -> None:
    before = table_counts(db)
    broken = (DIAGRAM / "review_pathway.bpmn").read_bytes().replace(b' default="f_other"', b"")
    answer = deploy_current_diagram(server, "pat-owner", owner_key, diagram=broken,
                                    attachments=[("decision.json", FORM)])
    assert answer.status_code == 400
    body = answer.json()
    assert body["message"].startswith("ENGINE-09005 Could not parse BPMN process.")       # the Modeler's test
    assert "| resource review_pathway.bpmn | line " in body["message"]
    [error] = body["details"]["review_pathway.bpmn"]["errors"]
    assert (error["mainElementId"], error["elementIds"]) == ("decide", ["decide", "f_other"])
    assert table_counts(db) == before


def test_a_camunda_form_attached_in_the_dialog_is_refused_with_a_reason(db: engine.Database, server: Server,
                                                                       owner_key: str) -> None:
    camunda_form = b'{"components": [], "type": "default", "id": "Form_decision", "schemaVersion": 16}'
    answer = deploy_current_diagram(server, "pat-owner", owner_key,
                                    diagram=(DIAGRAM / "review_pathway.bpmn").read_bytes(),
                                    attachments=[("decision.json", FORM), ("decision.form", camunda_form)])
    assert answer.status_code == 400
    [error] = answer.json()["details"]["decision.form"]["errors"]
    assert "JSON Schema" in error["message"]
    assert engine.list_definitions(db).count == 0


def test_a_wrong_password_is_refused_before_anything_is_read(db: engine.Database, server: Server,
                                                            owner_key: str) -> None:
    answer = deploy_current_diagram(server, "pat-owner", "rfk_wrong", diagram=b"<x/>", attachments=[])
    assert answer.status_code == 401
    assert engine.list_definitions(db).count == 0
