"""Word documents made from the partnership's own templates (docxtpl): reports, terms of reference and
7-minute briefings, alongside their HTML.

A template is an ordinary `.docx` the partnership designs in Word — logo, fonts, headers and footers,
the styles `Title`, `Heading 1`–`3`, `List Bullet`, `List Number` — with Jinja tags where the
content goes: `{{ title }}`, `{{ partnership }}`, `{{p body }}` (the whole text, set in the template's
styles) and the fields each document adds (docs/documents.md lists them). Templates are looked for
in the directory's `[documents] templates` folder, then among the defaults in `bpmn/templates/`.

Rendering is sandboxed (a template cannot reach Python objects), values are XML-escaped, and a tag
naming a field the document does not have is an error — so no placeholder is ever left in a
document, and none is silently blank.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from markdown_it import MarkdownIt
from markdown_it.token import Token

import timekeeping
from workers.services._errors import NeedsAttention

__all__ = ["BUILT_IN_TEMPLATES", "DOCX", "TEMPLATES", "Templates"]

log = logging.getLogger(__name__)

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
BUILT_IN_TEMPLATES = Path(__file__).resolve().parents[2] / "bpmn" / "templates"
TEMPLATES = {
    "report.docx": "a published LCSPR report (or the improvements to be made)",
    "seven_minute_briefing.docx": "a 7-minute briefing",
    "terms_of_reference.docx": "an LCSPR's terms of reference",
}

_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")


class Templates:
    """The partnership's Word templates: `folder` first, then the built-in defaults."""

    def __init__(self, folder: Path | None = None, *, built_in: Path = BUILT_IN_TEMPLATES) -> None:
        self.folder = folder
        self.built_in = built_in

    def path(self, name: str) -> Path:
        """Raises: NeedsAttention when neither folder has the template."""
        for folder in (self.folder, self.built_in):
            if folder is not None and (folder / name).is_file():
                return folder / name
        raise NeedsAttention(f"no Word template {name} in {self.folder or self.built_in}; copy it from "
                             "bpmn/templates/ (docs/documents.md)")

    def render(self, name: str, *, markdown: str, context: Mapping[str, Any]) -> bytes:
        """The template `name` filled with `context` and, as `body`, the Markdown set in its styles.

        Raises: NeedsAttention when the template is missing, broken, or names a field that is not in
        `context` (the message names the template and the field, never a value).
        """
        from docxtpl import DocxTemplate

        path = self.path(name)
        try:
            template = DocxTemplate(path)
            body = template.new_subdoc()
            _markdown_into(body, markdown)
            env = SandboxedEnvironment(autoescape=True, undefined=StrictUndefined)
            template.render({**context, "body": body}, jinja_env=env, autoescape=True)
            properties = template.docx.core_properties     # the document's own, not the template's
            properties.author = properties.last_modified_by = str(context.get("partnership", ""))
            properties.title = str(context.get("title", ""))
            properties.subject = properties.keywords = properties.comments = properties.category = ""
            properties.revision = 1
            properties.created = properties.modified = timekeeping.now()
            out = io.BytesIO()
            template.save(out)
        except TemplateError as exc:
            raise NeedsAttention(f"Word template {path}: {type(exc).__name__}: {exc.message or ''}".strip()) from exc
        except Exception as exc:                        # a file that is not a .docx, a broken package
            raise NeedsAttention(f"Word template {path} cannot be used ({type(exc).__name__}); replace it with "
                                 "a .docx saved by Word") from exc
        return out.getvalue()


def _style(document: Any, *names: str) -> str | None:
    """The first of `names` the template defines (a partnership's template may lack some)."""
    defined = {s.name for s in document.styles}
    return next((n for n in names if n in defined), None)


def _runs(paragraph: Any, inline: Token) -> None:
    bold = italic = 0
    link: str | None = None
    for child in inline.children or []:
        if child.type in ("text", "code_inline"):
            if not child.content:
                continue
            run = paragraph.add_run(child.content)
            run.bold, run.italic = bold > 0 or None, italic > 0 or None
        elif child.type in ("softbreak", "hardbreak"):
            paragraph.add_run(" ")
        elif child.type == "strong_open":
            bold += 1
        elif child.type == "strong_close":
            bold -= 1
        elif child.type == "em_open":
            italic += 1
        elif child.type == "em_close":
            italic -= 1
        elif child.type == "link_open":
            link = str(child.attrGet("href") or "")
        elif child.type == "link_close":
            shown = "".join(r.text for r in paragraph.runs)
            if link and link.removeprefix("mailto:") not in shown:
                paragraph.add_run(f" ({link.removeprefix('mailto:')})")
            link = None


def _markdown_into(document: Any, markdown: str) -> None:
    """Add the Markdown's blocks to `document` (a python-docx document or docxtpl subdoc), in its styles."""
    tokens = _MARKDOWN.parse(markdown)
    lists: list[str] = []
    heading = 0
    table: list[list[Token]] | None = None
    for token in tokens:
        if token.type in ("bullet_list_open", "ordered_list_open"):
            lists.append("bullet" if token.type == "bullet_list_open" else "number")
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif token.type == "heading_open":
            heading = int(token.tag[1])
        elif token.type == "heading_close":
            heading = 0
        elif token.type == "table_open":
            table = []
        elif token.type == "tr_open" and table is not None:
            table.append([])
        elif token.type == "table_close" and table:
            width = max(len(r) for r in table)
            grid = document.add_table(rows=len(table), cols=width)
            if style := _style(document, "Table Grid"):
                grid.style = style
            for r, row in enumerate(table):
                for c, cell in enumerate(row):
                    _runs(grid.cell(r, c).paragraphs[0], cell)
                    if r == 0:
                        for run in grid.cell(r, c).paragraphs[0].runs:
                            run.bold = True
            table = None
        elif token.type == "inline":
            if table is not None:
                table[-1].append(token)
            elif heading:
                style = _style(document, f"Heading {heading}", "Heading 1")
                _runs(document.add_paragraph(style=style), token)
            elif lists:
                depth = "" if len(lists) == 1 else f" {min(len(lists), 3)}"
                name = "List Bullet" if lists[-1] == "bullet" else "List Number"
                style = _style(document, f"{name}{depth}", name)
                paragraph = document.add_paragraph(style=style)
                if style is None:
                    paragraph.add_run("• " if lists[-1] == "bullet" else "")
                _runs(paragraph, token)
            else:
                _runs(document.add_paragraph(), token)
