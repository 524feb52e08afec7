"""Draft the 7-minute briefing from the learning the sub-group recorded.

Seven sections — Background, The case, What we learned, Why it matters, What to do, Questions for
reflection, Further information (see `workers.services._briefing`) — built from the case's
variables: the `gather_learning` form's learning_points, good_practice and audiences, and the SIN's
incident_type, incident_summary and agencies (by the names the partnership directory gives them). The
HTML and Markdown are what will be published: they carry no internal case reference, draft number or
agency id (the draft number is the case's briefing_version; a partnership's own Word template may
print `reference` and `version` in its draft's header). Added to the case as HTML
(`seven_minute_briefing_html`, the one reviewed and published), Markdown (`seven_minute_briefing_md`)
and Word (`seven_minute_briefing_docx`, from the partnership's `seven_minute_briefing.docx` template,
for teams that print it or adapt it); each draft is numbered.

A redraft (`briefing_changes` set by the review) is generated again from the same variables: free-text
changes cannot be applied by a machine, so the sub-group's reviewers make them in the documents.

Expects: case_reference, learning_points, briefing_changes (when redrafting).
Returns: briefing_document_id (the HTML), briefing_markdown_id, briefing_word_id, briefing_version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import timekeeping
from workers.handlers._case import plain_date
from workers.runtime import Complete, ExternalTask
from workers.services import DOCX, Briefing, Services, digest, render_briefing, services_for

TOPIC = "seven-minute-briefing"
LOCK = timedelta(minutes=2)

HTML_KIND = "seven_minute_briefing_html"
MARKDOWN_KIND = "seven_minute_briefing_md"
WORD_KIND = "seven_minute_briefing_docx"


@dataclass(frozen=True)
class Input:
    case_reference: str
    learning_points: list[str]
    good_practice: str | None = None
    audiences: list[str] = field(default_factory=list)
    briefing_changes: str | None = None
    incident_type: str | None = None
    incident_summary: str | None = None
    agencies: list[str] = field(default_factory=list)


def handle(task: ExternalTask[Input], services: Services | None) -> Complete:
    s = services_for(services)
    i = task.input
    stem = f"seven-minute-briefing-{digest(task.activity_instance_id)}"
    earlier = [d for d in s.documents.list(task.id) if d.kind == HTML_KIND and not d.filename.startswith(stem)]
    version = len(earlier) + 1
    named = [(a.name if (a := s.directory.agency(name)) else name) for name in i.agencies]   # names, not ids
    markdown, page = render_briefing(Briefing(
        partnership=s.directory.name, case_reference=i.case_reference, learning_points=i.learning_points,
        good_practice=i.good_practice, audiences=i.audiences, incident_type=i.incident_type,
        incident_summary=i.incident_summary, agencies=list(dict.fromkeys(named)), website=s.directory.website,
        contact_email=s.directory.contact_email, version=version))
    markdown_id = s.documents.add(task.id, filename=f"{stem}.md", content=markdown.encode("utf-8"),
                                  content_type="text/markdown", kind=MARKDOWN_KIND)
    html_id = s.documents.add(task.id, filename=f"{stem}.html", content=page.encode("utf-8"),
                              content_type="text/html", kind=HTML_KIND)
    title, _, body = markdown.partition("\n")            # the template sets the title itself
    word = s.templates.render("seven_minute_briefing.docx", markdown=body, context={
        "title": title.removeprefix("# "), "partnership": s.directory.name, "reference": i.case_reference,
        "version": version, "date": plain_date(timekeeping.to_date(timekeeping.today()))})
    word_id = s.documents.add(task.id, filename=f"{stem}.docx", content=word, content_type=DOCX, kind=WORD_KIND)
    if i.briefing_changes:
        task.logger.info("briefing redrafted (version %d); the requested changes are for the reviewers to make",
                         version, extra={"document_id": html_id})
    else:
        task.logger.info("briefing drafted (version %d)", version, extra={"document_id": html_id})
    return Complete(briefing_document_id=html_id, briefing_markdown_id=markdown_id, briefing_word_id=word_id,
                    briefing_version=version)
