"""Ask each involved agency's lead for its return: a request for information under Children Act 2004
s16H, which the agency must comply with.

The service task's `document` property says which: `initial_scoping` (the Initial Scoping and
Information Sharing document for the Rapid Review, due 5 working days after the SIN was sent) or
`imr_and_chronology` (the Information Management Report and chronology for an LCSPR, due in 4
weeks, when the diagram escalates). One email per agency, to its lead: the case reference, what is
asked, by when, and a link to the agency's task — nothing else. Reminders and chases are the
notification topic's.

With the property `from_case` (the agency_return block) the document is the case's `return_kind`
and only the one `agency` of that return is asked.

Expects: case_reference, agencies_by_name (or agencies, or agency); sin_sent_on for initial_scoping.
Returns: requests_sent (the number of agencies asked), return_due_on (YYYY-MM-DD).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import timekeeping
from workers.handlers._case import chosen, confidential_names, email_footer, key, long_date, task_list_link
from workers.runtime import Complete, ExternalTask, Incident
from workers.services import Email, Services, services_for

TOPIC = "information-request"
LOCK = timedelta(minutes=2)

DOCUMENTS = {
    "initial_scoping": "the Initial Scoping and Information Sharing document",
    "imr_and_chronology": "an Information Management Report (IMR) and a chronology of your agency's involvement",
}
IMR_WEEKS = 4


@dataclass(frozen=True)
class Input:
    case_reference: str
    agencies_by_name: dict[str, str] = field(default_factory=dict)
    agencies: list[str] = field(default_factory=list)
    sin_sent_on: date | None = None
    agency: str | None = None
    return_kind: str | None = None


def handle(task: ExternalTask[Input], services: Services | None) -> Complete:
    s = services_for(services)
    document = chosen(task, "document", (*DOCUMENTS, "from_case"))
    if document == "from_case":
        document = task.input.return_kind or ""
        if document not in DOCUMENTS:
            raise Incident(f"return_kind must be one of {', '.join(DOCUMENTS)}, not {document!r}")
        names = [task.input.agency] if task.input.agency else []
    else:
        names = list(task.input.agencies_by_name) or task.input.agencies
    if not names:
        raise Incident("no agencies to ask: the case has neither agencies_by_name nor agencies")
    agencies = s.directory.agencies_named(names)          # all known before anyone is emailed
    due = due_date(document, task.input.sin_sent_on)
    case = task.input.case_reference
    link = task_list_link(s.directory, case)
    emails = [Email(
        to=(agency.lead_email,), key=key(task, "request", agency.id),
        subject=f"Request for information (Children Act 2004 s16H): case {case}",
        text=(f"To the safeguarding lead of {agency.name},\n\n{s.directory.name} asks your agency for "
              f"{DOCUMENTS[document]} for case {case}, by {long_date(due)}.\n\nThis is a request under section 16H "
              f"of the Children Act 2004, which your agency must comply with. Your agency's task, with the form "
              f"and what is needed, is in Reviewflow:\n{link}\n" + email_footer(s.directory)))
        for agency in agencies]
    sent = s.mailer.send_all(emails, forbidden=confidential_names(task))
    task.logger.info("information requested from %d agencies (%d sent now)", len(agencies), sent,
                     extra={"document": document})
    return Complete(requests_sent=len(agencies), return_due_on=due.isoformat())


def due_date(document: str, sin_sent_on: date | None, *, today: date | None = None) -> date:
    """When the agencies' returns are due. Raises: Incident when sin_sent_on is needed and missing."""
    if document == "initial_scoping":
        if sin_sent_on is None:
            raise Incident("missing variable 'sin_sent_on': the scoping documents are due 5 working days after it")
        return timekeeping.to_date(timekeeping.local_working_days_after(sin_sent_on, 5))
    return (today or timekeeping.to_date(timekeeping.today())) + timedelta(weeks=IMR_WEEKS)
