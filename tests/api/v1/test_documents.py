"""Documents: uploaded to a case or task, type-checked and size-limited, shown on a need-to-know basis."""

from __future__ import annotations

import httpx

import engine
from api.settings import ServerSettings
from tests.conftest import BPMN, Server, bearer, table_counts

PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _case_with_agencies(db: engine.Database) -> engine.InstanceInfo:
    engine.deploy(db, files=[engine.DeployFile("s.bpmn", (BPMN / "scoping_requests.bpmn").read_bytes())],
                  actor=engine.Actor.system("po"))
    return engine.start_instance(db, actor=engine.Actor.system("bu"), definition_key="scoping_requests",
                                 variables={"agencies": ["police", "icb"]})


def _lead(db: engine.Database, name: str, agency: str) -> dict[str, str]:
    engine.create_principal(db, principal_id=name, roles=["agency-lead"], groups=["agency-leads"], organisation=agency)
    return bearer(engine.issue_key(db, principal_id=name).secret)


def test_an_agency_uploads_its_imr_and_only_it_and_the_business_unit_see_it(db: engine.Database,
                                                                           client: httpx.Client) -> None:
    case = _case_with_agencies(db)
    police, icb = _lead(db, "police-lead", "police"), _lead(db, "icb-lead", "icb")
    police_task = next(t for t in case.user_tasks if t.organisation == "police")
    uploaded = client.post(f"/api/v1/user-tasks/{police_task.id}/documents", headers=police,
                           files={"file": ("../../imr police.pdf", PDF, "application/pdf")}, data={"kind": "imr"})
    assert uploaded.status_code == 201, uploaded.text
    doc = uploaded.json()
    assert (doc["filename"], doc["kind"], doc["size"], doc["uploaded_by"]) == ("imr police.pdf", "imr", len(PDF),
                                                                                "police-lead")
    download = client.get(f"/api/v1/documents/{doc['id']}", headers=police)
    assert download.content == PDF and download.headers["content-disposition"].startswith("attachment")
    assert client.get(f"/api/v1/documents/{doc['id']}", headers=icb).status_code == 404
    assert client.get(f"/api/v1/instances/{case.id}/documents", headers=icb).json()["count"] == 0
    assert client.get(f"/api/v1/instances/{case.id}/documents").json()["count"] == 1         # the business unit
    history = engine.instance_history(db, instance_id=case.id)
    assert history[-1].kind == "document_added" and history[-1].actor == "police-lead"


def test_wrong_type_disguised_content_and_size_are_refused(db: engine.Database, server: Server,
                                                           keys: dict[str, str]) -> None:
    case = _case_with_agencies(db)
    small = Server(db, ServerSettings(max_document_bytes=2048)).start()
    try:
        with httpx.Client(base_url=small.url, headers=bearer(keys["alice"]), timeout=10) as c:
            before = table_counts(db)
            cases = [("a.exe", b"MZ\x90\x00", "application/x-msdownload", "not accepted"),
                     ("a.pdf", b"MZ\x90\x00 not a pdf", "application/pdf", "not application/pdf"),
                     ("a.txt", b"\xff\xfe\x00bad", "text/plain", "UTF-8"),
                     ("a.pdf", PDF + b"x" * 4096, "application/pdf", "larger than"),
                     ("a.png", PDF, "application/pdf", "should be named")]
            for name, content, kind, message in cases:
                r = c.post(f"/api/v1/instances/{case.id}/documents", files={"file": (name, content, kind)})
                assert r.status_code == 400 and message in r.json()["error"]["message"], (name, r.text)
            assert table_counts(db) == before
    finally:
        small.stop()


def test_workers_read_and_add_documents_of_their_tasks_case(db: engine.Database, client: httpx.Client,
                                                            server: Server, keys: dict[str, str]) -> None:
    engine.deploy(db, files=[engine.DeployFile("e.bpmn", (BPMN / "external_task.bpmn").read_bytes())],
                  actor=engine.Actor.system("po"))
    case = engine.start_instance(db, actor=engine.Actor.system("bu"), definition_key="external_task")
    report = client.post(f"/api/v1/instances/{case.id}/documents",
                         files={"file": ("report.md", b"# Rapid Review\n", "text/markdown")}).json()
    with httpx.Client(base_url=f"{server.url}/engine-rest", headers=bearer(keys["worker"]), timeout=10) as w:
        [task] = w.post("/external-task/fetchAndLock", json={
            "workerId": "w", "maxTasks": 1, "topics": [{"topicName": "national-panel-submission",
                                                       "lockDuration": 10000}]}).json()
        listed = w.get(f"/external-task/{task['id']}/documents").json()
        assert [d["id"] for d in listed] == [report["id"]]
        assert w.get(f"/external-task/{task['id']}/documents/{report['id']}").content == b"# Rapid Review\n"
        added = w.post(f"/external-task/{task['id']}/documents",
                       files={"file": ("receipt.json", b'{"ref": "NP-1"}', "application/json")},
                       data={"kind": "receipt"})
        assert added.status_code == 201
    kinds = [d.kind for d in engine.list_documents(db, instance_id=case.id)]
    assert kinds == [None, "receipt"]
