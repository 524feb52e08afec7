"""Small Word, OpenDocument and Excel files built in the tests with the libraries the workers read them
with (python-docx, docxcompose, odfpy, openpyxl), each hiding a text in one place."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from typing import Any

import docx
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.packuri import PackURI
from docx.opc.part import Part
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls

# a 1x1 transparent PNG
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAA"
                       "AABJRU5ErkJggg==")
W_DATE = 'w:author="Reviewer" w:date="2026-01-05T10:00:00Z"'


def _notes(document: Any, kind: str, text: str) -> None:
    """A footnote or endnote (python-docx has no API for them: the part is added through its package)."""
    tag = "footnote" if kind == "footnotes" else "endnote"
    xml = (f"<w:{kind} {nsdecls('w')}><w:{tag} w:id=\"1\"><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:{tag}>"
           f"</w:{kind}>")
    part = Part(PackURI(f"/word/{kind}.xml"),
                f"application/vnd.openxmlformats-officedocument.wordprocessingml.{kind}+xml", xml.encode(),
                document.part.package)
    document.part.relate_to(part, RT.FOOTNOTES if kind == "footnotes" else RT.ENDNOTES)
    run = document.paragraphs[-1].add_run()
    run._r.append(parse_xml(f'<w:{tag}Reference {nsdecls("w")} w:id="1"/>'))


def _embedded(document: Any, filename: str) -> None:
    part = Part(PackURI(f"/word/embeddings/{filename}"), "application/pdf", b"%PDF-1.7\n%%EOF\n",
                document.part.package)
    document.part.relate_to(part, RT.PACKAGE)


def _custom_property(document: Any, text: str) -> bytes:
    from docxcompose.properties import CustomProperties

    out = io.BytesIO()
    document.save(out)
    reopened = docx.Document(io.BytesIO(out.getvalue()))
    CustomProperties(reopened).add("Subject of the review", text)
    out = io.BytesIO()
    reopened.save(out)
    return out.getvalue()


def _picture(document: Any, alt: str) -> None:
    shape = document.add_picture(io.BytesIO(PNG))
    shape._inline.docPr.set("descr", alt)


DOCX_PLACES: dict[str, Callable[[Any, str], Any]] = {
    "body": lambda d, t: d.add_paragraph(f"The review heard from {t}'s teacher."),
    "header": lambda d, t: setattr(d.sections[0].header.paragraphs[0], "text", f"Prepared about {t}"),
    "footer": lambda d, t: setattr(d.sections[0].footer.paragraphs[0], "text", f"Family of {t}"),
    "first-page header": lambda d, t: (setattr(d.sections[0], "different_first_page_header_footer", True),
                                       setattr(d.sections[0].first_page_header.paragraphs[0], "text", t)),
    "footnote": lambda d, t: _notes(d, "footnotes", f"Source: interview with {t}"),
    "endnote": lambda d, t: _notes(d, "endnotes", f"See the letter from {t}"),
    "comment": lambda d, t: d.add_comment(d.paragraphs[1].runs, text=f"Should this say {t}?", author="Reviewer"),
    "tracked insertion": lambda d, t: d.paragraphs[1]._p.append(parse_xml(
        f'<w:ins {nsdecls("w")} w:id="7" {W_DATE}><w:r><w:t xml:space="preserve"> {t}</w:t></w:r></w:ins>')),
    "tracked deletion": lambda d, t: d.paragraphs[1]._p.append(parse_xml(
        f'<w:del {nsdecls("w")} w:id="8" {W_DATE}><w:r><w:delText>{t}</w:delText></w:r></w:del>')),
    "core properties (author)": lambda d, t: setattr(d.core_properties, "author", t),
    "core properties (title)": lambda d, t: setattr(d.core_properties, "title", f"Review: {t}"),
    "alt text": lambda d, t: _picture(d, f"Photograph of {t}"),
    "embedded file name": lambda d, t: _embedded(d, t.replace(" ", "_") + "_statement.pdf"),
    "hidden text": lambda d, t: setattr(d.add_paragraph().add_run(t).font, "hidden", True),
}


def docx_file(place: str | None = None, text: str = "", *, heading: str = "Findings about Child X") -> bytes:
    """A short report (a heading and a paragraph) with `text` hidden only in `place` (DOCX_PLACES or
    "custom property")."""
    document = docx.Document()
    document.add_heading(heading, 1)
    document.add_paragraph("The review found delays in sharing information.")
    document.core_properties.author = "Business unit"
    if place == "custom property":
        return _custom_property(document, text)
    if place is not None:
        DOCX_PLACES[place](document, text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def odt_file(place: str | None = None, text: str = "") -> bytes:
    """The same short report as an OpenDocument text, with `text` hidden only in `place` (ODT_PLACES)."""
    from odf import dc, draw, meta, office, style, svg
    from odf import text as t
    from odf.opendocument import OpenDocumentText

    document = OpenDocumentText()
    document.text.addElement(t.H(outlinelevel=1, text="Findings about Child X"))
    paragraph = t.P(text="The review found delays in sharing information.")
    document.text.addElement(paragraph)
    layout = style.PageLayout(name="pm1")
    document.automaticstyles.addElement(layout)
    master = style.MasterPage(name="Standard", pagelayoutname=layout)
    document.masterstyles.addElement(master)

    def region(kind: Any) -> None:
        changes = t.TrackedChanges()
        changed = t.ChangedRegion(qattributes={("http://www.w3.org/XML/1998/namespace", "id"): "ct1"})
        change = kind()
        info = office.ChangeInfo()
        info.addElement(dc.Creator(text="Reviewer"))
        info.addElement(dc.Date(text="2026-01-05T10:00:00"))
        change.addElement(info)
        if kind is t.Deletion:
            change.addElement(t.P(text=text))
        changed.addElement(change)
        changes.addElement(changed)
        document.text.insertBefore(changes, document.text.childNodes[0])
        if kind is t.Deletion:
            paragraph.addElement(t.Change(changeid="ct1"))
        else:
            paragraph.addElement(t.ChangeStart(changeid="ct1"))
            paragraph.addText(f" {text}")
            paragraph.addElement(t.ChangeEnd(changeid="ct1"))

    def note(kind: str) -> None:
        n = t.Note(id="n1", noteclass=kind)
        n.addElement(t.NoteCitation(text="1"))
        body = t.NoteBody()
        body.addElement(t.P(text=f"Source: {text}"))
        n.addElement(body)
        paragraph.addElement(n)

    def header_footer(kind: Any) -> None:
        part = kind()
        part.addElement(t.P(text=text))
        master.addElement(part)

    def comment() -> None:
        annotation = office.Annotation()
        annotation.addElement(dc.Creator(text="Reviewer"))
        annotation.addElement(t.P(text=f"Should this say {text}?"))
        paragraph.addElement(annotation)

    def picture(name: str, alt: str) -> None:
        href = document.addPicture(f"Pictures/{name}", "image/png", PNG)
        frame = draw.Frame(width="1cm", height="1cm", anchortype="as-char")
        frame.addElement(draw.Image(href=href))
        if alt:
            frame.addElement(svg.Desc(text=alt))
        paragraph.addElement(frame)

    places: dict[str, Callable[[], Any]] = {
        "body": lambda: document.text.addElement(t.P(text=f"The review heard from {text}'s teacher.")),
        "header": lambda: header_footer(style.Header),
        "footer": lambda: header_footer(style.Footer),
        "footnote": lambda: note("footnote"),
        "endnote": lambda: note("endnote"),
        "comment": comment,
        "tracked insertion": lambda: region(t.Insertion),
        "tracked deletion": lambda: region(t.Deletion),
        "core properties (author)": lambda: document.meta.addElement(dc.Creator(text=text)),
        "core properties (title)": lambda: document.meta.addElement(dc.Title(text=f"Review: {text}")),
        "custom property": lambda: document.meta.addElement(meta.UserDefined(name="Subject", valuetype="string",
                                                                               text=text)),
        "alt text": lambda: picture("photo.png", f"Photograph of {text}"),
        "embedded file name": lambda: picture(text.replace(" ", "_") + ".png", ""),
    }
    if place is not None:
        places[place]()
    out = io.BytesIO()
    document.write(out)
    return out.getvalue()


ODT_PLACES = ("body", "header", "footer", "footnote", "endnote", "comment", "tracked insertion", "tracked deletion",
              "core properties (author)", "core properties (title)", "custom property", "alt text",
              "embedded file name")
