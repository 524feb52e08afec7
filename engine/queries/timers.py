"""When the next timer comes due (the timer scheduler sleeps until then)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from engine.store.database import Database
from engine.store.rows import aware
from engine.store.tables import instance, timer_start


def next_timer_due(db: Database) -> datetime | None:
    """The earliest moment a timer is due: in an active instance, or a timer start event."""
    with db.read() as conn:
        due = conn.execute(sa.select(sa.func.min(instance.c.next_timer_at))
                           .where(instance.c.status == "active", instance.c.suspended.is_(False))).scalar_one_or_none()
        start_due = conn.execute(sa.select(sa.func.min(timer_start.c.next_due_at))).scalar_one_or_none()
    values: tuple[Any, ...] = (due, start_due)
    found: list[datetime] = [aware(d) for d in values if isinstance(d, datetime)]
    return min(found, default=None)
