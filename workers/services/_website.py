"""Publication on the partnership's website.

With an endpoint configured, a page is POSTed as JSON (`slug`, `title`, `html`, `markdown`, and its
downloadable `files`, each `{filename, content_type, content_base64}`) with an `Idempotency-Key`
header and the site answers its public `url`. Otherwise the page is written to the site folder as
`<slug>/index.html` and `<slug>/index.md`, with its files beside them — the folder `reviewflow serve`
publishes at `/site/` — and an index of everything published is kept at `index.html`.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from workers.services._directory import Endpoint
from workers.services._errors import NeedsAttention
from workers.services._files import write_atomic
from workers.services._http import bearer, call

__all__ = ["Page", "PageFile", "Website"]

log = logging.getLogger(__name__)

_SLUG = re.compile(r"[a-z0-9][a-z0-9\-]{0,79}(/[a-z0-9][a-z0-9\-]{0,79}){0,2}")
_FILENAME = re.compile(r"[a-z0-9][a-z0-9\-]{0,79}\.(docx|pdf|odt)")


@dataclass(frozen=True)
class PageFile:
    """A download published with a page (the Word version of a report): linked from it by `filename`."""

    filename: str      # "lcspr-report.docx": lower-case words and an extension; no case data
    content_type: str
    content: bytes


@dataclass(frozen=True)
class Page:
    slug: str          # "learning/seven-minute-briefing-3fa2c1d0": lower-case words, at most three levels
    title: str
    html: str          # a whole HTML document
    markdown: str
    published_on: str  # YYYY-MM-DD
    review_due_on: str
    files: tuple[PageFile, ...] = field(default=())


class Website:
    def __init__(self, endpoint: Endpoint, site: Path, *, partnership: str,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.endpoint = endpoint
        self.site = site
        self.partnership = partnership
        self.public_url = (endpoint.public_url or "/site/").rstrip("/") + "/"
        self._lock = threading.Lock()
        self._http = (httpx.Client(timeout=endpoint.timeout_seconds, transport=transport, follow_redirects=False,
                                   headers={"Accept": "application/json", "User-Agent": "reviewflow-worker",
                                            **bearer(endpoint.token)})
                      if endpoint.url else None)

    def publish(self, page: Page, *, idempotency_key: str) -> str:
        """Publish `page`; its public URL (or path, for the site folder).

        Raises: Rejected (the site answered 4xx), NeedsAttention (credentials; no URL in the answer),
        Unavailable (unreachable, timed out, 5xx).
        """
        if not _SLUG.fullmatch(page.slug):
            raise ValueError(f"not a page slug: {page.slug!r}")
        if bad := [f.filename for f in page.files if not _FILENAME.fullmatch(f.filename)]:
            raise ValueError(f"not a file name for the site: {bad!r}")
        if self._http is None:
            return self._to_folder(page)
        url = self.endpoint.url
        assert url is not None
        body = {"slug": page.slug, "title": page.title, "html": page.html, "markdown": page.markdown,
                "published_on": page.published_on, "review_due_on": page.review_due_on,
                "files": [{"filename": f.filename, "content_type": f.content_type,
                           "content_base64": base64.b64encode(f.content).decode("ascii")} for f in page.files]}
        response = call("website publication",
                        lambda: self._http.post(url, json=body,  # type: ignore[union-attr]
                                                headers={"Idempotency-Key": idempotency_key}),
                        retry_on=(408, 409, 425, 429))
        try:
            answer = response.json()
        except ValueError:
            answer = None
        public = answer.get("url") if isinstance(answer, dict) else None
        if not isinstance(public, str) or not public:
            raise NeedsAttention(f"the website answered HTTP {response.status_code} without the page's url")
        log.info("published on the website", extra={"slug": page.slug})
        return public

    def _to_folder(self, page: Page) -> str:
        folder = self.site / page.slug
        with self._lock:
            write_atomic(folder / "index.html", page.html.encode("utf-8"))
            write_atomic(folder / "index.md", page.markdown.encode("utf-8"))
            for file in page.files:
                write_atomic(folder / file.filename, file.content)
            self._update_index(page)
        log.info("published to the site folder", extra={"slug": page.slug})
        return f"{self.public_url}{page.slug}/"

    def _update_index(self, page: Page) -> None:
        manifest = self.site / "publications.json"
        try:
            entries = json.loads(manifest.read_text(encoding="utf-8"))
            if not isinstance(entries, list):
                entries = []
        except (OSError, ValueError):
            entries = []
        entries = [e for e in entries if isinstance(e, dict) and e.get("slug") != page.slug]
        entries.append({"slug": page.slug, "title": page.title, "published_on": page.published_on,
                        "review_due_on": page.review_due_on})
        entries.sort(key=lambda e: (str(e.get("published_on", "")), str(e.get("slug"))), reverse=True)
        write_atomic(manifest, json.dumps(entries, indent=2).encode("utf-8"))
        items = "\n".join(
            f'<li><a href="{html.escape(str(e["slug"]))}/">{html.escape(str(e.get("title", "")))}</a> '
            f'<span class="date">published {html.escape(str(e.get("published_on", "")))}</span></li>'
            for e in entries)
        name = html.escape(self.partnership)
        write_atomic(self.site / "index.html", (
            f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{name}: reviews and '
            f'learning</title>\n</head>\n<body>\n<h1>{name}</h1>\n<h2>Reviews and learning</h2>\n<ul>\n{items}\n'
            f'</ul>\n</body>\n</html>\n').encode())

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
