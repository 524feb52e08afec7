"""iCalendar (RFC 5545) invitations, made by the `icalendar` library: one VCALENDAR with
METHOD:REQUEST and one VEVENT per meeting.

Meetings are written in the partnership's time zone (Europe/London, with its VTIMEZONE), so a
meeting at 10:00 stays at 10:00 across the change to and from British Summer Time in every
calendar. Each VEVENT carries a UID that is stable across retries and updates, an ORGANIZER and one
ATTENDEE per invitee (RSVP requested); the library escapes text and folds long lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, TimezoneDaylight, TimezoneStandard, vCalAddress, vRecur, vText

import timekeeping

__all__ = ["LONDON", "Meeting", "calendar", "london_timezone"]

PRODID = "-//Reviewflow//Safeguarding case reviews//EN"
LONDON = ZoneInfo("Europe/London")


@dataclass(frozen=True)
class Meeting:
    uid: str                 # stable across retries and updates: "<digest>@reviewflow"
    start: datetime          # aware
    end: datetime            # aware
    summary: str             # the case reference, never names
    description: str = ""    # links only
    location: str = ""
    sequence: int = 0


def london_timezone() -> Timezone:
    """Europe/London as a VTIMEZONE with the UK rules (as Outlook and Google send it): GMT from the
    last Sunday of October at 02:00, BST from the last Sunday of March at 01:00."""
    zone = Timezone()
    zone.add("tzid", "Europe/London")
    for part, start, offsets, name, month in (
            (TimezoneStandard(), datetime(1970, 10, 25, 2), ("+0100", "+0000"), "GMT", 10),
            (TimezoneDaylight(), datetime(1970, 3, 29, 1), ("+0000", "+0100"), "BST", 3)):
        part.add("dtstart", start)
        part.add("tzoffsetfrom", offsets[0], encode=False)
        part.add("tzoffsetto", offsets[1], encode=False)
        part.add("tzname", name)
        part.add("rrule", vRecur(freq="YEARLY", bymonth=month, byday="-1SU"))
        zone.add_component(part)
    return zone


def _local(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("meeting times must be timezone-aware")
    return value.astimezone(LONDON)


def _address(email: str, **params: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    for name, value in params.items():
        address.params[name] = vText(value)
    return address


def calendar(meetings: Sequence[Meeting], *, organizer: str, attendees: Sequence[str] = (),
             method: str = "REQUEST", stamp: datetime | None = None) -> bytes:
    """An iCalendar object (`text/calendar`) with one VEVENT per meeting."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", method)
    cal.add_component(london_timezone())          # before the events that name it, as Outlook expects
    now = stamp or timekeeping.now()
    for meeting in meetings:
        event = Event()
        event.add("uid", meeting.uid)
        event.add("dtstamp", now)
        event.add("dtstart", _local(meeting.start))
        event.add("dtend", _local(meeting.end))
        event.add("sequence", meeting.sequence)
        event.add("summary", meeting.summary)
        event.add("organizer", _address(organizer))
        for attendee in attendees:
            event.add("attendee", _address(attendee, ROLE="REQ-PARTICIPANT", PARTSTAT="NEEDS-ACTION",
                                           RSVP="TRUE"))
        if meeting.description:
            event.add("description", meeting.description)
        if meeting.location:
            event.add("location", meeting.location)
        event.add("status", "CONFIRMED")
        event.add("transp", "OPAQUE")
        cal.add_component(event)
    return cal.to_ical()
