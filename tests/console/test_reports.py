"""The timeliness report, computed from history over the real diagrams: Rapid Reviews sent within
15 working days, actions closed by their due date; as JSON and CSV from /api/v1, for the cases the
caller may see. And the milestones file: its arithmetic and its names."""

from __future__ import annotations

import csv
import io
import json
import random
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest

import engine
from tests.conftest import Server, bearer
from tests.console.conftest import ROOT, sin, start_case, work_external

BU = engine.Actor("bu-officer", frozenset({"business-unit", "case-review-group"}))
CRG = engine.Actor("crg-chair", frozenset({"case-review-group"}))
PARTNERS = engine.Actor("partners-delegate", frozenset({"safeguarding-partners"}))


def at(day: str, hour: int = 10) -> None:
    engine.clock.freeze(datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC))


def send_rapid_review(db: engine.Database, case: engine.InstanceInfo, on: str) -> None:
    """Each agency returns its scoping document, the Case Review Group meets, the three partners sign
    off, and on `on` the worker sends the Rapid Review to the National Panel by API: the day it is
    sent is the day the 15 working days stop (rapid_review_sent_on)."""
    work_external(db, "information-request", return_due_on="2027-01-12")
    for task in engine.get_instance(db, instance_id=case.id).user_tasks:
        engine.complete_user_task(db, actor=engine.Actor("lead", frozenset({"agency-leads"}), task.organisation),
                                  task_id=task.id,
                                  variables={"scoping_document": {"involvement": "Some", "analysis": "Little",
                                                                  "immediate_safety_concerns": "None"}})
    meeting = engine.get_instance(db, instance_id=case.id).user_tasks[0]
    engine.complete_user_task(db, actor=CRG, task_id=meeting.id, variables={
        "meeting_date": engine.clock.now().date().isoformat(), "learning_identified": ["Share early"],
        "immediate_safety_actions": "None", "recommendation": "lcspr", "recommendation_reasons": ["Agreed"],
        "agencies_to_add": [], "agencies_removed": [], "rapid_review_report_id": "doc-1"})
    sign_off = engine.get_instance(db, instance_id=case.id).user_tasks[0]
    engine.complete_user_task(db, actor=PARTNERS, task_id=sign_off.id, variables={
        "decision": "lcspr", "decision_reasons": ["As the group recommends"], "decision_date": "2027-01-15",
        "sign_offs": {p: {"signed_off_by": "Lead", "signed_off_on": "2027-01-15", "agrees": True}
                      for p in ("local_authority", "integrated_care_board", "police")}})
    at(on)
    assert work_external(db, "national-panel-submission", panel_receipt_id="NP-1", panel_submission={
        "document": "rapid_review", "via": "api", "receipt_id": "NP-1", "received_at": None, "submitted_on": on}) == 1


@pytest.fixture
def cases(console_db: engine.Database) -> dict[str, engine.InstanceInfo]:
    """Four Rapid Reviews of the year 2026/27, each differently timely, as of 1 March 2027."""
    try:
        at("2027-01-04")
        out = {"on_time": start_case(console_db, "SIN-ON-TIME", **sin("2027-01-04", "2026-12-30")),
               "late": start_case(console_db, "SIN-LATE", **sin("2027-01-05", "2027-01-04")),
               "overdue": start_case(console_db, "SIN-OVERDUE", **sin("2027-01-06", "2027-01-05"))}
        send_rapid_review(console_db, out["on_time"], "2027-01-25")    # working day 15 after 4 Jan
        at("2027-01-04")
        send_rapid_review(console_db, out["late"], "2027-01-27")       # due 26 Jan
        at("2027-02-22")
        out["not_yet_due"] = start_case(console_db, "SIN-NOT-YET", **sin("2027-02-22", "2027-02-19"))
        at("2027-03-01")
        yield out
    finally:
        engine.clock.reset()


def test_rapid_reviews_within_15_working_days_from_history(console_db: engine.Database, cases: dict,
                                                           keys: dict[str, str], console_server: Server) -> None:
    with httpx.Client(base_url=console_server.url, timeout=30, headers=bearer(keys["bu-officer"])) as client:
        report = client.get("/api/v1/reports/timeliness", params={"year": 2026}).json()
        assert (report["label"], report["starts_on"], report["ends_on"]) == ("2026/27", "2026-04-01", "2027-03-31")
        rr = next(s for s in report["sections"] if s["id"] == "rapid_reviews")
        assert (rr["on_time"], rr["late"], rr["overdue"], rr["not_yet_due"]) == (1, 1, 1, 1)
        assert rr["percent_on_time"] == pytest.approx(33.3)
        by_case = {i["business_key"]: (i["due_on"], i["done_on"], i["outcome"]) for i in rr["items"]}
        assert by_case == {"SIN-ON-TIME": ("2027-01-25", "2027-01-25", "on_time"),
                           "SIN-LATE": ("2027-01-26", "2027-01-27", "late"),
                           "SIN-OVERDUE": ("2027-01-27", None, "overdue"),
                           "SIN-NOT-YET": ("2027-03-15", None, "not_yet_due")}
        assert client.get("/api/v1/reports/timeliness", params={"year": 2025}).json()["sections"][0]["items"] == []
        summary = client.get("/api/v1/reports/timeliness.csv", params={"year": 2026})
        assert summary.headers["content-type"].startswith("text/csv")
        assert 'filename="timeliness-2026-27-summary.csv"' in summary.headers["content-disposition"]
        row = next(csv.DictReader(io.StringIO(summary.text)))
        assert (row["section"], row["on_time"], row["late"], row["overdue"], row["percent_on_time"]) == (
            "Rapid Reviews sent within 15 working days", "1", "1", "1", "33.3")
        assert client.get("/api/v1/reports/timeliness", params={"year": 1999}).status_code == 400
    # need-to-know: a panel member who sees none of these cases counts none of them
    engine.create_principal(console_db, principal_id="pat", roles=["panel-member"], groups=["lcspr-panel"])
    pat = engine.issue_key(console_db, principal_id="pat").secret
    seen = httpx.get(f"{console_server.url}/api/v1/reports/timeliness?year=2026", headers=bearer(pat)).json()
    assert all(s["items"] == [] for s in seen["sections"])


def test_csv_cells_are_never_formulas(console_db: engine.Database, keys: dict[str, str],
                                      console_server: Server) -> None:
    at("2027-01-04")
    try:
        start_case(console_db, "=HYPERLINK(\"http://x\")", **sin("2027-01-04", "2027-01-01"))
        at("2027-03-01")
        text = httpx.get(f"{console_server.url}/api/v1/reports/timeliness.csv?year=2026&rows=items",
                         headers=bearer(keys["bu-officer"])).text
    finally:
        engine.clock.reset()
    row = next(r for r in csv.DictReader(io.StringIO(text)) if r["section"].startswith("Rapid"))
    assert row["case"] == "'=HYPERLINK(\"http://x\")"


def test_actions_closed_by_their_due_date(console_db: engine.Database) -> None:
    """An action plan on its own: two actions, updated a month on; each is closed in that update
    round, one before its due date and one after."""
    try:
        at("2027-04-01")
        plan = engine.start_instance(console_db, actor=BU, definition_key="action_plan", business_key="AP-1",
                                     variables={"case_reference": "CR-1"})
        actions = [{"action": "Protocol", "agency": "Police", "owner": "Head", "due_date": "2027-05-20",
                    "rag": "amber", "evidence_of_impact": "Audit"},
                   {"action": "Training", "agency": "School", "owner": "Head", "due_date": "2027-05-01",
                    "rag": "amber", "evidence_of_impact": "Survey"}]
        lfp = engine.Actor("lfp", frozenset({"learning-from-practice-sub-group", "agency-leads"}))
        engine.complete_user_task(console_db, actor=lfp, task_id=plan.user_tasks[0].id, variables={"actions": actions})
        at("2027-05-03")
        engine.fire_due_timers(console_db)
        assert work_external(console_db, "notification") == 1
        updates = engine.get_instance(console_db, instance_id=plan.id).user_tasks
        assert len(updates) == 2
        for task in updates:
            engine.complete_user_task(console_db, actor=lfp, task_id=task.id, variables={
                "action_update": {"rag": "green", "progress": "Done", "completed": True}})
        m = engine.load_milestones(ROOT / "bpmn" / "milestones.toml")
        report = engine.timeliness_report(console_db, milestones=m, year=2027, today=date(2027, 6, 1))
    finally:
        engine.clock.reset()
    section = next(s for s in report.sections if s.id == "actions")
    outcomes = {(i.label, i.due_on.isoformat(), i.done_on and i.done_on.isoformat(), i.outcome) for i in section.items}
    assert outcomes == {("Protocol", "2027-05-20", "2027-05-03", "on_time"),
                        ("Training", "2027-05-01", "2027-05-03", "late")}


def test_working_days_and_months_follow_the_law() -> None:
    days = engine.WorkingDays(date(2026, 12, 1))
    # 23 Dec 2026 + 5 working days: 25 and 28 Dec are bank holidays (Christmas on a Friday)
    assert days.add(date(2026, 12, 23), 5) == date(2027, 1, 4)
    assert days.add(date(2027, 1, 4), -7) == date(2026, 12, 21)
    assert days.between(date(2027, 1, 22), date(2027, 1, 25)) == 1       # Friday to Monday
    assert days.between(date(2027, 1, 25), date(2027, 1, 25)) == 0
    assert days.between(date(2027, 1, 26), date(2027, 1, 25)) == -1
    m = engine.load_milestones(ROOT / "bpmn" / "milestones.toml")
    statuses = {s.rule.id: s for s in engine.evaluate_milestones(
        m, variables={"decision": "lcspr", "decision_date": "2027-08-31", "became_aware_on": "2027-01-01",
                      "sin_sent_on": "2027-01-11"}, completed={}, today=date(2027, 9, 1), days=days)}
    assert statuses["publication"].due_on == date(2028, 2, 29)            # month-end clamped, leap year
    assert statuses["notification"].status == "late"                       # 5 working days after 1 Jan: 8 Jan
    assert "briefing_published" not in statuses                             # the other path's milestone
    assert engine.next_deadline(statuses.values()).rule.id == "rapid_review"


def test_a_case_that_was_not_notified_has_no_notification_or_rapid_review_milestone(tmp_path: Path) -> None:
    m = engine.load_milestones(ROOT / "bpmn" / "milestones.toml")
    days = engine.WorkingDays(date(2027, 1, 1))
    for route in ("screening", "cross_boundary"):
        statuses = {s.rule.id: s for s in engine.evaluate_milestones(
            m, variables={"case_route": route, "screened_on": "2027-01-11"}, completed={}, today=date(2027, 2, 1),
            days=days)}
        assert not {"notification", "rapid_review", "decision"} & set(statuses), route
    assert "case_route" in m.milestone_variables(statutory_only=True)      # the dashboard reads it
    bad = tmp_path / "milestones.toml"
    bad.write_text('[[milestone]]\nid = "x"\nlabel = "X"\nunless = { variable = "case_route" }\n')
    with pytest.raises(engine.Invalid, match="unless needs equals or in"):
        engine.load_milestones(bad)


def test_the_working_day_index_agrees_with_the_calendar_day_by_day() -> None:
    from timekeeping.calendar import BusinessCalendar  # noqa: PLC0415
    calendar, index, rng = BusinessCalendar(), engine.working_days(date(2026, 12, 1)), random.Random(7)
    for _ in range(2000):
        day = date(2020, 6, 1) + timedelta(days=rng.randint(0, 4000))      # inside the index and outside it
        n = rng.randint(-30, 30)
        assert index.add(day, n) == calendar.add_working_days(day, n), (day, n)
        other = day + timedelta(days=rng.randint(-60, 60))
        low, high = min(day, other), max(day, other)
        between = sum(calendar.is_working_day(low + timedelta(days=k)) for k in range(1, (high - low).days + 1))
        assert index.between(day, other) == (between if other >= day else -between), (day, other)


def _names_in(directory: Path) -> set[str]:
    names: set[str] = set()
    for path in directory.glob("*.bpmn"):
        text = path.read_text()
        names |= set(re.findall(r'\bid="([^"]+)"', text)) | set(re.findall(r"\b([a-z_][a-z0-9_]*)\b", text))
    for path in (directory / "forms").glob("*.json"):
        def walk(schema: dict) -> None:
            for name, sub in (schema.get("properties") or {}).items():
                names.add(name)
                walk(sub)
            if isinstance(schema.get("items"), dict):
                walk(schema["items"])
        walk(json.loads(path.read_text()))
    return names


def test_every_name_in_the_milestones_file_is_in_the_diagrams() -> None:
    """The process owners' promise in bpmn/milestones.toml: the variables and activities it names
    are set by the diagrams (ids, script variables, or form fields) — so a restructured diagram
    that drops one fails here, not silently on the dashboard."""
    m = engine.load_milestones(ROOT / "bpmn" / "milestones.toml")
    known = _names_in(ROOT / "bpmn")
    workers = " ".join(p.read_text() for p in (ROOT / "workers" / "handlers").glob("*.py"))
    missing = [n for n in m.variables() + m.activities() if n not in known and n not in workers]
    assert missing == []
    assert set(m.paths) <= {re.search(r'<bpmn:process id="([^"]+)"', p.read_text()).group(1)  # type: ignore[union-attr]
                            for p in (ROOT / "bpmn").glob("*.bpmn")}
