"""The audit trail: who read or changed what, when, from where — append-only and hash-chained.

A change's entry is written by the command that makes it, in the same transaction (store.change);
`append_audit` records what changes nothing — reads, and refused requests — in a transaction of
its own. `verify_audit` recomputes the chain, reports gaps in the numbering, and checks it against
a head recorded elsewhere (store.auditing), which covers the newest entries and a rebuilt chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from engine.store import auditing
from engine.store.database import Database
from engine.store.rows import aware
from engine.store.tables import audit_event

GENESIS = auditing.GENESIS


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
    head_seq: int = 0
    broken_at: int | None = None
    problem: str | None = None


def append_audit(db: Database, *, actor: str, action: str, target: str, status: int,
                 instance_ids: Sequence[str | None] = (None,), client: str | None = None) -> None:
    """Record a request that changed nothing (a read, or a refusal): one entry per case it touched,
    in a transaction of its own. With `db.audit_fast` the commit does not wait for the disk
    (SQLite synchronous=NORMAL, PostgreSQL synchronous_commit=off): a power cut may lose the last
    moment's entries, never corrupt the chain."""
    entries = [auditing.Entry(actor=actor, action=action, target=target, status=status, instance_id=instance_id,
                              client=client) for instance_id in (list(dict.fromkeys(instance_ids)) or [None])]
    with db.write(relaxed=db.audit_fast) as conn:
        head = auditing.append(db, conn, entries)
    auditing.published(db, head)


def verify_audit(db: Database, *, expected_head: tuple[int, str] | None = None) -> AuditVerification:
    """Recompute the chain from the first entry; every entry must follow the one before it, be
    numbered one more than it, and hash to what it says. With `expected_head` — a (seq, hash)
    recorded outside the database — the entry numbered seq must still be there with that hash:
    deleting the newest entries, or rebuilding the chain after removing some, is detected."""
    prev, checked, expected_seq, at_head = GENESIS, 0, 1, None
    with db.read() as conn:
        for r in conn.execute(sa.select(audit_event).order_by(audit_event.c.seq)).yield_per(1000):
            if r.seq != expected_seq:
                missing = (f"entry {expected_seq} is" if r.seq == expected_seq + 1
                           else f"entries {expected_seq} to {r.seq - 1} are")
                return AuditVerification(False, checked, prev, expected_seq - 1, r.seq,
                                         f"{missing} missing: deleted from the trail (a gap in the numbering)")
            if r.prev_hash != prev:
                return AuditVerification(False, checked, prev, expected_seq - 1, r.seq,
                                         f"entry {r.seq} does not follow the entry before it (one was deleted?)")
            if auditing.digest(prev, r.at, r.actor, r.action, r.target, r.status, r.instance_id, r.client) != r.hash:
                return AuditVerification(False, checked, prev, expected_seq - 1, r.seq, f"entry {r.seq} was altered")
            if expected_head is not None and r.seq == expected_head[0]:
                at_head = r.hash
            prev, checked, expected_seq = r.hash, checked + 1, expected_seq + 1
    last = expected_seq - 1
    if expected_head is not None:
        seq, digest = expected_head
        if seq > last:
            return AuditVerification(False, checked, prev, last, last + 1,
                                     f"the recorded head is entry {seq}, but the trail ends at entry {last}: "
                                     "its newest entries were deleted")
        if at_head != digest:
            return AuditVerification(False, checked, prev, last, seq,
                                     f"entry {seq} is not the entry the recorded head names: the trail was rebuilt")
    return AuditVerification(True, checked, prev, last)


def case_audit(db: Database, *, instance_id: str) -> list[AuditEntry]:
    """Every recorded access to one case, oldest first."""
    with db.read() as conn:
        rows = conn.execute(sa.select(audit_event).where(audit_event.c.instance_id == instance_id)
                            .order_by(audit_event.c.seq))
        return [AuditEntry(seq=r.seq, at=aware(r.at) or r.at, actor=r.actor, action=r.action, target=r.target,
                           status=r.status, instance_id=r.instance_id, client=r.client, hash=r.hash) for r in rows]
