"""Send a document to the Child Safeguarding Practice Review Panel (the National Panel) — exactly once,
with a receipt.

The service task's `document` property says what, or `from_case` to read it from the case's
`panel_document` (the national_panel_submission block): `rapid_review` (the Rapid Review and the
partners' decision, due 15 working days after the SIN), `rapid_review_delay` (why the Rapid Review is
late and when it will arrive), `further_information` (answers to the Panel's questions),
`final_decision` (the partners' decision after the Panel disagreed), `delay_notice` (an LCSPR will
miss its 6 months: the reasons and the new expected date; the Secretary of State is emailed too),
`pre_publication` (the version to be published, at least 7 working days before; the Secretary of
State, and Ofsted where the directory says so, are emailed too), `publication_link` (the published
report's address) or `final_report` (older diagrams). The submission is a JSON summary built from the
case's variables — references, dates, the decision and its reasons, and document ids, not the
documents — sent with the task's activity instance id as its idempotency key, so a retried task never
submits twice.

A refusal by the Panel (4xx) is the BPMN error `PANEL_REFUSED`, with `panel_refusal` ({document,
reason: the status code and the Panel's error code, never its free text}): the national_panel_submission
block catches it and gives the business unit a task to correct and resend. Unreachable, timed out or
5xx is retried by the runtime. Without an endpoint the submission is written to the outbox and
`panel_submission.via` is "portal" with no `submitted_on`: the block then asks the business unit to
submit it through the Panel's portal and record the date, and only that date stops a clock.

Expects: case_reference and, by document —
  rapid_review: sin_sent_on, recommendation, rapid_review_report_id (recommendation_reasons, …);
  delay_notice: decision_date, delay_reasons, expected_publication_date (parallel_proceedings);
  final_report: final_report_id, publication_scope (decision_date, planned_publication_date).
Returns: panel_receipt_id, panel_refusal (None), panel_submission ({document, via: api | portal,
receipt_id, received_at, submitted_on}).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import timekeeping
from workers.handlers._case import chosen, email_footer, key
from workers.runtime import BpmnError, Complete, ExternalTask, Incident
from workers.services import Email, Rejected, Services, services_for

TOPIC = "national-panel-submission"
LOCK = timedelta(minutes=2)

REQUIRED = {
    "rapid_review": ("sin_sent_on", "decision", "rapid_review_report_id"),
    "rapid_review_delay": ("sin_sent_on", "rapid_review_late_reasons", "rapid_review_expected_on"),
    "further_information": ("further_information",),
    "final_decision": ("decision", "decision_date"),
    "delay_notice": ("decision_date", "delay_reasons", "expected_publication_date"),
    "pre_publication": ("publication_scope", "redacted_document_id", "planned_publication_date"),
    "publication_link": ("published_url", "published_on"),
    "final_report": ("final_report_id", "publication_scope"),
}
PANEL_REFUSED = "PANEL_REFUSED"
TO_SECRETARY_OF_STATE = {"delay_notice", "pre_publication"}


@dataclass(frozen=True)
class Input:
    case_reference: str
    # rapid_review
    sin_sent_on: date | None = None
    became_aware_on: date | None = None
    incident_type: str | None = None
    meeting_date: date | None = None
    recommendation: str | None = None
    recommendation_reasons: list[str] | str | None = None
    rapid_review_report_id: str | None = None
    decision: str | None = None
    decision_reasons: list[str] = field(default_factory=list)
    panel_document: str | None = None
    rapid_review_late_reasons: list[str] = field(default_factory=list)
    rapid_review_expected_on: date | None = None
    further_information: list[dict[str, Any]] = field(default_factory=list)
    further_information_document_id: str | None = None
    redacted_document_id: str | None = None
    published_url: str | None = None
    published_on: date | None = None
    # delay_notice (and the LCSPR's clock)
    decision_date: date | None = None
    delay_reasons: list[str] | str | None = None
    expected_publication_date: date | None = None
    parallel_proceedings: list[str] = field(default_factory=list)
    # final_report
    final_report_id: str | None = None
    publication_scope: str | None = None
    publication_reasons: list[str] | str | None = None
    planned_publication_date: date | None = None


def handle(task: ExternalTask[Input], services: Services | None) -> Complete:
    s = services_for(services)
    document = chosen(task, "document", (*REQUIRED, "from_case"))
    if document == "from_case":
        document = task.input.panel_document or ""
        if document not in REQUIRED:
            raise Incident(f"service task {task.activity_id}: panel_document must be one of {', '.join(REQUIRED)}, "
                           f"not {document!r}")
    if missing := [name for name in REQUIRED[document] if getattr(task.input, name) in (None, "", [])]:
        raise Incident(f"cannot send the {document} to the National Panel: missing variable(s) {', '.join(missing)}")
    submission = build_submission(document, task.input, partnership=s.directory.name)
    try:
        receipt = s.national_panel.submit(submission, idempotency_key=task.activity_instance_id)
    except Rejected as refused:
        task.logger.warning("the National Panel refused the %s", document)
        raise BpmnError(PANEL_REFUSED, str(refused), panel_refusal={"document": document, "reason": str(refused)}) \
            from None
    task.logger.info("%s submitted to the National Panel", document, extra={"receipt_id": receipt.id})
    tell_regulators(task, s, document, receipt.id)
    today = timekeeping.to_date(timekeeping.today()).isoformat()
    return Complete(panel_receipt_id=receipt.id, panel_refusal=None, panel_submission={
        "document": document, "via": "api" if receipt.via == "api" else "portal", "receipt_id": receipt.id,
        "received_at": receipt.received_at, "submitted_on": today if receipt.via == "api" else None})


def tell_regulators(task: ExternalTask[Input], s: Services, document: str, receipt: str) -> None:
    """The delay notice and the version to be published go to the Secretary of State (the DfE) as well,
    and the version to be published to Ofsted where the directory says so: references only."""
    if document not in TO_SECRETARY_OF_STATE:
        return
    d = s.directory
    to = [d.secretary_of_state_email] if d.secretary_of_state_email else []
    if document == "pre_publication" and d.ofsted_receives_pre_publication and d.ofsted_email:
        to.append(d.ofsted_email)
    if not to:
        raise Incident(f"the {document} goes to the Secretary of State too, but the partnership directory has no "
                       "[regulators] secretary_of_state_email")
    what = {"delay_notice": "will be published later than 6 months after the decision to hold it",
            "pre_publication": "is to be published; the version to be published is with the National Panel"}[document]
    case = task.input.case_reference
    s.mailer.send_all([Email(to=tuple(to), key=key(task, "regulators"),
                             subject=f"Local Child Safeguarding Practice Review, case {case}",
                             text=(f"{d.name} tells you that its review of case {case} {what} (the National Panel's "
                                   f"reference: {receipt}).\n" + email_footer(d)))])


def build_submission(document: str, i: Input, *, partnership: str) -> dict[str, Any]:
    """The JSON the Panel receives: no names, no document contents."""
    def iso(value: date | None) -> str | None:
        return value.isoformat() if value else None

    out: dict[str, Any] = {"type": document, "partnership": partnership, "case_reference": i.case_reference}
    if document == "rapid_review_delay":
        due = timekeeping.to_date(timekeeping.working_days_after(i.sin_sent_on, 15)) if i.sin_sent_on else None
        return out | {"dates": {"sin_sent_on": iso(i.sin_sent_on), "rapid_review_due_on": iso(due),
                                "rapid_review_expected_on": iso(i.rapid_review_expected_on)},
                      "reasons": list(i.rapid_review_late_reasons)}
    if document == "further_information":
        return out | {"answers": list(i.further_information), "document_id": i.further_information_document_id}
    if document == "final_decision":
        return out | {"decision": i.decision, "reasons": list(i.decision_reasons),
                      "dates": {"decision_date": iso(i.decision_date)}}
    if document == "pre_publication":
        return out | {"decision": i.publication_scope, "document_id": i.redacted_document_id,
                      "dates": {"planned_publication_date": iso(i.planned_publication_date)}}
    if document == "publication_link":
        return out | {"url": i.published_url, "dates": {"published_on": iso(i.published_on)}}
    if document == "rapid_review":
        due = timekeeping.to_date(timekeeping.working_days_after(i.sin_sent_on, 15)) if i.sin_sent_on else None
        out |= {"dates": {"became_aware_on": iso(i.became_aware_on), "sin_sent_on": iso(i.sin_sent_on),
                          "rapid_review_meeting_on": iso(i.meeting_date), "rapid_review_due_on": iso(due)},
                "incident_type": i.incident_type,
                "decision": i.decision or i.recommendation,
                "reasons": list(i.decision_reasons) or i.recommendation_reasons,
                "rapid_review_report_id": i.rapid_review_report_id}
    elif document == "delay_notice":
        due = timekeeping.to_date(timekeeping.calendar_months_after(i.decision_date, 6)) if i.decision_date else None
        out |= {"dates": {"decision_date": iso(i.decision_date), "final_report_due_on": iso(due),
                          "expected_publication_date": iso(i.expected_publication_date)},
                "reasons": i.delay_reasons, "parallel_proceedings": list(i.parallel_proceedings)}
    else:
        out |= {"dates": {"decision_date": iso(i.decision_date),
                          "planned_publication_date": iso(i.planned_publication_date)},
                "decision": i.publication_scope, "reasons": i.publication_reasons,
                "final_report_id": i.final_report_id}
    return out
