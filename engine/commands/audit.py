"""The audit trail: who read or changed what, when, from where — append-only and hash-chained.

Each row's hash covers its content and the previous row's hash, so editing or deleting any row but
the newest breaks the chain at that point; `verify_audit` recomputes it and prints the head hash,
which an operator can record elsewhere to cover the newest rows too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from engine import clock
from engine.queries.reads import instance_of_task_on
from engine.queries.rows import aware
from engine.store import fast
from engine.store.database import Database
from engine.store.tables import audit_event

GENESIS = "0" * 64
_PG_LOCK = 0x52464155   # "RFAU": appends take turns


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: datetime
    actor: str
    action: str
    target: str
    status: int
    instance_id: str | None
    client: str | None
    hash: str


@dataclass(frozen=True)
class AuditVerification:
    ok: bool
    checked: int
    head: str
    broken_at: int | None = None
    problem: str | None = None


def _digest(prev: str, at: datetime, actor: str, action: str, target: str, status: int,
            instance_id: str | None, client: str | None) -> str:
    body = json.dumps([prev, aware(at).isoformat(), actor, action, target, status, instance_id, client],  # type: ignore[union-attr]
                      separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


_head = sa.select(audit_event.c.hash).order_by(audit_event.c.seq.desc()).limit(1)
_append = audit_event.insert()


def append_audit(db: Database, *, actor: str, action: str, target: str, status: int,
                 instance_id: str | None = None, client: str | None = None) -> None:
    """Append one entry, chained to the one before, in a transaction of its own. With
    `db.audit_fast`, the commit does not wait for the disk (SQLite synchronous=NORMAL, PostgreSQL
    synchronous_commit=off): a power cut may lose the last moment's entries, never corrupt the chain."""
    try:
        with db.write_relaxed() if db.audit_fast else db.write(carry_note=False) as conn:
            digest = _append_on(conn, db, actor=actor, action=action, target=target, status=status,
                                instance_id=instance_id, client=client)
            if db.is_sqlite:
                db.audit_head = digest             # still under the writer lock, which the commit ends
    except BaseException:
        db.audit_head = None                       # not committed: the next append reads the head again
        raise


def _append_on(conn: sa.Connection, db: Database, *, actor: str, action: str, target: str, status: int,
               instance_id: str | None, client: str | None) -> str:
    at = clock.now()
    target = target[:1000]
    if not db.is_sqlite:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
    prev = db.audit_head if db.is_sqlite else None        # one writer in this process: it knows the head
    if prev is None:
        prev = conn.execute(_head).scalar() or GENESIS
    digest = _digest(prev, at, actor, action, target, status, instance_id, client)
    fast.execute(conn, _append, {
        "at": at, "actor": actor, "action": action, "target": target, "status": status,
        "instance_id": instance_id, "client": client, "prev_hash": prev, "hash": digest})
    return digest


@dataclass
class AuditNote:
    """The audit entry of a request that changes something, written inside the first write
    transaction the request commits (see `engine.note_next_write`), so the change and its record
    commit together and cost one commit, not two. SQLite only: on PostgreSQL the chain's advisory
    lock would hold every command behind the audit trail until its commit, so there the note only
    learns which instance the command changed, and the caller appends the entry after the answer.

    `describe` is asked when the entry is written (routing and authentication are done by then):
    the keyword arguments of `append_audit`, with `status` the answer the route gives on success,
    plus `task_id` to find the instance by when neither the command nor the request names it;
    or None when the outcome cannot be told before the answer (the entry then follows the answer).
    After the answer, `written_status` tells whether the entry already says what was answered; if
    not (the request failed after its change committed, or it committed nothing), the caller
    appends an entry with the real outcome.
    """

    describe: Callable[[], dict[str, Any] | None]
    instance_id: str | None = None
    written_status: int | None = field(default=None, init=False)
    closed: bool = field(default=False, init=False)      # the request is answered: a later write is not its

    def write(self, conn: sa.Connection, db: Database) -> Callable[[], None] | None:
        if self.written_status is not None or self.closed or not db.is_sqlite:
            return None
        entry = self.describe()
        if entry is None:
            return None
        task_id, named_instance = entry.pop("task_id", None), entry.pop("instance_id", None)
        if self.instance_id is None:
            self.instance_id = named_instance
        if self.instance_id is None and task_id is not None:
            self.instance_id = instance_of_task_on(conn, task_id)
        digest = _append_on(conn, db, instance_id=self.instance_id, **entry)

        def committed() -> None:
            self.written_status = entry["status"]
            db.audit_head = digest
        return committed


def verify_audit(db: Database) -> AuditVerification:
    """Recompute the chain from the first entry."""
    prev, checked = GENESIS, 0
    with db.read() as conn:
        for r in conn.execute(sa.select(audit_event).order_by(audit_event.c.seq)).yield_per(1000):
            if r.prev_hash != prev:
                return AuditVerification(False, checked, prev, r.seq,
                                         f"entry {r.seq} does not follow the entry before it (one was deleted?)")
            if _digest(prev, r.at, r.actor, r.action, r.target, r.status, r.instance_id, r.client) != r.hash:
                return AuditVerification(False, checked, prev, r.seq, f"entry {r.seq} was altered")
            prev, checked = r.hash, checked + 1
    return AuditVerification(True, checked, prev)


def case_audit(db: Database, *, instance_id: str) -> list[AuditEntry]:
    """Every recorded access to one case, oldest first."""
    with db.read() as conn:
        rows = conn.execute(sa.select(audit_event).where(audit_event.c.instance_id == instance_id)
                            .order_by(audit_event.c.seq))
        return [AuditEntry(seq=r.seq, at=aware(r.at), actor=r.actor, action=r.action, target=r.target,  # type: ignore[arg-type]
                           status=r.status, instance_id=r.instance_id, client=r.client, hash=r.hash) for r in rows]
