"""Information requests: one email per agency, to its lead, with a link and a due date — nothing more."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

import timekeeping
from tests.workers.handlers.conftest import outbox_mail, read_mail, task_for
from workers.handlers import information_request
from workers.runtime import Incident
from workers.services import Services

AGENCIES = {"Police": "Police", "Health": "Health", "Education": "Education"}


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    timekeeping.clock.freeze(datetime(2026, 1, 5, 9, tzinfo=UTC))
    yield
    timekeeping.clock.reset()


def scoping(**more: object) -> dict[str, object]:
    return {"case_reference": "NB-TEST-1", "agencies_by_name": AGENCIES, "sin_sent_on": "2025-12-18",
            "incident_summary": "Jayden was found injured at home", "confidential_names": ["Jayden"], **more}


def test_each_agency_lead_gets_one_request_with_the_due_date(services: Services) -> None:
    result = information_request.handle(
        task_for(information_request, scoping(), properties={"document": "initial_scoping"}), services)
    assert result.variables == {"requests_sent": 3, "return_due_on": "2025-12-29"}
    mails = [read_mail(p) for p in outbox_mail(services.directory.outbox.parent)]
    assert sorted(m["To"] for m, _ in mails) == ["lead@icb.example", "lead@police.example", "lead@school.example"]
    for message, text in mails:
        assert message["Subject"] == "Request for information (Children Act 2004 s16H): case NB-TEST-1"
        # 5 working days after Thursday 18 December 2025, over Christmas (25 and 26 December)
        assert "by Monday 29 December 2025" in text
        assert "https://reviewflow.scp.example/tasks?business_key=NB-TEST-1" in text
        assert "Jayden" not in text and "injured" not in text


def test_imr_requests_are_due_in_four_weeks(services: Services) -> None:
    variables = scoping(key_lines_of_enquiry=["Was the voice of the child heard?"])
    information_request.handle(
        task_for(information_request, variables, properties={"document": "imr_and_chronology"}), services)
    for path in outbox_mail(services.directory.outbox.parent):
        _, text = read_mail(path)
        assert "an Information Management Report (IMR) and a chronology" in text
        assert "by Monday 2 February 2026" in text
        assert "voice of the child" not in text


def test_one_agency_s_return_asks_that_agency_alone(services: Services) -> None:
    """The agency_return block (property from_case): only the agency of this return is asked, for the
    return its return_kind names; the due date comes back for the agency's task and the chases."""
    variables = scoping(agency="Education", return_kind="imr_and_chronology")
    result = information_request.handle(
        task_for(information_request, variables, properties={"document": "from_case"}), services)
    assert result.variables == {"requests_sent": 1, "return_due_on": "2026-02-02"}    # 4 weeks from 5 January
    [(message, text)] = [read_mail(p) for p in outbox_mail(services.directory.outbox.parent)]
    assert message["To"] == "lead@school.example"
    assert "an Information Management Report (IMR) and a chronology" in text and "by Monday 2 February 2026" in text


def test_a_return_of_an_unknown_kind_asks_nobody(services: Services) -> None:
    task = task_for(information_request, scoping(agency="Police", return_kind="minutes"),
                    properties={"document": "from_case"})
    with pytest.raises(Incident, match="return_kind must be one of initial_scoping, imr_and_chronology, not 'minutes'"):
        information_request.handle(task, services)
    assert outbox_mail(services.directory.outbox.parent) == []


def test_an_unknown_agency_stops_all_requests(services: Services) -> None:
    task = task_for(information_request, scoping(agencies_by_name={"Police": "Police", "Fire": "Fire"}),
                    properties={"document": "initial_scoping"})
    with pytest.raises(Incident, match="no agency called 'Fire'"):
        information_request.handle(task, services)
    assert outbox_mail(services.directory.outbox.parent) == []


def test_an_unknown_document_property_is_an_incident(services: Services) -> None:
    with pytest.raises(Incident, match="property document must be one of"):
        information_request.handle(task_for(information_request, scoping(), properties={"document": "x"}), services)


def test_a_retried_request_writes_each_email_once(services: Services) -> None:
    for _ in range(2):
        information_request.handle(
            task_for(information_request, scoping(), properties={"document": "initial_scoping"}), services)
    assert len(outbox_mail(services.directory.outbox.parent)) == 3
