"""Publish the final report (or the improvements) or the 7-minute briefing on the partnership website,
as a web page and a Word document, available for at least a year.

The service task's `document` property says which: `final_report` (publishes `final_report_id`, or
`improvements_document_id` when the partners chose `improvements_only`) or `seven_minute_briefing`
(publishes `briefing_document_id`); `redacted_document_id`, once a redaction is recorded, is
published instead. HTML, Markdown, plain text, Word (.docx) and OpenDocument (.odt) documents can be
published; a PDF cannot be checked for names and is refused with an incident.

Before anything is published the whole document is read — for Word and OpenDocument files every
part: body, headers and footers, footnotes and endnotes, comments, tracked insertions and
deletions, properties, alt text, embedded files' names (workers.services._office) — and searched
for each of the case's `confidential_names`, ignoring case and diacritics, in hyphenated or spaced
forms and possessives, and for the internal case reference and the directory's agency ids (a
published page names neither). A name found, or a Word/OpenDocument file that still has tracked changes or
comments, stops publication with BPMN error CONFIDENTIAL_NAME_FOUND, which the diagrams catch to
have the document redacted. The error — and `publication_check`, set on the case for the person who
redacts — says where (part and paragraph), never the name. Nothing is published while a name remains.

The page is set from the checked text (never the uploaded file itself, whose hidden parts would go
with it), and the Word version is made from the partnership's template (`report.docx` or
`seven_minute_briefing.docx`) and checked again. Both go to the configured website, or by default to
the site folder that `reviewflow serve` publishes at /site/, under an address without the case reference.

With the property `step` = `check` the document is only read and checked (the publication block checks
the version before it goes to the National Panel, and again when it publishes it).

Expects: case_reference, confidential_names, the document id (above), publication_scope (final report).
Returns: published_url, published_word_url, published_on (today), review_due_on (12 calendar months later).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import timedelta

import timekeeping
from workers.handlers._case import chosen, plain_date
from workers.runtime import BpmnError, Complete, ExternalTask, Incident
from workers.services import (
    DOCX,
    ODT,
    Page,
    PageFile,
    Services,
    clean_html,
    digest,
    html_page,
    html_to_markdown,
    html_to_text,
    markdown_to_html,
    places_naming,
    read_office,
    services_for,
)

TOPIC = "publication"
LOCK = timedelta(minutes=2)

CONFIDENTIAL_NAME_FOUND = "CONFIDENTIAL_NAME_FOUND"
AVAILABLE_MONTHS = 12
DOCUMENTS = ("final_report", "seven_minute_briefing")
TEMPLATES = {"final_report": "report.docx", "seven_minute_briefing": "seven_minute_briefing.docx"}


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
    markdown: str                               # the text to publish
    body: str                                   # ... as HTML (cleaned)
    passages: tuple[tuple[str, str], ...]       # (where, text): everything that must be free of names
    unfinished: tuple[str, ...] = ()            # where tracked changes and comments are


def handle(task: ExternalTask[Input], services: Services | None) -> Complete:
    s = services_for(services)
    document = chosen(task, "document", DOCUMENTS)
    document_id = which_document(document, task.input)
    title = page_title(document, task.input.publication_scope)
    content, content_type = s.documents.read(task.id, document_id)
    readable = readable_document(content, content_type, document_id=document_id)
    refuse_unless_clean(task, document_id, readable.passages, readable.unfinished)
    refuse_internal_references(task, s, document_id, readable.passages)
    if task.extension_properties.get("step") == "check":      # the check before the copy goes to the Panel
        task.logger.info("%s checked: no confidential name", document, extra={"document_id": document_id})
        return Complete(publication_check=None)

    published_on = timekeeping.to_date(timekeeping.today())
    review_due_on = timekeeping.to_date(timekeeping.calendar_months_after(published_on, AVAILABLE_MONTHS))
    kind = {"final_report": "lcspr-report", "seven_minute_briefing": "seven-minute-briefing"}[document]
    if document == "final_report" and task.input.publication_scope == "improvements_only":
        kind = "lcspr-improvements"
    section = "reviews" if document == "final_report" else "learning"
    word = s.templates.render(TEMPLATES[document], markdown=readable.markdown, context={
        "title": title, "partnership": s.directory.name, "published_on": plain_date(published_on),
        "review_due_on": plain_date(review_due_on), "date": plain_date(published_on)})
    office = read_office(word, DOCX, what=f"the Word version of document {document_id}")
    refuse_unless_clean(task, document_id, tuple(office.passages), ())       # the template adds text too
    task.extend_lock()
    # stable for the case (a republication replaces the page), unguessable from its reference
    token = digest(task.process_instance_id or "", task.input.case_reference, length=12)
    download = f"{kind}.docx"
    link = (f'<p class="meta"><a href="{download}">Download this {html.escape(title)} as a Word document '
            f"(.docx, {max(len(word) // 1024, 1)} KB)</a></p>\n")
    page = Page(slug=f"{section}/{kind}-{token}", title=title,
                html=html_page(title=title, body=link + readable.body, partnership=s.directory.name),
                markdown=readable.markdown, published_on=published_on.isoformat(),
                review_due_on=review_due_on.isoformat(), files=(PageFile(download, DOCX, word),))
    url = s.website.publish(page, idempotency_key=task.activity_instance_id)
    task.logger.info("%s published", document, extra={"document_id": document_id, "slug": page.slug})
    return Complete(published_url=url, published_word_url=f"{url.rstrip('/')}/{download}",
                    published_on=published_on.isoformat(), review_due_on=review_due_on.isoformat(),
                    publication_check=None)


def refuse_unless_clean(task: ExternalTask[Input], document_id: str, passages: tuple[tuple[str, str], ...],
                        unfinished: tuple[str, ...]) -> None:
    """Raises: BpmnError CONFIDENTIAL_NAME_FOUND when a confidential name is in any passage, or the
    document still has tracked changes or comments — saying where, never the name."""
    places = places_naming(passages, task.input.confidential_names)
    if not places and not unfinished:
        return
    reasons = []
    if places:
        reasons.append(f"a name on the case's confidential list is in {_list(places)}")
    if unfinished:
        reasons.append(f"it still has tracked changes or comments ({_list(unfinished)}): accept or reject every "
                       "change and delete the comments")
    _refuse(task, document_id, reasons, confidential_name_found_in=places,
            tracked_changes_or_comments=list(unfinished))


def _refuse(task: ExternalTask[Input], document_id: str, reasons: list[str], **where: list[str]) -> None:
    """Raises: BpmnError CONFIDENTIAL_NAME_FOUND with publication_check saying where (never what)."""
    message = f"document {document_id} cannot be published: {'; and '.join(reasons)}. Record a redacted document."
    task.logger.warning("publication stopped", extra={"document_id": document_id,
                                                      **{k: len(v) for k, v in where.items()}})
    raise BpmnError(CONFIDENTIAL_NAME_FOUND, message, publication_check={
        "document_id": document_id, "confidential_name_found_in": [], "tracked_changes_or_comments": [],
        **where, "message": message})


def refuse_internal_references(task: ExternalTask[Input], s: Services, document_id: str,
                               passages: tuple[tuple[str, str], ...]) -> None:
    """Raises: BpmnError CONFIDENTIAL_NAME_FOUND when the document carries the case's internal reference
    (or its business key) or an agency's id from the partnership directory: a published page names
    neither. Says where, never what."""
    references = [r for r in (task.input.case_reference, task.business_key) if r]
    places = places_naming(passages, references)
    # an id exactly as the directory writes it (northbridge-council), never the agency's name in words
    ids = [re.compile(rf"(?<![\w-]){re.escape(a.id)}(?![\w-])", re.IGNORECASE)
           for a in s.directory.agencies if "-" in a.id or "_" in a.id]
    id_places = list(dict.fromkeys(where for where, text in passages if text and any(i.search(text) for i in ids)))
    if not places and not id_places:
        return
    reasons = []
    if places:
        reasons.append(f"the case's internal reference is in {_list(places)}")
    if id_places:
        reasons.append(f"an agency's internal id is in {_list(id_places)}: name the agency instead")
    _refuse(task, document_id, reasons, internal_reference_found_in=list(dict.fromkeys(places + id_places)))


def _list(places: list[str] | tuple[str, ...], limit: int = 12) -> str:
    shown = "; ".join(places[:limit])
    return shown + (f"; and {len(places) - limit} more places" if len(places) > limit else "")


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


def _paragraphs(text: str, label: str = "paragraph") -> list[tuple[str, str]]:
    return [(f"{label} {n}", p) for n, p in enumerate((p for p in re.split(r"\n\s*\n", text) if p.strip()), 1)]


def readable_document(content: bytes, content_type: str, *, document_id: str) -> Readable:
    """The text to publish and the passages to check, from a stored document.

    Raises: Incident when the document is of a type whose text cannot be read and checked.
    """
    if content_type in ("text/html", "text/markdown", "text/plain"):
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise Incident(f"document {document_id} is not UTF-8 text; it cannot be checked for names") from None
        if content_type == "text/html":
            body = clean_html(text)
            markdown = html_to_markdown(body)
            return Readable(markdown, body, (*_paragraphs(html_to_text(text)),
                                             ("the page's markup (attributes, alt text, hidden parts)",
                                              html.unescape(text)), *_paragraphs(markdown)))
        if content_type == "text/plain":
            blocks = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
            markdown = "\n\n".join(p.replace("\n", " ") for p in blocks)
            body = "\n".join(f"<p>{html.escape(p)}</p>" for p in blocks)
            return Readable(markdown, body, tuple(_paragraphs(text)))
        return Readable(text, markdown_to_html(text), tuple(_paragraphs(text)))
    if content_type in (DOCX, ODT):
        office = read_office(content, content_type, what=f"document {document_id}")
        markdown = "\n\n".join(office.body) + "\n"
        return Readable(markdown, markdown_to_html(markdown), tuple(office.passages),
                        tuple(office.revisions + office.comments))
    raise Incident(f"document {document_id} is {content_type or 'of an unknown type'}, whose text cannot be checked "
                   "for confidential names; publish it as HTML, Markdown, text, .docx or .odt (e.g. record it as "
                   "the redacted document)")
