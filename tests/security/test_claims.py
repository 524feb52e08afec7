"""Attacks through claiming user tasks (issue 11, finding 3 — medium).

`POST /user-tasks/{id}/claim {"assignee": X}` accepted any principal id, including ones that do not
exist, and so gave X the whole case; and a task given to a name that does not exist was jammed —
admin and business unit both got 409 on unclaim, complete and claim.

Only a candidate of a task can become its assignee. A task's managers (business unit, admin) can
give it to a candidate or take it back; a task is never stuck with an assignee who cannot work it.
"""

from __future__ import annotations

from typing import Any

import pytest

import engine
from tests.security.conftest import Client, Deployer, Person, snapshot, start


@pytest.fixture
def review_task(keys: dict[str, str], deploy_http: Deployer, as_: Client) -> dict[str, Any]:
    """A case at its CRG review: candidates are the members of case-review-group (bob, mary, alice)."""
    deploy_http("awaits_message.bpmn")
    alice = as_(keys["alice"])
    case = start(alice, "awaits_message", business_key="SIN-2026-100", child_name="Marker-Child")
    moved = alice.post("/api/v1/messages", json={"message_name": "panel_response", "business_key": "SIN-2026-100"})
    [task] = moved.json()["instance"]["user_tasks"]
    return {"case": case, "task": task}


def assignee(as_: Client, keys: dict[str, str], task_id: str) -> str | None:
    return as_(keys["admin"]).get(f"/api/v1/user-tasks/{task_id}").json()["assignee"]


def test_a_member_cannot_claim_a_task_for_someone_else(db: engine.Database, review_task: dict[str, Any],
                                                       keys: dict[str, str], as_: Client) -> None:
    task_id = review_task["task"]["id"]
    before = snapshot(db)
    native = as_(keys["bob"]).post(f"/api/v1/user-tasks/{task_id}/claim", json={"assignee": "mary"})
    camunda = as_(keys["bob"]).post(f"/engine-rest/task/{task_id}/claim", json={"userId": "mary"})
    assert native.status_code == 403, native.text
    assert native.json()["error"]["code"] == "not_a_candidate"
    assert camunda.status_code == 403, camunda.text
    assert camunda.json()["type"] == "AuthorizationException"
    assert snapshot(db) == before


@pytest.mark.parametrize("who", ["bob", "alice"])     # a member, and a manager of tasks
def test_nobody_can_give_a_task_to_a_principal_that_does_not_exist(
        db: engine.Database, review_task: dict[str, Any], keys: dict[str, str], as_: Client, who: str) -> None:
    task_id = review_task["task"]["id"]
    before = snapshot(db)
    answer = as_(keys[who]).post(f"/api/v1/user-tasks/{task_id}/claim", json={"assignee": "ghost-of-nobody"})
    assert answer.status_code == (400 if who == "alice" else 403), answer.text   # no such user / not a manager
    assert snapshot(db) == before
    assert assignee(as_, keys, task_id) is None


def test_someone_who_sees_a_task_but_is_not_its_candidate_cannot_claim_it(
        db: engine.Database, review_task: dict[str, Any], person: Person, as_: Client, keys: dict[str, str]) -> None:
    """A business-unit officer outside case-review-group sees every case, but is not the CRG."""
    officer = as_(person("officer", roles=["business-unit"], groups=["business-unit"]))
    task_id = review_task["task"]["id"]
    assert officer.get(f"/api/v1/user-tasks/{task_id}").status_code == 200
    before = snapshot(db)
    native = officer.post(f"/api/v1/user-tasks/{task_id}/claim")
    camunda = officer.post(f"/engine-rest/task/{task_id}/claim", json={"userId": "officer"})
    assert (native.status_code, camunda.status_code) == (403, 403), (native.text, camunda.text)
    assert snapshot(db) == before


def test_a_crg_member_of_another_group_finds_no_task_to_claim(
        db: engine.Database, review_task: dict[str, Any], person: Person, as_: Client) -> None:
    uma = as_(person("uma", roles=["crg-member"], groups=["neighbouring-crg"]))
    before = snapshot(db)
    answer = uma.post(f"/api/v1/user-tasks/{review_task['task']['id']}/claim")
    assert answer.status_code == 404, answer.text
    assert snapshot(db) == before


@pytest.mark.parametrize("manager", ["alice", "admin"])    # the business unit, an administrator
def test_a_task_a_diagram_assigned_to_nobody_is_freed_by_its_managers(
        db: engine.Database, keys: dict[str, str], deploy_http: Deployer, as_: Client, manager: str) -> None:
    deploy_http("assigned_to_nobody.bpmn")
    case = start(as_(keys["alice"]), "assigned_to_nobody", child_name="Marker-Child")
    [task] = case["user_tasks"]
    assert task["assignee"] == "nobody-by-that-name"          # jammed from the start
    bob = as_(keys["bob"])
    assert bob.post(f"/api/v1/user-tasks/{task['id']}/claim").status_code == 409

    freed = as_(keys[manager]).post(f"/api/v1/user-tasks/{task['id']}/unclaim")

    assert freed.status_code == 200, freed.text
    assert freed.json()["assignee"] is None
    assert bob.post(f"/api/v1/user-tasks/{task['id']}/claim").status_code == 200
    done = bob.post(f"/api/v1/user-tasks/{task['id']}/complete", json={"variables": {}})
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed"


def test_a_manager_gives_a_jammed_task_straight_to_a_candidate(
        db: engine.Database, keys: dict[str, str], deploy_http: Deployer, as_: Client) -> None:
    deploy_http("assigned_to_nobody.bpmn")
    [task] = start(as_(keys["alice"]), "assigned_to_nobody")["user_tasks"]
    given = as_(keys["alice"]).post(f"/api/v1/user-tasks/{task['id']}/assign", json={"assignee": "mary"})
    assert given.status_code == 200, given.text
    assert given.json()["assignee"] == "mary"
    camunda = as_(keys["admin"]).post(f"/engine-rest/task/{task['id']}/assignee", json={"userId": "bob"})
    assert camunda.status_code == 204, camunda.text
    assert assignee(as_, keys, task["id"]) == "bob"


def test_a_manager_reassigns_only_to_a_candidate(db: engine.Database, review_task: dict[str, Any],
                                                 keys: dict[str, str], person: Person, as_: Client) -> None:
    person("pat", roles=["panel-member"], groups=["lcspr-panel"])      # real, but not the CRG
    task_id = review_task["task"]["id"]
    alice = as_(keys["alice"])
    assert alice.post(f"/api/v1/user-tasks/{task_id}/claim", json={"assignee": "bob"}).status_code == 200
    before = snapshot(db)

    native = alice.post(f"/api/v1/user-tasks/{task_id}/assign", json={"assignee": "pat"})
    camunda = alice.post(f"/engine-rest/task/{task_id}/assignee", json={"userId": "pat"})
    ghost = alice.post(f"/api/v1/user-tasks/{task_id}/assign", json={"assignee": "ghost-of-nobody"})

    assert native.status_code == 403, native.text
    assert camunda.status_code == 403, camunda.text
    assert ghost.status_code == 400, ghost.text
    assert snapshot(db) == before
    assert assignee(as_, keys, task_id) == "bob"
    assert alice.post(f"/api/v1/user-tasks/{task_id}/assign", json={"assignee": "mary"}).status_code == 200
    assert assignee(as_, keys, task_id) == "mary"


def test_a_member_cannot_take_a_task_from_its_assignee(db: engine.Database, review_task: dict[str, Any],
                                                       keys: dict[str, str], as_: Client) -> None:
    task_id = review_task["task"]["id"]
    assert as_(keys["mary"]).post(f"/api/v1/user-tasks/{task_id}/claim").status_code == 200
    before = snapshot(db)
    bob = as_(keys["bob"])
    assert bob.post(f"/api/v1/user-tasks/{task_id}/unclaim").status_code == 409
    assert bob.post(f"/api/v1/user-tasks/{task_id}/assign", json={"assignee": "bob"}).status_code == 403
    assert bob.post(f"/engine-rest/task/{task_id}/assignee", json={"userId": "bob"}).status_code == 403
    assert snapshot(db) == before
