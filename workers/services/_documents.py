"""A case's documents, through the engine's worker endpoints (Reviewflow's extension of the
external-task API): `GET …/external-task/{task}/documents`, `GET …/documents/{id}` (the bytes) and
`POST …/documents` (multipart `file` + `kind`). A worker sees the documents of the case whose task it
holds, and nothing else.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx

from workers.services._errors import DocumentUnreadable, Rejected
from workers.services._http import bearer, call

__all__ = ["Documents", "StoredDocument"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredDocument:
    id: str
    kind: str | None
    filename: str
    content_type: str
    size: int = 0


class Documents:
    def __init__(self, engine_url: str, *, token: str | None = None, username: str | None = None,
                 password: str | None = None, timeout_seconds: float = 30.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        auth = httpx.BasicAuth(username, password) if username and password is not None else None
        self._http = httpx.Client(base_url=engine_url.rstrip("/") + "/", auth=auth, transport=transport,
                                  timeout=timeout_seconds, follow_redirects=False,
                                  headers={"User-Agent": "reviewflow-worker", **bearer(token)})

    def list(self, task_id: str) -> list[StoredDocument]:
        """The documents of the case of the locked task `task_id`.

        Raises: Unavailable, NeedsAttention (credentials), Rejected.
        """
        response = call("list the case's documents", lambda: self._http.get(f"external-task/{task_id}/documents"))
        items = response.json()
        if not isinstance(items, list):
            raise Rejected("list the case's documents: not a list", status=response.status_code)
        return [StoredDocument(id=str(d["id"]), kind=d.get("kind"), filename=str(d.get("filename") or ""),
                               content_type=str(d.get("contentType") or ""), size=int(d.get("size") or 0))
                for d in items if isinstance(d, dict) and d.get("id")]

    def read(self, task_id: str, document_id: str) -> tuple[bytes, str]:
        """The bytes and content type of one of the case's documents.

        Raises: DocumentUnreadable when the case has no such document; Unavailable, NeedsAttention.
        """
        try:
            response = call(f"read document {document_id}",
                            lambda: self._http.get(f"external-task/{task_id}/documents/{document_id}"))
        except Rejected as exc:
            if exc.status == 404:
                raise DocumentUnreadable(f"document {document_id} is not among this case's documents") from exc
            raise
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        return response.content, content_type

    def add(self, task_id: str, *, filename: str, content: bytes, content_type: str, kind: str) -> str:
        """Attach a document to the case; its id. Add it once: a document of the same `kind` and
        `filename` already in the case is returned instead (name generated files after the task's
        idempotency key, and a retried task finds what its first attempt stored).

        Raises: Unavailable, NeedsAttention, Rejected (the engine refused the file: type, size).
        """
        for existing in self.list(task_id):
            if existing.kind == kind and existing.filename == filename:
                return existing.id
        response = call(f"add a {kind} document",
                        lambda: self._http.post(f"external-task/{task_id}/documents", data={"kind": kind},
                                                files={"file": (filename, content, content_type)}))
        body = response.json()
        if not isinstance(body, dict) or not body.get("id"):
            raise Rejected(f"add a {kind} document: no id in the answer", status=response.status_code)
        log.info("document added", extra={"document_id": body["id"], "kind": kind})
        return str(body["id"])

    def close(self) -> None:
        self._http.close()
