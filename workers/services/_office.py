"""Word (.docx) and OpenDocument (.odt) files read whole, for the confidential-name check before
publication: every place a name can hide, each labelled by where it is — never by what it says.

A `.docx` is opened by python-docx; every part its relationships reach is read: the body, headers
and footers, footnotes and endnotes, comments, tracked insertions *and deletions*, field codes,
hidden text, text boxes, alt text and titles of pictures and shapes, bookmark and content-control
names, document variables, core, extended and custom properties, custom XML, the names (and, for
Office files and OLE packages, the contents) of embedded objects, and link addresses. An `.odt` is
opened by odfpy, with the same places in ODF terms (annotations, `text:tracked-changes`, master-page
headers and footers, `meta.xml`, `svg:title`/`svg:desc`, the package's other files).

Revisions (tracked changes) and comments are reported apart: a document that has them is not
final, whatever they say.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from workers.services._errors import DocumentUnreadable

__all__ = ["DOCX", "ODT", "XLSX", "OfficeText", "read_office"]

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ODT = "application/vnd.oasis.opendocument.text"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships/metadata/"
_REVISIONS = {"ins", "del", "moveFrom", "moveTo", "rPrChange", "pPrChange", "sectPrChange", "tblPrChange",
              "trPrChange", "tcPrChange", "tblGridChange", "numberingChange", "cellIns", "cellDel", "cellMerge"}
_STORIES = {"officeDocument": "body", "header": "header", "footer": "footer", "footnotes": "footnotes",
            "endnotes": "endnotes", "comments": "comments", "glossaryDocument": "building blocks"}
_PROPERTIES = {_PKG_REL + "core-properties": "document properties", _REL + "extended-properties":
               "application properties", _REL + "custom-properties": "custom properties"}
# attributes that carry words a person wrote: alt text, titles, names, tooltips, authors, field values
_TEXT_ATTRIBUTES = {"descr", "title", "alt", "tooltip", "author", "initials", "string-value", "label"}
_NAMED = {"docPr", "cNvPr", "bookmarkStart", "docVar", "bookmark", "bookmark-start", "user-defined",
          "user-field-decl", "variable-decl", "frame", "object", "image", "a", "section", "table"}
_VAL_ELEMENTS = {"alias", "tag", "docVar", "name", "helpText", "statusText", "default", "listEntry"}
_MAX_DEPTH = 3                          # embedded documents inside embedded documents, and no further


@dataclass
class OfficeText:
    """What a document says, and where. `passages` are (where, text) pairs covering every place above;
    `body` is the main text as Markdown (headings marked) for the page; `revisions` and `comments` list
    where tracked changes and comments are."""

    passages: list[tuple[str, str]] = field(default_factory=list)
    body: list[str] = field(default_factory=list)
    revisions: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)

    def add(self, where: str, text: str | None) -> None:
        if text and text.strip():
            self.passages.append((where, text))

    def include(self, inner: OfficeText, prefix: str) -> None:
        self.passages += [(f"{prefix}: {where}", text) for where, text in inner.passages]
        self.revisions += [f"{prefix}: {where}" for where in inner.revisions]
        self.comments += [f"{prefix}: {where}" for where in inner.comments]


def read_office(content: bytes, content_type: str, *, what: str, depth: int = 0) -> OfficeText:
    """Everything a .docx or .odt file says, by place (see the module's docstring).

    Raises: DocumentUnreadable naming `what` when the file is not a readable document of its type.
    """
    if content_type == DOCX:
        return _read_docx(content, what, depth)
    if content_type == ODT:
        return _read_odt(content, what, depth)
    raise DocumentUnreadable(f"{what} is {content_type or 'of an unknown type'}, not a Word or OpenDocument file")


# -- Word ------------------------------------------------------------------------------------------


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _paragraph_texts(p: Any) -> tuple[str, str]:
    """(the paragraph as it reads with its tracked changes accepted, every word in it: deleted text, field
    codes), not descending into paragraphs nested in it (text boxes: read on their own)."""
    accepted: list[str] = []
    everything: list[str] = []

    def walk(el: Any, deleted: bool) -> None:
        for child in el:
            name = _local(child.tag)
            if name == "p" and child.tag == f"{{{_W}}}p":
                continue
            if name in ("del", "moveFrom"):
                walk(child, True)
            elif name == "t":
                everything.append(child.text or "")
                if not deleted:
                    accepted.append(child.text or "")
            elif name in ("delText", "instrText", "delInstrText"):
                everything.append(f" {child.text or ''} ")
            elif name in ("tab", "br", "cr"):
                everything.append(" ")
                if not deleted:
                    accepted.append(" ")
            elif name == "noBreakHyphen":
                everything.append("-")
                if not deleted:
                    accepted.append("-")
            else:
                walk(child, deleted)

    walk(p, False)
    return "".join(accepted), "".join(everything)


def _attributes(el: Any) -> Iterator[tuple[str, str]]:
    """(kind, value) of the attributes of `el` that hold words a person wrote."""
    name = _local(el.tag)
    for key, value in el.attrib.items():
        attribute = _local(key)
        if attribute in _TEXT_ATTRIBUTES or (attribute == "name" and name in _NAMED) or (
                attribute == "val" and name in _VAL_ELEMENTS) or (attribute == "href" and name in _NAMED):
            yield attribute, unquote(value)


def _story(root: Any, label: str, out: OfficeText) -> None:
    paragraphs = 0
    for el in root.iter():
        name = _local(el.tag)
        if el.tag == f"{{{_W}}}p":
            paragraphs += 1
            accepted, everything = _paragraph_texts(el)
            where = f"{label}, paragraph {paragraphs}"
            out.add(where, accepted)
            if everything != accepted:
                out.add(f"{where} (deleted text or field code)", everything)
        elif name in _REVISIONS and el.tag.startswith(f"{{{_W}}}"):
            where = f"{label}, paragraph {max(paragraphs, 1)}"
            if where not in out.revisions:
                out.revisions.append(where)
        elif name in ("comment", "commentReference", "commentRangeStart") and el.tag.startswith(f"{{{_W}}}"):
            where = label if name == "comment" else f"{label}, paragraph {max(paragraphs, 1)}"
            if where not in out.comments:
                out.comments.append(where)
        for attribute, value in _attributes(el):
            kind = {"descr": "alt text", "title": "title", "alt": "alt text", "tooltip": "link tooltip",
                    "author": "author of a change or comment", "initials": "initials"}.get(attribute, "name")
            out.add(f"{label}, paragraph {max(paragraphs, 1)}: {kind}", value)


def _properties(root: Any, label: str, out: OfficeText) -> None:
    for n, el in enumerate(root, 1):
        if _local(el.tag) == "property":            # custom properties: the name is the person's too
            out.add(f"{label}: property {n}", " | ".join([el.get("name") or "", " ".join(el.itertext())]))
        else:
            out.add(f"{label}: {_local(el.tag)}", " ".join(el.itertext()))


def _everything(root: Any, label: str, out: OfficeText) -> None:
    """Parts without a known shape (custom XML, settings): every text node and person-written attribute."""
    out.add(label, " | ".join(t.strip() for t in root.itertext() if t.strip()))
    out.add(f"{label}: attributes", " | ".join(v for el in root.iter() for _, v in _attributes(el)))


def _strings(blob: bytes) -> str:
    """Readable runs in a binary (an OLE object holds the original file name and often its text)."""
    ascii_runs = re.findall(rb"[\x20-\x7e\xa0-\xff]{4,}", blob)
    utf16_runs = re.findall(rb"(?:[\x20-\x7e\xa0-\xff]\x00){4,}", blob)
    return " | ".join([r.decode("latin-1") for r in ascii_runs] + [r.decode("utf-16-le") for r in utf16_runs])


def _embedded(blob: bytes, where: str, out: OfficeText, depth: int) -> None:
    if blob.startswith(b"PK\x03\x04") and depth < _MAX_DEPTH:
        inner = _sniff_package(blob)
        if inner in (DOCX, ODT):
            out.include(read_office(blob, inner, what=where, depth=depth + 1), where)
            return
        if inner == XLSX:
            out.include(_read_xlsx_text(blob, where), where)
            return
    out.add(f"{where}: contents", _strings(blob))


def _sniff_package(blob: bytes) -> str | None:
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as z:
            names = set(z.namelist())
            if "mimetype" in names:
                return z.read("mimetype").decode("ascii", "replace").strip()
    except (zipfile.BadZipFile, OSError, KeyError):
        return None
    if "word/document.xml" in names:
        return DOCX
    if "xl/workbook.xml" in names:
        return XLSX
    return None


def _read_xlsx_text(blob: bytes, what: str) -> OfficeText:
    import openpyxl

    out = OfficeText()
    try:
        book = openpyxl.load_workbook(io.BytesIO(blob), read_only=True, data_only=True)
    except Exception:                                    # noqa: BLE001 — any failure: read it as bytes
        out.add("contents", _strings(blob))
        return out
    try:
        for n, sheet in enumerate(book.worksheets, 1):
            out.add(f"sheet {n}: name", sheet.title)
            for r, row in enumerate(sheet.iter_rows(values_only=True), 1):
                out.add(f"sheet {n}, row {r}", " | ".join(str(v) for v in row if v is not None))
    finally:
        book.close()
    return out


def _read_docx(content: bytes, what: str, depth: int) -> OfficeText:
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.oxml import parse_xml

    try:
        document = docx.Document(io.BytesIO(content))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise DocumentUnreadable(f"{what} is not a readable Word (.docx) file") from exc
    except Exception as exc:                             # lxml's XMLSyntaxError and the like
        raise DocumentUnreadable(f"{what} is not a readable Word (.docx) file ({type(exc).__name__})") from exc
    out = OfficeText()
    package = document.part.package
    counts: dict[str, int] = {}
    seen: set[int] = set()
    queue: list[tuple[Any, str]] = [(rel, "") for rel in package.rels.values()]
    while queue:
        rel, parent = queue.pop(0)
        kind = rel.reltype.rsplit("/", 1)[-1]
        if rel.is_external:
            counts["link"] = counts.get("link", 0) + 1
            out.add(f"{parent or 'package'}: link {counts['link']} address", unquote(rel.target_ref))
            continue
        part = rel.target_part
        if id(part) in seen:
            continue
        seen.add(id(part))
        counts[kind] = counts.get(kind, 0) + 1
        label = _STORIES.get(kind) or _PROPERTIES.get(rel.reltype) or kind
        if kind in ("header", "footer") or (kind not in _STORIES and rel.reltype not in _PROPERTIES):
            label = f"{label} {counts[kind]}"
        queue += [(r, label) for r in part.rels.values()]
        if kind in ("oleObject", "package", "image", "embeddings") or "/embeddings/" in str(part.partname):
            counts["embedded"] = counts.get("embedded", 0) + 1
            where = f"{'picture' if kind == 'image' else 'embedded object'} {counts['embedded']}"
            out.add(f"{where}: file name", str(part.partname).rsplit("/", 1)[-1])
            if kind != "image":
                _embedded(part.blob, where, out, depth)
            continue
        if not part.content_type.endswith("xml"):
            out.add(f"{label}: contents", _strings(part.blob))
            continue
        try:
            root = parse_xml(part.blob)
        except Exception as exc:                         # lxml's XMLSyntaxError
            raise DocumentUnreadable(f"{what}: its {label} is not well-formed") from exc
        if kind in _STORIES:
            _story(root, label, out)
        elif rel.reltype in _PROPERTIES:
            _properties(root, label, out)
        else:
            _everything(root, label, out)
    style_names = {s.style_id: s.name or "" for s in document.styles}      # python-docx resolves each slowly
    for block in document.iter_inner_content():
        if hasattr(block, "rows"):
            out.body += _table_markdown([[c.text for c in row.cells] for row in block.rows])
        else:
            style = style_names.get(block._p.style or "", "")
            level = re.match(r"(?:Heading (\d)|Title)$", style)
            text = block.text.strip()
            mark = "#" * int(level.group(1) or 1) + " " if level else ""
            if style.startswith("List Bullet") or (not mark and block._p.pPr is not None
                                                    and block._p.pPr.numPr is not None):
                mark = "- "
            elif style.startswith("List Number"):
                mark = "1. "
            if text:
                out.body.append(mark + markdown_text(text))
    return out


# -- OpenDocument ----------------------------------------------------------------------------------

_TEXT_NS = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_CONTEXTS = {"note": "note", "annotation": "comment", "tracked-changes": "tracked changes",
             "header": "header", "footer": "footer", "header-left": "header (left pages)",
             "footer-left": "footer (left pages)", "header-first": "header (first page)",
             "footer-first": "footer (first page)"}


_ASIDE = {"note", "annotation", "desc", "title", "tracked-changes"}    # read as places of their own


def _odf_text(node: Any) -> str:
    """The words of an ODF element, spaces and tabs included (text:s, text:tab, line breaks); notes,
    comments and alt text in it are left out (they are places of their own)."""
    out: list[str] = []

    def walk(n: Any) -> None:
        for child in n.childNodes:
            if child.nodeType == child.TEXT_NODE:
                out.append(str(child.data))
            elif child.nodeType == child.ELEMENT_NODE:
                local = child.qname[1]
                if local == "s":
                    out.append(" " * int(child.getAttribute("c") or 1) if child.qname[0] == _TEXT_NS else " ")
                elif local in ("tab", "line-break"):
                    out.append(" ")
                elif local not in _ASIDE:
                    walk(child)
    walk(node)
    return "".join(out)


def _odf_part(root: Any, label: str, out: OfficeText, body: list[str] | None) -> None:
    counters: dict[str, int] = {}

    def walk(node: Any, context: str, paragraphs: list[int]) -> None:
        for child in node.childNodes:
            if child.nodeType != child.ELEMENT_NODE:
                continue
            ns, local = child.qname
            here = context
            if local in _CONTEXTS and ns != "urn:oasis:names:tc:opendocument:xmlns:office:1.0" or local == "annotation":
                counters[local] = counters.get(local, 0) + 1
                kind = _CONTEXTS[local]
                if local == "note":
                    kind = "endnote" if child.getAttribute("noteclass") == "endnote" else "footnote"
                here = f"{label}, {kind} {counters[local]}"
                if local == "annotation":
                    out.comments.append(here)
                if local == "tracked-changes" and child.childNodes:
                    out.revisions.append(here)
                walk(child, here, [0])
                continue
            if local in ("change", "change-start") and ns == _TEXT_NS:
                where = f"{context}, paragraph {max(paragraphs[0], 1)}"
                if where not in out.revisions:
                    out.revisions.append(where)
            for (_, attribute), value in child.attributes.items():
                if attribute in _TEXT_ATTRIBUTES or (attribute in ("name", "href") and local in _NAMED):
                    out.add(f"{context}, paragraph {max(paragraphs[0], 1)}: {attribute}", unquote(str(value)))
            if local in ("p", "h") and ns == _TEXT_NS:
                paragraphs[0] += 1
                where = f"{context}, paragraph {paragraphs[0]}"
                text = _odf_text(child)
                out.add(where, text)
                if body is not None and context == label and text.strip():
                    level = int(child.getAttribute("outlinelevel") or 1) if local == "h" else 0
                    body.append(("#" * min(level, 6) + " " if level else "") + markdown_text(text.strip()))
                walk(child, context, paragraphs)   # notes and comments inside the paragraph
            elif local in ("title", "desc") and ns.endswith(":svg-compatible:1.0"):
                out.add(f"{context}, paragraph {max(paragraphs[0], 1)}: {'alt text' if local == 'desc' else 'title'}",
                        _odf_text(child))
            else:
                walk(child, context, paragraphs)

    walk(root, label, [0])


def _read_odt(content: bytes, what: str, depth: int) -> OfficeText:
    from odf.opendocument import load

    try:
        document = load(io.BytesIO(content))
    except Exception as exc:                             # zipfile, SAX and odfpy's own errors
        raise DocumentUnreadable(f"{what} is not a readable OpenDocument (.odt) file "
                                 f"({type(exc).__name__})") from exc
    out = OfficeText()
    _odf_part(document.body, "body", out, out.body)
    _odf_part(document.masterstyles, "page style", out, None)
    for n, el in enumerate(document.meta.childNodes, 1):
        if el.nodeType == el.ELEMENT_NODE:
            name = el.qname[1]
            if name == "user-defined":
                out.add(f"document properties: property {n}", f"{el.getAttribute('name')} | {_odf_text(el)}")
            else:
                out.add(f"document properties: {name}", _odf_text(el))
    _odf_part(document.settings, "settings", out, None)
    everything = out
    for n, href in enumerate(sorted(document.Pictures), 1):
        everything.add(f"picture {n}: file name", href.rsplit("/", 1)[-1])
    objects = [*document.childobjects, *document._extra]
    for n, obj in enumerate(objects, 1):
        where = f"embedded object {n}"
        name = getattr(obj, "folder", None) or getattr(obj, "filename", "")
        everything.add(f"{where}: file name", str(name).rsplit("/", 1)[-1])
        if hasattr(obj, "body") and depth < _MAX_DEPTH:          # an embedded ODF document
            inner = OfficeText()
            _odf_part(obj.body, "body", inner, None)
            everything.include(inner, where)
        elif getattr(obj, "content", None):
            _embedded(obj.content, where, everything, depth)
    return everything


# -- Markdown --------------------------------------------------------------------------------------


def markdown_text(text: str) -> str:
    """`text` as Markdown that reads as the same text: characters Markdown would act on are escaped."""
    text = re.sub(r"([\\`*_\[\]<>|~])", r"\\\1", " ".join(text.split()))
    return re.sub(r"^(#|[-+>]|\d+[.)])", r"\\\1", text)


def _table_markdown(rows: list[list[str]]) -> list[str]:
    if not rows:
        return []
    width = max(len(r) for r in rows)
    cells = [[markdown_text(c) for c in r] + [""] * (width - len(r)) for r in rows]
    return ["\n".join(["| " + " | ".join(cells[0]) + " |", "|" + "---|" * width,
                       *("| " + " | ".join(r) + " |" for r in cells[1:])])]
