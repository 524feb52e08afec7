"""National Panel submissions: a JSON summary, sent once per idempotency key even when the task is retried;
a refusal is an incident, an outage a retry; without an endpoint, one file in the outbox."""

from __future__ import annotations

import json

import pytest

from tests.workers.handlers.conftest import ServicesFactory, task_for
from tests.workers.services.fakes import TOKEN, FakeNationalPanel
from workers.handlers import national_panel_submission
from workers.runtime import Failure, HandlerModule, Incident, ReportBpmnError, run_handler
from workers.services import Unavailable

RAPID_REVIEW = {"case_reference": "NB-TEST-1", "sin_sent_on": "2026-01-05", "became_aware_on": "2026-01-02",
                "recommendation": "lcspr", "recommendation_reasons": "More analysis of information sharing needed",
                "rapid_review_report_id": "doc-rr-1", "meeting_date": "2026-01-20", "incident_type": "serious_harm",
                "confidential_names": ["Jayden Smith"], "incident_summary": "Jayden Smith was injured"}


def task(variables: dict[str, object], document: str = "rapid_review", activity: str = "send_rapid_review:t1"):  # type: ignore[no-untyped-def]
    return task_for(national_panel_submission, variables, properties={"document": document},
                    activity_instance_id=activity)


def test_the_rapid_review_is_submitted_as_a_json_summary_with_a_receipt(
        make_services: ServicesFactory, national_panel: FakeNationalPanel) -> None:
    services = make_services(national_panel_url=national_panel.submit_url)
    result = national_panel_submission.handle(task(RAPID_REVIEW), services)
    assert result.variables == {"panel_receipt_id": "NP-00001"}
    [request] = national_panel.requests
    assert request.headers["idempotency-key"] == "send_rapid_review:t1"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.json() == {
        "type": "rapid_review", "partnership": "Northbridge Safeguarding Children Partnership",
        "case_reference": "NB-TEST-1",
        "dates": {"became_aware_on": "2026-01-02", "sin_sent_on": "2026-01-05", "rapid_review_meeting_on": "2026-01-20",
                  "rapid_review_due_on": "2026-01-26"},
        "incident_type": "serious_harm", "decision": "lcspr",
        "reasons": "More analysis of information sharing needed", "rapid_review_report_id": "doc-rr-1"}
    assert "Jayden" not in request.body.decode()


def test_a_retried_task_submits_once_per_idempotency_key(
        make_services: ServicesFactory, national_panel: FakeNationalPanel) -> None:
    services = make_services(national_panel_url=national_panel.submit_url)
    handler = HandlerModule.from_module(national_panel_submission)
    national_panel.lose_next_response()          # the Panel stores it, but its answer never arrives
    first = run_handler(handler, task(RAPID_REVIEW).locked_task, services)
    assert isinstance(first, Failure) and first.retries > 0      # a retryable failure, not an incident
    second = run_handler(handler, task(RAPID_REVIEW).locked_task, services)
    assert second.variables == {"panel_receipt_id": "NP-00001"}  # type: ignore[union-attr]
    assert len(national_panel.requests) == 2
    assert {r.headers["idempotency-key"] for r in national_panel.requests} == {"send_rapid_review:t1"}
    assert list(national_panel.submissions) == ["send_rapid_review:t1"]  # one submission


def test_each_document_has_its_own_key(make_services: ServicesFactory, national_panel: FakeNationalPanel) -> None:
    services = make_services(national_panel_url=national_panel.submit_url)
    national_panel_submission.handle(task(RAPID_REVIEW), services)
    delay = {"case_reference": "NB-TEST-1", "decision_date": "2026-02-02", "delay_reasons": "Criminal trial",
             "expected_publication_date": "2026-11-30", "parallel_proceedings": ["criminal_proceedings"]}
    result = national_panel_submission.handle(task(delay, "delay_notice", "send_delay_notice:t2"), services)
    assert result.variables == {"panel_receipt_id": "NP-00002"}
    body = national_panel.submissions["send_delay_notice:t2"]["body"]
    assert body["dates"] == {"decision_date": "2026-02-02", "final_report_due_on": "2026-08-02",
                             "expected_publication_date": "2026-11-30"}
    assert body["reasons"] == "Criminal trial" and body["parallel_proceedings"] == ["criminal_proceedings"]


def test_the_final_report_submission_carries_the_document_id(
        make_services: ServicesFactory, national_panel: FakeNationalPanel) -> None:
    services = make_services(national_panel_url=national_panel.submit_url)
    final = {"case_reference": "NB-TEST-1", "final_report_id": "doc-final-3", "publication_scope": "full_report",
             "decision_date": "2026-02-02"}
    national_panel_submission.handle(task(final, "final_report", "send_final_report:t3"), services)
    body = national_panel.submissions["send_final_report:t3"]["body"]
    assert body["final_report_id"] == "doc-final-3" and body["decision"] == "full_report"


def test_a_refusal_by_the_panel_is_an_incident_not_a_bpmn_error(
        make_services: ServicesFactory, national_panel: FakeNationalPanel) -> None:
    services = make_services(national_panel_url=national_panel.submit_url)
    national_panel.reject_next(422)
    outcome = run_handler(HandlerModule.from_module(national_panel_submission), task(RAPID_REVIEW).locked_task,
                          services)
    assert not isinstance(outcome, ReportBpmnError)             # no diagram catches PANEL_REJECTED
    assert isinstance(outcome, Failure) and outcome.retries == 0
    assert outcome.message == "National Panel submission: HTTP 422 INVALID_SUBMISSION"
    assert national_panel.submissions == {}


def test_a_panel_that_cannot_be_reached_is_retried(make_services: ServicesFactory) -> None:
    services = make_services(national_panel_url="http://127.0.0.1:9/submissions")   # nothing listens there
    with pytest.raises(Unavailable):
        national_panel_submission.handle(task(RAPID_REVIEW), services)


def test_missing_variables_are_an_incident_naming_them(make_services: ServicesFactory,
                                                       national_panel: FakeNationalPanel) -> None:
    services = make_services(national_panel_url=national_panel.submit_url)
    with pytest.raises(Incident, match="missing variable.s. recommendation, rapid_review_report_id"):
        national_panel_submission.handle(task({"case_reference": "NB-TEST-1", "sin_sent_on": "2026-01-05"}),
                                         services)
    assert national_panel.requests == []


def test_without_an_endpoint_the_submission_is_written_to_the_outbox_once(make_services: ServicesFactory) -> None:
    services = make_services()
    first = national_panel_submission.handle(task(RAPID_REVIEW), services)
    again = national_panel_submission.handle(task(RAPID_REVIEW), services)
    assert again == first and first.variables["panel_receipt_id"].startswith("OUTBOX-")
    [path] = (services.directory.outbox / "national-panel").glob("*.json")
    record = json.loads(path.read_text())
    assert record["idempotency_key"] == "send_rapid_review:t1"
    assert record["receipt_id"] == first.variables["panel_receipt_id"]
    assert record["submission"]["decision"] == "lcspr"
