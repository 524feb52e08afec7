"""The console in Chromium: sign in, the dashboard's deadlines, a task's form with an error and then
right, the diagram's highlight moving on, need-to-know between agencies, the timeliness CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import engine
from tests.console.conftest import sin, start_case, work_external


def test_sign_in_see_a_case_with_its_deadline_and_sign_out(console_db: engine.Database, keys: dict[str, str],
                                                           open_console: Any) -> None:
    engine.clock.freeze(datetime(2027, 3, 1, 10, 0, tzinfo=UTC))
    try:
        start_case(console_db, "SIN-2027-007", **sin(sin_sent_on="2027-02-22", became_aware_on="2027-02-18"))
        start_case(console_db, "SIN-2027-001", **sin(sin_sent_on="2027-01-04", became_aware_on="2027-01-01"))
        start_case(console_db, "SIN-2027-009")                      # notification not yet recorded
        bu = open_console("bu")
        bu.goto("/")
        assert "/sign-in" in bu.page.url                           # not signed in: to the sign-in page
        bu.sign_in("bu-officer", keys["bu-officer"])
        assert bu.page.url.endswith("/")
        bu.audit()
        rows = bu.page.locator("#cases tbody tr")
        assert rows.count() == 3
        first, second = rows.nth(0), rows.nth(1)
        # overdue first: 15 working days after 4 Jan 2027 is 25 Jan 2027
        assert first.get_attribute("data-case") == "SIN-2027-001"
        assert "Rapid Review sent to the National Panel" in first.inner_text()
        assert "25 Jan 2027" in first.inner_text() and "Overdue" in first.inner_text()
        assert "25 working days overdue" in first.inner_text()
        # 22 Feb 2027 + 15 working days = 15 Mar 2027: 10 working days left on 1 Mar
        assert second.get_attribute("data-case") == "SIN-2027-007"
        assert "15 Mar 2027" in second.inner_text() and "10 working days left" in second.inner_text()
        assert "On track" in second.inner_text() and "Rapid Review" in second.inner_text()
        assert "No deadline" in rows.nth(2).inner_text()
        bu.shot("dashboard")
        cookie = next(c for c in bu.page.context.cookies() if c["name"] == "rf_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert keys["bu-officer"] not in str(bu.page.context.cookies())
        assert bu.page.evaluate("document.cookie") == ""               # nothing readable by script
        bu.sign_out()
        assert "/sign-in" in bu.page.url and "You have signed out" in bu.page.content()
        bu.goto("/")
        assert "/sign-in" in bu.page.url                           # the old cookie no longer works
    finally:
        engine.clock.reset()


def test_a_task_form_shows_the_error_beside_its_field_then_completes_and_the_diagram_moves_on(
        console_db: engine.Database, keys: dict[str, str], open_console: Any) -> None:
    case = start_case(console_db, "SIN-2027-014")
    task = case.user_tasks[0]
    bu = open_console("bu")
    bu.sign_in("bu-officer", keys["bu-officer"])
    bu.goto(f"/cases/{case.id}")
    diagram = bu.page.locator("#diagram-rapid_review")
    bu.page.wait_for_selector("#diagram-rapid_review[data-state='drawn']")
    assert bu.page.locator("#diagram-rapid_review .djs-element.rf-active[data-element-id='record_sin']").count() == 1
    assert diagram.get_attribute("data-active") == "record_sin"
    bu.shot("case-before")

    bu.goto("/tasks")
    bu.page.click(f"a[href='/tasks/{task.id}']")
    bu.page.wait_for_load_state("networkidle")
    bu.audit()
    bu.page.click("#claim")
    bu.page.wait_for_load_state("networkidle")
    assert bu.page.locator("#assignee").inner_text() == "bu-officer"
    bu.page.fill("#case_reference", "CR-14")
    bu.page.fill("#became_aware_on-day", "3")
    bu.page.fill("#became_aware_on-month", "2")
    bu.page.fill("#became_aware_on-year", "2027")
    bu.page.fill("#sin_sent_on-day", "31")                          # 31 February: not a real date
    bu.page.fill("#sin_sent_on-month", "2")
    bu.page.fill("#sin_sent_on-year", "2027")
    bu.page.check("#incident_type-1")
    bu.page.check("#child_looked_after-1")                         # No
    bu.page.fill("#agencies", "Police\nIntegrated care board")
    bu.page.fill("#confidential_names", "Child R")
    bu.page.click("#complete")
    bu.page.wait_for_load_state("networkidle")
    bu.audit()
    summary = bu.page.locator(".govuk-error-summary")
    assert "must be a real date" in summary.inner_text()
    beside = bu.page.locator("#sin_sent_on-error")
    assert "Date the notification was sent to the National Panel must be a real date" in beside.inner_text()
    assert bu.page.locator("#case_reference").input_value() == "CR-14"          # what was typed stays
    assert engine.get_instance(console_db, instance_id=case.id).user_tasks[0].id == task.id   # nothing sent
    bu.shot("task-error")
    summary.locator("a").first.click()                              # the summary link moves to the field
    assert bu.page.evaluate("document.activeElement.id") == "sin_sent_on-day"

    bu.page.fill("#sin_sent_on-day", "4")
    bu.page.click("#complete")
    bu.page.wait_for_load_state("networkidle")
    assert f"/cases/{case.id}" in bu.page.url and "Task completed" in bu.page.content()
    bu.page.wait_for_selector("#diagram-rapid_review[data-state='drawn']")
    bu.audit()
    active = bu.page.locator("#diagram-rapid_review").get_attribute("data-active").split()
    assert "record_sin" not in active and "call_rapid_review_work" in active
    assert bu.page.locator("#diagram-rapid_review .djs-element.rf-completed[data-element-id='record_sin']").count() == 1
    assert bu.page.locator("#diagram-rapid_review .djs-element.rf-active"
                           "[data-element-id='call_rapid_review_work']").count() == 1
    variables = engine.get_instance(console_db, instance_id=case.id).variables
    assert variables["sin_sent_on"] == "2027-02-04" and variables["agencies"] == ["Police", "Integrated care board"]
    assert variables["incident_type"] == "serious_harm"
    bu.shot("case-after")


def test_an_agency_lead_sees_only_their_agencys_task_never_another_agencys(
        console_db: engine.Database, keys: dict[str, str], open_console: Any) -> None:
    case = start_case(console_db, "SIN-2027-020", **sin(sin_sent_on="2027-02-22", became_aware_on="2027-02-18"))
    assert work_external(console_db, "information-request") == 2            # one request per agency
    tasks = engine.get_instance(console_db, instance_id=case.id).user_tasks
    police = next(t for t in tasks if t.organisation == "Police")
    icb = next(t for t in tasks if t.organisation == "Integrated care board")
    lead = open_console("police")
    lead.sign_in("police-lead", keys["police-lead"])
    assert lead.page.url.endswith("/tasks")                         # no case list for an agency lead
    links = lead.page.locator("#tasks tbody a")
    assert links.count() == 1 and links.first.get_attribute("href") == f"/tasks/{police.id}"
    assert "Integrated care board" not in lead.page.locator("#tasks").inner_text()
    lead.shot("tasks")
    for path in (f"/tasks/{icb.id}", f"/cases/{case.id}", f"/cases/{case.id}/diagrams/rapid_review:1"):
        response = lead.goto(path)
        assert response.status in (403, 404), path
        assert "SIN-2027-020" not in lead.page.content() and "Child Q" not in lead.page.content()
    lead.goto(f"/tasks/{police.id}")
    assert "Submit the Initial Scoping document" in lead.page.content()
    lead.page.set_input_files("#file", files=[{"name": "scoping.md", "mimeType": "text/markdown",
                                               "buffer": b"# Scoping\nPolice involvement.\n"}])
    lead.page.fill("#kind", "scoping_document")
    lead.page.click("#upload")
    lead.page.wait_for_load_state("networkidle")
    assert "Document attached" in lead.page.content()
    assert lead.page.locator("#task-documents").inner_text().startswith("scoping.md")
    docs = engine.list_documents(console_db, instance_id=case.id)
    assert [(d.filename, d.uploaded_by, d.task_id) for d in docs] == [("scoping.md", "police-lead", police.id)]
    other = open_console("icb")
    other.sign_in("icb-lead", keys["icb-lead"])
    other.goto(f"/tasks/{icb.id}")
    assert "scoping.md" not in other.page.content()                 # another agency's upload stays theirs


def test_the_timeliness_report_charts_and_downloads_as_csv(console_db: engine.Database, keys: dict[str, str],
                                                          open_console: Any) -> None:
    engine.clock.freeze(datetime(2027, 3, 1, 10, 0, tzinfo=UTC))
    try:
        start_case(console_db, "SIN-2027-030", **sin(sin_sent_on="2027-01-04", became_aware_on="2027-01-01"))
        start_case(console_db, "SIN-2027-031", **sin(sin_sent_on="2027-02-22", became_aware_on="2027-02-18"))
        assert work_external(console_db, "information-request") == 4          # 2 agencies of each case asked
        # 1 March: the first is past its 15 working days, the second within them
        bu = open_console("bu")
        bu.sign_in("bu-officer", keys["bu-officer"])
        bu.goto("/reports/timeliness?year=2026")
        assert "Timeliness 2026/27" in bu.page.content()
        table = bu.page.locator("table[data-section='rapid_reviews'] tbody td")
        counts = [table.nth(i).inner_text() for i in range(4)]
        assert counts == ["0", "0", "1", "1"]            # SIN-2027-030 overdue, SIN-2027-031 not yet due
        bu.shot("report")
        with bu.page.expect_download() as info:
            bu.page.click("#csv-items")
        content = open(info.value.path(), encoding="utf-8").read()
        rows = list(csv.DictReader(io.StringIO(content)))
        mine = {(r["case"], r["outcome"], r["due_on"]) for r in rows if r["section"].startswith("Rapid Reviews")}
        assert mine == {("SIN-2027-030", "overdue", "2027-01-25"), ("SIN-2027-031", "not_yet_due", "2027-03-15")}
        with bu.page.expect_download() as info:
            bu.page.click("#csv-summary")
        summary = list(csv.DictReader(io.StringIO(open(info.value.path(), encoding="utf-8").read())))
        rr = next(r for r in summary if r["section"].startswith("Rapid Reviews"))
        assert (rr["on_time"], rr["late"], rr["overdue"], rr["not_yet_due"]) == ("0", "0", "1", "1")
    finally:
        engine.clock.reset()


def test_every_page_passes_the_accessibility_check(console_db: engine.Database, keys: dict[str, str],
                                                   open_console: Any) -> None:
    case = start_case(console_db, "SIN-2027-040", **sin(sin_sent_on="2027-02-22", became_aware_on="2027-02-18"))
    work_external(console_db, "information-request")
    admin = open_console("admin")
    admin.goto("/sign-in")
    admin.page.click("button:has-text('Sign in')")                # an empty form: the error page is checked too
    admin.page.wait_for_load_state("networkidle")
    admin.audit()
    admin.sign_in("admin", keys["admin"])
    task = engine.list_user_tasks(console_db).data[0]
    for path in ("/", "/tasks", "/tasks?view=mine", f"/tasks/{task.id}", f"/cases/{case.id}", "/reports/timeliness",
                 "/definitions", "/definitions/lcspr:1", "/definitions/action_plan:1", "/incidents",
                 "/cases/nope"):
        admin.goto(path)
        admin.shot(path.strip("/").replace("/", "_").replace("?", "_") or "dashboard")
    expected = {"/sign-in", "/", "/tasks", "/tasks/{id}", "/cases/{id}", "/reports/timeliness", "/definitions",
                "/definitions/lcspr:1", "/definitions/action_plan:1", "/incidents", "/cases/nope"}
    assert expected <= admin.checked
