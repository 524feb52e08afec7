"""Invite, then commission, the Independent Lead Reviewer (Regulations 2018, reg 12).

The service task's `step` property says which step this is:

* `invite`: invites the next reviewer in the pool — the first available, without a known conflict,
  not yet invited for this case (`reviewer_invitations`) — by email, to answer in Reviewflow (accept
  or decline, declaring any conflict). Returns: reviewer_invited ({id, name, email, user}),
  reviewer_invited_on (YYYY-MM-DD). No one left is an incident.
* `commission` (the default): commissions the reviewer who accepted (`reviewer_invited`; without
  one, as before, the first eligible reviewer in the pool), on the terms the business unit agreed
  (`commission`: fee_gbp, days_of_work, report_due_on), with a contract document of kind
  `reviewer_contract` — and the letter and terms of reference below.

Picks the first reviewer in the directory's pool who is available and has no conflict of interest —
none of their `conflicts` is one of the case's agencies, the case's business key or reference, or a
person recorded as involved in the case — so the business unit orders the pool by preference. Writes
the commissioning letter (terms of reference, key lines of enquiry, the deadline 6 calendar months
after the decision, independence, data protection, reg 14 monitoring) as a Markdown document of kind
`commissioning_letter` in the case, and the terms of reference as a Word document of kind
`terms_of_reference` (the partnership's `terms_of_reference.docx` template), and tells the reviewer
and the business unit where to find them.

Expects: case_reference, key_lines_of_enquiry, terms_of_reference, decision_date (agencies,
review_period_start, review_period_end and panel_meetings when the case has them).
Returns: lead_reviewer ({id, name, email, user: their Reviewflow account}),
commissioning_letter_id, terms_of_reference_document_id,
final_report_due_on (YYYY-MM-DD).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import timekeeping
from workers.handlers._case import case_keys, confidential_names, email_footer, key, plain_date, task_list_link
from workers.runtime import Complete, ExternalTask, Incident
from workers.services import DOCX, Directory, Email, Reviewer, Services, digest, services_for

TOPIC = "reviewer-commissioning"
LOCK = timedelta(minutes=2)


@dataclass(frozen=True)
class Input:
    case_reference: str
    key_lines_of_enquiry: list[str]
    terms_of_reference: dict[str, Any] | str
    decision_date: date
    agencies: list[str] = field(default_factory=list)
    review_period_start: date | None = None
    review_period_end: date | None = None
    panel_meetings: list[date] = field(default_factory=list)
    reviewer_invitations: list[dict[str, Any]] = field(default_factory=list)
    reviewer_invited: dict[str, Any] | None = None
    commission: dict[str, Any] | None = None


STEPS = ("invite", "commission")


def handle(task: ExternalTask[Input], services: Services | None) -> Complete:
    step = task.extension_properties.get("step", "commission")
    if step not in STEPS:
        raise Incident(f"service task {task.activity_id}: property step must be one of {', '.join(STEPS)}, "
                       f"not {step!r}")
    return invite(task, services) if step == "invite" else commission(task, services)


def invite(task: ExternalTask[Input], services: Services | None) -> Complete:
    """Invite the next reviewer in the pool to accept or decline the review."""
    s = services_for(services)
    d, case = s.directory, task.input.case_reference
    asked = {str(i.get("id")) for i in task.input.reviewer_invitations if isinstance(i, dict)}
    reviewer = choose_reviewer(d, case=case_keys(task, case), agencies=task.input.agencies, exclude=asked)
    today = timekeeping.to_date(timekeeping.today())
    answer_by = timekeeping.to_date(timekeeping.local_working_days_after(today, INVITATION_DAYS))
    s.mailer.send(Email(
        to=(reviewer.email,), cc=tuple(d.business_unit_emails()), key=key(task, "invite", reviewer.id),
        subject=f"Invitation: Independent Lead Reviewer for case {case}",
        text=(f"Dear {reviewer.name},\n\n{d.name} invites you to lead the Local Child Safeguarding Practice Review "
              f"of case {case}. The terms of reference and the agencies involved are in your task in Reviewflow:\n"
              f"{task_list_link(d, case)}\n\nPlease accept or decline there by {plain_date(answer_by)}, and "
              "declare any involvement with the child, the family or the agencies' work with them. Without an "
              "answer by then the partnership invites the next reviewer.\n" + email_footer(d))),
        forbidden=confidential_names(task))
    task.logger.info("reviewer invited", extra={"reviewer_id": reviewer.id})
    return Complete(reviewer_invited={"id": reviewer.id, "name": reviewer.name, "email": reviewer.email,
                                      "user": reviewer.user or reviewer.id},
                    reviewer_invited_on=today.isoformat())


INVITATION_DAYS = 5          # local working days to answer; the diagram's timer says the same


def _accepted(d: Directory, invited: dict[str, Any]) -> Reviewer:
    found = [r for r in d.reviewers if r.id == invited.get("id")]
    if not found:
        raise Incident("the reviewer who accepted is no longer in the pool: add them back to "
                       f"{d.source or 'the partnership directory'} and retry the task")
    return found[0]


def commission(task: ExternalTask[Input], services: Services | None) -> Complete:
    s = services_for(services)
    d, case = s.directory, task.input.case_reference
    reviewer = (_accepted(d, task.input.reviewer_invited) if task.input.reviewer_invited
                else choose_reviewer(d, case=case_keys(task, case), agencies=task.input.agencies))
    due = timekeeping.to_date(timekeeping.calendar_months_after(task.input.decision_date, 6))
    today = timekeeping.to_date(timekeeping.today())
    letter = commissioning_letter(task.input, d, reviewer, due, today=today)
    letter_id = s.documents.add(task.id, filename=f"commissioning-letter-{digest(task.activity_instance_id)}.md",
                                content=letter.encode("utf-8"), content_type="text/markdown",
                                kind="commissioning_letter")
    terms = s.templates.render("terms_of_reference.docx", markdown=terms_of_reference(task.input, reviewer, due),
                               context={"title": "Terms of reference: Local Child Safeguarding Practice Review",
                                        "partnership": d.name, "reference": case, "date": plain_date(today)})
    terms_id = s.documents.add(task.id, filename=f"terms-of-reference-{digest(task.activity_instance_id)}.docx",
                               content=terms, content_type=DOCX, kind="terms_of_reference")
    contract: dict[str, Any] = {}
    if task.input.commission:
        contract_id = s.documents.add(
            task.id, filename=f"reviewer-contract-{digest(task.activity_instance_id)}.md",
            content=reviewer_contract(task.input, d, reviewer, task.input.commission, today=today).encode("utf-8"),
            content_type="text/markdown", kind="reviewer_contract")
        contract = {"contract_document_id": contract_id}
    task.extend_lock()
    link = task_list_link(d, case)
    s.mailer.send(Email(
        to=(reviewer.email,), cc=tuple(d.business_unit_emails()), key=key(task, "commission", reviewer.id),
        subject=f"Commission: Independent Lead Reviewer for case {case}",
        text=(f"Dear {reviewer.name},\n\n{d.name} commissions you as Independent Lead Reviewer for the Local Child "
              f"Safeguarding Practice Review of case {case}. The commissioning letter (document {letter_id}) sets "
              f"out the terms of reference, the key lines of enquiry and the timetable; the final report is due by "
              f"{plain_date(due)}.\n\nThe letter is in Reviewflow:\n{link}\n\nPlease confirm your independence and "
              f"acceptance to the business unit.\n" + email_footer(d))),
        forbidden=confidential_names(task))
    task.logger.info("reviewer commissioned", extra={"reviewer_id": reviewer.id, "document_id": letter_id})
    return Complete(lead_reviewer={"id": reviewer.id, "name": reviewer.name, "email": reviewer.email,
                                   "user": reviewer.user or reviewer.id},
                    commissioning_letter_id=letter_id, terms_of_reference_document_id=terms_id,
                    final_report_due_on=due.isoformat(), **contract)


def choose_reviewer(directory: Directory, *, case: tuple[str, ...], agencies: list[str],
                    exclude: set[str] | frozenset[str] = frozenset()) -> Reviewer:
    """The first available reviewer without a conflict of interest (and not in `exclude`: already asked).

    Raises: Incident when there is none (saying how many were unavailable or conflicted, not who).
    """
    involved = [p for p in directory.people if p.is_involved_in(case)]
    terms = {*case, *(p.id for p in involved), *(p.name for p in involved), *(p.email for p in involved)}
    for name in agencies:
        agency = directory.agency(name)
        terms |= {name, *((agency.id, agency.name, *agency.also_known_as) if agency else ())}
    wanted = {" ".join(t.split()).casefold() for t in terms}
    involved_emails = {p.email.casefold() for p in involved}
    unavailable = conflicted = asked = 0
    for reviewer in directory.reviewers:
        if reviewer.id in exclude:
            asked += 1
        elif not reviewer.available:
            unavailable += 1
        elif (any(" ".join(c.split()).casefold() in wanted for c in reviewer.conflicts)
              or reviewer.email.casefold() in involved_emails):
            conflicted += 1
        else:
            return reviewer
    already = f", {asked} were invited already (declined, conflicted or did not answer)" if asked else ""
    raise Incident(f"no Independent Lead Reviewer can be commissioned: of {len(directory.reviewers)} in the pool, "
                   f"{unavailable} are unavailable and {conflicted} have a conflict of interest with this case"
                   f"{already}. "
                   f"Add or free a reviewer in {directory.source or 'the partnership directory'} and retry the task.")


def _scope(i: Input, due: date) -> list[str]:
    """The terms of reference, key lines of enquiry, period and timetable: in the letter and the terms alike."""
    draft_due = timekeeping.to_date(timekeeping.calendar_months_after(i.decision_date, 4))
    lines = ["## Terms of reference", "", *_terms(i.terms_of_reference), "",
             "## Key lines of enquiry", "",
             *(f"{n}. {' '.join(k.split())}" for n, k in enumerate(i.key_lines_of_enquiry, 1)), ""]
    if i.review_period_start and i.review_period_end:
        lines += ["## Period under review", "",
                  f"From {plain_date(i.review_period_start)} to {plain_date(i.review_period_end)}.", ""]
    return lines + ["## Timetable", "",
                    f"- First draft report to the panel by {plain_date(draft_due)}.",
                    *(f"- Panel meeting {n}: {plain_date(m)}." for n, m in enumerate(i.panel_meetings, 1)),
                    f"- Final report by {plain_date(due)}: 6 calendar months from the decision.", ""]


def _terms(terms: dict[str, Any] | str) -> list[str]:
    """The panel's terms of reference (structured: scope, methodology, family involvement, parallel
    proceedings), as Markdown lines."""
    if isinstance(terms, str):
        return [terms.strip()]
    out = [f"**Scope.** {' '.join(str(terms.get('scope', '')).split())}"]
    if terms.get("methodology"):
        out += ["", f"**Methodology.** {' '.join(str(terms['methodology']).split())}"]
    if terms.get("family_involvement"):
        out += ["", f"**Family involvement.** {' '.join(str(terms['family_involvement']).split())}"]
    proceedings = [str(p).replace("_", " ") for p in terms.get("parallel_proceedings") or []]
    if proceedings:
        out += ["", f"**Parallel proceedings.** {', '.join(proceedings)}."]
    return out


def terms_of_reference(i: Input, reviewer: Reviewer, due: date) -> str:
    """The terms of reference as the panel agreed them, in Markdown (set in the Word template)."""
    return "\n".join([*_scope(i, due), "## Independent Lead Reviewer", "", reviewer.name, ""])


def commissioning_letter(i: Input, d: Directory, reviewer: Reviewer, due: date, *, today: date) -> str:
    """The commissioning letter, in Markdown."""
    lines = [
        f"# Commissioning letter: Independent Lead Reviewer, case {i.case_reference}", "",
        f"{d.name}, {plain_date(today)}", "",
        f"To: {reviewer.name}", "",
        "## The commission", "",
        f"The safeguarding partners of {d.name} commission you to lead the Local Child Safeguarding Practice Review "
        f"of case {i.case_reference} (Children Act 2004 s16F; Child Safeguarding Practice Review and Relevant Agency "
        "(England) Regulations 2018, regulations 12 to 16). The review was decided on "
        f"{plain_date(i.decision_date)}.", "",
        *_scope(i, due),
    ]
    lines += ["The partners monitor the time taken and the quality of the review at regular intervals "
              "(regulation 14). They may ask you, in writing, for specified information or a draft of the report.",
              "",
              "## Independence", "",
              "Before you start, confirm in writing that you have had no involvement with the child, the family or "
              "the case, and no role in the agencies' work with them that would compromise your independence. "
              "Declare at once any conflict of interest that arises during the review.", "",
              "## Confidentiality and data protection", "",
              "You will receive special-category and criminal-offence personal data. Process it only for this review, "
              "on the partners' instructions; keep it in Reviewflow and do not copy it elsewhere; refer to the child "
              "as Child X and anonymise the report; tell the business unit at once of any data breach; return or "
              "destroy any copies when the review ends.", "",
              "## Publication", "",
              "The partners publish the final report unless that is inappropriate, and then publish the improvements "
              "to be made. Write the report so that it can be published: anonymised, with the learning and the "
              "improvements needed set out against each key line of enquiry.", "",
              f"Contact: {d.contact_email}", ""]
    return "\n".join(lines)


def reviewer_contract(i: Input, d: Directory, reviewer: Reviewer, terms: dict[str, Any], *, today: date) -> str:
    """The contract for services, in Markdown: who, the fee, the days and the date the report is due."""
    fee = terms.get("fee_gbp")
    lines = [f"# Contract for services: Independent Lead Reviewer, case {i.case_reference}", "",
             f"{d.name}, {plain_date(today)}", "",
             f"Between the safeguarding partners of {d.name} and {reviewer.name} ({reviewer.email}).", "",
             "## Fee and timescale", "",
             f"- Fee: £{float(fee):,.2f} in all, including expenses." if fee is not None else "- Fee: as agreed.",
             f"- Days of work: {terms.get('days_of_work', 'as agreed')}."]
    if terms.get("report_due_on"):
        lines.append(f"- The final report is due by {plain_date(timekeeping.to_date(str(terms['report_due_on'])))}.")
    if terms.get("terms"):
        lines += ["", "## Further terms", "", " ".join(str(terms["terms"]).split())]
    lines += ["", "## Obligations", "",
              "The reviewer works to the commissioning letter and the terms of reference, declares at once any "
              "conflict of interest that arises, and processes personal data only for this review, as the letter "
              "sets out.", ""]
    return "\n".join(lines)
