"""Services: built from the worker's settings and the directory; the documents client speaks the engine's
worker endpoints with the worker's credentials; pages and calendars are well formed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
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
    clean_html,
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


def test_a_calendar_reads_back_whole_in_london_time_with_its_time_zone() -> None:
    start = datetime(2026, 3, 30, 9, tzinfo=UTC)                       # 10:00 BST, the day after the change
    summary = "Panel; case NB-1, meeting " + "é" * 60
    raw = calendar([Meeting(uid="u1@reviewflow", start=start, end=start + timedelta(hours=2), summary=summary,
                            description="Line one\nline two", location="Room 2, Civic Centre")],
                   organizer="unit@scp.example", attendees=["a@x.example", "b@x.example"], stamp=start)
    assert all(len(line) <= 75 for line in raw.split(b"\r\n"))            # folded by octets
    parsed = icalendar.Calendar.from_ical(raw)
    assert str(parsed["METHOD"]) == "REQUEST"
    [event] = parsed.walk("VEVENT")
    assert str(event["SUMMARY"]) == summary and str(event["DESCRIPTION"]) == "Line one\nline two"
    assert str(event["LOCATION"]) == "Room 2, Civic Centre" and str(event["UID"]) == "u1@reviewflow"
    assert [str(a) for a in event["ATTENDEE"]] == ["mailto:a@x.example", "mailto:b@x.example"]
    assert event["DTSTART"].params["TZID"] == "Europe/London"
    assert event.decoded("DTSTART").replace(tzinfo=None) == datetime(2026, 3, 30, 10)
    assert event.decoded("DTSTART").astimezone(UTC) == start
    # the VTIMEZONE it carries agrees with the tz database, hour by hour, for years to come
    zone = parsed.walk("VTIMEZONE")[0].to_tz()
    london = ZoneInfo("Europe/London")
    moment = datetime(2024, 1, 1)
    while moment < datetime(2036, 1, 1):
        assert zone.utcoffset(moment) == london.utcoffset(moment), moment
        moment += timedelta(hours=1)
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar([Meeting(uid="u", start=datetime(2026, 1, 1, 10), end=datetime(2026, 1, 1, 11), summary="x")],
                 organizer="unit@scp.example")


def test_markdown_is_rendered_and_cleaned() -> None:
    html = markdown_to_html("# Title <b>\n\nText with **bold** and [a link](https://x.example/?a=1&b=2).\n\n"
                            "- one\n- two\n\n1. first\n2. second\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
                            "[bad](javascript:alert(1)) <script>alert(2)</script> <img src=x onerror=alert(3)>")
    assert "<h1>Title &lt;b&gt;</h1>" in html
    assert '<strong>bold</strong> and <a href="https://x.example/?a=1&amp;b=2" rel="noopener noreferrer">a link</a>' \
        in html
    assert "<ul>\n<li>one</li>\n<li>two</li>\n</ul>" in html and "<ol>\n<li>first</li>" in html
    assert "<td>1</td>" in html                                          # tables
    assert "javascript" not in html.split("[bad]")[0] and '<a href="javascript' not in html
    assert "<script>" not in html and "<img" not in html                # raw HTML is text, not markup


def test_uploaded_html_is_cleaned_of_anything_active() -> None:
    page = clean_html('<h2 onclick="x()">Findings</h2><script>steal()</script><style>p{}</style>'
                      '<a href="javascript:alert(1)">a</a><a href="/site/x">b</a><iframe src="https://x"></iframe>'
                      '<img src="https://x.example/p.png" alt="Photo">')
    assert page.startswith("<h2>Findings</h2>")
    assert "script" not in page and "style" not in page and "iframe" not in page and "onclick" not in page
    assert "javascript" not in page and 'href="/site/x"' in page and 'alt="Photo"' in page


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
