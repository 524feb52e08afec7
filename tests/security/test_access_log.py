"""Attacks on the access log (issue 11, finding 4 — medium; and finding 7's flood of bad keys).

* Document downloads were logged with no case id, so a case's audit export left them out.
* `fetchAndLock`, which hands out case variables, was never linked to the case.
* A message to many cases was logged against the first case only.
* The trail had no keyed head: deleting its newest rows, or deleting one user's rows and
  rechaining the rest, passed `reviewflow audit verify`; and nothing reported gaps in `seq`.
* Bad keys were not rate-limited (6,000 at 308/s), and each wrote an audit row.

Every read of case data is logged against each case it touched. The server publishes the chain's
head outside the database (`REVIEWFLOW_AUDIT_HEAD`, `ServerSettings(audit_head=...)`), and
`reviewflow audit verify --head FILE` detects truncation and rechaining; gaps in `seq` are reported.
Failed sign-ins are limited per source and per key prefix (429 with Retry-After) and summarised.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import UTC
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

import engine
from api.settings import ServerSettings
from engine.store.tables import audit_event
from tests.conftest import Server, bearer
from tests.security.conftest import DATA, Client, Command, Deployer, Person, audit_rows, start

GENESIS = "0" * 64


def case_log(as_: Client, auditor_key: str, case_id: str) -> list[dict[str, Any]]:
    answer = as_(auditor_key).get(f"/api/v1/audit/instances/{case_id}")
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


@pytest.fixture
def auditor(person: Person) -> str:
    return person("audrey", roles=["auditor"])


def test_a_document_download_is_in_its_cases_access_log(keys: dict[str, str], deploy_http: Deployer,
                                                        as_: Client, auditor: str) -> None:
    deploy_http("awaits_message.bpmn")
    alice = as_(keys["alice"])
    case = start(alice, "awaits_message")
    uploaded = alice.post(f"/api/v1/instances/{case['id']}/documents",
                          files={"file": ("imr.txt", b"the police IMR", "text/plain")}, data={"kind": "imr"})
    assert uploaded.status_code == 201, uploaded.text
    document_id = uploaded.json()["id"]

    assert alice.get(f"/api/v1/documents/{document_id}").content == b"the police IMR"

    downloads = [e for e in case_log(as_, auditor, case["id"]) if e["action"] == "GET /api/v1/documents/{document_id}"]
    assert [(e["actor"], e["status"], e["target"]) for e in downloads] == [
        ("alice", 200, f"/api/v1/documents/{document_id}")]


def test_fetch_and_lock_is_logged_against_each_case_it_hands_out(
        db: engine.Database, keys: dict[str, str], deploy_http: Deployer, as_: Client, auditor: str) -> None:
    deploy_http("two_topics.bpmn")
    alice = as_(keys["alice"])
    cases = [start(alice, "two_topics", child_name="Marker-Child") for _ in range(2)]

    fetched = as_(keys["worker"]).post("/engine-rest/external-task/fetchAndLock", json={
        "workerId": "panel-worker", "maxTasks": 5, "topics": [{"topicName": "panel-formation", "lockDuration": 60000}]})

    assert fetched.status_code == 200 and len(fetched.json()) == 2, fetched.text
    assert {t["processInstanceId"] for t in fetched.json()} == {c["id"] for c in cases}
    for case in cases:
        entries = [e for e in case_log(as_, auditor, case["id"])
                   if e["action"] == "POST /engine-rest/external-task/fetchAndLock"]
        assert [(e["actor"], e["status"]) for e in entries] == [("worker", 200)]


def test_a_message_to_many_cases_is_logged_against_each(keys: dict[str, str], deploy_http: Deployer,
                                                        as_: Client, auditor: str) -> None:
    deploy_http("awaits_message.bpmn")
    alice = as_(keys["alice"])
    cases = [start(alice, "awaits_message") for _ in range(3)]

    sent = alice.post("/engine-rest/message", json={"messageName": "panel_response", "all": True})

    assert sent.status_code == 204, sent.text
    for case in cases:
        entries = [e for e in case_log(as_, auditor, case["id"]) if e["action"] == "POST /engine-rest/message"]
        assert [(e["actor"], e["status"]) for e in entries] == [("alice", 204)]


# --- the trail's head, published outside the database -------------------------------------------------------


def verify(reviewflow: Command, *argv: str) -> tuple[int, str]:
    """`reviewflow audit verify ARGV…` against the test's database: its exit status and what it said."""
    status, out, err = reviewflow("audit", "verify", *argv)
    return status, out + err


def digest(prev: str, row: Any) -> str:
    """The chain's hash, as anyone who reads the source can compute it."""
    at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)
    body = json.dumps([prev, at.isoformat(), row.actor, row.action, row.target, row.status, row.instance_id,
                       row.client], separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def rechain(db: engine.Database, *, renumber: bool) -> None:
    """What someone with write access to the database does after deleting rows: recompute every
    hash from the first entry (and, to hide the gaps, number the entries afresh)."""
    with db.engine.begin() as conn:
        rows = list(conn.execute(sa.select(audit_event).order_by(audit_event.c.seq)))
        prev = GENESIS
        for n, row in enumerate(rows, start=1):
            new_hash = digest(prev, row)
            conn.execute(audit_event.update().where(audit_event.c.seq == row.seq).values(
                seq=n if renumber else row.seq, prev_hash=prev, hash=new_hash))
            prev = new_hash


@pytest.fixture
def published(db: engine.Database, tmp_path: Path, keys: dict[str, str], person: Person) -> Path:
    """A server that publishes its audit head to a file; a case read by bob, mary and an auditor.
    The server is stopped when this returns (its last head published)."""
    head = tmp_path / "witness" / "audit-head.json"
    server = Server(db, ServerSettings(audit_head=str(head))).start()
    try:
        engine.deploy(db, files=[engine.DeployFile("awaits_message.bpmn", (DATA / "awaits_message.bpmn").read_bytes())],
                      actor=engine.Actor("setup"))
        with httpx.Client(base_url=server.url, timeout=20) as c:
            case = c.post("/api/v1/instances", headers=bearer(keys["bob"]),
                          json={"definition_key": "awaits_message"}).json()
            for who in ("bob", "mary", "bob", "mary", "bob"):
                c.get("/api/v1/instances", headers=bearer(keys[who]))
            c.get(f"/api/v1/instances/{case['id']}", headers=bearer(keys["bob"]))
    finally:
        server.stop()
    return head


def test_the_published_head_matches_an_untouched_trail(db: engine.Database, published: Path,
                                                        reviewflow: Command) -> None:
    recorded = json.loads(published.read_text())
    assert recorded["seq"] == len(audit_rows(db)) and recorded["hash"] == audit_rows(db)[-1].hash
    assert published.stat().st_mode & 0o777 == 0o600
    status, said = verify(reviewflow, "--head", str(published))
    assert status == 0, said


def test_deleting_the_newest_entries_is_detected_with_the_published_head(
        db: engine.Database, published: Path, reviewflow: Command) -> None:
    newest = audit_rows(db)[-2].seq
    with db.engine.begin() as conn:
        conn.execute(audit_event.delete().where(audit_event.c.seq >= newest))
    assert verify(reviewflow)[0] == 0        # the chain alone cannot tell: what is left still links up

    status, said = verify(reviewflow, "--head", str(published))

    assert status == 1
    assert "deleted" in said


def test_deleting_one_users_entries_and_rechaining_is_detected_with_the_published_head(
        db: engine.Database, published: Path, reviewflow: Command) -> None:
    before = len(audit_rows(db))
    with db.engine.begin() as conn:
        gone = conn.execute(audit_event.delete().where(audit_event.c.actor == "mary")).rowcount
        filler = conn.execute(sa.select(audit_event).where(audit_event.c.actor == "bob")
                              .order_by(audit_event.c.seq.desc()).limit(1)).one()._asdict()
        for _ in range(gone):                # pad the trail back to its length, so only the hashes can tell
            conn.execute(audit_event.insert().values(
                **{k: v for k, v in filler.items() if k != "seq"},
                seq=conn.execute(sa.select(sa.func.max(audit_event.c.seq))).scalar_one() + 1))
    rechain(db, renumber=True)
    assert gone == 2 and len(audit_rows(db)) == before
    assert verify(reviewflow)[0] == 0        # a rebuilt chain is a valid chain

    status, said = verify(reviewflow, "--head", str(published))

    assert status == 1
    assert "rebuilt" in said or "does not match" in said or "not the entry" in said


def test_a_gap_in_the_numbering_is_reported_even_when_the_hashes_were_recomputed(
        db: engine.Database, published: Path, reviewflow: Command) -> None:
    middle = audit_rows(db)[3].seq
    with db.engine.begin() as conn:
        conn.execute(audit_event.delete().where(audit_event.c.seq == middle))
    rechain(db, renumber=False)

    status, said = verify(reviewflow)

    assert status == 1
    assert f"entry {middle}" in said and "missing" in said


# --- failed sign-ins --------------------------------------------------------------------------------------


def bad_key() -> str:
    return f"rfk_{secrets.token_hex(8)}_{secrets.token_urlsafe(32)}"


def test_guessing_keys_from_one_source_is_slowed_down_with_429_and_retry_after(
        db: engine.Database, server: Server) -> None:
    statuses = []
    with httpx.Client(base_url=server.url, timeout=20) as c:
        for _ in range(40):
            answer = c.get("/api/v1/instances", headers=bearer(bad_key()))
            statuses.append(answer.status_code)
            if answer.status_code == 429:
                assert int(answer.headers["Retry-After"]) > 0
    assert set(statuses) == {401, 429}
    assert statuses.index(429) <= 30                     # refused well before 6,000
    assert all(s == 429 for s in statuses[statuses.index(429):])


def test_guessing_one_keys_secret_from_many_sources_is_slowed_down(db: engine.Database, server: Server,
                                                                   keys: dict[str, str]) -> None:
    """The same key prefix with wrong secrets, each attempt from its own loopback address."""
    prefix = keys["bob"].split("_")[1]
    statuses = []
    for n in range(2, 20):
        transport = httpx.HTTPTransport(local_address=f"127.0.0.{n}")
        with httpx.Client(base_url=server.url, timeout=20, transport=transport) as c:
            statuses.append(c.get("/api/v1/instances",
                                  headers=bearer(f"rfk_{prefix}_{secrets.token_urlsafe(32)}")).status_code)
    assert statuses[0] == 401
    assert 429 in statuses and statuses.index(429) <= 15, statuses


def test_failed_sign_ins_are_summarised_in_the_audit_trail_not_written_one_row_each(
        db: engine.Database, server: Server) -> None:
    attempts = 25
    with httpx.Client(base_url=server.url, timeout=20) as c:
        for _ in range(attempts):
            c.get("/api/v1/instances", headers=bearer(bad_key()))
    server.stop()                                         # the summary of the window is written on the way out

    failures = [r for r in audit_rows(db) if r.status in (401, 429) or r.action == "AUTH FAILED"]
    assert 1 <= len(failures) <= 2, [(r.actor, r.action, r.target) for r in failures]
    assert any("failed sign-ins" in r.target for r in failures)
