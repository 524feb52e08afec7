"""Reviewer commissioning: the first available reviewer without a conflict of interest, a commissioning
letter in the case with the terms of reference, the key lines of enquiry and the 6-month deadline."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime

import docx
import pytest

import timekeeping
from tests.workers.handlers.conftest import ServicesFactory, outbox_mail, read_mail, task_for
from tests.workers.services.fakes import FakeEngineDocuments
from workers.handlers import reviewer_commissioning
from workers.runtime import Incident
from workers.services import DOCX, Services, read_office

KLOES = ["How well did agencies share information about the risks at home?",
         "Was the voice of the child heard?",
         "How did agencies respond to missed health appointments?"]


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    timekeeping.clock.freeze(datetime(2026, 1, 20, 9, tzinfo=UTC))
    yield
    timekeeping.clock.reset()


def variables(**more: object) -> dict[str, object]:
    return {"case_reference": "NB-TEST-1", "agencies": ["Police", "Education"], "decision_date": "2026-01-05",
            "terms_of_reference": "Review multi-agency practice from March 2024 to the incident.",
            "key_lines_of_enquiry": KLOES, "review_period_start": "2024-03-01", "review_period_end": "2025-11-30",
            "confidential_names": ["Jayden Smith"], **more}


def test_reviewers_who_are_unavailable_or_conflicted_are_skipped(services: Services) -> None:
    result = reviewer_commissioning.handle(task_for(reviewer_commissioning, variables()), services)
    # Rita: conflict with the police, an agency of the case; Ravi: unavailable; Rosa: conflict with Lara,
    # recorded as involved in NB-TEST-1
    assert result.variables["lead_reviewer"] == {"id": "rev-free", "name": "Reece Free",
                                                 "email": "reece@reviews.example", "user": "rev-free"}


def test_the_reviewer_s_account_is_the_one_the_directory_names(make_services: ServicesFactory) -> None:
    """The drafting and practitioner tasks go to lead_reviewer.user: the directory's `user`, else the id."""
    services = make_services(reviewer_user="reece.free")
    result = reviewer_commissioning.handle(task_for(reviewer_commissioning, variables()), services)
    assert result.variables["lead_reviewer"]["user"] == "reece.free"


def test_the_first_reviewer_without_a_conflict_is_chosen(services: Services) -> None:
    task = task_for(reviewer_commissioning, variables(case_reference="NB-TEST-3", agencies=["Education"]),
                    business_key="NB-TEST-3")
    assert reviewer_commissioning.handle(task, services).variables["lead_reviewer"]["name"] == "Rita Conflicted"


def test_no_reviewer_without_a_conflict_is_an_incident(services: Services,
                                                       engine_documents: FakeEngineDocuments) -> None:
    task = task_for(reviewer_commissioning, variables(), business_key="NB-OTHER-9")
    with pytest.raises(Incident, match="of 4 in the pool, 1 are unavailable and 3 have a conflict of interest"):
        reviewer_commissioning.handle(task, services)
    assert engine_documents.documents == {}
    assert outbox_mail(services.directory.outbox.parent) == []


def test_the_commissioning_letter_is_added_to_the_case(services: Services,
                                                      engine_documents: FakeEngineDocuments) -> None:
    result = reviewer_commissioning.handle(task_for(reviewer_commissioning, variables()), services)
    [letter] = engine_documents.of_kind("commissioning_letter")
    assert result.variables["commissioning_letter_id"] == letter.id
    assert letter.content_type == "text/markdown" and letter.filename.endswith(".md")
    text = letter.content.decode()
    assert "Review multi-agency practice from March 2024 to the incident." in text
    for n, kloe in enumerate(KLOES, 1):
        assert f"{n}. {kloe}" in text
    assert "Final report by 5 July 2026" in text                        # 6 calendar months from 5 January
    assert "From 1 March 2024 to 30 November 2025." in text
    assert result.variables["final_report_due_on"] == "2026-07-05"
    assert "regulation 14" in text and "Reece Free" in text


def test_the_reviewer_is_emailed_a_link_not_the_letter(services: Services) -> None:
    reviewer_commissioning.handle(task_for(reviewer_commissioning, variables()), services)
    [mail] = outbox_mail(services.directory.outbox.parent)
    message, text = read_mail(mail)
    assert message["To"] == "reece@reviews.example" and message["Cc"] == "una@scp.example"
    assert "https://reviewflow.scp.example/tasks?business_key=NB-TEST-1" in text
    assert "voice of the child" not in text and "March 2024" not in text


def test_a_retried_task_adds_one_letter_and_sends_one_email(services: Services,
                                                           engine_documents: FakeEngineDocuments) -> None:
    first = reviewer_commissioning.handle(task_for(reviewer_commissioning, variables()), services)
    again = reviewer_commissioning.handle(task_for(reviewer_commissioning, variables()), services)
    assert again == first
    assert len(engine_documents.of_kind("commissioning_letter")) == 1
    assert len(engine_documents.of_kind("terms_of_reference")) == 1
    assert len(engine_documents.uploads()) == 2
    assert len(outbox_mail(services.directory.outbox.parent)) == 1


def test_the_terms_of_reference_are_a_word_document_from_the_template(
        services: Services, engine_documents: FakeEngineDocuments) -> None:
    result = reviewer_commissioning.handle(task_for(reviewer_commissioning, variables(
        panel_meetings=["2026-02-05", "2026-03-20", "2026-05-05"])), services)
    [stored] = engine_documents.of_kind("terms_of_reference")
    assert result.variables["terms_of_reference_document_id"] == stored.id and stored.content_type == DOCX
    word = docx.Document(io.BytesIO(stored.content))
    styled = [(p.style.name, p.text) for p in word.paragraphs if p.text.strip()]
    assert styled[0] == ("Title", "Terms of reference: Local Child Safeguarding Practice Review")
    assert styled[1] == ("Normal", "Case NB-TEST-1. Agreed by the LCSPR panel; recorded 20 January 2026.")
    assert [t for s, t in styled if s == "Heading 2"] == ["Terms of reference", "Key lines of enquiry",
                                                          "Period under review", "Timetable",
                                                          "Independent Lead Reviewer"]
    assert [t for s, t in styled if s == "List Number"] == KLOES
    assert ("List Bullet", "Panel meeting 2: 20 March 2026.") in styled
    assert ("Normal", "From 1 March 2024 to 30 November 2025.") in styled
    header = [p.text for p in word.sections[0].header.paragraphs]
    assert header == [services.directory.name, "OFFICIAL-SENSITIVE: for the review only"]
    assert word.sections[0].footer.paragraphs[0].text == "Terms of reference · case NB-TEST-1 · 20 January 2026"
    everything = read_office(stored.content, DOCX, what="terms")
    assert not any("{{" in text or "{%" in text or "}}" in text for _, text in everything.passages)


# ---- the pool in turn: invitations, then the commission on agreed terms ----------------------------------
def test_an_invitation_goes_to_the_next_reviewer_not_yet_asked(services: Services,
                                                              engine_documents: FakeEngineDocuments) -> None:
    invite = {"step": "invite"}
    first = reviewer_commissioning.handle(task_for(reviewer_commissioning, variables(
        case_reference="NB-TEST-3", agencies=["Education"]), properties=invite, business_key="NB-TEST-3"), services)
    assert first.variables["reviewer_invited"]["name"] == "Rita Conflicted"
    assert first.variables["reviewer_invited_on"] == "2026-01-20"
    second = reviewer_commissioning.handle(task_for(reviewer_commissioning, variables(
        case_reference="NB-TEST-3", agencies=["Education"],
        reviewer_invitations=[{"id": first.variables["reviewer_invited"]["id"], "outcome": "declined"}]),
        properties=invite, business_key="NB-TEST-3", activity_instance_id="invite:2"), services)
    assert second.variables["reviewer_invited"]["name"] != "Rita Conflicted"
    assert engine_documents.documents == {}              # an invitation commissions nothing yet
    mails = [read_mail(m) for m in outbox_mail(services.directory.outbox.parent)]
    assert [m["Subject"] for m, _ in mails] == ["Invitation: Independent Lead Reviewer for case NB-TEST-3"] * 2
    assert all("accept or decline" in text and "Jayden" not in text for _, text in mails)


def test_when_everyone_was_asked_the_incident_says_so(services: Services) -> None:
    asked = [{"id": "rev-free", "outcome": "declined"}]
    with pytest.raises(Incident, match="1 were invited already"):
        reviewer_commissioning.handle(task_for(reviewer_commissioning, variables(reviewer_invitations=asked),
                                               properties={"step": "invite"}), services)


def test_the_reviewer_who_accepted_is_commissioned_with_a_contract(services: Services,
                                                                  engine_documents: FakeEngineDocuments) -> None:
    accepted = {"id": "rev-free", "name": "Reece Free", "email": "reece@reviews.example", "user": "rev-free"}
    result = reviewer_commissioning.handle(task_for(reviewer_commissioning, variables(
        reviewer_invited=accepted, commission={"fee_gbp": 8250.5, "days_of_work": 20,
                                               "report_due_on": "2026-06-30"})), services)
    assert result.variables["lead_reviewer"]["id"] == "rev-free"
    [contract] = engine_documents.of_kind("reviewer_contract")
    assert result.variables["contract_document_id"] == contract.id
    text = contract.content.decode()
    assert "£8,250.50" in text and "Days of work: 20." in text and "30 June 2026" in text and "Reece Free" in text


def test_an_unknown_step_is_an_incident(services: Services) -> None:
    with pytest.raises(Incident, match="step must be one of"):
        reviewer_commissioning.handle(task_for(reviewer_commissioning, variables(), properties={"step": "x"}),
                                      services)
