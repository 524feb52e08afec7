"""Build the default Word templates in this folder (report, 7-minute briefing, terms of reference).

Partnerships replace these files with their own, designed in Word (docs/documents.md says which
fields each may use). To start again from the defaults:

    .venv/bin/python bpmn/templates/build_templates.py
"""

from __future__ import annotations

from pathlib import Path

import docx
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Pt, RGBColor

HERE = Path(__file__).resolve().parent


def _base(header: str, footer: str, marking: str = "") -> docx.document.Document:
    document = docx.Document()
    styles = document.styles
    styles["Normal"].font.name = "Arial"
    styles["Normal"].font.size = Pt(11)
    for name, size in (("Title", 24), ("Heading 1", 16), ("Heading 2", 13), ("Heading 3", 11)):
        styles[name].font.name = "Arial"
        styles[name].font.size = Pt(size)
        styles[name].font.color.rgb = RGBColor(0x1D, 0x40, 0x6E)
    section = document.sections[0]
    top = section.header.paragraphs[0]
    top.text = header
    if marking:
        run = section.header.add_paragraph().add_run(marking)
        run.bold = True
        section.header.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
    section.footer.paragraphs[0].text = footer
    section.footer.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
    document.core_properties.author = "Reviewflow"     # each document made from it gets its own (docs/documents.md)
    document.core_properties.title = ""
    document.core_properties.comments = ""
    package = document.part.package                 # python-docx's own default carries a thumbnail: not ours
    for key, rel in list(package.rels.items()):
        if rel.reltype.endswith("/thumbnail"):
            del package.rels[key]
    return document


def report() -> docx.document.Document:
    document = _base("{{ partnership }}", "{{ title }} · published {{ published_on }}")
    document.add_paragraph("{{ title }}", style="Title")
    document.add_paragraph("Published {{ published_on }} by {{ partnership }}. This report stays available until at "
                           "least {{ review_due_on }}.")
    document.add_paragraph("{{p body }}")
    return document


def seven_minute_briefing() -> docx.document.Document:
    document = _base("{{ partnership }} · 7-minute briefing", "{{ title }} · {{ date }}")
    document.add_paragraph("{{ title }}", style="Title")
    document.add_paragraph("{{p body }}")
    return document


def terms_of_reference() -> docx.document.Document:
    document = _base("{{ partnership }}", "Terms of reference · case {{ reference }} · {{ date }}",
                     marking="OFFICIAL-SENSITIVE: for the review only")
    document.add_paragraph("{{ title }}", style="Title")
    document.add_paragraph("Case {{ reference }}. Agreed by the LCSPR panel; recorded {{ date }}.")
    document.add_paragraph("{{p body }}")
    return document


if __name__ == "__main__":
    for name, build in (("report.docx", report), ("seven_minute_briefing.docx", seven_minute_briefing),
                        ("terms_of_reference.docx", terms_of_reference)):
        build().save(HERE / name)
        print(f"wrote {HERE / name}")
