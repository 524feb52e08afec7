"""Appending to the audit trail: append-only, hash-chained, numbered without gaps.

Each entry's hash covers its content and the previous entry's hash, so editing or deleting any
entry but the newest breaks the chain there; entries are numbered one after another under the
chain's lock, so a gap in the numbers means entries were deleted. The newest (seq, hash) — the
head — is announced after each commit, so it can be published somewhere the database's users
cannot rewrite (see `reviewflow audit verify --head`): that covers the newest entries and a chain
rebuilt from scratch.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from engine import clock
from engine.store.database import Database
from engine.store.rows import aware
from engine.store.signals import AUDIT_HEAD
from engine.store.tables import audit_event

GENESIS = "0" * 64

_head = sa.select(audit_event.c.seq, audit_event.c.hash).order_by(audit_event.c.seq.desc()).limit(1)
_append = audit_event.insert()


@dataclass(frozen=True)
class Entry:
    actor: str
    action: str
    target: str
    status: int
    instance_id: str | None = None
    client: str | None = None


def digest(prev: str, at: datetime, actor: str, action: str, target: str, status: int,
           instance_id: str | None, client: str | None) -> str:
    body = json.dumps([prev, aware(at).isoformat(), actor, action, target, status, instance_id, client],
                      separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def append(db: Database, conn: sa.Connection, entries: Sequence[Entry]) -> tuple[int, str]:
    """Append `entries` in this transaction, after taking the chain's lock (the last thing a
    transaction does before it commits, so the lock is held briefly). Returns the new head."""
    dialect = db.dialect
    dialect.lock_audit_chain(conn)
    row = dialect.first(conn, _head, {})       # read under the lock: another process may have appended
    head = (row.seq, row.hash) if row is not None else (0, GENESIS)
    seq, prev = head
    at = clock.now()
    rows: list[dict[str, Any]] = []
    for e in entries:
        e = _storable(e)
        seq += 1
        target = e.target[:1000]
        prev = digest(prev, at, e.actor, e.action, target, e.status, e.instance_id, e.client)
        rows.append({"seq": seq, "at": at, "actor": e.actor, "action": e.action[:255], "target": target,
                     "status": e.status, "instance_id": e.instance_id, "client": e.client,
                     "prev_hash": rows[-1]["hash"] if rows else head[1], "hash": prev})
    dialect.execute(conn, _append, rows)
    return seq, prev


def _storable(e: Entry) -> Entry:
    """The entry as text every database can hold: a NUL (a refused request may carry one) is
    written as \\x00, and a case id longer than any case's (a refused request's path) names no case
    (its path, in `target`, still says what was asked), so the refusal is recorded too."""
    def clean(value: str | None) -> str | None:
        return value.replace("\x00", "\\x00") if value is not None else None

    return Entry(actor=clean(e.actor) or "", action=clean(e.action) or "", target=clean(e.target) or "",
                 status=e.status, instance_id=clean(e.instance_id) if len(e.instance_id or "") <= 36 else None,
                 client=clean(e.client))


def published(db: Database, head: tuple[int, str]) -> None:
    """After the commit: tell this process's listeners the new head (to publish it)."""
    db.signals.emit(AUDIT_HEAD, [f"{head[0]}:{head[1]}"])
