"""Publish the final report (or the improvements) or the 7-minute briefing on the partnership website,
available for at least a year.

The service task's `document` property says which: `final_report` (publishes `final_report_id`, or
`improvements_document_id` when the partners chose `improvements_only`) or `seven_minute_briefing`
(publishes `briefing_document_id`); `redacted_document_id`, once a redaction is recorded, is
published instead. HTML, Markdown, plain text, Word (.docx) and OpenDocument (.odt) documents can be
published; a PDF cannot be checked for names and is refused with an incident.

Before anything is published, every word of the document — and of the page made from it — is
searched for each of the case's `confidential_names` (whole words, any case). One found stops
publication with BPMN error CONFIDENTIAL_NAME_FOUND, which the diagrams catch to have the names
redacted; the error never repeats the name. Nothing is published while a name remains.

The page goes to the configured website, or by default to the site folder that `reviewflow serve`
publishes at /site/, under an address that does not carry the case reference.

Expects: case_reference, confidential_names, the document id (above), publication_scope (final report).
Returns: published_url, published_on (today), review_due_on (12 calendar months later).
"""

from __future__ import annotations

import html
import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import timedelta
from xml.etree import ElementTree

import timekeeping
from workers.handlers._case import chosen
from workers.runtime import BpmnError, Complete, ExternalTask, Incident
from workers.services import (
    Page,
    Services,
    digest,
    html_page,
    html_to_markdown,
    html_to_text,
    markdown_to_html,
    names_found,
    services_for,
)

TOPIC = "publication"
LOCK = timedelta(minutes=2)

CONFIDENTIAL_NAME_FOUND = "CONFIDENTIAL_NAME_FOUND"
AVAILABLE_MONTHS = 12
DOCUMENTS = ("final_report", "seven_minute_briefing")


@dataclass(frozen=True)
class Input:
    case_reference: str
    confidential_names: list[str] = field(default_factory=list)
    final_report_id: str | None = None
    briefing_document_id: str | None = None
    redacted_document_id: str | None = None
    improvements_document_id: str | None = None
    publication_scope: str | None = None


@dataclass(frozen=True)
class Readable:
    html: str                 # the page to publish (a whole document)
    markdown: str
    texts: tuple[str, ...]    # everything that must be free of confidential names


def handle(task: ExternalTask[Input], services: Services | None) -> Complete:
    s = services_for(services)
    document = chosen(task, "document", DOCUMENTS)
    document_id = which_document(document, task.input)
    title = page_title(document, task.input.publication_scope)
    content, content_type = s.documents.read(task.id, document_id)
    readable = readable_document(content, content_type, title=title, partnership=s.directory.name,
                                 document_id=document_id)
    if any(names_found(text, task.input.confidential_names) for text in readable.texts):
        task.logger.warning("publication stopped: a confidential name was found", extra={"document_id": document_id})
        raise BpmnError(CONFIDENTIAL_NAME_FOUND, f"document {document_id} contains a name on the case's "
                        "confidential list; redact it and record the redacted document")
    published_on = timekeeping.to_date(timekeeping.today())
    review_due_on = timekeeping.to_date(timekeeping.calendar_months_after(published_on, AVAILABLE_MONTHS))
    kind = {"final_report": "lcspr-report", "seven_minute_briefing": "seven-minute-briefing"}[document]
    if document == "final_report" and task.input.publication_scope == "improvements_only":
        kind = "lcspr-improvements"
    section = "reviews" if document == "final_report" else "learning"
    # stable for the case (a republication replaces the page), unguessable from its reference
    token = digest(task.process_instance_id or "", task.input.case_reference, length=12)
    page = Page(slug=f"{section}/{kind}-{token}", title=title,
                html=readable.html, markdown=readable.markdown, published_on=published_on.isoformat(),
                review_due_on=review_due_on.isoformat())
    url = s.website.publish(page, idempotency_key=task.activity_instance_id)
    task.logger.info("%s published", document, extra={"document_id": document_id, "slug": page.slug})
    return Complete(published_url=url, published_on=published_on.isoformat(), review_due_on=review_due_on.isoformat())


def which_document(document: str, i: Input) -> str:
    """The id of the document to publish. Raises: Incident when the case has none."""
    if i.redacted_document_id:
        return i.redacted_document_id
    if document == "seven_minute_briefing":
        if not i.briefing_document_id:
            raise Incident("nothing to publish: the case has no briefing_document_id")
        return i.briefing_document_id
    if i.publication_scope == "improvements_only":
        if not i.improvements_document_id:
            raise Incident("the partners chose to publish the improvements only, but the case has no "
                           "improvements_document_id (the document with the information about improvements); "
                           "the final report is not published in its place")
        return i.improvements_document_id
    if not i.final_report_id:
        raise Incident("nothing to publish: the case has no final_report_id")
    return i.final_report_id


def page_title(document: str, scope: str | None) -> str:
    if document == "seven_minute_briefing":
        return "7-minute briefing: learning from a Rapid Review"
    if scope == "improvements_only":
        return "Local Child Safeguarding Practice Review: the improvements to be made"
    return "Local Child Safeguarding Practice Review"


def readable_document(content: bytes, content_type: str, *, title: str, partnership: str,
                      document_id: str) -> Readable:
    """The page and the texts to check, from a stored document.

    Raises: Incident when the document is of a type whose text cannot be read and checked.
    """
    if content_type in ("text/html", "text/markdown", "text/plain"):
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise Incident(f"document {document_id} is not UTF-8 text; it cannot be checked for names") from None
        if content_type == "text/html":
            page = text if re.search(r"<html[\s>]", text, re.IGNORECASE) else html_page(
                title=title, body=text, partnership=partnership)
            markdown = html_to_markdown(page)
            return Readable(page, markdown, (html_to_text(page), html.unescape(page), markdown))
        if content_type == "text/plain":
            markdown = "\n\n".join(p.replace("\n", " ") for p in re.split(r"\n\s*\n", text))
            body = "\n".join(f"<p>{html.escape(p.strip())}</p>" for p in re.split(r"\n\s*\n", text) if p.strip())
        else:
            markdown, body = text, markdown_to_html(text)
        page = html_page(title=title, body=body, partnership=partnership)
        return Readable(page, markdown, (text, markdown, html_to_text(page), html.unescape(page)))
    if content_type in (DOCX, ODT):
        paragraphs, everything = _office_text(content, content_type, document_id)
        markdown = "\n\n".join(paragraphs)
        page = html_page(title=title, body=markdown_to_html(markdown), partnership=partnership)
        return Readable(page, markdown, (everything, markdown, html_to_text(page)))
    raise Incident(f"document {document_id} is {content_type or 'of an unknown type'}, whose text cannot be checked "
                   "for confidential names; publish it as HTML, Markdown, text, .docx or .odt (e.g. record it as "
                   "the redacted document)")


DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ODT = "application/vnd.oasis.opendocument.text"
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"


def _office_text(content: bytes, content_type: str, document_id: str) -> tuple[list[str], str]:
    """(the body's paragraphs as Markdown, the text of every part: headers, footnotes, comments)."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as package:
            parts = {n: package.read(n) for n in package.namelist()
                     if n.endswith(".xml") and package.getinfo(n).file_size < 50 * 1024 * 1024}
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise Incident(f"document {document_id} is not a readable {content_type.rsplit('.', 1)[-1]} file") from exc
    body_part = "word/document.xml" if content_type == DOCX else "content.xml"
    if body_part not in parts:
        raise Incident(f"document {document_id} has no {body_part}")
    everything: list[str] = []
    paragraphs: list[str] = []
    for name, data in parts.items():
        try:
            root = ElementTree.fromstring(data)
        except ElementTree.ParseError as exc:
            raise Incident(f"document {document_id}: part {name} is not well-formed XML") from exc
        everything.append(" ".join(t.strip() for t in root.itertext() if t.strip()))
        if name != body_part:
            continue
        if content_type == DOCX:
            for p in root.iter(f"{_W}p"):
                text = "".join(t.text or "" for t in p.iter(f"{_W}t")).strip()
                style = p.find(f"{_W}pPr/{_W}pStyle")
                level = (style.get(f"{_W}val", "") if style is not None else "").lower()
                if text:
                    paragraphs.append(("## " if level.startswith(("heading", "title")) else "") + text)
        else:
            for p in root.iter():
                if p.tag in (f"{_TEXT}p", f"{_TEXT}h"):
                    text = "".join(p.itertext()).strip()
                    if text:
                        paragraphs.append(("## " if p.tag == f"{_TEXT}h" else "") + text)
    return paragraphs, "\n".join(everything)

