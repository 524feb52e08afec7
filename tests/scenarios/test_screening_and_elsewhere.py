"""Issue 18, parts 2 and 3: a case that was not notified is screened by the Case Review Group and
ends in a local learning review, an agency's review or no further action; a review led elsewhere (a
national review, a cross-boundary review) is supported to its end. Each through the REST API with
the workers, on each database, with the clock moved, ending with no incident or open task."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import engine
import timekeeping
from api.demo import Demo
from tests.scenarios.conftest import fired, outbox, run, who

MILESTONES = engine.load_milestones(Path(__file__).resolve().parents[2] / "bpmn" / "milestones.toml")


def variables(result: dict[str, Any]) -> dict[str, Any]:
    return result["case"]["variables"]


def order(result: dict[str, Any]) -> list[str]:
    return [c["activity_id"] for c in result["completed"]]


def ran(result: dict[str, Any], activity: str) -> bool:
    """Whether the activity (a service or script task, say) completed in the case's history."""
    return any(e.get("activity_id") == activity and e["kind"] in ("task_completed", "external_task_completed")
               for e in result["history"])


def day_of(moment: str) -> date:
    return timekeeping.to_date(moment)


def milestones_of(result: dict[str, Any], *, statutory_only: bool = False) -> dict[str, engine.MilestoneStatus]:
    end = day_of(result["history"][-1]["at"])
    return {s.rule.id: s for s in engine.evaluate_milestones(
        MILESTONES, variables=variables(result), completed={}, today=end, days=engine.WorkingDays(end),
        statutory_only=statutory_only)}


def panel_submissions(demo: Demo) -> list[Path]:
    return [p for p in outbox(demo) if p.is_file() and "national-panel" in p.parts]


def test_a_screened_case_becomes_a_local_learning_review_on_local_deadlines(scenarios: Demo) -> None:
    before = set(panel_submissions(scenarios))
    result = run(scenarios, "screened-local-review")
    v = variables(result)
    steps = order(result)
    # referral by an agency, then the group's screening with its criteria and rationale
    assert steps[:2] == ["record_referral", "screen_case"]
    assert who(result, "record_referral") == ["bu-officer"] and who(result, "screen_case") == ["crg-chair"]
    assert v["case_route"] == "screening" and v["screening_outcome"] == "local_learning_review"
    assert v["screening_rationale"] and all("met" in c for c in v["criteria_considered"])
    # the LCSPR's building blocks: panel, terms of reference, meetings, IMRs, report, approval, dissemination, plan
    for step in ("agree_terms_of_reference", "hold_panel_meeting", "submit_imr", "write_local_report",
                 "quality_assure_draft", "approve_final_report", "gather_learning", "review_briefing",
                 "agree_action_plan", "confirm_impact"):
        assert step in steps, step
    assert set(who(result, "write_local_report")) == {"panel-chair"}
    assert {c["user"] for c in result["completed"] if c["activity_id"] == "submit_imr"} == {
        f"lead-{c['organisation']}" for c in result["completed"] if c["activity_id"] == "submit_imr"}
    assert set(v["imrs"]) == set(v["agencies"])
    # the local target: 6 calendar months from the screening by default, reminded 10 local working days before;
    # the report was approved before it passed, so no escalation
    assert v["local_review_due_on"] == timekeeping.calendar_months_after(v["screened_on"], 6)[:10]
    assert [day_of(t) for t in fired(result, "local_target_near")] == [
        timekeeping.to_date(timekeeping.local_working_days_after(v["local_review_due_on"], -10))]
    assert v["local_review_completed_on"] <= v["local_review_due_on"]
    assert not ran(result, "escalate_local_target")
    # nothing went to the National Panel, and no statutory milestone applies
    assert set(panel_submissions(scenarios)) == before
    assert "decision" not in v and "sin_sent_on" not in v
    statuses = milestones_of(result)
    assert set(statuses) == {"screening", "local_review_report"}
    assert statuses["local_review_report"].status == "done"
    assert milestones_of(result, statutory_only=True) == {}
    assert MILESTONES.paths["local_learning_review"] == "Local learning review"


def test_a_screened_case_can_end_in_no_further_action(scenarios: Demo) -> None:
    result = run(scenarios, "screened-no-further-action")
    v = variables(result)
    assert order(result) == ["record_referral", "screen_case"]
    assert v["screening_outcome"] == "no_further_action" and v["screening_rationale"]
    assert v["screening_closed_on"] == v["screened_on"]
    assert not [c for c in v["criteria_considered"] if c["met"]]
    assert set(milestones_of(result)) == {"screening"}


def test_a_single_agency_review_is_carried_out_by_the_agency_and_feeds_the_action_plan(scenarios: Demo) -> None:
    result = run(scenarios, "screened-single-agency-review")
    v = variables(result)
    assert order(result)[:4] == ["record_referral", "screen_case", "carry_out_agency_review",
                                 "consider_agency_review"]
    [done] = [c for c in result["completed"] if c["activity_id"] == "carry_out_agency_review"]
    assert done["organisation"] == v["review_agency"] and done["user"] == f"lead-{v['review_agency']}"
    assert not set(done["variables"]) & {"confidential_names", "screening_rationale", "referral_reasons"}
    assert who(result, "consider_agency_review") == ["crg-chair"]
    assert "agree_action_plan" in order(result) and "confirm_impact" in order(result)


def test_a_national_review_is_supported_to_its_end(scenarios: Demo) -> None:
    result = run(scenarios, "national-review")
    v = variables(result)
    steps = order(result)
    # the Panel leads it: recorded with its contact, then the support runs as its own process
    start = steps.index("support_national_review")
    assert steps[start - 1] == "record_panel_response"
    assert steps[start + 1:start + 3] == ["record_lead_body_contact", "submit_imr"]
    assert v["review_lead"]["body"] == "national_panel" and v["review_lead"]["contact"]["email"]
    assert v["decision"] == "national_review" and v["partners_decision"] == "lcspr"
    # one information request, with its due date, answered with the agency's return
    [request] = v["information_requests"]
    assert request["number"] == 1 and request["due_on"] and request["answered_on"] <= request["due_on"]
    assert set(request["returns"]) == set(request["agencies"])
    assert all(r["status"] == "received" for r in request["returns"].values())
    assert who(result, "send_contribution") == ["bu-officer"]
    # the final report, then the learning into the partnership's own action plan
    assert v["review_final_report"]["document_id"]
    assert who(result, "record_learning_for_action_plan") == ["lfp-chair"]
    [learning] = [c for c in result["completed"] if c["activity_id"] == "record_learning_for_action_plan"]
    assert not set(learning["variables"]) & {"review_lead", "information_requests", "confidential_names"}
    assert steps[-4:] == ["agree_action_plan", "update_action", "review_progress", "confirm_impact"]
    # answered before it was due: no reminder or chase; no LCSPR milestone
    assert not fired(result, "request_due_soon") and not fired(result, "request_overdue")
    statuses = milestones_of(result)
    assert not {"publication", "lcspr_month_3", "pre_publication_copy"} & set(statuses)


def test_a_cross_boundary_review_s_request_is_reminded_then_chased(scenarios: Demo) -> None:
    result = run(scenarios, "cross-boundary-review")
    v = variables(result)
    assert v["case_route"] == "cross_boundary"
    assert v["review_lead"]["body"] == "other_partnership" and v["review_lead"]["contact"]["name"]
    [request] = v["information_requests"]
    due = request["due_on"]
    # the education service never answers: its return is chased, then the group proceeds without it
    assert request["returns"]["northbridge-education"]["status"] == "proceeded_without"
    assert who(result, "decide_missing_return") == ["crg-chair"]
    # the request's own clock: a reminder 5 local working days before it is due, a chase the day after
    assert [day_of(t) for t in fired(result, "request_due_soon")] == [
        timekeeping.to_date(timekeeping.local_working_days_after(due, -5))]
    assert [day_of(t) for t in fired(result, "request_overdue")] == [
        timekeeping.to_date(timekeeping.local_working_days_after(due, 1))]
    assert ran(result, "chase_request") and request["answered_on"] > due
    assert "confirm_impact" in order(result)
    # no notification, Rapid Review or statutory milestone for a review led elsewhere
    assert milestones_of(result, statutory_only=True) == {}
    assert not {"notification", "rapid_review", "decision"} & set(milestones_of(result))
