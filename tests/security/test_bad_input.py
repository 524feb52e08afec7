"""Attacks with malformed or hostile input (issue 11, finding 7 — low).

* Integers of 2**70 or more in variables, and `offset`/`firstResult` of 2**63 or more, gave a 500.
* Any document with a non-Latin-1 file name (Welsh `ŵ`, `报告.txt`) uploaded, but every download
  was a 500.
* Multipart upload routes accepted cross-site POSTs when the browser had cached Basic credentials.
* The first admin key was printed to stdout, which ends up in service logs.
* Business keys (and names) accepted NUL and the right-to-left override character.
* NaN and Infinity were silently stored as null.
* The body limit was 25 MiB, while the documentation says 10 MiB.

Found since, by the schemathesis run (test_schemathesis.py): a lock or retry duration too large for
a timedelta, and — on PostgreSQL — a NUL character in any filter, id or name, gave a 500.

(The UTF-16 diagram that slipped an entity past the DOCTYPE filter, and timer cycles, are tested
with the deployment checks, issue 15; script limits in tests/security/test_script_limits.py.)

Bad input gets a clear 4xx and changes nothing.
"""

from __future__ import annotations

import base64
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

import engine
from api import cli
from api.settings import ServerSettings
from tests.conftest import Server
from tests.security.conftest import Client, Command, Deployer, snapshot, start

ROOT = Path(__file__).parents[2]
HUGE = [2**70, -(2**70), 2**63, 10**30]


@pytest.fixture
def review(keys: dict[str, str], deploy_http: Deployer, as_: Client) -> dict[str, Any]:
    """A case at a CRG task (one_user_task's shape: awaits_message moved on)."""
    deploy_http("awaits_message.bpmn")
    alice = as_(keys["alice"])
    case = start(alice, "awaits_message", business_key="SIN-2026-200")
    moved = alice.post("/api/v1/messages", json={"message_name": "panel_response", "business_key": "SIN-2026-200"})
    return {"case": case, "task": moved.json()["instance"]["user_tasks"][0]}


# --- numbers ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("number", HUGE)
def test_a_whole_number_beyond_64_bits_is_refused_with_400_and_nothing_stored(
        db: engine.Database, review: dict[str, Any], keys: dict[str, str], as_: Client, number: int) -> None:
    alice = as_(keys["alice"])
    before = snapshot(db)
    answers = [
        alice.post("/api/v1/instances", json={"definition_key": "awaits_message", "variables": {"n": number}}),
        alice.post("/api/v1/instances", json={"definition_key": "awaits_message",
                                              "variables": {"nested": {"list": [1, number]}}}),
        alice.post("/engine-rest/process-definition/key/awaits_message/start",
                   json={"variables": {"n": {"value": number, "type": "Long"}}}),
        alice.post(f"/api/v1/user-tasks/{review['task']['id']}/complete", json={"variables": {"n": number}}),
        alice.post(f"/engine-rest/task/{review['task']['id']}/complete",
                   json={"variables": {"n": {"value": number, "type": "Long"}}}),
        alice.post("/api/v1/messages", json={"message_name": "panel_response", "variables": {"n": number}}),
    ]
    assert [a.status_code for a in answers] == [400] * len(answers), [a.text for a in answers]
    assert snapshot(db) == before


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused_not_stored_as_null(
        db: engine.Database, review: dict[str, Any], keys: dict[str, str], as_: Client, value: str) -> None:
    alice = as_(keys["alice"])
    json_headers = {"content-type": "application/json"}
    before = snapshot(db)
    answers = [
        alice.post("/api/v1/instances", headers=json_headers,
                   content=f'{{"definition_key": "awaits_message", "variables": {{"score": {value}}}}}'),
        alice.post("/engine-rest/process-definition/key/awaits_message/start", headers=json_headers,
                   content=f'{{"variables": {{"score": {{"value": {value}, "type": "Double"}}}}}}'),
        alice.post(f"/api/v1/user-tasks/{review['task']['id']}/complete", headers=json_headers,
                   content=f'{{"variables": {{"score": [{value}]}}}}'),
    ]
    assert [a.status_code for a in answers] == [400] * len(answers), [a.text for a in answers]
    assert snapshot(db) == before


@pytest.mark.parametrize("millis", [10**25, 2**63])
def test_a_lock_or_retry_duration_beyond_what_a_clock_can_hold_is_a_400_not_a_500(
        db: engine.Database, keys: dict[str, str], deploy_http: Deployer, as_: Client, millis: int) -> None:
    """Found by the schemathesis run (test_schemathesis.py) with more examples: a huge retryTimeout
    overflowed Python's timedelta."""
    deploy_http("two_topics.bpmn")
    start(as_(keys["alice"]), "two_topics")
    worker = as_(keys["worker"])
    [task] = worker.post("/engine-rest/external-task/fetchAndLock", json={
        "workerId": "w1", "topics": [{"topicName": "panel-formation", "lockDuration": 60000}]}).json()
    before = snapshot(db)
    close = {"Connection": "close"}           # a 500 ends the connection: each request on its own
    answers = [
        worker.post("/engine-rest/external-task/fetchAndLock", headers=close, json={
            "workerId": "w1", "topics": [{"topicName": "national-panel-submission", "lockDuration": millis}]}),
        worker.post(f"/engine-rest/external-task/{task['id']}/extendLock", headers=close,
                    json={"workerId": "w1", "newDuration": millis}),
        worker.post(f"/engine-rest/external-task/{task['id']}/failure", headers=close,
                    json={"workerId": "w1", "errorMessage": "x", "retries": 1, "retryTimeout": millis}),
    ]
    assert [a.status_code for a in answers] == [400] * len(answers), [a.text for a in answers]
    assert snapshot(db) == before


OFFSETS = [
    ("/api/v1/instances", "offset"), ("/api/v1/user-tasks", "offset"), ("/api/v1/incidents", "offset"),
    ("/api/v1/definitions", "offset"),
    ("/engine-rest/task", "firstResult"), ("/engine-rest/process-instance", "firstResult"),
    ("/engine-rest/process-definition", "firstResult"), ("/engine-rest/external-task", "firstResult"),
    ("/engine-rest/incident", "firstResult"),
]


@pytest.mark.parametrize(("path", "parameter"), OFFSETS)
@pytest.mark.parametrize("offset", [2**63, 10**40])
def test_an_offset_beyond_64_bits_is_a_400_not_a_500(review: dict[str, Any], keys: dict[str, str], as_: Client,
                                                     path: str, parameter: str, offset: int) -> None:
    answer = as_(keys["admin"]).get(path, params={parameter: str(offset)})
    assert answer.status_code == 400, answer.text


# --- documents ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("filename", ["adroddiad-ŵyr.txt", "报告.txt", "naïve résumé.txt"])
def test_a_document_with_a_non_latin_1_name_downloads_with_an_rfc_5987_filename(
        review: dict[str, Any], keys: dict[str, str], as_: Client, filename: str) -> None:
    alice = as_(keys["alice"])
    content = "Cofnod yr asiantaeth — 记录".encode()
    uploaded = alice.post(f"/api/v1/instances/{review['case']['id']}/documents",
                          files={"file": (filename, content, "text/plain")})
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["filename"] == filename

    download = alice.get(f"/api/v1/documents/{uploaded.json()['id']}")

    assert download.status_code == 200, download.text
    assert download.content == content
    disposition = download.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert f"filename*=UTF-8''{quote(filename, safe='')}" in disposition
    assert re.search(r'filename="[ -~]+"', disposition)         # an ASCII fallback for old browsers
    listed = alice.get(f"/api/v1/instances/{review['case']['id']}/documents").json()["data"]
    assert [d["filename"] for d in listed] == [filename]


def basic(principal_id: str, key: str) -> str:
    return "Basic " + base64.b64encode(f"{principal_id}:{key}".encode()).decode()


@pytest.mark.parametrize("browser", [
    {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    {"Origin": "https://evil.example"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site", "Origin": "http://other.127.0.0.1.nip.example"},
    {"Origin": "null"},
])
def test_a_cross_site_multipart_post_with_cached_basic_credentials_is_refused(
        db: engine.Database, server: Server, review: dict[str, Any], keys: dict[str, str],
        browser: dict[str, str]) -> None:
    before = snapshot(db)
    with httpx.Client(base_url=server.url, timeout=20) as c:
        upload = c.post(f"/api/v1/instances/{review['case']['id']}/documents",
                        headers={"Authorization": basic("alice", keys["alice"]), **browser},
                        files={"file": ("forged.txt", b"planted by another site", "text/plain")})
        deploy = c.post("/api/v1/deployments", headers={"Authorization": basic("admin", keys["admin"]), **browser},
                        files={"files": ("x.bpmn", b"<x/>", "application/xml")})
    assert (upload.status_code, deploy.status_code) == (403, 403), (upload.text, deploy.text)
    assert snapshot(db) == before


def test_a_same_origin_multipart_post_with_basic_credentials_works(
        server: Server, review: dict[str, Any], keys: dict[str, str]) -> None:
    with httpx.Client(base_url=server.url, timeout=20) as c:
        upload = c.post(f"/api/v1/instances/{review['case']['id']}/documents",
                        headers={"Authorization": basic("alice", keys["alice"]), "Origin": server.url,
                                 "Sec-Fetch-Site": "same-origin"},
                        files={"file": ("minutes.txt", b"CRG minutes", "text/plain")})
        no_browser = c.post(f"/api/v1/instances/{review['case']['id']}/documents",
                            headers={"Authorization": basic("alice", keys["alice"])},
                            files={"file": ("minutes-2.txt", b"CRG minutes", "text/plain")})
    assert (upload.status_code, no_browser.status_code) == (201, 201), (upload.text, no_browser.text)


# --- the first administrator's key --------------------------------------------------------------------------


def test_the_first_admin_key_is_written_to_an_owner_only_file_and_never_printed(
        db: engine.Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key_file = tmp_path / "var" / "admin.key"

    cli.bootstrap_admin(db, key_file)

    said = capsys.readouterr()
    secret = key_file.read_text().strip()
    assert os.stat(key_file).st_mode & 0o777 == 0o600
    assert engine.authenticate_key(db, secret).id == "admin"
    assert secret not in said.out and secret not in said.err
    assert secret.split("_")[2] not in said.out + said.err          # not even the secret part
    assert str(key_file.resolve()) in said.out

    cli.bootstrap_admin(db, key_file)                                # a second start: nothing new, nothing said
    assert key_file.read_text().strip() == secret and capsys.readouterr().out == ""


def test_servers_starting_together_on_an_empty_database_make_one_admin_and_leave_its_working_key(
        db: engine.Database, tmp_path: Path) -> None:
    key_file = tmp_path / "var" / "admin.key"
    start = threading.Barrier(4)

    def boot() -> None:
        start.wait()
        cli.bootstrap_admin(db, key_file)

    with ThreadPoolExecutor(4) as pool:
        for future in [pool.submit(boot) for _ in range(4)]:
            future.result()                                          # none of them fails to start

    assert engine.authenticate_key(db, key_file.read_text().strip()).id == "admin"
    assert [p.id for p in engine.list_principals(db)] == ["admin"]
    assert os.stat(key_file).st_mode & 0o777 == 0o600


# --- names people read --------------------------------------------------------------------------------------

HOSTILE = ["SIN-2026-\u202e14", "SIN\x00-2026-14", "SIN-\u200f2026", "SIN-\u2066x\u2069", "SIN-2026-14\n"]


@pytest.mark.parametrize("business_key", HOSTILE)
def test_control_and_bidirectional_characters_are_refused_in_business_keys(
        db: engine.Database, review: dict[str, Any], keys: dict[str, str], as_: Client, business_key: str) -> None:
    alice = as_(keys["alice"])
    before = snapshot(db)
    native = alice.post("/api/v1/instances", json={"definition_key": "awaits_message", "business_key": business_key})
    camunda = alice.post("/engine-rest/process-definition/key/awaits_message/start",
                         json={"businessKey": business_key})
    assert (native.status_code, camunda.status_code) == (400, 400), (native.text, camunda.text)
    assert snapshot(db) == before


NUL_REQUESTS = [
    ("GET", "/api/v1/user-tasks", {"params": {"activity_id": "review\x00"}}),
    ("GET", "/api/v1/instances", {"params": {"business_key": "SIN\x00"}}),
    ("GET", "/api/v1/instances/abc%00def", {}),
    ("GET", "/engine-rest/process-instance/abc%00def", {}),
    ("GET", "/api/v1/definitions", {"params": {"key": "awaits\x00"}}),
    ("GET", "/api/v1/incidents", {"params": {"type": "failed\x00"}}),
    ("GET", "/engine-rest/task", {"params": {"taskDefinitionKey": "review\x00"}}),
    ("GET", "/engine-rest/process-instance", {"params": {"businessKey": "SIN\x00"}}),
    ("GET", "/engine-rest/external-task", {"params": {"topicName": "panel\x00"}}),
    ("POST", "/api/v1/messages", {"json": {"message_name": "panel\x00response"}}),
    ("POST", "/engine-rest/message", {"json": {"messageName": "panel\x00response"}}),
    ("POST", "/api/v1/instances", {"json": {"definition_key": "awaits\x00message"}}),
]


@pytest.mark.parametrize(("method", "path", "request_"), NUL_REQUESTS,
                         ids=[f"{m} {p} {sorted(r.get('params') or r.get('json') or {})}" for m, p, r in NUL_REQUESTS])
def test_a_nul_character_in_a_filter_an_id_or_a_name_is_answered_without_a_server_error(
        db: engine.Database, review: dict[str, Any], keys: dict[str, str], as_: Client, method: str, path: str,
        request_: dict[str, Any]) -> None:
    """Found by the schemathesis run on PostgreSQL, whose text columns cannot hold NUL: nothing can
    have such a name, so a filter finds nothing (or is refused) and a lookup is a 404 or a 400."""
    before = snapshot(db)
    answer = as_(keys["admin"]).request(method, path, headers={"Connection": "close"}, **request_)
    assert answer.status_code < 500, answer.text
    assert snapshot(db) == before


@pytest.mark.parametrize("name", ["bob\u202eevil", "bob\x00", "\u200fbob"])
def test_control_and_bidirectional_characters_are_refused_in_principal_and_group_names(
        db: engine.Database, reviewflow: Command, name: str) -> None:
    before = snapshot(db)
    for argv in (["users", "add", name, "--role", "crg-member"],
                 ["users", "add", "priya", "--role", "crg-member", "--group", name],
                 ["users", "add", "agency", "--role", "agency-lead", "--organisation", name]):
        status, _, err = reviewflow(*argv)
        assert status == 2 and "control or formatting characters" in err, (argv, err)
    assert snapshot(db) == before


@pytest.mark.parametrize("group", ["lcspr\u202epanel", "lcspr\x00panel"])
def test_control_and_bidirectional_characters_are_refused_in_a_shared_group_name(
        db: engine.Database, review: dict[str, Any], keys: dict[str, str], as_: Client, group: str) -> None:
    before = snapshot(db)
    answer = as_(keys["alice"]).post(f"/api/v1/instances/{review['case']['id']}/shares", json={"group": group})
    assert answer.status_code == 400, answer.text
    assert snapshot(db) == before


# --- the body limit -----------------------------------------------------------------------------------------


def documented_body_limit() -> int:
    [row] = [line for line in (ROOT / "README.md").read_text().splitlines() if "REVIEWFLOW_MAX_BODY_BYTES" in line
             and line.startswith("|")]
    return int(re.search(r"`(\d+)`", row).group(1))


def test_the_documented_body_limit_is_the_default() -> None:
    documented = documented_body_limit()
    assert f"over {documented // (1024 * 1024)} MiB get 413" in (ROOT / "SECURITY.md").read_text()
    assert ServerSettings().max_body_bytes == documented


def test_a_body_over_the_documented_limit_gets_413_and_nothing_is_stored(
        db: engine.Database, server: Server, review: dict[str, Any], keys: dict[str, str], as_: Client) -> None:
    limit = documented_body_limit()
    before = snapshot(db)
    over = as_(keys["alice"]).post(f"/api/v1/instances/{review['case']['id']}/documents",
                                   files={"file": ("big.txt", b"x" * limit, "text/plain")})
    assert over.status_code == 413, over.text[:300]
    assert snapshot(db) == before
