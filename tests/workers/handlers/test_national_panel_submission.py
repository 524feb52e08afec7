"""National Panel submissions: a JSON summary, sent once per idempotency key even when the task is retried;
a refusal is the PANEL_REFUSED error the block catches (a task to correct and resend), an outage a retry;
without an endpoint, one file in the outbox and a submission still to be made through the portal."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

import timekeeping
from tests.workers.handlers.conftest import ServicesFactory, outbox_mail, read_mail, task_for
from tests.workers.services.fakes import TOKEN, FakeNationalPanel
from workers.handlers import national_panel_submission
from workers.runtime import Failure, HandlerModule, Incident, ReportBpmnError, run_handler
from workers.services import Unavailable

RAPID_REVIEW = {"case_reference": "NB-TEST-1", "sin_sent_on": "2026-01-05", "became_aware_on": "2026-01-02",
                "recommendation": "lcspr", "recommendation_reasons": "More analysis of information sharing needed",
                "decision": "lcspr", "decision_reasons": ["The partners agree with the group"],
                "rapid_review_report_id": "doc-rr-1", "meeting_date": "2026-01-20", "incident_type": "serious_harm",
                "confidential_names": ["Jayden Smith"], "incident_summary": "Jayden Smith was injured"}


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    timekeeping.clock.freeze(datetime(2026, 1, 23, 11, tzinfo=UTC))
    yield
    timekeeping.clock.reset()


def task(variables: dict[str, object], document: str = "rapid_review", activity: str = "send_rapid_review:t1"):  # type: ignore[no-untyped-def]
    return task_for(national_panel_submission, variables, properties={"document": document},
                    activity_instance_id=activity)


def test_the_rapid_review_is_submitted_as_a_json_summary_with_a_receipt(
        make_services: ServicesFactory, national_panel: FakeNationalPanel) -> None:
    services = make_services(national_panel_url=national_panel.submit_url)
    result = national_panel_submission.handle(task(RAPID_REVIEW), services)
    # by API: the receipt is kept on the case, and the submission is made today (the clock stops)
    assert result.variables == {"panel_receipt_id": "NP-00001", "panel_refusal": None, "panel_submission": {
        "document": "rapid_review", "via": "api", "receipt_id": "NP-00001", "received_at": "2026-01-05T10:00:00Z",
        "submitted_on": "2026-01-23"}}
    [request] = national_panel.requests
    assert request.headers["idempotency-key"] == "send_rapid_review:t1"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.json() == {
        "type": "rapid_review", "partnership": "Northbridge Safeguarding Children Partnership",
        "case_reference": "NB-TEST-1",
        "dates": {"became_aware_on": "2026-01-02", "sin_sent_on": "2026-01-05", "rapid_review_meeting_on": "2026-01-20",
                  "rapid_review_due_on": "2026-01-26"},
        "incident_type": "serious_harm", "decision": "lcspr",
        "reasons": ["The partners agree with the group"], "rapid_review_report_id": "doc-rr-1"}
    assert "Jayden" not in request.body.decode()


def test_a_retried_task_submits_once_per_idempotency_key(
        make_services: ServicesFactory, national_panel: FakeNationalPanel) -> None:
    services = make_services(national_panel_url=national_panel.submit_url)
    handler = HandlerModule.from_module(national_panel_submission)
    national_panel.lose_next_response()          # the Panel stores it, but its answer never arrives
    first = run_handler(handler, task(RAPID_REVIEW).locked_task, services)
    assert isinstance(first, Failure) and first.retries > 0      # a retryable failure, not an incident
    second = run_handler(handler, task(RAPID_REVIEW).locked_task, services)
    assert second.variables["panel_receipt_id"] == "NP-00001"  # type: ignore[union-attr]
    assert len(national_panel.requests) == 2
    assert {r.headers["idempotency-key"] for r in national_panel.requests} == {"send_rapid_review:t1"}
    assert list(national_panel.submissions) == ["send_rapid_review:t1"]  # one submission


def test_each_document_has_its_own_key(make_services: ServicesFactory, national_panel: FakeNationalPanel) -> None:
    services = make_services(national_panel_url=national_panel.submit_url)
    national_panel_submission.handle(task(RAPID_REVIEW), services)
    delay = {"case_reference": "NB-TEST-1", "decision_date": "2026-02-02", "delay_reasons": "Criminal trial",
             "expected_publication_date": "2026-11-30", "parallel_proceedings": ["criminal_proceedings"]}
    result = national_panel_submission.handle(task(delay, "delay_notice", "send_delay_notice:t2"), services)
    assert result.variables["panel_receipt_id"] == "NP-00002"
    assert result.variables["panel_submission"]["document"] == "delay_notice"
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


def test_a_refusal_by_the_panel_is_the_error_the_block_catches(
        make_services: ServicesFactory, national_panel: FakeNationalPanel) -> None:
    """national_panel_submission catches PANEL_REFUSED on send_to_panel: the business unit corrects and
    resends; the Panel's free text never reaches the case or the log, its status code does."""
    services = make_services(national_panel_url=national_panel.submit_url)
    national_panel.reject_next(422)
    outcome = run_handler(HandlerModule.from_module(national_panel_submission), task(RAPID_REVIEW).locked_task,
                          services)
    assert isinstance(outcome, ReportBpmnError)
    assert outcome.code == "PANEL_REFUSED"
    refusal = outcome.variables["panel_refusal"]
    assert refusal == {"document": "rapid_review", "reason": "National Panel submission: HTTP 422 INVALID_SUBMISSION"}
    assert "free text" not in json.dumps(dict(outcome.variables), default=dict)
    assert national_panel.submissions == {}


def test_a_panel_that_cannot_be_reached_is_retried(make_services: ServicesFactory) -> None:
    services = make_services(national_panel_url="http://127.0.0.1:9/submissions")   # nothing listens there
    with pytest.raises(Unavailable):
        national_panel_submission.handle(task(RAPID_REVIEW), services)


def test_missing_variables_are_an_incident_naming_them(make_services: ServicesFactory,
                                                       national_panel: FakeNationalPanel) -> None:
    services = make_services(national_panel_url=national_panel.submit_url)
    with pytest.raises(Incident, match="missing variable.s. decision, rapid_review_report_id"):
        national_panel_submission.handle(task({"case_reference": "NB-TEST-1", "sin_sent_on": "2026-01-05"}),
                                         services)
    assert national_panel.requests == []


def test_without_an_endpoint_the_submission_is_written_to_the_outbox_once(make_services: ServicesFactory) -> None:
    services = make_services()
    first = national_panel_submission.handle(task(RAPID_REVIEW), services)
    again = national_panel_submission.handle(task(RAPID_REVIEW), services)
    assert again == first and first.variables["panel_receipt_id"].startswith("OUTBOX-")
    # nothing has reached the Panel: the business unit submits through its portal, and the clock stops
    # only on the date it records there (submitted_on stays empty here)
    assert first.variables["panel_submission"] == {"document": "rapid_review", "via": "portal",
                                                   "receipt_id": first.variables["panel_receipt_id"],
                                                   "received_at": None, "submitted_on": None}
    [path] = (services.directory.outbox / "national-panel").glob("*.json")
    record = json.loads(path.read_text())
    assert record["idempotency_key"] == "send_rapid_review:t1"
    assert record["receipt_id"] == first.variables["panel_receipt_id"]
    assert record["submission"]["decision"] == "lcspr"


def test_the_block_names_the_document_from_the_case(make_services: ServicesFactory,
                                                    national_panel: FakeNationalPanel) -> None:
    services = make_services(national_panel_url=national_panel.submit_url)
    answers = {"case_reference": "NB-TEST-1", "panel_document": "further_information",
               "further_information": [{"question": "Attendance records", "answer": "Attached"}]}
    result = national_panel_submission.handle(task(answers, "from_case", "send_to_panel:t4"), services)
    assert result.variables["panel_submission"]["document"] == "further_information"
    body = national_panel.submissions["send_to_panel:t4"]["body"]
    assert body == {"type": "further_information", "partnership": "Northbridge Safeguarding Children Partnership",
                    "case_reference": "NB-TEST-1", "document_id": None,
                    "answers": [{"question": "Attendance records", "answer": "Attached"}]}
    with pytest.raises(Incident, match="panel_document must be one of .* not 'minutes'"):
        national_panel_submission.handle(
            task({**answers, "panel_document": "minutes"}, "from_case", "send_to_panel:t5"), services)
    assert "send_to_panel:t5" not in national_panel.submissions


def test_the_version_to_be_published_goes_to_the_secretary_of_state_and_ofsted_too(
        make_services: ServicesFactory, national_panel: FakeNationalPanel) -> None:
    services = make_services(national_panel_url=national_panel.submit_url)
    copy = {"case_reference": "NB-TEST-1", "publication_scope": "improvements_only",
            "redacted_document_id": "doc-redacted-2", "planned_publication_date": "2026-03-02",
            "confidential_names": ["Jayden Smith"]}
    national_panel_submission.handle(task(copy, "pre_publication", "send_to_panel:t6"), services)
    body = national_panel.submissions["send_to_panel:t6"]["body"]
    assert (body["decision"], body["document_id"], body["dates"]) == (
        "improvements_only", "doc-redacted-2", {"planned_publication_date": "2026-03-02"})
    [(message, text)] = [read_mail(p) for p in outbox_mail(services.directory.outbox.parent)]
    assert message["To"] == "cspr@education.example, enquiries@ofsted.example"
    assert "the National Panel's reference: NP-00001" in text and "Jayden" not in text
    # the publication link goes to the Panel alone
    link = {"case_reference": "NB-TEST-1", "published_url": "https://www.scp.example/r/1",
            "published_on": "2026-03-02"}
    national_panel_submission.handle(task(link, "publication_link", "send_to_panel:t7"), services)
    assert len(outbox_mail(services.directory.outbox.parent)) == 1
