"""Attacks through message correlation (issue 11, finding 1 — critical).

A crg-member of an unrelated group, who gets 404 on every case, could
* read every waiting case's variables, child names included, with `POST /engine-rest/message`
  `{"all": true, "resultEnabled": true, "variablesInResultEnabled": true}`,
* write variables into those cases and move them on (the same request, and `/api/v1/messages`
  for one case),
* learn the ids of cases it may not see from a 409's candidate list,
* and ask yes/no questions about invisible cases' variables through `correlation_keys` (200 when
  the guess was right, 404 when wrong).

A message reaches only cases its sender may see; every other case behaves as if it did not exist.
"""

from __future__ import annotations

import httpx
import pytest

import engine
from tests.conftest import Server
from tests.security.conftest import Client, Deployer, Person, snapshot, start

CHILD = "Jayden-Marker-Q7"          # a child's name in every case: it must never reach the outsider


@pytest.fixture
def waiting_cases(db: engine.Database, server: Server, keys: dict[str, str], deploy_http: Deployer,
                  as_: Client) -> list[dict]:
    """Three cases started by the business unit, each waiting for the National Panel's response."""
    deploy_http("awaits_message.bpmn")
    alice = as_(keys["alice"])
    return [start(alice, "awaits_message", business_key=f"SIN-2026-{n:03d}", child_name=CHILD, case_ref=f"REF-{n}")
            for n in (1, 2, 3)]


@pytest.fixture
def outsider(person: Person) -> str:
    """A crg-member of a group that has nothing to do with these cases."""
    return person("uma", roles=["crg-member"], groups=["neighbouring-crg"])


def test_an_outsider_cannot_read_or_move_every_waiting_case_with_engine_rest_message_all(
        db: engine.Database, waiting_cases: list[dict], outsider: str, as_: Client) -> None:
    uma = as_(outsider)
    assert all(uma.get(f"/api/v1/instances/{c['id']}").status_code == 404 for c in waiting_cases)
    before = snapshot(db)

    answer = uma.post("/engine-rest/message", json={
        "messageName": "panel_response", "all": True, "resultEnabled": True, "variablesInResultEnabled": True,
        "processVariables": {"panel_response": {"value": "written by an outsider", "type": "String"}}})

    assert answer.status_code == 400, answer.text           # Camunda: "Cannot correlate message"
    assert answer.json()["type"] == "RestException"
    assert CHILD not in answer.text
    assert not any(c["id"] in answer.text for c in waiting_cases)
    assert snapshot(db) == before                           # no variable written, no case moved on


def test_an_outsider_cannot_deliver_a_message_to_a_case_through_the_native_api(
        db: engine.Database, waiting_cases: list[dict], outsider: str, as_: Client) -> None:
    before = snapshot(db)
    answer = as_(outsider).post("/api/v1/messages", json={
        "message_name": "panel_response", "business_key": "SIN-2026-001",
        "variables": {"panel_response": "written by an outsider"}})
    assert answer.status_code == 404, answer.text
    assert answer.json()["error"]["code"] == "message_not_correlated"
    assert CHILD not in answer.text and waiting_cases[0]["id"] not in answer.text
    assert snapshot(db) == before


def test_a_409_names_only_the_candidate_cases_the_sender_may_see(
        db: engine.Database, waiting_cases: list[dict], keys: dict[str, str], deploy_http: Deployer,
        as_: Client) -> None:
    bob = as_(keys["bob"])                     # a crg-member: sees the cases he started, not the others
    own = [start(bob, "awaits_message", case_ref="BOB-1"), start(bob, "awaits_message", case_ref="BOB-2")]
    assert all(bob.get(f"/api/v1/instances/{c['id']}").status_code == 404 for c in waiting_cases)
    before = snapshot(db)

    answer = bob.post("/api/v1/messages", json={"message_name": "panel_response"})

    assert answer.status_code == 409, answer.text
    assert sorted(answer.json()["error"]["candidates"]) == sorted(c["id"] for c in own)
    assert not any(c["id"] in answer.text for c in waiting_cases)
    assert snapshot(db) == before


def test_correlation_keys_give_no_yes_or_no_answer_about_an_invisible_case(
        db: engine.Database, waiting_cases: list[dict], outsider: str, as_: Client) -> None:
    uma = as_(outsider)
    before = snapshot(db)

    right = uma.post("/api/v1/messages", json={"message_name": "panel_response",
                                               "correlation_keys": {"case_ref": "REF-2"}})
    wrong = uma.post("/api/v1/messages", json={"message_name": "panel_response",
                                               "correlation_keys": {"case_ref": "REF-9"}})
    camunda_right = uma.post("/engine-rest/message", json={
        "messageName": "panel_response", "correlationKeys": {"case_ref": {"value": "REF-2", "type": "String"}}})
    camunda_wrong = uma.post("/engine-rest/message", json={
        "messageName": "panel_response", "correlationKeys": {"case_ref": {"value": "REF-9", "type": "String"}}})

    assert (right.status_code, wrong.status_code) == (404, 404), (right.text, wrong.text)
    assert right.json()["error"]["code"] == wrong.json()["error"]["code"]
    assert (camunda_right.status_code, camunda_wrong.status_code) == (400, 400)
    assert camunda_right.json()["type"] == camunda_wrong.json()["type"]
    assert snapshot(db) == before


def test_the_sender_still_reaches_the_cases_it_may_see(
        db: engine.Database, server: Server, waiting_cases: list[dict], keys: dict[str, str],
        as_: Client) -> None:
    """The control: the business unit, which sees every case, moves the one it names on."""
    answer = as_(keys["alice"]).post("/api/v1/messages", json={
        "message_name": "panel_response", "business_key": "SIN-2026-002", "variables": {"panel_response": "agree"}})
    assert answer.status_code == 200, answer.text
    assert answer.json()["instance"]["id"] == waiting_cases[1]["id"]
    assert [t["activity_id"] for t in answer.json()["instance"]["user_tasks"]] == ["decide"]
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {keys['alice']}"}) as c:
        others = [c.get(f"/api/v1/instances/{w['id']}").json()["user_tasks"] for w in (waiting_cases[0],
                                                                                       waiting_cases[2])]
    assert others == [[], []]
