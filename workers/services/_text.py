"""Text helpers shared by the services and handlers: the confidential-name search, HTML to text."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from html.parser import HTMLParser

__all__ = ["fold", "html_to_markdown", "html_to_text", "names_found", "places_naming"]


_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"), None)  # soft hyphen, zero widths
_SAME = str.maketrans({**dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d", "-"),
                       **dict.fromkeys("\u2018\u2019\u02bc\u2032\u00b4\uff07`", "'"),
                       "\u00a0": " ", "\u202f": " "})
_SEPARATOR = r"[\s_.'\-]*"          # between the parts of a name: spaces, hyphens, dots, underscores, or nothing


def fold(text: str) -> str:
    """`text` for name matching: no diacritics ("Zoë" is "zoe"), one kind of hyphen and apostrophe, no
    invisible characters (soft hyphens, zero-width spaces), a hyphen at a line end joined, case folded."""
    text = unicodedata.normalize("NFKD", text.translate(_INVISIBLE))
    text = "".join(c for c in text if not unicodedata.combining(c)).translate(_SAME)
    return re.sub(r"-[ \t]*\r?\n[ \t]*", "", text).casefold()


def _pattern(name: str) -> re.Pattern[str] | None:
    parts = [p for p in re.split(r"[\s_.'\-]+", fold(name)) if p]
    if not parts:
        return None
    body = _SEPARATOR.join(re.escape(p) for p in parts)
    # whole words only (a letter or digit on neither side), with a possessive: Jayden's, Jaydens', Jaydens
    return re.compile(rf"(?<![^\W_]){body}(?:s(?=')|s)?(?![^\W_])")


def names_found(text: str, names: Iterable[str]) -> list[str]:
    """The names of `names` that occur in `text` as whole words — ignoring case and diacritics, in any
    hyphenated or spaced form, possessives included (for the caller only: never put them in a message)."""
    folded = fold(text)
    found = []
    for name in names:
        pattern = _pattern(name) if isinstance(name, str) else None
        if pattern is not None and pattern.search(folded):
            found.append(name)
    return found


def places_naming(passages: Iterable[tuple[str, str]], names: Iterable[str]) -> list[str]:
    """Where (the first of each pair) any of `names` occurs in the text (the second), each place once, in
    order. The places say where, never what: they may go into messages and logs."""
    wanted = [p for p in (_pattern(n) for n in names if isinstance(n, str)) if p is not None]
    places: list[str] = []
    for where, text in passages:
        if where not in places and text:
            folded = fold(text)
            if any(p.search(folded) for p in wanted):
                places.append(where)
    return places


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
