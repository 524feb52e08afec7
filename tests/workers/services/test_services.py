"""Services: built from the worker's settings and the directory; the documents client speaks the engine's
worker endpoints with the worker's credentials; pages and calendars are well formed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.workers.services.fakes import ENVIRONMENT, TOKEN, FakeEngineDocuments, FakeWebsite, write_directory
from workers.runtime import WorkerSettings
from workers.services import (
    Documents,
    DocumentUnreadable,
    Meeting,
    NeedsAttention,
    Page,
    Rejected,
    Services,
    Website,
    calendar,
    load_directory,
    markdown_to_html,
    services_for,
)


def test_services_are_built_from_the_worker_settings_and_the_directory_file(
        tmp_path: Path, engine_documents: FakeEngineDocuments, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_directory(tmp_path)
    monkeypatch.setenv("REVIEWFLOW_WORKER_DIRECTORY", str(path))
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    settings = WorkerSettings(engine_url=engine_documents.engine_url, token="Bearer " + TOKEN)
    services = Services.from_settings(settings)
    try:
        assert services.directory.source == path
        doc = engine_documents.add("a,b\n", filename="c.csv", content_type="text/csv", kind="chronology")
        assert services.documents.read("task-9", doc) == (b"a,b\n", "text/csv")
        assert engine_documents.requests[-1].headers["authorization"] == f"Bearer {TOKEN}"
        assert services_for(services) is services
    finally:
        services.close()


def test_wrong_credentials_for_documents_need_a_person(engine_documents: FakeEngineDocuments) -> None:
    documents = Documents(engine_documents.engine_url, token="wrong")
    with pytest.raises(NeedsAttention, match="HTTP 401"):
        documents.list("task-1")
    documents.close()


def test_documents_are_added_once_by_kind_and_name(engine_documents: FakeEngineDocuments) -> None:
    documents = Documents(engine_documents.engine_url, token=TOKEN)
    first = documents.add("task-1", filename="x-1.md", content=b"# one", content_type="text/markdown", kind="letter")
    again = documents.add("task-1", filename="x-1.md", content=b"# one", content_type="text/markdown", kind="letter")
    assert first == again and len(engine_documents.documents) == 1
    assert engine_documents.documents[first].content == b"# one"
    with pytest.raises(DocumentUnreadable, match="document missing is not among"):
        documents.read("task-1", "missing")
    documents.close()


def test_a_website_that_refuses_a_page_is_an_incident(tmp_path: Path) -> None:
    website = FakeWebsite()
    website.start()
    try:
        directory = load_directory(write_directory(tmp_path, website_url=website.url + "/elsewhere"),
                                   environ=ENVIRONMENT)
        client = Website(directory.publishing, directory.site, partnership=directory.name)
        page = Page(slug="learning/x", title="T", html="<html></html>", markdown="", published_on="2026-01-01",
                    review_due_on="2027-01-01")
        with pytest.raises(Rejected, match="HTTP 400"):
            client.publish(page, idempotency_key="k")
        client.close()
    finally:
        website.stop()


def test_calendar_lines_are_folded_and_text_escaped() -> None:
    start = datetime(2026, 3, 2, 10, tzinfo=UTC)
    raw = calendar([Meeting(uid="u1@reviewflow", start=start, end=start + timedelta(hours=2),
                            summary="Panel; case NB-1, meeting " + "é" * 60, description="Line one\nline two")],
                   organizer="unit@scp.example", stamp=start).decode()
    lines = raw.split("\r\n")
    assert all(len(line.encode()) <= 75 for line in lines)
    unfolded = raw.replace("\r\n ", "")
    assert "SUMMARY:Panel\\; case NB-1\\, meeting " + "é" * 60 in unfolded
    assert "DESCRIPTION:Line one\\nline two" in unfolded
    assert "DTSTART:20260302T100000Z" in unfolded and "DTSTAMP:20260302T100000Z" in unfolded


def test_markdown_is_rendered_and_escaped() -> None:
    html = markdown_to_html("# Title <b>\n\nText with **bold** and [a link](https://x.example/?a=1&b=2).\n\n"
                            "- one\n- two\n\n1. first\n2. second\n\n[bad](javascript:alert(1))")
    assert "<h1>Title &lt;b&gt;</h1>" in html
    assert '<strong>bold</strong> and <a href="https://x.example/?a=1&amp;b=2">a link</a>' in html
    assert "<ul>\n<li>one</li>\n<li>two</li>\n</ul>" in html and "<ol>\n<li>first</li>" in html
    assert '<a href="javascript' not in html


def test_handlers_given_no_services_build_the_process_s_own_once(
        tmp_path: Path, engine_documents: FakeEngineDocuments, monkeypatch: pytest.MonkeyPatch) -> None:
    import workers.services._services as module

    monkeypatch.setattr(module, "_default", None)
    monkeypatch.setenv("REVIEWFLOW_WORKER_DIRECTORY", str(write_directory(tmp_path)))
    monkeypatch.setenv("REVIEWFLOW_WORKER_ENGINE_URL", engine_documents.engine_url)
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    first = services_for(None)
    try:
        assert services_for(None) is first
        assert first.directory.source == tmp_path / "partnership.toml"
    finally:
        first.close()
    with pytest.raises(TypeError):
        services_for(object())
