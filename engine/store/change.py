"""What every change to the database shares, whatever it changes: one transaction, the history
events it records, the audit entry the caller handed in, and the wake-ups sent after commit.

Instance commands (store.command) and the changes to task rows that leave the workflow state alone
(claims, external-task locks, failures, retries) are both built on `change()`, so history events
are made in one place, the audit entry commits with what it describes or not at all, and waiters
are woken only once the change is durable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from engine import clock
from engine.errors import DuplicateRequest
from engine.results import Actor
from engine.store import auditing
from engine.store.database import Database
from engine.store.signals import EXTERNAL_TASK, TIMER
from engine.store.tables import history_event, idempotency_key

_insert_history = history_event.insert()
_NO_CASE: list[str | None] = [None]                 # an entry that names no case
_insert_key = idempotency_key.insert()


@dataclass(frozen=True)
class Audit:
    """The audit entry of the request that asks for a change, written by the engine in the
    change's own transaction: a change without its entry cannot commit. `status` is the answer
    the caller gives on success; `status_if_unchanged` the one it gives when the change turned out
    to be a no-op (a deployment of unchanged diagrams)."""

    action: str
    target: str
    client: str | None = None
    status: int = 200
    status_if_unchanged: int | None = None
    only_if_touched: bool = False                           # no case touched: no entry (an empty fetch)
    on_written: Callable[[], None] | None = field(default=None, compare=False)   # told after the commit

    def unchanged(self) -> Audit:
        return replace(self, status=self.status_if_unchanged or self.status)


@dataclass(frozen=True)
class IdempotencyKey:
    """A retried request's key (RFC draft 'Idempotency-Key'), recorded in the change's transaction:
    the key exists exactly when the change committed. `scope` is who sent it; `fingerprint` a hash
    of the request, so the same key with another request is told apart."""

    scope: str
    key: str
    fingerprint: str


class Change:
    """One write transaction's bookkeeping. Commands record history events and name what to wake;
    `finish` writes the events and the audit entries (one per case touched) before the commit."""

    def __init__(self, db: Database, conn: sa.Connection, actor: Actor, audit: Audit | None,
                 idempotency: IdempotencyKey | None = None) -> None:
        self.db, self.conn, self.actor, self.audit, self.idempotency = db, conn, actor, audit, idempotency
        self.now: datetime = clock.now()
        self.events: list[dict[str, Any]] = []
        self.touched: list[str] = []                      # instances, in the order first touched
        self.topics: set[str] = set()                     # external tasks became fetchable
        self.timer_due: datetime | None = None            # a timer comes due at a new moment
        self.unchanged = False                            # nothing was changed after all (audit status)
        self._after: list[Callable[[], None]] = []

    def record(self, instance_id: str, kind: str, /, *, task_id: str | None = None,
               activity_id: str | None = None, **details: Any) -> None:
        """A history event: who did what to which case, when."""
        self.touch(instance_id)
        self.events.append({"instance_id": instance_id, "at": self.now, "kind": kind, "actor": self.actor.id,
                            "task_id": task_id, "activity_id": activity_id,
                            "details": {k: v for k, v in details.items() if v is not None} or None,
                            "opens_case": details.get("case_access") != "task"})

    def touch(self, instance_id: str) -> None:
        """This change concerns the case (its audit entry names it)."""
        if instance_id not in self.touched:
            self.touched.append(instance_id)

    def wake_workers(self, *topics: str) -> None:
        self.topics.update(topics)

    def wake_timers(self, due: datetime) -> None:
        self.timer_due = due if self.timer_due is None else min(self.timer_due, due)

    def after_commit(self, step: Callable[[], None]) -> None:
        self._after.append(step)

    def finish(self) -> None:
        """Before the commit: history, the audit entries, the notifications other processes hear."""
        dialect = self.db.dialect
        if self.events:
            dialect.execute(self.conn, _insert_history, self.events)
        if self.idempotency is not None:
            key = self.idempotency
            try:                                  # a concurrent twin commits its key first: refused
                self.conn.execute(_insert_key, {"scope": key.scope, "key": key.key, "fingerprint": key.fingerprint,
                                                "created_at": self.now,
                                                "instance_id": self.touched[0] if self.touched else None})
            except sa.exc.IntegrityError as exc:
                raise DuplicateRequest("a request with this Idempotency-Key was carried out just now") from exc
        if self.topics:
            dialect.notify(self.conn, EXTERNAL_TASK, self.topics)
        if self.timer_due is not None:
            dialect.notify(self.conn, TIMER, [self.timer_due.isoformat()])
        if self.audit is not None and (self.touched or not self.audit.only_if_touched):
            audit = self.audit.unchanged() if self.unchanged else self.audit
            head = auditing.append(self.db, self.conn, [
                auditing.Entry(actor=self.actor.id, action=audit.action, target=audit.target, status=audit.status,
                               instance_id=instance_id, client=audit.client)
                for instance_id in (self.touched or _NO_CASE)])
            self._after.insert(0, lambda: auditing.published(self.db, head))
            if audit.on_written is not None:
                self._after.insert(1, audit.on_written)

    def committed(self) -> None:
        """After the commit: wake this process's waiters (other processes hear the NOTIFY)."""
        for step in self._after:
            step()
        if self.topics:
            self.db.signals.emit(EXTERNAL_TASK, self.topics)
        if self.timer_due is not None:
            self.db.signals.emit(TIMER, [self.timer_due.isoformat()])


@contextmanager
def change(db: Database, *, actor: Actor, audit: Audit | None = None,
           idempotency: IdempotencyKey | None = None) -> Iterator[Change]:
    """One write transaction with its history, audit entry, idempotency key and wake-ups. On any
    exception nothing is written, the audit entry included."""
    with db.write() as conn:
        ch = Change(db, conn, actor, audit, idempotency)
        yield ch
        ch.finish()
    ch.committed()
