"""iCalendar (RFC 5545) invitations: one VCALENDAR with one VEVENT per meeting.

Times are written in UTC (`…Z`), so no VTIMEZONE is needed; lines end in CRLF and are folded at 75
octets; TEXT values are escaped (backslash, semicolon, comma, newline).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import timekeeping

__all__ = ["Meeting", "calendar"]

PRODID = "-//Reviewflow//Safeguarding case reviews//EN"


@dataclass(frozen=True)
class Meeting:
    uid: str                 # stable across retries and updates: "<digest>@reviewflow"
    start: datetime          # aware
    end: datetime            # aware
    summary: str             # the case reference, never names
    description: str = ""    # links only
    location: str = ""
    sequence: int = 0


def _text(value: str) -> str:
    return (value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n"))


def _utc(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("meeting times must be timezone-aware")
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _fold(line: str) -> str:
    """Fold a content line into pieces of at most 75 octets, never splitting a UTF-8 character."""
    out, current, size = [], "", 0
    for char in line:
        width = len(char.encode("utf-8"))
        limit = 75 if not out else 74          # continuation lines start with a space
        if size + width > limit:
            out.append(current)
            current, size = "", 0
        current += char
        size += width
    out.append(current)
    return "\r\n ".join(out)


def calendar(meetings: Sequence[Meeting], *, organizer: str, attendees: Sequence[str] = (),
             method: str = "REQUEST", stamp: datetime | None = None) -> bytes:
    """An iCalendar object (`text/calendar`) with one VEVENT per meeting."""
    now = _utc(stamp or timekeeping.now())
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN", f"METHOD:{method}"]
    for meeting in meetings:
        lines += ["BEGIN:VEVENT", f"UID:{meeting.uid}", f"DTSTAMP:{now}", f"DTSTART:{_utc(meeting.start)}",
                  f"DTEND:{_utc(meeting.end)}", f"SEQUENCE:{meeting.sequence}",
                  f"SUMMARY:{_text(meeting.summary)}", f"ORGANIZER:mailto:{organizer}"]
        lines += [f"ATTENDEE;ROLE=REQ-PARTICIPANT;RSVP=TRUE:mailto:{a}" for a in attendees]
        if meeting.description:
            lines.append(f"DESCRIPTION:{_text(meeting.description)}")
        if meeting.location:
            lines.append(f"LOCATION:{_text(meeting.location)}")
        lines += ["STATUS:CONFIRMED", "TRANSP:OPAQUE", "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return ("\r\n".join(_fold(line) for line in lines) + "\r\n").encode("utf-8")
