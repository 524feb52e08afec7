"""The 7-minute briefing: seven sections from the recorded learning, as HTML and Markdown documents."""

from __future__ import annotations

import io
import re
from pathlib import Path

import docx
import pytest

from tests.workers.handlers.conftest import ServicesFactory, task_for
from tests.workers.services.fakes import FakeEngineDocuments
from workers.handlers import seven_minute_briefing
from workers.runtime import Incident
from workers.services import BRIEFING_SECTIONS, DOCX, Services, read_office

LEARNING = {"case_reference": "NB-TEST-7", "learning_points": ["Ask about every adult in the household",
                                                               "Share concerns about missed appointments"],
            "good_practice": "The school nurse followed up quickly", "audiences": ["Health visitors", "GPs"],
            "incident_type": "serious_harm", "agencies": ["Health", "Education"]}


def test_the_briefing_has_seven_sections_from_the_recorded_learning(
        services: Services, engine_documents: FakeEngineDocuments) -> None:
    result = seven_minute_briefing.handle(task_for(seven_minute_briefing, LEARNING), services)
    [page] = engine_documents.of_kind("seven_minute_briefing_html")
    [markdown] = engine_documents.of_kind("seven_minute_briefing_md")
    [word] = engine_documents.of_kind("seven_minute_briefing_docx")
    assert result.variables == {"briefing_document_id": page.id, "briefing_markdown_id": markdown.id,
                                "briefing_word_id": word.id, "briefing_version": 1}
    md = markdown.content.decode()
    assert re.findall(r"^## \d\. (.+)$", md, re.MULTILINE) == list(BRIEFING_SECTIONS)
    assert len(BRIEFING_SECTIONS) == 7
    assert "1. Ask about every adult in the household" in md and "- Health visitors" in md
    assert "**Good practice to build on:** The school nurse followed up quickly" in md
    html = page.content.decode()
    assert html.startswith("<!DOCTYPE html>") and page.content_type == "text/html"
    assert "<h2>3. What we learned</h2>" in html and "<li>Share concerns about missed appointments</li>" in html
    assert "<strong>Good practice to build on:</strong>" in html
    assert "a child was seriously harmed" in html


def test_the_word_briefing_is_made_from_the_template_with_the_seven_sections(
        services: Services, engine_documents: FakeEngineDocuments) -> None:
    seven_minute_briefing.handle(task_for(seven_minute_briefing, LEARNING), services)
    [stored] = engine_documents.of_kind("seven_minute_briefing_docx")
    assert stored.content_type == DOCX and stored.filename.endswith(".docx")
    word = docx.Document(io.BytesIO(stored.content))
    styled = [(p.style.name, p.text) for p in word.paragraphs if p.text.strip()]
    assert styled[0] == ("Title", "7-minute briefing: learning from a Rapid Review")
    assert [t for s, t in styled if s == "Heading 2"] == [f"{n}. {s}" for n, s in enumerate(BRIEFING_SECTIONS, 1)]
    assert ("List Number", "Ask about every adult in the household") in styled
    assert ("List Bullet", "Health visitors") in styled
    good = next(p for p in word.paragraphs if p.text.startswith("Good practice to build on:"))
    assert good.runs[0].bold and good.text.endswith("The school nurse followed up quickly")
    assert word.sections[0].header.paragraphs[0].text == f"{services.directory.name} · 7-minute briefing"
    assert word.core_properties.title == styled[0][1]
    everything = read_office(stored.content, DOCX, what="briefing")
    assert not any("{{" in text or "{%" in text or "}}" in text for _, text in everything.passages)


def test_a_partnership_s_own_template_is_used_and_a_field_it_does_not_have_is_refused(
        make_services: ServicesFactory, engine_documents: FakeEngineDocuments, tmp_path: Path) -> None:
    own = tmp_path / "templates"
    own.mkdir()
    document = docx.Document()
    document.add_paragraph("{{ partnership }} briefing, draft {{ version }}", style="Title")
    document.add_paragraph("{{p body }}")
    document.save(own / "seven_minute_briefing.docx")
    services = make_services()
    services.templates.folder = own
    seven_minute_briefing.handle(task_for(seven_minute_briefing, LEARNING), services)
    [stored] = engine_documents.of_kind("seven_minute_briefing_docx")
    word = docx.Document(io.BytesIO(stored.content))
    assert word.paragraphs[0].text == f"{services.directory.name} briefing, draft 1"
    document.add_paragraph("Signed {{ chair_name }}")
    document.save(own / "seven_minute_briefing.docx")
    with pytest.raises(Incident, match=r"seven_minute_briefing.docx: UndefinedError: 'chair_name' is undefined"):
        seven_minute_briefing.handle(task_for(seven_minute_briefing, LEARNING, activity_instance_id="draft:9"),
                                     services)


def test_variables_cannot_inject_markup(services: Services, engine_documents: FakeEngineDocuments) -> None:
    values = {**LEARNING, "learning_points": ["<script>alert(1)</script> & more"]}
    seven_minute_briefing.handle(task_for(seven_minute_briefing, values), services)
    [page] = engine_documents.of_kind("seven_minute_briefing_html")
    assert "<script>" not in page.content.decode() and "&lt;script&gt;" in page.content.decode()


def test_a_redraft_is_a_new_numbered_draft_and_a_retry_is_not(services: Services,
                                                              engine_documents: FakeEngineDocuments) -> None:
    seven_minute_briefing.handle(task_for(seven_minute_briefing, LEARNING, activity_instance_id="draft:1"), services)
    seven_minute_briefing.handle(task_for(seven_minute_briefing, LEARNING, activity_instance_id="draft:1"), services)
    redraft = seven_minute_briefing.handle(
        task_for(seven_minute_briefing, {**LEARNING, "briefing_changes": "Shorter"}, activity_instance_id="draft:2"),
        services)
    assert redraft.variables["briefing_version"] == 2
    assert len(engine_documents.of_kind("seven_minute_briefing_html")) == 2
    first, second = engine_documents.of_kind("seven_minute_briefing_html")
    assert first.filename != second.filename


def test_what_will_be_published_has_no_case_reference_draft_number_or_agency_id(
        services: Services, engine_documents: FakeEngineDocuments) -> None:
    """The HTML and Markdown drafts are what the website gets: agencies by the names the directory gives
    them, and nothing internal (the draft number is the case's briefing_version)."""
    variables = {**LEARNING, "agencies": ["Health", "school", "A local charity"]}
    seven_minute_briefing.handle(task_for(seven_minute_briefing, variables), services)
    seven_minute_briefing.handle(task_for(seven_minute_briefing, variables, activity_instance_id="draft:2"), services)
    for kind in ("seven_minute_briefing_html", "seven_minute_briefing_md"):
        for stored in engine_documents.of_kind(kind):
            text = stored.content.decode()
            assert "NB-TEST-7" not in text and "NB-TEST-1" not in text
            assert not re.search(r"\bdraft\b|\bversion \d", text, re.IGNORECASE), kind
            assert "Northbridge ICB" in text and "Northbridge Academy" in text and "A local charity" in text
