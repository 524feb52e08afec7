"""The console's built assets (console/dist, see console/build.mjs): content-hashed names from its
manifest, served at /assets/ with a year's caching and without the audit trail (no case data)."""

from __future__ import annotations

import json
import mimetypes
import re
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

PREFIX = "/assets/"
_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


class Assets:
    """logical name -> URL, from dist/manifest.json. Missing assets are a start-up error, not a
    page without styles: run `make run` (or `make assets`)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        manifest = directory / "manifest.json"
        if not manifest.is_file():
            raise RuntimeError(f"the console's assets are not built ({manifest} is missing): run `make assets`")
        self.names: dict[str, str] = json.loads(manifest.read_text())
        self.files = {hashed: (directory / hashed).read_bytes() for hashed in self.names.values()}

    def url(self, name: str) -> str:
        return PREFIX + self.names[name]


class AssetFiles:
    """Serves /assets/<hashed name> before anything else runs (outside the audit trail and the
    session check): public, immutable files; everything else passes on."""

    HEADERS = [(b"x-content-type-options", b"nosniff"), (b"cache-control", b"public, max-age=31536000, immutable"),
               (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
               (b"cross-origin-resource-policy", b"same-origin")]

    def __init__(self, app: ASGIApp, assets: Assets) -> None:
        self.app, self.assets = app, assets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path") or ""
        if scope["type"] != "http" or not path.startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        name = path[len(PREFIX):]
        content = self.assets.files.get(name) if _NAME.match(name) else None
        if content is None or scope.get("method") not in ("GET", "HEAD"):
            await _send(send, 404, b"not found", [(b"content-type", b"text/plain; charset=utf-8")])
            return
        kind = TYPES.get(Path(name).suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
        body = b"" if scope.get("method") == "HEAD" else content
        await _send(send, 200, body, [(b"content-type", kind.encode()), *self.HEADERS],
                    length=len(content))


async def _send(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]],
                length: int | None = None) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [*headers, (b"content-length", str(len(body) if length is None else length).encode())]})
    await send({"type": "http.response.body", "body": body})
