"""Publication: refused with CONFIDENTIAL_NAME_FOUND while a confidential name remains (and nothing is
published); otherwise on the website or in the site folder, with a review date a year on."""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import docx
import pytest

import timekeeping
from tests.workers.handlers.conftest import ServicesFactory, task_for
from tests.workers.office_files import DOCX_PLACES, ODT_PLACES, docx_file, odt_file
from tests.workers.services.fakes import FakeEngineDocuments, FakeWebsite
from workers.handlers import publication
from workers.runtime import BpmnError, Incident
from workers.services import Services, read_office

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


@pytest.mark.parametrize("text", [REPORT + "\nPartnership reference NB-TEST-1; draft 3.\n",
                                  REPORT + "\nCase nb test 1 was reviewed.\n"])
def test_a_page_carrying_the_internal_case_reference_is_not_published(
        make_services: ServicesFactory, engine_documents: FakeEngineDocuments, website: FakeWebsite, text: str) -> None:
    """Whatever the sub-group or the reviewer uploaded, the case's internal reference never reaches the
    website: publication stops and the business unit records a redacted version."""
    services = make_services(website_url=website.pages_url)
    briefing = engine_documents.add(text, filename="briefing.md", content_type="text/markdown", kind="briefing")
    with pytest.raises(BpmnError) as raised:
        publish(services, {"case_reference": "NB-TEST-1", "briefing_document_id": briefing,
                           "confidential_names": NAMES}, "seven_minute_briefing", "publish_briefing:t1")
    assert raised.value.code == "CONFIDENTIAL_NAME_FOUND"
    assert "internal reference" in str(raised.value) and "NB-TEST-1" not in str(raised.value)
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


HIDING_PLACES = [(publication.DOCX, place) for place in [*DOCX_PLACES, "custom property"]] + [
    (publication.ODT, place) for place in ODT_PLACES]


@pytest.mark.parametrize(("kind", "place"), HIDING_PLACES,
                         ids=[f"{'docx' if k == publication.DOCX else 'odt'}-{p}" for k, p in HIDING_PLACES])
def test_a_name_hidden_anywhere_in_an_office_file_is_found_and_publication_refused(
        make_services: ServicesFactory, engine_documents: FakeEngineDocuments, website: FakeWebsite,
        caplog: pytest.LogCaptureFixture, kind: str, place: str) -> None:
    services = make_services(website_url=website.pages_url)
    build = docx_file if kind == publication.DOCX else odt_file
    name = "Jayden Smith"
    document = engine_documents.add(build(place, name), filename="r.docx" if kind == publication.DOCX else "r.odt",
                                    content_type=kind)
    with caplog.at_level(logging.DEBUG), pytest.raises(BpmnError) as raised:
        publish(services, variables(document))
    assert raised.value.code == "CONFIDENTIAL_NAME_FOUND"
    check = raised.value.variables["publication_check"]
    assert check["confidential_name_found_in"], place                        # it says where ...
    assert check["confidential_name_found_in"][0] in str(raised.value)
    for text in (str(raised.value), json.dumps(check), caplog.text):         # ... never what
        assert "jayden" not in text.lower() and "smith" not in text.lower()
    assert website.requests == [] and website.publications == {}


@pytest.mark.parametrize("build", [docx_file, odt_file], ids=["docx", "odt"])
def test_the_same_file_without_the_name_is_published(make_services: ServicesFactory,
                                                     engine_documents: FakeEngineDocuments, website: FakeWebsite,
                                                     build: Callable[..., bytes]) -> None:
    services = make_services(website_url=website.pages_url)
    kind = publication.DOCX if build is docx_file else publication.ODT
    document = engine_documents.add(build(), filename="r.docx" if build is docx_file else "r.odt",
                                    content_type=kind)
    result = publish(services, variables(document))
    [page] = website.publications.values()
    assert "<h1>Findings about Child X</h1>" in page["html"] and "delays in sharing" in page["html"]
    assert result["published_word_url"] == f"{result['published_url'].rstrip('/')}/lcspr-report.docx"
    [file] = page["files"]                                          # the Word version goes with the page
    assert (file["filename"], file["content_type"]) == ("lcspr-report.docx", publication.DOCX)
    word = docx.Document(io.BytesIO(base64.b64decode(file["content_base64"])))
    assert "Findings about Child X" in [p.text for p in word.paragraphs]
    assert 'href="lcspr-report.docx"' in page["html"]


@pytest.mark.parametrize(("kind", "place"), [(publication.DOCX, "comment"), (publication.DOCX, "tracked insertion"),
                                             (publication.DOCX, "tracked deletion"), (publication.ODT, "comment"),
                                             (publication.ODT, "tracked insertion"),
                                             (publication.ODT, "tracked deletion")])
def test_a_document_with_tracked_changes_or_comments_is_refused_whatever_they_say(
        make_services: ServicesFactory, engine_documents: FakeEngineDocuments, website: FakeWebsite, kind: str,
        place: str) -> None:
    services = make_services(website_url=website.pages_url)
    build = docx_file if kind == publication.DOCX else odt_file
    document = engine_documents.add(build(place, "a harmless remark"), filename="r.docx" if kind == publication.DOCX
                                    else "r.odt", content_type=kind)
    with pytest.raises(BpmnError, match="tracked changes or comments") as raised:
        publish(services, variables(document))
    check = raised.value.variables["publication_check"]
    assert check["confidential_name_found_in"] == [] and check["tracked_changes_or_comments"]
    assert website.publications == {}


def test_the_published_word_version_is_made_from_the_template_and_reads_back(
        services: Services, engine_documents: FakeEngineDocuments) -> None:
    document = report(engine_documents, REPORT + "\n| Agency | Action |\n|---|---|\n| Police | Train staff |\n")
    result = publish(services, variables(document))
    site: Path = services.directory.site
    [folder] = [p.parent for p in site.rglob("index.html") if p.parent != site]
    word = docx.Document(folder / "lcspr-report.docx")
    assert result["published_word_url"].endswith("/lcspr-report.docx")
    assert 'href="lcspr-report.docx"' in (folder / "index.html").read_text()
    styled = [(p.style.name, p.text) for p in word.paragraphs if p.text.strip()]
    assert styled[0] == ("Title", "Local Child Safeguarding Practice Review")
    assert ("Heading 1", "Local Child Safeguarding Practice Review: Child X") in styled
    assert ("Heading 2", "Findings") in styled and ("Heading 2", "Improvements") in styled
    assert ("List Number", "Share information about risks at home promptly.") in styled
    assert [[c.text for c in row.cells] for row in word.tables[0].rows] == [["Agency", "Action"],
                                                                            ["Police", "Train staff"]]
    assert "29 February 2028" in styled[1][1] and "28 February 2029" in styled[1][1]
    assert word.sections[0].header.paragraphs[0].text == services.directory.name
    assert word.core_properties.author == services.directory.name
    everything = read_office((folder / "lcspr-report.docx").read_bytes(), publication.DOCX, what="w")
    assert not any("{{" in text or "{%" in text for _, text in everything.passages)     # no placeholder left
    assert not everything.revisions and not everything.comments


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
