"""Reminders, chases, escalations, invitations and distributions, by email.

The service task's properties say what: `kind` (reminder, chase, escalation, invitation,
distribution, statutory_notice) and `about` (rapid_review, initial_scoping, imr_and_chronology,
agency_return, national_panel_response, further_information, lcspr_deadline, lcspr_expected_date,
practitioner_discussion, seven_minute_briefing, action_plan_update, action_plan,
looked_after_child_death, local_learning_review, agency_review, review_led_elsewhere).
Who is told comes from the partnership directory's roles and agencies:

=======================================  ====================================================================
rapid_review (reminder)                   the Case Review Group chair(s) and the business unit
rapid_review, lcspr_deadline (escalation) the safeguarding partners and the partnership chair; business unit copied
initial_scoping, imr_and_chronology       each involved agency's lead (escalation: the partners too)
agency_return (chase)                     the agency's lead (business unit copied); from the third chase its
                                          senior lead (the lead copied)
national_panel_response (chase)           the business unit, to chase the Panel
further_information (reminder)            the business unit, on the date the Panel gave
lcspr_deadline, lcspr_expected_date       panel chair(s), the lead reviewer and the business unit
(reminder)
lcspr_expected_date (escalation)          the safeguarding partners and the partnership chair; business unit copied
looked_after_child_death                  the Secretary of State (DfE) and Ofsted; business unit copied
(statutory_notice)
practitioner_discussion (invitation)      each involved agency's lead, to invite its practitioners; reviewer copied
seven_minute_briefing (distribution)      every agency's lead in the directory, with the published link
action_plan_update (reminder, chase)      the lead of each action's agency, with the action numbers
action_plan (escalation)                  the safeguarding partners and the business unit
local_learning_review (reminder,          the panel chair(s) and the business unit, with the local target date
escalation)                               (escalation: the partners too)
agency_review (chase)                     the lead of the agency carrying out the review or audit; business unit copied
review_led_elsewhere (reminder, chase)    the business unit, with the lead body's due date for its request
anything else                             the business unit
=======================================  ====================================================================

Emails carry the case reference, dates, action numbers and links — never case details. Workers
cannot see which user tasks are still open, so "outstanding" reminders go to every agency asked,
saying no action is needed from those who have already replied.

Expects: case_reference, and what the notification needs (agencies_by_name or agencies,
sin_sent_on, decision_date, lead_reviewer, published_url, panel_receipt_id, numbered_actions,
action_updates, agency, return_kind, chases_sent, return_due_on, expected_publication_date,
information_due_on, local_review_due_on, request_due_on). Returns: notifications_sent (emails in this
notification).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import timekeeping
from workers.handlers._case import chosen, confidential_names, email_footer, key, long_date, task_list_link, unique
from workers.runtime import Complete, ExternalTask, Incident
from workers.services import Agency, Directory, Email, Services, services_for

TOPIC = "notification"
LOCK = timedelta(minutes=1)

KINDS = ("reminder", "chase", "escalation", "invitation", "distribution", "statutory_notice")


@dataclass(frozen=True)
class Input:
    case_reference: str
    agencies: list[str] = field(default_factory=list)
    agencies_by_name: dict[str, Any] = field(default_factory=dict)
    sin_sent_on: date | None = None
    decision_date: date | None = None
    lead_reviewer: dict[str, Any] | str | None = None
    published_url: str | None = None
    panel_receipt_id: str | None = None
    numbered_actions: dict[str, Any] = field(default_factory=dict)
    action_updates: dict[str, Any] = field(default_factory=dict)
    agency: str | None = None
    return_kind: str | None = None
    chases_sent: int = 0
    return_due_on: date | None = None
    became_aware_on: date | None = None
    expected_publication_date: date | None = None
    information_due_on: date | None = None
    local_review_due_on: date | None = None
    request_due_on: date | None = None
    review_lead: dict[str, Any] | None = None


@dataclass(frozen=True)
class Context:
    task: ExternalTask[Input]
    directory: Directory
    kind: str
    about: str

    @property
    def case(self) -> str:
        return self.task.input.case_reference

    @property
    def link(self) -> str:
        return task_list_link(self.directory, self.case)

    def email(self, to: list[str], subject: str, text: str, part: str, cc: list[str] | None = None) -> Email:
        to = unique(to)
        return Email(to=tuple(to), cc=tuple(c for c in unique(cc or []) if c not in to), subject=subject,
                     text=text + email_footer(self.directory), key=key(self.task, self.kind, self.about, part))

    def people(self, *roles: str) -> list[str]:
        return [p.email for role in roles for p in self.directory.people_with_role(role)]

    def partners(self) -> list[str]:
        """The safeguarding partners: people with that role, else the statutory partners' agency leads."""
        return self.people("safeguarding_partner") or [
            a.lead_email for a in self.directory.agencies if a.statutory_partner]

    def unit(self) -> list[str]:
        return self.directory.business_unit_emails()

    def case_agencies(self) -> list[Agency]:
        names = list(self.task.input.agencies_by_name) or self.task.input.agencies
        if not names:
            raise Incident(f"{self.kind} about {self.about}: the case has neither agencies_by_name nor agencies")
        return self.directory.agencies_named(names)


def handle(task: ExternalTask[Input], services: Services | None) -> Complete:
    s = services_for(services)
    kind, about = chosen(task, "kind", KINDS), task.extension_properties.get("about", "")
    c = Context(task, s.directory, kind, about)
    compose = COMPOSERS.get((kind, about)) or COMPOSERS.get(("*", about)) or _anything_else
    emails = compose(c)
    sent = s.mailer.send_all(emails, forbidden=confidential_names(task))
    task.logger.info("%s about %s: %d emails (%d sent now)", kind, about, len(emails), sent)
    return Complete(notifications_sent=len(emails))


# -- what each notification says ------------------------------------------------------------------


def _date(value: str | date) -> str:
    return long_date(timekeeping.to_date(value))


def _rapid_review(c: Context) -> list[Email]:
    sin = c.task.input.sin_sent_on
    due = f" It is due on {_date(timekeeping.working_days_after(sin, 15))} (15 working days after the SIN " \
          f"was sent on {_date(sin)})." if sin else ""
    if c.kind == "escalation":
        return [c.email(c.partners() + c.people("partnership_chair"),
                        f"Escalation: Rapid Review overdue, case {c.case}",
                        f"The Rapid Review for case {c.case} has not been sent to the National Panel within 15 "
                        f"working days of the serious incident notification.{due} The work carries on; the "
                        f"business unit can say what is holding it up.\n\n{c.link}\n", "partners", cc=c.unit())]
    return [c.email(c.people("crg_chair") + c.unit(), f"Reminder: Rapid Review for case {c.case}",
                    f"A reminder that the Rapid Review for case {c.case} must reach the National Panel on time.{due}"
                    f"\n\n{c.link}\n", "chair")]


def _agency_returns(c: Context) -> list[Email]:
    what = {"initial_scoping": "Initial Scoping and Information Sharing document",
            "imr_and_chronology": "Information Management Report (IMR) and chronology"}[c.about]
    due = ""
    if c.about == "initial_scoping" and c.task.input.sin_sent_on:
        due = f" It was due on {_date(timekeeping.working_days_after(c.task.input.sin_sent_on, 5))}."
    agencies = c.case_agencies()
    verb = {"reminder": "Reminder", "chase": "Outstanding", "escalation": "Escalation"}.get(c.kind, "Reminder")
    emails = [c.email([a.lead_email], f"{verb}: {what} for case {c.case}",
                      f"To the safeguarding lead of {a.name},\n\nYour agency's {what} for case {c.case} is "
                      f"outstanding.{due} If your agency has already submitted it, thank you: no action is needed."
                      f"\n\nYour agency's task is in Reviewflow:\n{c.link}\n", a.id) for a in agencies]
    if c.kind == "escalation":
        names = "\n".join(f"  - {a.name}" for a in agencies)
        emails.append(c.email(c.partners(), f"Escalation: {what}s outstanding, case {c.case}",
                              f"Some agencies have not submitted their {what} for case {c.case} four weeks after the "
                              f"request. Agencies asked:\n\n{names}\n\nWhich are outstanding is shown in Reviewflow:"
                              f"\n{c.link}\n", "partners", cc=c.unit()))
    return emails


def _panel_response(c: Context) -> list[Email]:
    receipt = f" (receipt {c.task.input.panel_receipt_id})" if c.task.input.panel_receipt_id else ""
    return [c.email(c.unit(), f"Chase the National Panel: case {c.case}",
                    f"The National Panel has not responded to the Rapid Review for case {c.case}{receipt} for two "
                    f"weeks. Please chase the Panel and record its response.\n\n{c.link}\n", "unit")]


def _lcspr_deadline(c: Context) -> list[Email]:
    decided = c.task.input.decision_date
    due = timekeeping.to_date(timekeeping.calendar_months_after(decided, 6)) if decided else None
    when = f" The final report is due on {_date(due)}, 6 calendar months after the decision on {_date(decided)}." \
        if due and decided else ""
    if c.kind == "escalation":
        return [c.email(c.partners() + c.people("partnership_chair"),
                        f"Escalation: LCSPR deadline missed, case {c.case}",
                        f"The Local Child Safeguarding Practice Review of case {c.case} has not been published within "
                        f"6 months of the decision.{when} The National Panel must be told the reasons and the "
                        f"expected date (the business unit records them).\n\n{c.link}\n", "partners", cc=c.unit())]
    left = ""
    if due:
        today = timekeeping.to_date(timekeeping.today())
        months = next((n for n in range(0, 7) if timekeeping.add_months(today, n + 1) > due), 6)
        left = f" About {months} month{'s' if months != 1 else ''} left."
    reviewer = _reviewer_email(c.task.input.lead_reviewer)
    return [c.email(c.people("panel_chair") + ([reviewer] if reviewer else []) + c.unit(),
                    f"Reminder: LCSPR deadline for case {c.case}",
                    f"A reminder of the deadline of the Local Child Safeguarding Practice Review of case {c.case}."
                    f"{when}{left} The partners monitor time and quality at regular intervals (regulation 14)."
                    f"\n\n{c.link}\n", "deadline")]


def _practitioner_discussion(c: Context) -> list[Email]:
    reviewer = _reviewer_email(c.task.input.lead_reviewer)
    return [c.email([a.lead_email], f"Invitation: reflective practitioner discussion, case {c.case}",
                    f"To the safeguarding lead of {a.name},\n\nThe Independent Lead Reviewer of case {c.case} will "
                    "hold a reflective discussion with the practitioners who worked with the child and family. Please "
                    "pass this invitation to those in your agency and tell the business unit who will attend. Details "
                    f"are in Reviewflow:\n{c.link}\n", a.id, cc=[reviewer] if reviewer else [])
            for a in c.case_agencies()]


def _briefing(c: Context) -> list[Email]:
    url = c.task.input.published_url
    if not url:
        raise Incident("distribution of the 7-minute briefing: the case has no published_url")
    leads = unique([a.lead_email for a in c.directory.agencies])
    named = c.task.input.agencies_by_name or c.task.input.agencies
    if named:
        leads = unique(leads + [a.lead_email for a in c.case_agencies()])
    return [c.email([lead], f"New 7-minute briefing from {c.directory.name}",
                    f"{c.directory.name} has published a 7-minute briefing sharing the learning from a Rapid Review:"
                    f"\n\n{url}\n\nPlease share it with your teams, discuss it, and record how your agency used it "
                    f"on the 7-minute briefing action-plan proforma (reference {c.case}).\n", lead)
            for lead in leads]


def _action_updates(c: Context) -> list[Email]:
    actions = c.task.input.numbered_actions
    if not actions:
        raise Incident(f"{c.kind} about the action plan: the case has no numbered_actions")
    by_lead: dict[str, list[str]] = {}
    for number, action in sorted(actions.items(), key=lambda item: _number(item[0])):
        agency = c.directory.agency(str(action.get("agency", ""))) if isinstance(action, dict) else None
        for lead in [agency.lead_email] if agency else c.unit():
            by_lead.setdefault(lead, []).append(number)
    chase = c.kind == "chase"
    emails = []
    for lead, numbers in by_lead.items():
        listed = ", ".join(numbers)
        emails.append(c.email(
            [lead], f"{'Outstanding' if chase else 'Due'}: action plan update, case {c.case}",
            (f"Your update on action{'s' if len(numbers) > 1 else ''} {listed} of the action plan for case {c.case} "
             + ("is still outstanding. If you have sent it, thank you: no action is needed." if chase else
                "is due: report progress, the RAG rating and the evidence of impact.")
             + f"\n\n{c.link}\n"), lead))
    return emails


def _action_plan(c: Context) -> list[Email]:
    red = sorted((n for n, u in c.task.input.action_updates.items()
                  if isinstance(u, dict) and str(u.get("rag", "")).lower() == "red"), key=_number)
    which = f" Actions rated red in the latest updates: {', '.join(red)}." if red else ""
    return [c.email(c.partners() + c.unit(), f"Escalation: overdue actions, case {c.case}",
                    f"The Learning from Practice sub-group reports overdue or red-rated actions in the action plan for "
                    f"case {c.case}.{which} Its summary is in Reviewflow:\n{c.link}\n", "partners")]


def _agency_return(c: Context) -> list[Email]:
    """One agency's return, chased: the first two chases to its lead, later ones to its senior lead
    (the lead copied)."""
    i = c.task.input
    if not i.agency:
        raise Incident("chasing an agency's return: the case has no agency")
    [agency] = c.directory.agencies_named([i.agency])
    senior = i.chases_sent >= 2
    if senior and not agency.senior_lead_email:
        raise Incident(f"the third chase goes to the senior lead of {agency.id}, but the partnership directory "
                       "has no senior_lead_email for it")
    to, cc = ([agency.senior_lead_email], [agency.lead_email]) if senior else ([agency.lead_email], c.unit())
    what = "its Initial Scoping document" if i.return_kind == "initial_scoping" else "its IMR and chronology"
    due = f", due on {_date(i.return_due_on)}," if i.return_due_on else ""
    n = i.chases_sent + 1
    return [c.email([t for t in to if t], f"Chase {n}: {agency.name}'s return for case {c.case}",
                    f"{agency.name} has not yet sent {what}{due} for case {c.case} (a request under Children Act 2004 "
                    f"s16H). This is chase {n}" + (" and goes to you as the agency's senior lead" if senior else "")
                    + f". The agency's task is here:\n{c.link}\n", f"chase-{n}-{agency.id}", cc=cc)]


def _looked_after_child(c: Context) -> list[Email]:
    d = c.directory
    to = [e for e in (d.secretary_of_state_email, d.ofsted_email) if e]
    if len(to) < 2:
        raise Incident("a looked-after child's death is notified to the Secretary of State and Ofsted, but the "
                       "partnership directory lacks [regulators] secretary_of_state_email or ofsted_email")
    sent = f" The National Panel was notified on {_date(c.task.input.sin_sent_on)}." if c.task.input.sin_sent_on else ""
    return [c.email(to, f"Death of a looked-after child: case {c.case}",
                    f"{d.name} notifies you of the death of a looked-after child (case {c.case}), as Working Together "
                    f"to Safeguard Children requires whether or not abuse or neglect is known or suspected.{sent}\n",
                    "looked-after-child", cc=c.unit())]


def _expected_date(c: Context) -> list[Email]:
    when = c.task.input.expected_publication_date
    date_text = _date(when) if when else "the new expected date"
    if c.kind == "escalation":
        return [c.email(c.partners() + c.people("partnership_chair"),
                        f"Escalation: LCSPR for case {c.case} missed its new expected date",
                        f"The review of case {c.case} was expected by {date_text} (the date given to the National "
                        f"Panel and the DfE) and is not yet published.\n{c.link}\n", "expected-date", cc=c.unit())]
    reviewer = _reviewer_email(c.task.input.lead_reviewer)
    return [c.email(c.people("panel_chair") + ([reviewer] if reviewer else []) + c.unit(),
                    f"Reminder: LCSPR for case {c.case} is expected by {date_text}",
                    f"The review of case {c.case} is expected by {date_text}, the date given to the National Panel "
                    f"and the DfE.\n{c.link}\n", "expected-date")]


def _further_information(c: Context) -> list[Email]:
    due = c.task.input.information_due_on
    when = f"by {_date(due)}" if due else "by the date it gave"
    return [c.email(c.unit(), f"Reminder: the National Panel's questions on case {c.case} are due",
                    f"The National Panel asked for more information on the Rapid Review of case {c.case}, {when}. "
                    f"Answer its questions in Reviewflow; the answers are sent to the Panel.\n\n{c.link}\n",
                    "unit")]


def _local_review_target(c: Context) -> list[Email]:
    due = c.task.input.local_review_due_on
    when = _date(due) if due else "the partnership's target date"
    if c.kind == "escalation":
        return [c.email(c.partners() + c.people("panel_chair"),
                        f"Escalation: local learning review for case {c.case} missed its target",
                        f"The local learning review of case {c.case} was due by {when} (the partnership's own "
                        f"target, set at screening) and its report is not yet approved.\n\n{c.link}\n", "partners",
                        cc=c.unit())]
    return [c.email(c.people("panel_chair") + c.unit(), f"Reminder: local learning review for case {c.case}",
                    f"The report of the local learning review of case {c.case} is due to be approved by {when} "
                    f"(the partnership's own target).\n\n{c.link}\n", "chair")]


def _agency_review(c: Context) -> list[Email]:
    """A single-agency review or audit not reported back by the target date: to the agency's lead."""
    if not c.task.input.agency:
        raise Incident("chasing an agency's review: the case has no agency")
    [agency] = c.directory.agencies_named([c.task.input.agency])
    due = c.task.input.local_review_due_on
    when = f" was due by {_date(due)}" if due else " is overdue"
    return [c.email([agency.lead_email], f"Chase: {agency.name}'s review for case {c.case}",
                    f"The review or audit the Case Review Group asked {agency.name} to carry out for case {c.case}"
                    f"{when}. Report back through the agency's task:\n{c.link}\n", f"agency-{agency.id}",
                    cc=c.unit())]


def _request_elsewhere(c: Context) -> list[Email]:
    due = c.task.input.request_due_on
    lead = (c.task.input.review_lead or {}).get("name") or "the body leading the review"
    when = _date(due) if due else "the date it gave"
    if c.kind == "chase":
        subject, text = (f"Overdue: the contribution for case {c.case}",
                         f"{lead} asked for information on case {c.case} by {when}, and it has not been sent.")
    else:
        subject, text = (f"Reminder: the contribution for case {c.case} is due on {when}",
                         f"{lead} asked for information on case {c.case} by {when}.")
    return [c.email(c.unit(), subject, f"{text} Record it in Reviewflow once sent.\n\n{c.link}\n", "unit")]


def _anything_else(c: Context) -> list[Email]:
    return [c.email(c.unit(), f"{c.kind.capitalize()}: {c.about.replace('_', ' ') or 'case'} for case {c.case}",
                    f"Reviewflow sends a {c.kind} about {c.about.replace('_', ' ') or 'the case'} for case {c.case}."
                    f"\n\n{c.link}\n", "unit")]


def _reviewer_email(reviewer: dict[str, Any] | str | None) -> str | None:
    if isinstance(reviewer, dict) and isinstance(reviewer.get("email"), str):
        return reviewer["email"]
    return None


def _number(text: str) -> tuple[int, str]:
    return (int(text), "") if text.isdigit() else (10**9, text)


COMPOSERS: dict[tuple[str, str], Callable[[Context], list[Email]]] = {
    ("reminder", "rapid_review"): _rapid_review,
    ("escalation", "rapid_review"): _rapid_review,
    ("*", "initial_scoping"): _agency_returns,
    ("*", "imr_and_chronology"): _agency_returns,
    ("chase", "national_panel_response"): _panel_response,
    ("reminder", "lcspr_deadline"): _lcspr_deadline,
    ("escalation", "lcspr_deadline"): _lcspr_deadline,
    ("invitation", "practitioner_discussion"): _practitioner_discussion,
    ("distribution", "seven_minute_briefing"): _briefing,
    ("reminder", "action_plan_update"): _action_updates,
    ("chase", "action_plan_update"): _action_updates,
    ("escalation", "action_plan"): _action_plan,
    ("chase", "agency_return"): _agency_return,
    ("statutory_notice", "looked_after_child_death"): _looked_after_child,
    ("reminder", "lcspr_expected_date"): _expected_date,
    ("escalation", "lcspr_expected_date"): _expected_date,
    ("reminder", "further_information"): _further_information,
    ("reminder", "local_learning_review"): _local_review_target,
    ("escalation", "local_learning_review"): _local_review_target,
    ("chase", "agency_review"): _agency_review,
    ("reminder", "review_led_elsewhere"): _request_elsewhere,
    ("chase", "review_led_elsewhere"): _request_elsewhere,
}
