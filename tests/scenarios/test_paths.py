"""Every branch a real case takes runs to its end through the REST API, with the workers, on each
database: in the order the law sets, with the right people and clocks, and no incident or stray task."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import timekeeping
from api.demo import Demo
from tests.scenarios.conftest import fired, outbox, run, who


def day_of(moment: str) -> date:
    return timekeeping.to_date(moment)


def deadline(moment: str) -> date:
    return timekeeping.to_date(moment)


def variables(result: dict[str, Any]) -> dict[str, Any]:
    return result["case"]["variables"]


def submissions(demo: Demo, document: str) -> list[dict[str, Any]]:
    found = []
    for path in outbox(demo):
        if path.suffix == ".json" and "national-panel" in path.parts:
            record = json.loads(path.read_text())
            if record["submission"]["type"] == document:
                found.append(record["submission"])
    return found


def mail_to(demo: Demo, address: str) -> list[str]:
    return [p.read_text(errors="replace") for p in outbox(demo) if p.is_file() and p.suffix == ".eml"
            and address in p.read_text(errors="replace")]


def agency_tasks_show_only_their_own(result: dict[str, Any]) -> None:
    for done in result["completed"]:
        if done["activity_id"] in ("submit_scoping_document", "submit_imr"):
            assert done["user"] == f"lead-{done['organisation']}"
            shown = set(done["variables"])
            assert not shown & {"confidential_names", "scoping_documents", "imrs", "agencies_by_name"}, shown


def test_full_publication(scenarios: Demo) -> None:
    result = run(scenarios, "lcspr-full")
    v = variables(result)
    decided = v["decision_date"]
    # who did what
    assert set(who(result, "record_partners_decision")) == {"partners-delegate"}
    assert set(who(result, "approve_final_report")) == {"partners-delegate"}
    reviewer = v["lead_reviewer"]["user"]
    assert who(result, "write_draft_report") == [reviewer]
    assert who(result, "record_practitioner_discussion") == [reviewer]
    assert reviewer != "lead-reviewer"
    agency_tasks_show_only_their_own(result)
    # drafting did not wait for the last panel meeting
    order = [c["activity_id"] for c in result["completed"]]
    assert order.index("write_draft_report") < len(order) - 1 - order[::-1].index("hold_panel_meeting")
    # the 6-month clock: reminders at months 3 and 4, the check at month 5, on the day
    for m in (3, 4, 5):
        assert [day_of(t) for t in fired(result, f"month_{m}_reached")] == [
            deadline(timekeeping.calendar_months_after(decided, m))]
    # each panel meeting's task opened on its date
    assert [day_of(t) for t in fired(result, "meeting_day")] == [date.fromisoformat(d) for d in v["panel_meetings"]]
    # publication waited at least 7 working days after the copy reached the Panel
    [pre] = submissions(scenarios, "pre_publication")
    assert pre["decision"] == "full_report"
    [published_at] = fired(result, "publication_day")
    assert day_of(published_at) >= deadline(timekeeping.working_days_after(v["publication_on"], 0))
    assert v["publication_on"] >= v["earliest_publication_on"]
    assert len(submissions(scenarios, "publication_link")) >= 1
    # twelve months after publication, the business unit is asked whether it stays
    assert [day_of(t) for t in fired(result, "publication_year_passed")] == [
        deadline(timekeeping.calendar_months_after(v["published_on"], 12))]
    assert who(result, "review_publication") == ["bu-officer"]


def test_improvements_only(scenarios: Demo) -> None:
    result = run(scenarios, "improvements-only")
    v = variables(result)
    assert v["publication_scope"] == "improvements_only"
    assert any(s["decision"] == "improvements_only" for s in submissions(scenarios, "pre_publication"))
    assert "lcspr-improvements" in v["published_url"]


def test_deferred_then_published(scenarios: Demo) -> None:
    result = run(scenarios, "deferred-then-published")
    decided = [c["at"] for c in result["completed"] if c["activity_id"] == "decide_publication"]
    assert len(decided) == 2
    # the deferral's review (default 3 months) is the second decision
    assert [day_of(t) for t in fired(result, "deferral_review_due")] == [
        deadline(timekeeping.calendar_months_after(decided[0], 3))]
    assert variables(result)["published_url"]


def test_panel_agrees(scenarios: Demo) -> None:
    result = run(scenarios, "panel-agrees")
    assert who(result, "record_panel_response") == ["bu-officer"]
    assert not who(result, "reconsider_recommendation")
    [rapid_review] = [s for s in submissions(scenarios, "rapid_review")
                      if s["case_reference"] == variables(result)["case_reference"]]
    assert rapid_review["decision"] == "learning_dissemination"


def test_panel_disagrees(scenarios: Demo) -> None:
    result = run(scenarios, "panel-disagrees")
    assert who(result, "reconsider_recommendation") == ["crg-chair"]
    assert who(result, "record_partners_redecision") == ["partners-delegate"]
    ref = variables(result)["case_reference"]
    assert [s["decision"] for s in submissions(scenarios, "final_decision") if s["case_reference"] == ref] == [
        "learning_dissemination"]


def test_panel_asks_for_more(scenarios: Demo) -> None:
    result = run(scenarios, "panel-asks-for-more")
    assert who(result, "record_panel_response") == ["bu-officer", "bu-officer"]
    assert who(result, "provide_further_information") == ["bu-officer"]
    ref = variables(result)["case_reference"]
    [answers] = [s for s in submissions(scenarios, "further_information") if s["case_reference"] == ref]
    assert answers["answers"][0]["question"] == "The school's attendance records"


def test_national_review(scenarios: Demo) -> None:
    result = run(scenarios, "national-review")
    assert who(result, "support_national_review") == ["bu-officer"]
    assert not who(result, "agree_terms_of_reference") and not who(result, "submit_imr")
    assert who(result, "agree_action_plan") == ["lfp-chair"]


def test_an_agency_that_never_answers(scenarios: Demo) -> None:
    result = run(scenarios, "agency-never-answers")
    # chased every 5 of the partnership's working days from the request, then the group decides
    chases = [day_of(t) for t in fired(result, "chase_due")]
    assert len(chases) >= 2
    assert chases[1] == deadline(timekeeping.local_working_days_after(chases[0], 5))
    assert who(result, "decide_missing_return") == ["crg-chair"]
    returns = variables(result)["scoping_documents"]
    assert returns["northbridge-education"]["status"] == "proceeded_without"
    assert returns["northbridge-education"]["reason"]
    assert all(r["status"] == "received" for a, r in returns.items() if a != "northbridge-education")


def test_an_agency_added_mid_case(scenarios: Demo) -> None:
    result = run(scenarios, "agency-added")
    assert who(result, "hold_rapid_review_meeting") == ["crg-chair", "crg-chair"]
    assert "lead-northbridge-probation" in who(result, "submit_scoping_document")
    v = variables(result)
    assert "northbridge-probation" in v["agencies"] and v["scoping_documents"]["northbridge-probation"]["status"] \
        == "received"
    agency_tasks_show_only_their_own(result)


def test_lcspr_delay(scenarios: Demo) -> None:
    result = run(scenarios, "lcspr-delay")
    assert who(result, "record_delay") == ["bu-officer"]
    ref = variables(result)["case_reference"]
    notices = [s for s in submissions(scenarios, "delay_notice") if s["case_reference"] == ref]
    assert len(notices) == 1 and notices[0]["dates"]["expected_publication_date"]
    assert mail_to(scenarios, "cspr.notifications@education.example")


def test_a_late_notification(scenarios: Demo) -> None:
    result = run(scenarios, "late-notification")
    assert who(result, "explain_late_notification") == ["bu-officer"]
    v = variables(result)
    assert v["sin_sent_on"] > timekeeping.working_days_after(v["became_aware_on"], 5)[:10]
    assert v["notification_late_reasons"]


def test_a_looked_after_child(scenarios: Demo) -> None:
    result = run(scenarios, "looked-after-child")
    kinds = [(e["kind"], e["activity_id"]) for e in result["history"]]
    assert ("external_task_completed", "notify_secretary_of_state_and_ofsted") in kinds
    assert mail_to(scenarios, "enquiries@ofsted.example")


def test_learning_dissemination(scenarios: Demo) -> None:
    result = run(scenarios, "learning-dissemination")
    assert who(result, "review_briefing") == ["lfp-chair"]
    assert not who(result, "submit_imr")
    assert set(who(result, "update_action")) == {"lead-northbridge-council"}
    agency_tasks_show_only_their_own(result)
