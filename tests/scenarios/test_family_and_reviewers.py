"""Issue 18, parts 1 and 4: the family's part in the LCSPR, and who may read what the family gave.

The family's contact details, the meeting, their comments and their documents are private to the
business unit and the commissioned lead reviewer (bpmn/need_to_know.toml): probed here through the
REST APIs, mid-case, as a panel member, an agency lead, another reviewer and a worker would try."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import timekeeping
from api.demo import FAMILY, Demo
from api.demo_paths import PATHS, _family_comments, _first_declines
from tests.scenarios.conftest import fired, run, run_path, who

DECLINED, ACCEPTED = "reviewer-meera-chandran", "reviewer-owen-price"   # the pool's order (example directory)
PRIVATE = ("family_contact", "family_contact_log", "family_meeting", "family_findings_response")


def completed(result: dict[str, Any]) -> list[str]:
    return [c["activity_id"] for c in result["completed"]]


def test_family_accept_and_comment_on_the_findings(scenarios: Demo) -> None:
    result = run(scenarios, "family-comments")
    v = result["case"]["variables"]              # as the business unit sees it: everything
    reviewer = v["lead_reviewer"]["user"]
    order = completed(result)
    assert who(result, "invite_family") == ["bu-officer"]
    assert who(result, "meet_family") == [reviewer]
    assert who(result, "record_childs_voice") == [reviewer]
    assert who(result, "share_findings_with_family") == [reviewer]
    assert who(result, "brief_family") == ["bu-officer"]
    # in the order practice expects: met before the draft, findings shared before approval,
    # briefed before publication is decided
    assert order.index("meet_family") < order.index("write_draft_report")
    assert order.index("quality_assure_draft") < order.index("share_findings_with_family") \
        < order.index("approve_final_report") < order.index("brief_family") < order.index("decide_publication")
    assert v["family_involvement_outcome"] == "accepted"
    comments = v["family_findings_response"]["comments"]
    assert len(comments) == 2 and all(c["answer"] for c in comments)
    assert "family" in v["childs_voice"]["sources"]
    assert v["family_briefed_on"] <= v["published_on"]
    assert [d for d in result["documents"] if d["kind"] == "family_statement"]


def test_family_cannot_be_contacted(scenarios: Demo) -> None:
    result = run(scenarios, "family-unreachable")
    v = result["case"]["variables"]
    order = completed(result)
    assert v["family_involvement_outcome"] == "unable_to_contact"
    assert len(v["family_contact_log"]) == 3
    assert "record_childs_voice" in order
    for skipped in ("meet_family", "share_findings_with_family", "brief_family"):
        assert skipped not in order
    assert v["childs_voice"]["sources"] == ["records", "practitioners"]


# ---- need-to-know of the family's data ------------------------------------------------------------
def _probe(demo: Demo, seen: dict[str, Any]) -> None:
    """Mid-case (the lead reviewer holds the findings task): what each person gets back."""
    task = demo._task
    instance_id, task_id = task["instance_id"], task["id"]
    reviewer = demo._client_user
    with demo.http("bu-officer") as bu:
        docs = bu.get(f"/api/v1/instances/{instance_id}/documents").json()["data"]
        [statement] = [d for d in docs if d["kind"] == "family_statement"]
        seen["bu"] = bu.get(f"/api/v1/instances/{instance_id}").json()["variables"]
    seen["reviewer_task"] = task["variables"]
    with demo.http(reviewer) as c:
        seen["reviewer_case"] = c.get(f"/api/v1/instances/{instance_id}").json()["variables"]
        seen["reviewer_document"] = c.get(f"/api/v1/documents/{statement['id']}").status_code
    probes: dict[str, Any] = {}
    for user in ("panel-chair", "partners-delegate", "crg-chair", "lead-reviewer", "lead-northbridge-police",
                 DECLINED):
        with demo.http(user) as c:
            out: dict[str, Any] = {
                "case": c.get(f"/api/v1/instances/{instance_id}"),
                "list": c.get("/api/v1/instances", params={"limit": 200}),
                "task": c.get(f"/api/v1/user-tasks/{task_id}"),
                "documents": c.get(f"/api/v1/instances/{instance_id}/documents"),
                "document": c.get(f"/api/v1/documents/{statement['id']}"),
                "history": c.get(f"/api/v1/instances/{instance_id}/history"),
                "rest_variables": c.get(f"/engine-rest/process-instance/{instance_id}/variables"),
                "rest_variable": c.get(f"/engine-rest/process-instance/{instance_id}/variables/family_contact"),
                "rest_filter": c.get("/engine-rest/process-instance/count",
                                     params={"variables": "family_meeting_neq_nothing"}),
                "rest_task_variables": c.get(f"/engine-rest/task/{task_id}/variables"),
                "upload": c.post(f"/api/v1/instances/{instance_id}/documents", data={"kind": "family_statement"},
                                 files={"file": ("mine.md", b"# planted\n", "text/markdown")}),
            }
            probes[user] = {k: (r.status_code, r.text) for k, r in out.items()}
    seen["probes"] = probes


def test_only_the_business_unit_and_the_lead_reviewer_read_the_familys_data(scenarios: Demo) -> None:
    seen: dict[str, Any] = {}

    def findings(demo: Any, v: dict[str, Any], n: int, day: Any) -> dict[str, Any]:
        _probe(demo, seen)
        return _family_comments(demo, v, n, day)

    path = replace(PATHS["family-comments"], name="family-need-to-know",
                   answers={**PATHS["family-comments"].answers, "share_findings_with_family": findings,
                            "answer_invitation": _first_declines})
    result = run_path(scenarios, path)
    # those who may: the business unit, and the commissioned reviewer (their task and the case)
    assert {"family_contact", "family_contact_log", "family_meeting"} <= set(seen["bu"])
    assert {"family_contact", "family_meeting"} <= set(seen["reviewer_task"])
    assert {"family_contact", "family_meeting"} <= set(seen["reviewer_case"])
    assert seen["reviewer_document"] == 200
    # everyone else: the data as if it did not exist, on every way out
    assert set(seen["probes"]) == {"panel-chair", "partners-delegate", "crg-chair", "lead-reviewer",
                                   "lead-northbridge-police", DECLINED}
    assert result["case"]["variables"]["lead_reviewer"]["user"] == ACCEPTED
    for user, got in seen["probes"].items():
        for what, (status, text) in got.items():
            if what == "upload":
                assert status in (400, 403, 404), (user, what, status)
                continue
            assert FAMILY not in text and "01632" not in text, (user, what)
            for name in PRIVATE:
                assert f'"{name}"' not in text, (user, what, name)
            if what in ("document", "rest_variable"):
                assert status in (403, 404), (user, what, status)
        rest_filter_status, rest_filter = got["rest_filter"]
        assert rest_filter_status != 200 or json.loads(rest_filter)["count"] == 0, user
    # the panel member still reads the case (need-to-know), only not the family's part of it
    panel_status, panel_case = seen["probes"]["panel-chair"]["case"]
    assert panel_status == 200 and "family_involvement_outcome" in json.loads(panel_case)["variables"]
    # the reviewer who declined never read the case: the invitation opens itself alone (caseAccess=task)
    assert seen["probes"][DECLINED]["case"][0] == 404
    # nothing the others tried to plant became a family document
    planted = [d for d in result["documents"] if d["kind"] == "family_statement"]
    assert len(planted) == 1


# ---- the reviewer pool ---------------------------------------------------------------------------------
ILR_TASKS = ("record_practitioner_discussion", "write_draft_report", "meet_family", "record_childs_voice",
             "share_findings_with_family")


def reviewer_work_goes_to(result: dict[str, Any], reviewer: str) -> None:
    for done in result["completed"]:
        if done["activity_id"] in ILR_TASKS:
            assert done["user"] == reviewer, done


def test_a_reviewer_declines_then_the_next_accepts(scenarios: Demo) -> None:
    result = run(scenarios, "reviewer-declines")
    v = result["case"]["variables"]
    assert who(result, "answer_invitation") == [DECLINED, ACCEPTED]
    assert [(i["id"], i["outcome"]) for i in v["reviewer_invitations"]] == [
        ("reviewer-meera-chandran", "declined"), ("reviewer-owen-price", "accepted")]
    assert v["lead_reviewer"]["user"] == ACCEPTED
    reviewer_work_goes_to(result, ACCEPTED)
    assert who(result, "agree_commission") == ["bu-officer"]
    assert v["commission"]["fee_gbp"] == 9500
    kinds = {d["kind"] for d in result["documents"]}
    assert {"reviewer_contract", "commissioning_letter", "terms_of_reference"} <= kinds
    [contract] = [d for d in result["documents"] if d["kind"] == "reviewer_contract"]
    assert v["contract_document_id"] == contract["id"]
    with scenarios.http("bu-officer") as bu:
        text = bu.get(f"/api/v1/documents/{contract['id']}").text
    assert "Owen Price" in text and "£9,500.00" in text
    # feedback on the reviewer's work, after publication
    assert who(result, "record_reviewer_feedback") == ["bu-officer"]
    assert v["reviewer_feedback"]["would_commission_again"] is True
    order = [c["activity_id"] for c in result["completed"]]
    assert order.index("record_reviewer_feedback") > order.index("decide_publication")


def test_a_reviewer_who_never_answers_is_passed_over_after_5_working_days(scenarios: Demo) -> None:
    result = run(scenarios, "reviewer-silent")
    v = result["case"]["variables"]
    assert [(i["id"], i["outcome"]) for i in v["reviewer_invitations"]] == [
        ("reviewer-meera-chandran", "no_answer"), ("reviewer-owen-price", "accepted")]
    first = v["reviewer_invitations"][0]["invited_on"]
    assert [t[:10] for t in fired(result, "invitation_unanswered")] == [
        timekeeping.local_working_days_after(first, 5)[:10]]
    assert who(result, "answer_invitation") == [ACCEPTED]
    reviewer_work_goes_to(result, ACCEPTED)
