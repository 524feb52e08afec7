"""Documents as HTML: Markdown by markdown-it-py, every fragment cleaned by nh3, and the page every
document is set in.

Markdown is CommonMark plus tables, with raw HTML switched off (it is shown as text). What comes out
— and any HTML a person uploads — goes through nh3 (the Ammonia sanitiser): only ordinary document
elements survive, links only to http(s), mailto and the site's own paths, never a script, a style or
an event handler.
"""

from __future__ import annotations

import html

import nh3
from markdown_it import MarkdownIt

__all__ = ["clean_html", "html_page", "markdown_to_html"]

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Arial, sans-serif; max-width: 46rem; margin: 2rem auto;
       padding: 0 1rem; line-height: 1.5; color: #1b1b1b; }
h1 { font-size: 1.8rem; } h2 { font-size: 1.3rem; margin-top: 2rem; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; width: 100%; } th, td { border: 1px solid #bbb; padding: .3rem .5rem;
       vertical-align: top; text-align: left; } th { background: #f0f0f0; }
.meta { color: #555; font-size: .9rem; }
""".strip()

_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")

_TAGS = {"a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "div", "dl", "dt", "em", "h1", "h2",
         "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "li", "ol", "p", "pre", "s", "section", "small", "span",
         "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul"}
_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title", "width", "height"},
               "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan", "scope"}, "ol": {"start"},
               "*": {"class"}}


def clean_html(fragment: str) -> str:
    """`fragment` with everything but ordinary document markup removed (nh3): no scripts, styles,
    event handlers, forms or frames; links and images only by http(s), mailto or a relative path."""
    return nh3.clean(fragment, tags=_TAGS, attributes=_ATTRIBUTES, url_schemes={"http", "https", "mailto"},
                     link_rel="noopener noreferrer", strip_comments=True,
                     clean_content_tags={"script", "style", "title", "template", "noscript"})


def markdown_to_html(markdown: str) -> str:
    """HTML for CommonMark (with tables); raw HTML in the Markdown is escaped, and the result is cleaned."""
    return clean_html(_MARKDOWN.render(markdown)).strip()


def html_page(*, title: str, body: str, partnership: str, meta: str = "") -> str:
    """A whole HTML document around `body` (HTML, cleaned here). `title`, `partnership` and `meta` are text."""
    meta_html = f'<p class="meta">{html.escape(meta)}</p>\n' if meta else ""
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{html.escape(title)} | {html.escape(partnership)}</title>\n<style>\n{_STYLE}\n</style>\n"
            f"</head>\n<body>\n<header><p class=\"meta\">{html.escape(partnership)}</p></header>\n<main>\n"
            f"{meta_html}{clean_html(body)}\n</main>\n</body>\n</html>\n")
