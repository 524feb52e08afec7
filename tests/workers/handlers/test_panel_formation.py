"""Panel formation: uninvolved senior managers from the partners and the involved agencies, meetings on
working days across the 6 months, and a valid calendar invitation per meeting — sent once."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import icalendar
import pytest

import timekeeping
from tests.workers.handlers.conftest import outbox_mail, task_for
from workers.handlers import panel_formation
from workers.runtime import Incident
from workers.services import Services


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    timekeeping.clock.freeze(datetime(2026, 1, 2, 9, tzinfo=UTC))
    yield
    timekeeping.clock.reset()


def variables(**more: object) -> dict[str, object]:
    return {"case_reference": "NB-TEST-1", "agencies": ["Police", "Education"], "decision_date": "2026-01-05",
            "confidential_names": ["Jayden Smith"], **more}


def test_the_panel_has_an_uninvolved_senior_manager_from_each_partner_and_involved_agency(
        services: Services) -> None:
    result = panel_formation.handle(task_for(panel_formation, variables()), services)
    members = result.variables["panel_members"]
    assert [(m["name"], m["agency"]) for m in members] == [
        ("Luke Free", "Northbridge Council"),          # Lara Involved is recorded as involved in NB-TEST-1
        ("Ina Health", "Northbridge ICB"),
        ("Pat Police", "Northbridge Police"),
        ("Sol School", "Northbridge Academy"),
    ]
    assert set(members[0]) == {"name", "role", "agency"}
    assert "Lara Involved" not in str(result.variables)


def test_four_meetings_on_working_days_spread_over_the_six_months(services: Services) -> None:
    result = panel_formation.handle(task_for(panel_formation, variables()), services)
    meetings = [date.fromisoformat(d) for d in result.variables["panel_meetings"]]
    # months 1, 2.5, 4 and 5.5 after Monday 5 January 2026; 20 June is a Saturday
    assert meetings == [date(2026, 2, 5), date(2026, 3, 20), date(2026, 5, 5), date(2026, 6, 22)]
    assert all(timekeeping.is_working_day(d) for d in meetings)
    assert meetings[-1] < date(2026, 7, 5)


def test_a_meeting_on_a_bank_holiday_moves_to_the_next_working_day() -> None:
    # one month after 25 April 2026 is Monday 25 May 2026, the spring bank holiday
    assert panel_formation.meeting_dates(date(2026, 4, 25), 3, today=date(2026, 4, 27))[0] == date(2026, 5, 26)


def test_meetings_are_never_sooner_than_five_working_days_away() -> None:
    days = panel_formation.meeting_dates(date(2025, 6, 2), 4, today=date(2026, 1, 2))
    assert days[0] == date(2026, 1, 9)               # Friday 2 January + 5 working days
    assert days == sorted(set(days))


def test_an_agency_without_an_uninvolved_senior_manager_is_an_incident_naming_it(services: Services) -> None:
    task = task_for(panel_formation, variables(case_reference="NB-TEST-2"), business_key="NB-TEST-2")
    with pytest.raises(Incident, match=r"Northbridge Academy \(school\) has no senior_manager who is not involved"):
        panel_formation.handle(task, services)
    assert outbox_mail(services.directory.outbox.parent) == []           # nobody invited


def test_an_agency_the_directory_does_not_know_is_an_incident(services: Services) -> None:
    with pytest.raises(Incident, match="no agency called 'Probation'"):
        panel_formation.handle(task_for(panel_formation, variables(agencies=["Probation"])), services)


def test_invitations_carry_one_valid_calendar_per_meeting_and_no_case_details(services: Services) -> None:
    panel_formation.handle(task_for(panel_formation, variables()), services)
    files = outbox_mail(services.directory.outbox.parent)
    assert len(files) == 5                                             # four members and the business unit
    messages = [email.message_from_bytes(f.read_bytes(), policy=email.policy.default) for f in files]
    luke = next(m for m in messages if m["To"] == "luke@council.example")
    calendars = [part for part in luke.iter_attachments() if part.get_content_type() == "text/calendar"]
    assert len(calendars) == 4
    assert all(part.get_param("method") == "REQUEST" for part in calendars)
    events = [read_invitation(part.get_payload(decode=True)) for part in calendars]
    for n, event in enumerate(events, 1):
        assert str(event["SUMMARY"]) == f"LCSPR panel meeting {n} of 4: case NB-TEST-1"
        assert str(event["ORGANIZER"]) == "mailto:unit@scp.example"
        [attendee] = [event["ATTENDEE"]]
        assert str(attendee) == "mailto:luke@council.example" and attendee.params["RSVP"] == "TRUE"
        assert event.decoded("DTEND") - event.decoded("DTSTART") == timedelta(minutes=90)
    assert len({str(e["UID"]) for e in events}) == 4 and all(str(e["UID"]).endswith("@reviewflow") for e in events)
    # 10:00 in London, in winter (GMT) and in summer (BST), named by its time zone
    first, third = events[0].decoded("DTSTART"), events[2].decoded("DTSTART")
    assert (first.replace(tzinfo=None), events[0]["DTSTART"].params["TZID"]) == (datetime(2026, 2, 5, 10),
                                                                                "Europe/London")
    assert first.astimezone(UTC) == datetime(2026, 2, 5, 10, tzinfo=UTC)
    assert third.astimezone(UTC) == datetime(2026, 5, 5, 9, tzinfo=UTC)
    for message in messages:
        text = message.as_string()
        assert "Jayden" not in text


def test_a_retried_task_invites_nobody_twice_and_keeps_the_meeting_uids(services: Services) -> None:
    first = panel_formation.handle(task_for(panel_formation, variables()), services)
    folder = services.directory.outbox.parent
    before = {f.name: f.read_bytes() for f in outbox_mail(folder)}
    again = panel_formation.handle(task_for(panel_formation, variables()), services)
    assert again == first
    assert {f.name: f.read_bytes() for f in outbox_mail(folder)} == before


def read_invitation(raw: bytes) -> icalendar.Event:
    """Parse an invitation with the icalendar library, check what every calendar program needs, and
    return its one VEVENT."""
    assert raw.endswith(b"\r\n") and all(len(line) <= 75 for line in raw.split(b"\r\n"))
    calendar = icalendar.Calendar.from_ical(raw)
    assert str(calendar["METHOD"]) == "REQUEST" and str(calendar["VERSION"]) == "2.0" and calendar["PRODID"]
    [zone] = calendar.walk("VTIMEZONE")
    assert str(zone["TZID"]) == "Europe/London"
    [event] = calendar.walk("VEVENT")
    for name in ("UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY", "ORGANIZER", "ATTENDEE", "SEQUENCE"):
        assert name in event, name
    assert event.decoded("DTEND") > event.decoded("DTSTART")
    return event
