"""Documents as HTML: a small, escaping Markdown renderer and the page every document is set in.

The Markdown is the subset our own templates write — `#` headings, paragraphs, `-` and `1.` lists,
`**bold**`, `[links](https://…)` — everything else is text. Every piece of text is HTML-escaped, so
a variable can never inject markup.
"""

from __future__ import annotations

import html
import re

__all__ = ["html_page", "markdown_to_html"]

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Arial, sans-serif; max-width: 46rem; margin: 2rem auto;
       padding: 0 1rem; line-height: 1.5; color: #1b1b1b; }
h1 { font-size: 1.8rem; } h2 { font-size: 1.3rem; margin-top: 2rem; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; width: 100%; } th, td { border: 1px solid #bbb; padding: .3rem .5rem;
       vertical-align: top; text-align: left; } th { background: #f0f0f0; }
.meta { color: #555; font-size: .9rem; }
""".strip()


def _inline(text: str) -> str:
    out, pos = [], 0
    for match in re.finditer(r"\*\*(.+?)\*\*|\[([^\]]+)\]\(((?:https?://|/|mailto:)[^)\s]+)\)", text):
        out.append(html.escape(text[pos:match.start()]))
        if match.group(1) is not None:
            out.append(f"<strong>{html.escape(match.group(1))}</strong>")
        else:
            out.append(f'<a href="{html.escape(match.group(3))}">{html.escape(match.group(2))}</a>')
        pos = match.end()
    out.append(html.escape(text[pos:]))
    return "".join(out)


def markdown_to_html(markdown: str) -> str:
    """HTML for the Markdown subset described above; anything else is escaped text."""
    blocks: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []
    list_tag = ""

    def flush() -> None:
        nonlocal list_tag
        if paragraph:
            blocks.append(f"<p>{_inline(' '.join(paragraph))}</p>")
            paragraph.clear()
        if items:
            blocks.append(f"<{list_tag}>\n" + "\n".join(f"<li>{_inline(i)}</li>" for i in items) + f"\n</{list_tag}>")
            items.clear()
            list_tag = ""

    for raw in markdown.splitlines():
        line = raw.strip()
        heading = re.match(r"(#{1,6})\s+(.*)", line)
        bullet = re.match(r"[-*]\s+(.*)", line)
        number = re.match(r"\d+[.)]\s+(.*)", line)
        if not line:
            flush()
        elif heading:
            flush()
            level = len(heading.group(1))
            blocks.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif bullet or number:
            tag = "ul" if bullet else "ol"
            if paragraph or (items and list_tag != tag):
                flush()
            list_tag = tag
            items.append((bullet or number).group(1))  # type: ignore[union-attr]
        elif items and raw.startswith(("  ", "\t")):
            items[-1] += " " + line                    # a list item continued on the next line
        else:
            if items:
                flush()
            paragraph.append(line)
    flush()
    return "\n".join(blocks)


def html_page(*, title: str, body: str, partnership: str, meta: str = "") -> str:
    """A whole HTML document around `body` (already HTML). `title`, `partnership` and `meta` are text."""
    meta_html = f'<p class="meta">{html.escape(meta)}</p>\n' if meta else ""
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{html.escape(title)} | {html.escape(partnership)}</title>\n<style>\n{_STYLE}\n</style>\n"
            f"</head>\n<body>\n<header><p class=\"meta\">{html.escape(partnership)}</p></header>\n<main>\n"
            f"{meta_html}{body}\n</main>\n</body>\n</html>\n")
