"""Text helpers shared by the services and handlers: whole-word name search, HTML to text."""

from __future__ import annotations

import re
from collections.abc import Iterable
from html.parser import HTMLParser

__all__ = ["contains_any_name", "html_to_markdown", "html_to_text", "names_found"]


def _pattern(name: str) -> re.Pattern[str] | None:
    words = name.split()
    if not words:
        return None
    body = r"[\s\u00a0]+".join(re.escape(w) for w in words)  # any run of spaces between the words
    return re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE)


def names_found(text: str, names: Iterable[str]) -> list[str]:
    """The names of `names` that occur in `text` as whole words, ignoring case (for the caller only:
    never put them in a message)."""
    found = []
    for name in names:
        pattern = _pattern(name) if isinstance(name, str) else None
        if pattern is not None and pattern.search(text):
            found.append(name)
    return found


def contains_any_name(texts: Iterable[str], names: Iterable[str]) -> bool:
    wanted = [n for n in names if isinstance(n, str) and n.strip()]
    return any(names_found(text, wanted) for text in texts)


_BLOCK = {"p", "div", "section", "article", "header", "footer", "main", "br", "li", "tr", "h1", "h2", "h3", "h4",
          "h5", "h6", "table", "ul", "ol", "blockquote", "pre", "hr", "td", "th", "dt", "dd", "title"}
_SKIP = {"script", "style", "template"}


class _Text(HTMLParser):
    """Text of an HTML document, with block elements on their own lines; attributes that people
    read (alt, title) kept too; optional Markdown marks for headings and list items."""

    def __init__(self, markdown: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.markdown = markdown
        self.out: list[str] = []
        self.skip = 0
        self.in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip += 1
        if tag in _BLOCK:
            self.out.append("\n")
        if self.markdown and not self.skip:
            if re.fullmatch(r"h[1-6]", tag):
                self.out.append("#" * int(tag[1]) + " ")
            elif tag == "li":
                self.out.append("- ")
        for name, value in attrs:
            if name in ("alt", "title") and value:
                self.out.append(f" {value} ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP and self.skip:
            self.skip -= 1
        if tag in _BLOCK:
            self.out.append("\n\n" if self.markdown and tag in {"p", "h1", "h2", "h3", "h4", "ul", "ol"} else "\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.out.append(data)

    def text(self) -> str:
        lines = [" ".join(line.split()) for line in "".join(self.out).splitlines()]
        text = "\n".join(lines)
        return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def html_to_text(source: str) -> str:
    """The readable text of an HTML document (also alt and title attributes)."""
    parser = _Text(markdown=False)
    parser.feed(source)
    parser.close()
    return parser.text()


def html_to_markdown(source: str) -> str:
    """A plain Markdown rendering of an HTML document: headings, paragraphs and list items."""
    parser = _Text(markdown=True)
    parser.feed(source)
    parser.close()
    return parser.text()
