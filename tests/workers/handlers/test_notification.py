"""Notifications: each kind and subject goes to the right people, carries links and references only, and is
sent once — by SMTP when configured, else to the outbox."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

import timekeeping
from tests.workers.handlers.conftest import ServicesFactory, outbox_mail, read_mail, task_for
from tests.workers.handlers.test_topics import properties, service_tasks
from tests.workers.services.fakes import ENVIRONMENT, TOKEN, FakeSmtp, write_directory
from workers.handlers import notification
from workers.runtime import Incident
from workers.services import Services, load_directory

CASE = {"case_reference": "NB-TEST-1", "agencies": ["Police", "Education"],
        "agencies_by_name": {"Police": "Police", "Education": "Education"}, "sin_sent_on": "2026-01-05",
        "decision_date": "2026-01-05", "lead_reviewer": {"name": "Reece Free", "email": "reece@reviews.example"},
        "published_url": "https://www.scp.example/learning/7mb/", "panel_receipt_id": "NP-00042",
        "numbered_actions": {"1": {"action": "Audit referrals", "agency": "Health", "owner": "Named nurse"},
                             "2": {"action": "Train staff", "agency": "Police", "owner": "DI"},
                             "3": {"action": "Review policy", "agency": "Health", "owner": "Named GP"},
                             "4": {"action": "Something", "agency": "A charity", "owner": "Someone"}},
        "action_updates": {"1": {"rag": "red"}, "2": {"rag": "green"}, "3": {"rag": "RED"}},
        "overdue_summary": "Audit late because Jayden Smith's records were missing",
        "confidential_names": ["Jayden Smith"], "incident_summary": "Jayden Smith was injured at home",
        "agency": "Police", "return_kind": "initial_scoping", "chases_sent": 0, "return_due_on": "2026-01-12",
        "became_aware_on": "2026-01-02", "expected_publication_date": "2026-09-30",
        "information_due_on": "2026-04-17"}


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    timekeeping.clock.freeze(datetime(2026, 4, 6, 9, tzinfo=UTC))
    yield
    timekeeping.clock.reset()


def notify(services: Services, kind: str, about: str, values: dict[str, object] | None = None,
           activity: str = "notify:1") -> list[tuple[EmailMessage, str]]:
    task = task_for(notification, values or CASE, properties={"kind": kind, "about": about},
                    activity_instance_id=activity)
    notification.handle(task, services)
    return [read_mail(p) for p in outbox_mail(services.directory.outbox.parent)]


def recipients(mails: list[tuple[EmailMessage, str]]) -> list[tuple[str, str]]:
    return sorted((m["To"], m["Cc"] or "") for m, _ in mails)


NOTIFICATIONS = [t for t in service_tasks() if t.get("{http://camunda.org/schema/1.0/bpmn}topic") == "notification"]


@pytest.mark.parametrize("task", NOTIFICATIONS, ids=lambda t: t.get("id"))
def test_every_notification_in_the_diagrams_sends_links_and_references_only(services: Services, task) -> None:  # type: ignore[no-untyped-def]
    p = properties(task)
    mails = notify(services, p["kind"], p["about"])
    assert mails
    for message, text in mails:
        assert "NB-TEST-1" in message["Subject"] + text or "https://www.scp.example/learning/7mb/" in text
        if p["kind"] == "statutory_notice":      # the regulators have no Reviewflow account: no link to it
            assert "https://reviewflow.scp.example/tasks" not in text
        else:
            assert "https://reviewflow.scp.example/tasks" in text or "https://www.scp.example/learning/7mb/" in text
        for detail in ("Jayden", "injured", "Audit referrals", "Train staff", "Named nurse", "Audit late"):
            assert detail not in message.as_string() and detail not in text


def test_rapid_review_reminders_go_to_the_crg_chair_and_the_business_unit(services: Services) -> None:
    [(message, text)] = notify(services, "reminder", "rapid_review")
    assert message["To"] == "cora@council.example, una@scp.example"
    assert "due on Monday 26 January 2026 (15 working days after the SIN was sent on Monday 5 January 2026)" in text


def test_escalations_go_to_the_safeguarding_partners_and_the_chair(services: Services) -> None:
    [(message, _)] = notify(services, "escalation", "rapid_review")
    assert message["To"] == "luke@council.example, ina@icb.example, pat@police.example, chair@scp.example"
    assert message["Cc"] == "una@scp.example"


def test_outstanding_returns_are_chased_agency_by_agency(services: Services) -> None:
    mails = notify(services, "chase", "initial_scoping")
    assert recipients(mails) == [("lead@police.example", ""), ("lead@school.example", "")]
    assert all("If your agency has already submitted it" in text for _, text in mails)


def test_an_imr_escalation_tells_the_agencies_and_the_partners(services: Services) -> None:
    mails = notify(services, "escalation", "imr_and_chronology")
    assert recipients(mails) == [("lead@police.example", ""), ("lead@school.example", ""),
                                 ("luke@council.example, ina@icb.example, pat@police.example", "una@scp.example")]


def test_the_lcspr_deadline_reminder_reaches_the_reviewer(services: Services) -> None:
    [(message, text)] = notify(services, "reminder", "lcspr_deadline")
    assert message["To"] == "reece@reviews.example, una@scp.example"
    assert "due on Sunday 5 July 2026" in text and "About 2 months left." in text


def test_the_practitioner_invitation_goes_to_each_agency_copied_to_the_reviewer(services: Services) -> None:
    mails = notify(services, "invitation", "practitioner_discussion")
    assert recipients(mails) == [("lead@police.example", "reece@reviews.example"),
                                 ("lead@school.example", "reece@reviews.example")]


def test_the_briefing_goes_to_every_agency_with_its_link(services: Services) -> None:
    mails = notify(services, "distribution", "seven_minute_briefing")
    assert [to for to, _ in recipients(mails)] == ["lead@council.example", "lead@icb.example", "lead@police.example",
                                                  "lead@school.example"]
    assert all("https://www.scp.example/learning/7mb/" in text for _, text in mails)


def test_action_owners_are_asked_by_agency_with_action_numbers(services: Services) -> None:
    mails = notify(services, "reminder", "action_plan_update")
    by_recipient = {m["To"]: text for m, text in mails}
    assert "actions 1, 3 of the action plan" in by_recipient["lead@icb.example"]
    assert "action 2 of the action plan" in by_recipient["lead@police.example"]
    assert "action 4 of the action plan" in by_recipient["una@scp.example"]   # an agency the directory lacks


def test_overdue_actions_are_escalated_by_number(services: Services) -> None:
    [(message, text)] = notify(services, "escalation", "action_plan")
    assert "Actions rated red in the latest updates: 1, 3." in text
    assert message["To"] == "luke@council.example, ina@icb.example, pat@police.example, una@scp.example"


def chase(services: Services, chases_sent: int, activity: str) -> tuple[EmailMessage, str]:
    """The email of chase number chases_sent + 1 of the council's return."""
    values = {**CASE, "agency": "Northbridge Council", "chases_sent": chases_sent}
    mails = notify(services, "chase", "agency_return", values, activity=activity)
    [found] = [(m, t) for m, t in mails if m["Subject"].startswith(f"Chase {chases_sent + 1}:")]
    return found


def test_an_agency_s_return_is_chased_to_its_lead_twice_then_to_its_senior_lead(services: Services) -> None:
    first, _ = chase(services, 0, "chase_return:1")
    second, _ = chase(services, 1, "chase_return:2")
    third, text = chase(services, 2, "chase_return:3")
    assert (first["To"], first["Cc"]) == ("lead@council.example", "una@scp.example")
    assert (second["To"], second["Cc"]) == ("lead@council.example", "una@scp.example")
    assert (third["To"], third["Cc"]) == ("director@council.example", "lead@council.example")
    assert "Chase 3: Northbridge Council's return for case NB-TEST-1" == third["Subject"]
    assert "its Initial Scoping document, due on Monday 12 January 2026," in text
    assert "goes to you as the agency's senior lead" in text


def test_a_third_chase_without_a_senior_lead_is_an_incident(services: Services) -> None:
    values = {**CASE, "agency": "Police", "chases_sent": 2}
    with pytest.raises(Incident, match="senior lead of police, but the partnership directory has no senior_lead_email"):
        notification.handle(task_for(notification, values, properties={"kind": "chase", "about": "agency_return"}),
                            services)
    assert outbox_mail(services.directory.outbox.parent) == []


def test_a_looked_after_child_s_death_goes_to_the_secretary_of_state_and_ofsted(services: Services) -> None:
    [(message, text)] = notify(services, "statutory_notice", "looked_after_child_death")
    assert message["To"] == "cspr@education.example, enquiries@ofsted.example"
    assert message["Cc"] == "una@scp.example"
    assert "The National Panel was notified on Monday 5 January 2026." in text


def test_without_the_regulators_addresses_a_looked_after_child_s_death_is_an_incident(tmp_path: Path) -> None:
    path = write_directory(tmp_path)
    path.write_text(path.read_text().replace('ofsted_email = "enquiries@ofsted.example"\n', ""))
    services = Services.build(load_directory(path, environ=ENVIRONMENT), engine_url="http://127.0.0.1:9", token=TOKEN)
    try:
        with pytest.raises(Incident, match=r"lacks \[regulators\] secretary_of_state_email or ofsted_email"):
            notification.handle(task_for(notification, CASE, properties={"kind": "statutory_notice",
                                                                         "about": "looked_after_child_death"}),
                                services)
        assert outbox_mail(tmp_path) == []
    finally:
        services.close()


def test_the_new_expected_date_has_a_reminder_and_an_escalation(services: Services) -> None:
    [(reminder, text)] = notify(services, "reminder", "lcspr_expected_date", activity="remind_expected_date:1")
    assert reminder["To"] == "reece@reviews.example, una@scp.example"
    assert "expected by Wednesday 30 September 2026" in text
    mails = notify(services, "escalation", "lcspr_expected_date", activity="escalate_expected_date:1")
    [(escalation, _)] = [(m, t) for m, t in mails if m["Subject"].startswith("Escalation")]
    assert escalation["To"] == "luke@council.example, ina@icb.example, pat@police.example, chair@scp.example"
    assert escalation["Cc"] == "una@scp.example"


def test_the_panel_s_questions_are_reminded_on_the_date_it_gave(services: Services) -> None:
    [(message, text)] = notify(services, "reminder", "further_information")
    assert message["To"] == "una@scp.example"
    assert message["Subject"] == "Reminder: the National Panel's questions on case NB-TEST-1 are due"
    assert "by Friday 17 April 2026" in text


def test_an_unknown_subject_goes_to_the_business_unit(services: Services) -> None:
    [(message, _)] = notify(services, "reminder", "something_new")
    assert message["To"] == "una@scp.example"


def test_notifications_are_sent_by_smtp_once_when_configured(make_services: ServicesFactory) -> None:
    smtp = FakeSmtp().start()
    try:
        services = make_services(smtp_port=smtp.port)
        for _ in range(2):                                     # a retried task
            notification.handle(task_for(notification, CASE, properties={"kind": "chase", "about": "initial_scoping"}),
                                services)
        assert sorted(d.recipients[0] for d in smtp.delivered) == ["lead@police.example", "lead@school.example"]
        assert smtp.delivered[0].sender == "no-reply@scp.example"
        message = smtp.delivered[0].message()
        assert message["Auto-Submitted"] == "auto-generated" and message["Reply-To"] == "unit@scp.example"
        assert outbox_mail(services.directory.outbox.parent) == []
    finally:
        smtp.stop()


def test_an_agency_s_review_or_audit_is_chased_to_its_lead_with_the_target_date(services: Services) -> None:
    values = {**CASE, "agency": "Northbridge Council", "local_review_due_on": "2026-03-02"}
    [(message, text)] = notify(services, "chase", "agency_review", values)
    assert message["Subject"].startswith("Chase: ") and "was due by Monday 2 March 2026" in text
    assert message["Cc"] and message["To"] != message["Cc"]


def test_a_local_learning_review_s_target_is_the_partnership_s_own(services: Services) -> None:
    values = {**CASE, "local_review_due_on": "2026-07-06"}
    [(_, reminder)] = notify(services, "reminder", "local_learning_review", values)
    assert "Monday 6 July 2026" in reminder and "the partnership's own target" in reminder
    assert "National Panel" not in reminder


def test_a_request_from_a_review_led_elsewhere_is_reminded_then_chased_to_the_business_unit(
        services: Services) -> None:
    values = {**CASE, "request_due_on": "2026-02-20", "review_lead": {"name": "Southmoor SCP"}}
    [(message, text)] = notify(services, "chase", "review_led_elsewhere", values, activity="chase_request:1")
    assert message["Subject"].startswith("Overdue:") and "Southmoor SCP asked" in text
    assert "Friday 20 February 2026" in text
