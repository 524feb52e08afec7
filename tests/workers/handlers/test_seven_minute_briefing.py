"""The 7-minute briefing: seven sections from the recorded learning, as HTML and Markdown documents."""

from __future__ import annotations

import re

from tests.workers.handlers.conftest import task_for
from tests.workers.services.fakes import FakeEngineDocuments
from workers.handlers import seven_minute_briefing
from workers.services import BRIEFING_SECTIONS, Services

LEARNING = {"case_reference": "NB-TEST-7", "learning_points": ["Ask about every adult in the household",
                                                               "Share concerns about missed appointments"],
            "good_practice": "The school nurse followed up quickly", "audiences": ["Health visitors", "GPs"],
            "incident_type": "serious_harm", "agencies": ["Health", "Education"]}


def test_the_briefing_has_seven_sections_from_the_recorded_learning(
        services: Services, engine_documents: FakeEngineDocuments) -> None:
    result = seven_minute_briefing.handle(task_for(seven_minute_briefing, LEARNING), services)
    [page] = engine_documents.of_kind("seven_minute_briefing_html")
    [markdown] = engine_documents.of_kind("seven_minute_briefing_md")
    assert result.variables == {"briefing_document_id": page.id, "briefing_markdown_id": markdown.id,
                                "briefing_version": 1}
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
    assert "draft 2." in engine_documents.documents[redraft.variables["briefing_markdown_id"]].content.decode()
