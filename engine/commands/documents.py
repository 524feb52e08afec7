"""Documents attached to a case or to one of its tasks: IMRs, chronologies, reports, briefings.

Kept in the database beside the case (one backup, one transaction, one access check). Each upload
is size-limited and its content type must be one we accept *and* match what the bytes are.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

import sqlalchemy as sa

from engine.errors import Invalid, NotFound
from engine.queries.private_data import hidden_kinds
from engine.queries.visibility import can_see_instance, can_see_task
from engine.results import Actor
from engine.store.change import Audit, change
from engine.store.command import lock_instance
from engine.store.database import Database
from engine.store.rows import aware
from engine.store.tables import document, instance, user_task

MAX_DOCUMENT_BYTES = 20 * 1024 * 1024

# content type -> (extensions, magic prefixes; empty: text that must decode as UTF-8)
ACCEPTED: dict[str, tuple[tuple[str, ...], tuple[bytes, ...]]] = {
    "application/pdf": ((".pdf",), (b"%PDF-",)),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ((".docx",), (b"PK\x03\x04",)),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ((".xlsx",), (b"PK\x03\x04",)),
    "application/vnd.oasis.opendocument.text": ((".odt",), (b"PK\x03\x04",)),
    "image/png": ((".png",), (b"\x89PNG\r\n\x1a\n",)),
    "image/jpeg": ((".jpg", ".jpeg"), (b"\xff\xd8\xff",)),
    "text/csv": ((".csv",), ()),
    "text/plain": ((".txt",), ()),
    "text/markdown": ((".md",), ()),
    "text/html": ((".html", ".htm"), ()),
    "application/json": ((".json",), ()),
}


@dataclass(frozen=True)
class DocumentInfo:
    id: str
    instance_id: str
    task_id: str | None
    kind: str | None
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: str
    uploaded_at: datetime


def _info(row: Any) -> DocumentInfo:
    r = row
    return DocumentInfo(id=r.id, instance_id=r.instance_id, task_id=r.task_id, kind=r.kind,
                        filename=r.filename, content_type=r.content_type, size=r.size,
                        sha256=r.sha256, uploaded_by=r.uploaded_by, uploaded_at=aware(r.uploaded_at))


def clean_filename(name: str) -> str:
    base = PurePosixPath((name or "").replace("\\", "/")).name
    base = re.sub(r"[^\w.\- ()]+", "_", base).strip(" .")
    return base[:200] or "document"


def check_content(filename: str, content_type: str, content: bytes, max_bytes: int = MAX_DOCUMENT_BYTES) -> str:
    """The content type to store. Raises: Invalid naming what is wrong."""
    if not content:
        raise Invalid("the file is empty")
    if len(content) > max_bytes:
        raise Invalid(f"the file is {len(content)} bytes; at most {max_bytes} are accepted")
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind not in ACCEPTED:
        raise Invalid(f"content type {kind or '(none)'} is not accepted; accepted: {', '.join(sorted(ACCEPTED))}")
    extensions, magics = ACCEPTED[kind]
    if not filename.lower().endswith(extensions):
        raise Invalid(f"a {kind} file should be named {' or '.join(extensions)}")
    if magics:
        if not content.startswith(magics):
            raise Invalid(f"the file's content is not {kind}")
    else:
        try:
            content.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Invalid(f"a {kind} file must be UTF-8 text") from exc
    return kind


def add_document(db: Database, *, actor: Actor, instance_id: str, filename: str, content_type: str,
                 content: bytes, task_id: str | None = None, kind: str | None = None,
                 max_bytes: int = MAX_DOCUMENT_BYTES, audit: Audit | None = None) -> DocumentInfo:
    """Attach a file to a case (or to one of its open tasks).

    Raises: InstanceNotFound / TaskNotFound (also when the actor may not see it), Invalid.
    """
    name = clean_filename(filename)
    stored_type = check_content(name, content_type, content, max_bytes)
    if kind is not None and not re.fullmatch(r"[a-z][a-z0-9_\-]{0,63}", kind):
        raise Invalid("kind is a short lower-case word, e.g. imr, chronology, final_report")
    with change(db, actor=actor, audit=audit) as ch:
        conn = ch.conn
        try:
            lock_instance(ch, instance_id)
        except NotFound:
            raise NotFound(f"no process instance with id {instance_id}") from None
        if task_id is not None:
            owner = conn.execute(sa.select(user_task.c.instance_id).where(user_task.c.id == task_id)).scalar()
            if owner != instance_id or not can_see_task(conn, actor, task_id):
                raise NotFound(f"no open user task {task_id} in this case")
        elif not can_see_instance(conn, actor, instance_id):
            raise NotFound(f"no process instance with id {instance_id}")
        if kind is not None and kind in _hidden_kinds(db, conn, actor, instance_id):
            raise Invalid(f"documents of kind {kind} are private to the people the partnership names; "
                          "you may not attach one to this case")
        row = {"id": str(uuid.uuid4()), "instance_id": instance_id, "task_id": task_id, "kind": kind,
               "filename": name, "content_type": stored_type, "size": len(content),
               "sha256": hashlib.sha256(content).hexdigest(), "content": content, "uploaded_by": actor.id,
               "uploaded_at": ch.now}
        conn.execute(document.insert(), [row])
        ch.record(instance_id, "document_added", task_id=task_id, document_id=row["id"], kind=kind)
    return _info(_Row(row))


class _Row:
    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


_columns = [c for c in document.c if c.name != "content"]


def _hidden_kinds(db: Database, conn: sa.Connection, actor: Actor, instance_id: str) -> set[str]:
    if not any(rule.document_kinds for rule in db.private_data):
        return set()
    variables = conn.execute(sa.select(instance.c.variables).where(instance.c.id == instance_id)).scalar()
    return hidden_kinds(db.private_data, actor, variables or {})


def _visible(db: Database, conn: sa.Connection, actor: Actor, row: Any) -> bool:
    r = row
    if r.kind is not None and r.kind in _hidden_kinds(db, conn, actor, r.instance_id):
        return False        # private documents: not even their uploader, once they may no longer read them
    if can_see_instance(conn, actor, r.instance_id):
        return True
    if r.uploaded_by == actor.id:
        return True
    return r.task_id is not None and can_see_task(conn, actor, r.task_id)


def list_documents(db: Database, *, instance_id: str, viewer: Actor | None = None,
                   task_id: str | None = None) -> list[DocumentInfo]:
    query = sa.select(*_columns).where(document.c.instance_id == instance_id)
    if task_id is not None:
        query = query.where(document.c.task_id == task_id)
    with db.read() as conn:
        rows = conn.execute(query.order_by(document.c.uploaded_at, document.c.id)).all()
        return [_info(r) for r in rows if viewer is None or _visible(db, conn, viewer, r)]


def get_document(db: Database, *, document_id: str, viewer: Actor | None = None,
                 instance_id: str | None = None) -> tuple[DocumentInfo, bytes]:
    """Raises: NotFound (also when the viewer may not see it)."""
    with db.read() as conn:
        row = conn.execute(sa.select(document).where(document.c.id == document_id)).one_or_none()
        if row is None or (instance_id is not None and row.instance_id != instance_id) or (
                viewer is not None and not _visible(db, conn, viewer, row)):
            raise NotFound(f"no document {document_id}")
        return _info(row), bytes(row.content)
