"""Retried requests answer as the first did: the keys of requests that changed a case, and the
answers they got.

A key is recorded in the same transaction as the change it asked for (store.change), so it exists
exactly when the change committed; its answer is stored just after. A retry finds the key: with the
same request it gets the stored answer (or, when the server went away between the commit and
storing the answer, what is known: the case it changed); with another request under the same key,
a refusal. Keys are kept for `KEEP`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from engine import clock
from engine.store.database import Database
from engine.store.tables import idempotency_key

KEEP = timedelta(hours=24)
MAX_KEY = 255


@dataclass(frozen=True)
class StoredRequest:
    fingerprint: str
    instance_id: str | None
    status: int | None                   # None: the answer was lost (the server stopped after the commit)
    content_type: str | None
    body: bytes | None


_find = sa.select(idempotency_key).where(idempotency_key.c.scope == sa.bindparam("scope"),
                                         idempotency_key.c.key == sa.bindparam("key"),
                                         idempotency_key.c.created_at > sa.bindparam("since"))


def find_request(db: Database, *, scope: str, key: str) -> StoredRequest | None:
    """The request recorded under this key in the last 24 hours, if any."""
    with db.read() as conn:
        row = conn.execute(_find, {"scope": scope, "key": key, "since": clock.now() - KEEP}).first()
    if row is None:
        return None
    return StoredRequest(row.fingerprint, row.instance_id, row.status, row.content_type,
                         bytes(row.body) if row.body is not None else None)


def store_answer(db: Database, *, scope: str, key: str, status: int, content_type: str | None, body: bytes) -> None:
    """Keep the answer given to the request recorded under this key."""
    with db.write(relaxed=True) as conn:
        conn.execute(idempotency_key.update().where(idempotency_key.c.scope == scope, idempotency_key.c.key == key)
                     .values(status=status, content_type=content_type, body=body))


def forget_requests(db: Database) -> int:
    """Drop keys older than 24 hours; how many."""
    with db.write(relaxed=True) as conn:
        return conn.execute(idempotency_key.delete().where(idempotency_key.c.created_at <= clock.now() - KEEP)).rowcount
