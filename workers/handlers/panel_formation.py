"""Form the LCSPR panel (Case Review Panel) and schedule its meetings.

The panel is a senior manager from each safeguarding partner (local authority, integrated care
board, police: Children Act 2004 s16E) and from each other agency involved in the case — never
someone the directory records as involved in this case. Its 3 or 4 meetings (the directory's
`[panel] meetings`) are spread over the 6 months from the decision: at months 1, 2½, 4 and 5½ (or
1, 3¼ and 5½), each on the next working day, and at least 5 working days from today. Each member is
invited by email with one calendar file per meeting; the business unit gets the same.

Expects: case_reference, agencies, decision_date.
Returns: panel_members ([{name, role, agency}]), panel_meetings ([YYYY-MM-DD, …]).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import timekeeping
from workers.handlers._case import case_keys, confidential_names, email_footer, key, long_date, task_list_link
from workers.runtime import Complete, ExternalTask, Incident
from workers.services import (
    STATUTORY_PARTNERS,
    Agency,
    Attachment,
    Directory,
    Email,
    Meeting,
    Person,
    Services,
    calendar,
    digest,
    services_for,
)

TOPIC = "panel-formation"
LOCK = timedelta(minutes=2)

UK = ZoneInfo("Europe/London")
MEETING_MONTHS = {4: (1.0, 2.5, 4.0, 5.5), 3: (1.0, 3.25, 5.5)}
NOTICE_WORKING_DAYS = 5


@dataclass(frozen=True)
class Input:
    case_reference: str
    agencies: list[str]
    decision_date: date


def handle(task: ExternalTask[Input], services: Services | None) -> Complete:
    s = services_for(services)
    case = task.input.case_reference
    chosen = choose_members(s.directory, task.input.agencies, case_keys(task, case))
    meetings = meeting_dates(task.input.decision_date, s.directory.panel_meetings)
    invitations = _invitations(task, s.directory, chosen, meetings)
    sent = s.mailer.send_all(invitations, forbidden=confidential_names(task))
    task.logger.info("panel formed: %d members, %d meetings, %d invitations sent now",
                     len(chosen), len(meetings), sent)
    return Complete(
        panel_members=[{"name": p.name, "role": role, "agency": a.name} for a, p, role in chosen],
        panel_meetings=[d.isoformat() for d in meetings],
    )


def choose_members(directory: Directory, agencies: list[str],
                   case: tuple[str, ...]) -> list[tuple[Agency, Person, str]]:
    """(agency, person, role) for each agency that must sit on the panel, in directory order.

    Raises: Incident naming every agency without an uninvolved senior manager (and every missing
    safeguarding partner, and every agency the directory does not know).
    """
    required: list[tuple[Agency, str]] = []
    problems: list[str] = []
    for kind, label in STATUTORY_PARTNERS.items():
        partners = directory.statutory_partner(kind)
        if not partners:
            problems.append(f"the directory names no {label} (statutory_partner = {kind!r})")
        required += [(a, f"safeguarding partner ({label})") for a in partners]
    for agency in directory.agencies_named(agencies):
        if agency not in [a for a, _ in required]:
            required.append((agency, "involved agency"))
    chosen: list[tuple[Agency, Person, str]] = []
    for agency, role in required:
        person = next((p for p in directory.people_with_role("senior_manager", agency.id)
                       if not p.is_involved_in(case)), None)
        if person is None:
            problems.append(f"{agency.name} ({agency.id}) has no senior_manager who is not involved in this case")
        else:
            chosen.append((agency, person, role))
    if problems:
        raise Incident("cannot form the LCSPR panel: " + "; ".join(problems)
                       + f". Update {directory.source or 'the partnership directory'} and retry the task.")
    return chosen


def meeting_dates(decision: date, count: int, *, today: date | None = None) -> list[date]:
    """`count` (3 or 4) working days spread over the 6 months after `decision`, none sooner than
    `NOTICE_WORKING_DAYS` working days from `today`, each later than the one before."""
    today = today or timekeeping.to_date(timekeeping.today())
    earliest = timekeeping.to_date(timekeeping.working_days_after(today, NOTICE_WORKING_DAYS))
    days: list[date] = []
    for months in MEETING_MONTHS[count]:
        whole = int(months)
        day = max(timekeeping.add_months(decision, whole) + timedelta(days=round((months - whole) * 30)), earliest)
        while not timekeeping.is_working_day(day) or (days and day <= days[-1]):
            day += timedelta(days=1)
        days.append(day)
    return days


def _invitations(task: ExternalTask[Input], directory: Directory, chosen: list[tuple[Agency, Person, str]],
                 days: list[date]) -> list[Email]:
    case = task.input.case_reference
    link = task_list_link(directory, case)
    events = []
    for n, day in enumerate(days, 1):
        start = datetime.combine(day, directory.panel_meeting_time, tzinfo=UK)
        events.append(Meeting(uid=f"{digest(task.activity_instance_id, str(n), length=24)}@reviewflow",
                              start=start, end=start + timedelta(minutes=directory.panel_meeting_minutes),
                              summary=f"LCSPR panel meeting {n} of {len(days)}: case {case}",
                              description=f"Papers and actions: {link}", location=directory.panel_meeting_location))
    dates = "\n".join(f"  {n}. {long_date(d)} at {directory.panel_meeting_time:%H:%M}" for n, d in enumerate(days, 1))

    def attachments(attendee: str) -> tuple[Attachment, ...]:
        return tuple(Attachment(f"lcspr-panel-meeting-{n}.ics", "text/calendar; method=REQUEST; charset=utf-8",
                                calendar([event], organizer=directory.contact_email, attendees=[attendee]))
                     for n, event in enumerate(events, 1))

    emails = [Email(
        to=(person.email,), key=key(task, "invitation", person.id),
        subject=f"Invitation: LCSPR panel for case {case}",
        text=(f"Dear {person.name},\n\nYou are invited to sit on the Local Child Safeguarding Practice Review "
              f"panel for case {case}, representing {agency.name}. The panel meets on:\n\n{dates}\n\n"
              f"A calendar invitation for each meeting is attached. The terms of reference and papers will be "
              f"in Reviewflow:\n{link}\n\nIf you have had any involvement with this case, tell the business unit "
              f"at once so that another senior manager can take your place.\n" + email_footer(directory)),
        attachments=attachments(person.email)) for agency, person, _ in chosen]
    members = "\n".join(f"  - {p.name}, {a.name} ({role})" for a, p, role in chosen)
    unit = directory.business_unit_emails()
    emails.append(Email(
        to=tuple(unit), key=key(task, "business-unit"),
        subject=f"LCSPR panel formed for case {case}",
        text=(f"The LCSPR panel for case {case} has been formed and invited:\n\n{members}\n\nMeetings:\n\n{dates}\n\n"
              f"Case: {link}\n" + email_footer(directory)),
        attachments=attachments(unit[0])))
    return emails
