"""Fire the timers that have come due: each due instance under its row lock, once.

The instance's next due time is a column derived after every command. Whoever calls
`fire_due_timers` (the scheduler in `reviewflow serve`, or a test that moved the clock) takes the
due instances one by one; on PostgreSQL a row another server is firing is skipped (SKIP LOCKED),
and the due time is checked again under the lock, so a timer fires once however many servers run.
"""

from __future__ import annotations

import logging
from datetime import datetime

import sqlalchemy as sa

from engine import clock
from engine.queries.rows import aware
from engine.results import Actor
from engine.store.command import RowLocked, instance_command
from engine.store.database import Database
from engine.store.tables import instance

log = logging.getLogger(__name__)

SCHEDULER = Actor("system:timer")
BATCH = 100


class _NotDue(Exception):
    """Raised inside the command to roll back quietly: someone else fired it first."""


def next_timer_due(db: Database) -> datetime | None:
    """The earliest moment any active instance has a timer due."""
    with db.read() as conn:
        due = conn.execute(sa.select(sa.func.min(instance.c.next_timer_at))
                           .where(instance.c.status == "active")).scalar_one_or_none()
    return aware(due)


def fire_due_timers(db: Database, *, limit: int = 10_000) -> list[str]:
    """Fire every timer due by now; returns the ids of the instances that moved on."""
    fired: list[str] = []
    while len(fired) < limit:
        now = clock.now()
        with db.read() as conn:
            due = conn.execute(sa.select(instance.c.id).where(
                instance.c.status == "active", instance.c.next_timer_at <= now)
                .order_by(instance.c.next_timer_at).limit(BATCH)).scalars().all()
        if not due:
            break
        progressed = 0
        for instance_id in due:
            if _fire_one(db, instance_id, now):
                fired.append(instance_id)
                progressed += 1
        if progressed == 0:
            break                       # the rest are being fired elsewhere, or not due after all
    return fired


def _fire_one(db: Database, instance_id: str, now: datetime) -> bool:
    try:
        with instance_command(db, actor=SCHEDULER, instance_id=instance_id, skip_locked=True) as cmd:
            due = aware(cmd.row.next_timer_at)
            if due is None or due > now:
                raise _NotDue
            cmd.workflow.refresh_timers()          # then the command runs the engine and saves
        return True
    except (_NotDue, RowLocked):
        return False
    except Exception:
        log.exception("firing timers failed", extra={"instance_id": instance_id})
        return False
