"""Publication: refused with CONFIDENTIAL_NAME_FOUND while a confidential name remains (and nothing is
published); otherwise on the website or in the site folder, with a review date a year on."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import timekeeping
from tests.workers.handlers.conftest import ServicesFactory, task_for
from tests.workers.services.fakes import FakeEngineDocuments, FakeWebsite
from workers.handlers import publication
from workers.runtime import BpmnError, Incident
from workers.services import Services

NAMES = ["Jayden Smith", "Kerry-Ann Smith", "Ann"]
REPORT = """# Local Child Safeguarding Practice Review: Child X

## Findings

Child X was known to several agencies. The annual review of the plan was late.

## Improvements

1. Share information about risks at home promptly.
"""


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    timekeeping.clock.freeze(datetime(2028, 2, 29, 12, tzinfo=UTC))
    yield
    timekeeping.clock.reset()


def report(docs: FakeEngineDocuments, text: str = REPORT, content_type: str = "text/markdown",
           filename: str = "final.md") -> str:
    return docs.add(text, filename=filename, content_type=content_type, kind="final_report")


def variables(document_id: str, **more: object) -> dict[str, object]:
    return {"case_reference": "NB-TEST-1", "final_report_id": document_id, "publication_scope": "full_report",
            "confidential_names": NAMES, **more}


def publish(services: Services, values: dict[str, object], document: str = "final_report",
            activity: str = "publish_report:t1") -> dict[str, object]:
    task = task_for(publication, values, properties={"document": document}, activity_instance_id=activity)
    return dict(publication.handle(task, services).variables)


@pytest.mark.parametrize("text", [
    REPORT + "\nJayden Smith's school raised concerns.\n",
    REPORT + "\nA note by JAYDEN   SMITH.\n",
    REPORT + "\nThe mother, Kerry-Ann\nSmith, was not told.\n",
    REPORT + "\nAnn attended.\n",
])
def test_a_confidential_name_stops_publication_and_nothing_is_published(
        make_services: ServicesFactory, engine_documents: FakeEngineDocuments, website: FakeWebsite, text: str) -> None:
    services = make_services(website_url=website.pages_url)
    with pytest.raises(BpmnError) as raised:
        publish(services, variables(report(engine_documents, text)))
    assert raised.value.code == "CONFIDENTIAL_NAME_FOUND"
    assert not any(name.lower() in str(raised.value).lower() for name in ("Jayden", "Kerry", "Smith"))
    assert website.requests == [] and website.publications == {}


def test_names_are_matched_as_whole_words_only(make_services: ServicesFactory, engine_documents: FakeEngineDocuments,
                                               website: FakeWebsite) -> None:
    services = make_services(website_url=website.pages_url)
    result = publish(services, variables(report(engine_documents, REPORT + "\nAnnual planning; Annabel; Smithson.\n")))
    assert result["published_url"].startswith("https://www.northbridgescp.example/reviews/lcspr-report-")


def test_a_name_hidden_in_html_markup_is_found(make_services: ServicesFactory, engine_documents: FakeEngineDocuments,
                                               website: FakeWebsite) -> None:
    services = make_services(website_url=website.pages_url)
    page = '<html><body><h1>Review</h1><img src="x.png" alt="Photo of Jayden Smith"></body></html>'
    with pytest.raises(BpmnError, match="CONFIDENTIAL_NAME_FOUND"):
        publish(services, variables(report(engine_documents, page, "text/html", "final.html")))
    assert website.publications == {}


def test_the_report_is_published_on_the_website_once_with_a_review_date_a_year_on(
        make_services: ServicesFactory, engine_documents: FakeEngineDocuments, website: FakeWebsite) -> None:
    services = make_services(website_url=website.pages_url)
    document = report(engine_documents)
    result = publish(services, variables(document))
    again = publish(services, variables(document))
    assert again == result
    assert result["published_on"] == "2028-02-29"
    assert result["review_due_on"] == "2029-02-28"                   # 12 calendar months, month-end clamped
    assert list(website.publications) == ["publish_report:t1"]      # both attempts used one idempotency key
    page = website.publications["publish_report:t1"]
    assert page["title"] == "Local Child Safeguarding Practice Review"
    assert "NB-TEST-1" not in page["slug"]
    assert "<h2>Improvements</h2>" in page["html"] and "<li>Share information" in page["html"]
    assert page["markdown"] == REPORT
    assert result["published_url"] == f"https://www.northbridgescp.example/{page['slug']}/"


def test_the_redacted_document_is_published_once_recorded(make_services: ServicesFactory,
                                                         engine_documents: FakeEngineDocuments,
                                                         website: FakeWebsite) -> None:
    services = make_services(website_url=website.pages_url)
    original = report(engine_documents, REPORT + "\nJayden Smith\n")
    redacted = report(engine_documents, REPORT + "\nChild X\n", filename="redacted.md")
    publish(services, variables(original, redacted_document_id=redacted))
    [page] = website.publications.values()
    assert "Child X" in page["markdown"] and "Jayden" not in page["markdown"]


def test_by_default_the_page_is_written_to_the_site_folder(services: Services,
                                                           engine_documents: FakeEngineDocuments) -> None:
    briefing = engine_documents.add("<!DOCTYPE html><html><head><title>7MB</title></head><body><h1>7-minute "
                                    "briefing</h1><ul><li>Listen to the child</li></ul></body></html>",
                                    filename="b.html", content_type="text/html", kind="seven_minute_briefing_html")
    values = {"case_reference": "NB-TEST-1", "briefing_document_id": briefing, "confidential_names": NAMES}
    result = publish(services, values, "seven_minute_briefing", "publish_briefing:t1")
    publish(services, values, "seven_minute_briefing", "publish_briefing:t1")
    site: Path = services.directory.site
    [folder] = [p.parent for p in site.rglob("index.html") if p.parent != site]
    slug = folder.relative_to(site).as_posix()
    assert slug.startswith("learning/seven-minute-briefing-")
    assert result["published_url"] == f"/site/{slug}/"
    assert "<li>Listen to the child</li>" in (folder / "index.html").read_text()
    assert "- Listen to the child" in (folder / "index.md").read_text()
    entries = json.loads((site / "publications.json").read_text())
    assert [e["slug"] for e in entries] == [slug]                      # published twice, listed once
    assert f'href="{slug}/"' in (site / "index.html").read_text()


def test_a_word_document_is_checked_in_every_part(make_services: ServicesFactory,
                                                 engine_documents: FakeEngineDocuments, website: FakeWebsite) -> None:
    services = make_services(website_url=website.pages_url)
    clean = docx("Findings about Child X", footer="Prepared by the business unit")
    named = docx("Findings about Child X", footer="Family of Jayden Smith")
    kind = publication.DOCX
    with pytest.raises(BpmnError, match="CONFIDENTIAL_NAME_FOUND"):
        publish(services, variables(engine_documents.add(named, filename="r.docx", content_type=kind)))
    result = publish(services, variables(engine_documents.add(clean, filename="r.docx", content_type=kind)),
                     activity="publish_report:t2")
    assert result["published_url"]
    [page] = website.publications.values()
    assert "<h2>Findings about Child X</h2>" in page["html"] and "business unit" not in page["html"]


def test_a_pdf_cannot_be_checked_and_is_not_published(make_services: ServicesFactory,
                                                      engine_documents: FakeEngineDocuments,
                                                      website: FakeWebsite) -> None:
    services = make_services(website_url=website.pages_url)
    pdf = engine_documents.add(b"%PDF-1.7\n...", filename="r.pdf", content_type="application/pdf")
    with pytest.raises(Incident, match="cannot be checked for confidential names"):
        publish(services, variables(pdf))
    assert website.requests == []


def test_improvements_only_never_publishes_the_full_report(make_services: ServicesFactory,
                                                            engine_documents: FakeEngineDocuments,
                                                            website: FakeWebsite) -> None:
    services = make_services(website_url=website.pages_url)
    full = report(engine_documents)
    with pytest.raises(Incident, match="improvements_document_id"):
        publish(services, variables(full, publication_scope="improvements_only"))
    improvements = report(engine_documents, "# Improvements\n\n- Share information.\n", filename="imp.md")
    publish(services, variables(full, publication_scope="improvements_only", improvements_document_id=improvements))
    [page] = website.publications.values()
    assert page["slug"].startswith("reviews/lcspr-improvements-") and "Findings" not in page["markdown"]


def docx(heading: str, *, footer: str) -> bytes:
    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    body = (f'<w:document {w}><w:body><w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>{heading}</w:t>'
            '</w:r></w:p><w:p><w:r><w:t>The review found </w:t></w:r><w:r><w:t>delays.</w:t></w:r></w:p>'
            '</w:body></w:document>')
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as package:
        package.writestr("[Content_Types].xml", "<Types/>")
        package.writestr("word/document.xml", body)
        package.writestr("word/footer1.xml", f"<w:ftr {w}><w:p><w:r><w:t>{footer}</w:t></w:r></w:p></w:ftr>")
    return out.getvalue()
