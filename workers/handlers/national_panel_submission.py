"""Send a document to the Child Safeguarding Practice Review Panel (the National Panel) — exactly once,
with a receipt.

The service task's `document` property says what: `rapid_review` (the Rapid Review and the
partnership's recommendation, due 15 working days after the SIN), `delay_notice` (an LCSPR will
miss its 6 months: the reasons and the expected date) or `final_report` (the final report, or the
improvements-only information, before publication). The submission is a JSON summary built from the
case's variables — references, dates, the decision and its reasons, and document ids, not the
documents — sent with the task's activity instance id as its idempotency key, so a retried task never
submits twice.

No diagram catches a BPMN error here, so a refusal by the Panel (4xx) is an incident for the
business unit, not `PANEL_REJECTED`; unreachable, timed out or 5xx is retried by the runtime.

Expects: case_reference and, by document —
  rapid_review: sin_sent_on, recommendation, rapid_review_report_id (recommendation_reasons, …);
  delay_notice: decision_date, delay_reasons, expected_publication_date (parallel_proceedings);
  final_report: final_report_id, publication_scope (decision_date, planned_publication_date).
Returns: panel_receipt_id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import timekeeping
from workers.handlers._case import chosen
from workers.runtime import Complete, ExternalTask, Incident
from workers.services import Services, services_for

TOPIC = "national-panel-submission"
LOCK = timedelta(minutes=2)

REQUIRED = {
    "rapid_review": ("sin_sent_on", "recommendation", "rapid_review_report_id"),
    "delay_notice": ("decision_date", "delay_reasons", "expected_publication_date"),
    "final_report": ("final_report_id", "publication_scope"),
}


@dataclass(frozen=True)
class Input:
    case_reference: str
    # rapid_review
    sin_sent_on: date | None = None
    became_aware_on: date | None = None
    incident_type: str | None = None
    meeting_date: date | None = None
    recommendation: str | None = None
    recommendation_reasons: str | None = None
    rapid_review_report_id: str | None = None
    # delay_notice (and the LCSPR's clock)
    decision_date: date | None = None
    delay_reasons: str | None = None
    expected_publication_date: date | None = None
    parallel_proceedings: list[str] = field(default_factory=list)
    # final_report
    final_report_id: str | None = None
    publication_scope: str | None = None
    publication_reasons: str | None = None
    planned_publication_date: date | None = None


def handle(task: ExternalTask[Input], services: Services | None) -> Complete:
    s = services_for(services)
    document = chosen(task, "document", REQUIRED)
    if missing := [name for name in REQUIRED[document] if getattr(task.input, name) in (None, "")]:
        raise Incident(f"cannot send the {document} to the National Panel: missing variable(s) {', '.join(missing)}")
    submission = build_submission(document, task.input, partnership=s.directory.name)
    receipt = s.national_panel.submit(submission, idempotency_key=task.activity_instance_id)
    task.logger.info("%s submitted to the National Panel", document, extra={"receipt_id": receipt.id})
    return Complete(panel_receipt_id=receipt.id)


def build_submission(document: str, i: Input, *, partnership: str) -> dict[str, Any]:
    """The JSON the Panel receives: no names, no document contents."""
    def iso(value: date | None) -> str | None:
        return value.isoformat() if value else None

    out: dict[str, Any] = {"type": document, "partnership": partnership, "case_reference": i.case_reference}
    if document == "rapid_review":
        due = timekeeping.to_date(timekeeping.working_days_after(i.sin_sent_on, 15)) if i.sin_sent_on else None
        out |= {"dates": {"became_aware_on": iso(i.became_aware_on), "sin_sent_on": iso(i.sin_sent_on),
                          "rapid_review_meeting_on": iso(i.meeting_date), "rapid_review_due_on": iso(due)},
                "incident_type": i.incident_type,
                "decision": i.recommendation, "reasons": i.recommendation_reasons,
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
