"""Every branch a real case takes runs to its end through the REST API, with the workers, on each
database: in the order the law sets, with the right people and clocks, and no incident or stray task."""

from __future__ import annotations

import html
import io
import json
import re
import tomllib
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import docx
import httpx

import engine
import timekeeping
from api.demo import Demo
from api.demo_paths import PATHS
from tests.scenarios.conftest import fired, outbox, run, run_path, who
from tests.workers.services.fakes import FakeNationalPanel

MILESTONES = engine.load_milestones(Path(__file__).resolve().parents[2] / "bpmn" / "milestones.toml")


def milestone_statuses(v: dict[str, Any], result: dict[str, Any]) -> list[engine.MilestoneStatus]:
    """The case's milestones as the console and the report judge them, on the day the case ended."""
    end = day_of(result["history"][-1]["at"])
    return engine.evaluate_milestones(MILESTONES, variables=v, completed={}, today=end,
                                      days=engine.WorkingDays(end))


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
    assert not who(result, "agree_terms_of_reference")          # no LCSPR: the only IMRs are the Panel's asking
    [request] = variables(result)["information_requests"]
    assert who(result, "submit_imr") == [f"lead-{a}" for a in request["agencies"]]
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
    v = variables(result)
    assert who(result, "record_delay") == ["bu-officer"]
    # the decision on Monday 11 January 2027: the check at month 5 finds the review will be late
    assert v["decision_date"] == "2027-01-11"
    assert [day_of(t) for t in fired(result, "month_5_reached")] == [date(2027, 6, 11)]
    # one notice, to the Panel and the DfE, with the new expected date: Monday 26 July 2027
    ref = v["case_reference"]
    notices = [s for s in submissions(scenarios, "delay_notice") if s["case_reference"] == ref]
    assert len(notices) == 1
    assert notices[0]["dates"] == {"decision_date": "2027-01-11", "final_report_due_on": "2027-07-11",
                                   "expected_publication_date": "2027-07-26"}
    assert len([m for m in mail_to(scenarios, "cspr.notifications@education.example") if ref in m]) >= 1
    # the 6 months pass unpublished: escalated on Sunday 11 July 2027, 6 calendar months after the decision
    assert [day_of(t) for t in fired(result, "month_6_reached")] == [date(2027, 7, 11)]
    # the new date has its own clock: a reminder 10 of the partnership's working days before it (Monday
    # 12 July), and the escalation the working day after it (Tuesday 27 July) when it was missed too
    assert [day_of(t) for t in fired(result, "expected_date_near")] == [date(2027, 7, 12)]
    assert [day_of(t) for t in fired(result, "expected_date_passed")] == [date(2027, 7, 27)]
    done = [(e["activity_id"], day_of(e["at"])) for e in result["history"] if e["kind"] == "external_task_completed"]
    assert ("remind_expected_date", date(2027, 7, 12)) in done
    assert ("escalate_expected_date", date(2027, 7, 27)) in done
    assert ("escalate_deadline_missed", date(2027, 7, 11)) in done
    # published after both dates, which the report's milestones show as late
    assert v["published_on"] > "2027-07-27"
    statuses = {s.rule.id: s for s in milestone_statuses(v, result)}
    assert (statuses["publication"].status, statuses["publication"].due_on) == ("late", date(2027, 7, 11))


def test_the_partners_refuse_to_sign_off_then_all_three_sign(scenarios: Demo) -> None:
    result = run(scenarios, "partners-refuse")
    # the police did not agree: back to the Case Review Group, which meets again and sees why
    assert who(result, "record_partners_decision") == ["partners-delegate", "partners-delegate"]
    assert who(result, "hold_rapid_review_meeting") == ["crg-chair", "crg-chair"]
    order = [c["activity_id"] for c in result["completed"] if c["activity_id"] in (
        "hold_rapid_review_meeting", "record_partners_decision", "submit_through_portal")]
    assert order[:5] == ["hold_rapid_review_meeting", "record_partners_decision", "hold_rapid_review_meeting",
                         "record_partners_decision", "submit_through_portal"]
    again = [c for c in result["completed"] if c["activity_id"] == "hold_rapid_review_meeting"][1]
    police = again["variables"]["sign_offs"]["police"]
    assert police["agrees"] is False and police["comments"] == "The report must say when the police shared the referral"
    # then all three signed, one each, and only then did the Rapid Review go to the Panel: once
    v = variables(result)
    assert {p: s["agrees"] for p, s in v["sign_offs"].items()} == {
        "local_authority": True, "integrated_care_board": True, "police": True}
    ref = v["case_reference"]
    assert len([s for s in submissions(scenarios, "rapid_review") if s["case_reference"] == ref]) == 1


def test_a_submission_the_panel_refuses_is_corrected_and_sent_again(with_panel: tuple[Demo, FakeNationalPanel]) -> None:
    demo, panel = with_panel
    panel.reject_next(422)                             # the Rapid Review, the case's first submission
    result = run_path(demo, replace(PATHS["learning-dissemination"], name="panel-refuses"))
    v = variables(result)
    # not an incident: the block caught PANEL_REFUSED and gave the business unit a task, with the reason
    errors = [e for e in result["history"] if e["kind"] == "external_task_bpmn_error"]
    assert [e["activity_id"] for e in errors] == ["send_to_panel"]
    assert who(result, "correct_submission") == ["bu-officer"]
    [corrected] = [c for c in result["completed"] if c["activity_id"] == "correct_submission"]
    assert corrected["variables"]["panel_refusal"] == {
        "document": "rapid_review", "reason": "National Panel submission: HTTP 422 INVALID_SUBMISSION"}
    # sent again by API: the Panel holds one Rapid Review for the case, and its receipt is on the case
    mine = [s for s in panel.submissions.values() if s["body"]["case_reference"] == v["case_reference"]]
    [rapid_review] = [s for s in mine if s["body"]["type"] == "rapid_review"]
    assert v["rapid_review_submission"]["via"] == "api"
    assert v["rapid_review_submission"]["receipt_id"] == rapid_review["receipt_id"]
    assert not who(result, "submit_through_portal")
    # the 15 working days stopped on the day the corrected submission reached the Panel
    sent_on = day_of(corrected["at"].isoformat())
    assert v["rapid_review_sent_on"] == sent_on.isoformat()
    statuses = {s.rule.id: s for s in milestone_statuses(v, result)}
    assert (statuses["rapid_review"].status, statuses["rapid_review"].done_on) == ("done", sent_on)
    assert not [t for t in fired(result, "rapid_review_due_soon") + fired(result, "rapid_review_due_today")
                + fired(result, "rapid_review_overdue") if day_of(t) >= sent_on]


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


def test_the_published_briefing_shows_nothing_internal(scenarios: Demo) -> None:
    """The 7-minute briefing as the site serves it (page and Word version): no internal case reference or
    business key, no draft number, no agency id — the agencies by their names."""
    result = run(scenarios, "learning-dissemination")
    v = variables(result)
    page = httpx.get(v["published_url"], timeout=30)
    assert page.status_code == 200 and "7-minute briefing" in page.text
    word = httpx.get(v["published_word_url"], timeout=30)
    assert word.status_code == 200
    document = docx.Document(io.BytesIO(word.content))
    word_text = "\n".join([p.text for p in document.paragraphs] + [
        p.text for section in document.sections for p in section.header.paragraphs + section.footer.paragraphs])
    directory = tomllib.loads(Path("partnership.example.toml").read_text())["agencies"]
    names = {a["id"]: a["name"] for a in directory}
    for text in (page.text, word_text):
        assert v["case_reference"] not in text and result["case"]["business_key"] not in text
        assert not re.search(r"\bdraft\b", text, re.IGNORECASE)
        for agency in v["agencies"]:
            assert agency not in text                                  # northbridge-council, ...
            assert html.escape(names[agency]) in text or names[agency] in text
