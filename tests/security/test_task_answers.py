"""Attacks by an agency lead through their own tasks (issue 11, finding 2 — high).

An agency lead is meant to see their agency's requests, "never whole cases" (SECURITY.md). Yet
* completing their own task — natively, or `/engine-rest/task/{id}/complete` with
  `withVariablesInReturn` — answered with every case variable, other agencies' submissions included;
* `GET /user-tasks/{id}` and `/engine-rest/task/{id}/variables` returned every variable the task
  holds;
* a call activity hands its sub-process "all the case's variables", and the sub-process's task
  showed them all.

A task shows what its form declares, what its diagram's `reads` property lists, and whose task it
is (the organisation variable) — nothing else, whoever asks.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.security.conftest import Client, Deployer, Person, start

CHILD = "Amira-Marker-K2"                      # case data no agency lead's task declares
POLICE_RETURN = "police-return-Marker-P5"      # one agency's submission
ICB_RETURN = "icb-return-Marker-I9"            # another agency's submission
DECLARED = {"agency_return", "child_age", "agency"}     # the form's field, the task's reads, whose task


@pytest.fixture
def returns_case(keys: dict[str, str], deploy_http: Deployer, person: Person, as_: Client) -> dict[str, Any]:
    """A case asking the police and the ICB for their returns, each on its own task."""
    deploy_http("agency_returns.bpmn", "forms/agency_return.json")
    case = start(as_(keys["alice"]), "agency_returns", agencies=["police", "icb"], child_name=CHILD, child_age=7,
                 family_address="1 Marker Street")
    leads = {agency: as_(person(f"{agency}-lead", roles=["agency-lead"], groups=["agency-leads"],
                                organisation=agency)) for agency in ("police", "icb")}
    tasks = {}
    for agency, lead in leads.items():
        listed = lead.get("/api/v1/user-tasks").json()["data"]
        [tasks[agency]] = [t["id"] for t in listed]
    return {"case": case, "leads": leads, "tasks": tasks}


def shown(variables: dict[str, Any]) -> set[str]:
    return set(variables)


def test_completing_ones_own_task_answers_with_no_other_agencys_submission(returns_case: dict[str, Any]) -> None:
    leads, tasks = returns_case["leads"], returns_case["tasks"]
    first = leads["icb"].post(f"/api/v1/user-tasks/{tasks['icb']}/complete",
                              json={"variables": {"agency_return": ICB_RETURN}})
    assert first.status_code == 200, first.text

    answer = leads["police"].post(f"/api/v1/user-tasks/{tasks['police']}/complete",
                                  json={"variables": {"agency_return": POLICE_RETURN}})

    assert answer.status_code == 200, answer.text
    assert ICB_RETURN not in answer.text and CHILD not in answer.text and "Marker Street" not in answer.text
    assert shown(answer.json()["variables"]) <= DECLARED
    assert answer.json()["user_tasks"] == []      # the case's next task is the CRG's, not theirs to see


def test_completing_with_variables_in_return_shows_no_other_agencys_submission(
        returns_case: dict[str, Any]) -> None:
    leads, tasks = returns_case["leads"], returns_case["tasks"]
    first = leads["police"].post(f"/api/v1/user-tasks/{tasks['police']}/complete",
                                 json={"variables": {"agency_return": POLICE_RETURN}})
    assert first.status_code == 200, first.text

    answer = leads["icb"].post(f"/engine-rest/task/{tasks['icb']}/complete", json={
        "variables": {"agency_return": {"value": ICB_RETURN, "type": "String"}}, "withVariablesInReturn": True})

    assert answer.status_code == 200, answer.text
    assert POLICE_RETURN not in answer.text and CHILD not in answer.text
    assert shown(answer.json()) <= DECLARED


def test_reading_ones_task_shows_only_what_it_declares(returns_case: dict[str, Any]) -> None:
    leads, tasks = returns_case["leads"], returns_case["tasks"]
    leads["police"].post(f"/api/v1/user-tasks/{tasks['police']}/complete",
                         json={"variables": {"agency_return": POLICE_RETURN}})

    native = leads["icb"].get(f"/api/v1/user-tasks/{tasks['icb']}")
    camunda = leads["icb"].get(f"/engine-rest/task/{tasks['icb']}/variables")

    assert native.status_code == camunda.status_code == 200, (native.text, camunda.text)
    for answer in (native, camunda):
        assert POLICE_RETURN not in answer.text and CHILD not in answer.text and "Marker Street" not in answer.text
    assert shown(native.json()["variables"]) <= DECLARED
    assert native.json()["variables"]["child_age"] == 7 and native.json()["variables"]["agency"] == "icb"
    assert shown(camunda.json()) <= DECLARED


def test_another_agencys_task_is_not_there_for_a_lead(returns_case: dict[str, Any]) -> None:
    leads, tasks = returns_case["leads"], returns_case["tasks"]
    assert leads["icb"].get(f"/api/v1/user-tasks/{tasks['police']}").status_code == 404
    assert leads["icb"].get(f"/engine-rest/task/{tasks['police']}/variables").status_code == 404
    assert leads["icb"].get(f"/api/v1/instances/{returns_case['case']['id']}").status_code == 403


def test_a_call_activitys_sub_process_task_shows_only_what_it_declares(
        keys: dict[str, str], deploy_http: Deployer, person: Person, as_: Client) -> None:
    deploy_http("imr_request.bpmn", "calls_agency.bpmn", "forms/agency_return.json")
    start(as_(keys["alice"]), "calls_agency", agency="police", child_name=CHILD, child_age=7,
          panel_notes="Marker panel notes")
    police = as_(person("police-lead", roles=["agency-lead"], groups=["agency-leads"], organisation="police"))
    [task] = police.get("/api/v1/user-tasks").json()["data"]
    assert task["activity_id"] == "submit_imr"

    read = police.get(f"/api/v1/user-tasks/{task['id']}")
    camunda = police.get(f"/engine-rest/task/{task['id']}/variables")
    done = police.post(f"/engine-rest/task/{task['id']}/complete", json={
        "variables": {"agency_return": {"value": POLICE_RETURN, "type": "String"}}, "withVariablesInReturn": True})

    for answer in (read, camunda, done):
        assert answer.status_code == 200, answer.text
        assert CHILD not in answer.text and "Marker panel notes" not in answer.text
    assert shown(read.json()["variables"]) <= {"agency_return", "agency"}
    assert shown(done.json()) <= {"agency_return", "agency"}
