"""Fire the timers that have come due: each due instance under its row lock, once.

The instance's next due time is a column derived after every command. Whoever calls
`fire_due_timers` (the scheduler in `reviewflow serve`, or a test that moved the clock) takes the
due instances one by one; on PostgreSQL a row another server is firing is skipped (SKIP LOCKED),
and the due time is checked again under the lock, so a timer fires once however many servers run.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from engine import clock
from engine.bpmn.timers import force_timer_start
from engine.errors import InstanceSuspended
from engine.results import Actor
from engine.store.command import NotClaimed, instance_command, new_instance_command
from engine.store.database import Database
from engine.store.dialects import RowLocked
from engine.store.rows import aware
from engine.store.tables import instance, timer_start

log = logging.getLogger(__name__)

SCHEDULER = Actor.system("system:timer")
BATCH = 100


class _NotDue(Exception):
    """Raised inside the command to roll back quietly: someone else fired it first."""


def fire_due_timers(db: Database, *, limit: int = 10_000) -> list[str]:
    """Fire every timer due by now; returns the ids of the instances that moved on (or were started
    by a timer start event)."""
    fired: list[str] = fire_timer_starts(db)
    while len(fired) < limit:
        now = clock.now()
        with db.read() as conn:
            due: Sequence[str] = conn.execute(sa.select(instance.c.id).where(
                instance.c.status == "active", instance.c.suspended.is_(False), instance.c.next_timer_at <= now)
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


def fire_timer_starts(db: Database, *, limit: int = 1000) -> list[str]:
    """Start an instance for each timer start event that is due (a cycle once per occurrence)."""
    started: list[str] = []
    for _ in range(limit):
        now = clock.now()
        with db.read() as conn:
            due = conn.execute(sa.select(timer_start).where(timer_start.c.next_due_at <= now)
                               .order_by(timer_start.c.next_due_at).limit(1)).one_or_none()
        if due is None:
            break
        instance_id = _start_one(db, due, now)
        if instance_id is None:
            break                                           # another server took it
        started.append(instance_id)
    return started


def _start_one(db: Database, due: Any, now: datetime) -> str | None:
    def claim(conn: sa.Connection) -> bool:
        query = sa.select(timer_start).where(timer_start.c.definition_key == due.definition_key,
                                             timer_start.c.activity_id == due.activity_id,
                                             timer_start.c.next_due_at == due.next_due_at)
        row = conn.execute(db.dialect.for_update(query, skip_locked=True)).one_or_none()
        if row is None:
            return False
        next_due, cycles = None, row.cycles_left
        if cycles is not None and row.interval_seconds:
            next_due = aware(row.next_due_at)
            while next_due is not None and next_due <= now:     # occurrences missed while down fire once
                cycles = cycles - 1 if cycles > 0 else -1
                next_due = None if cycles == 0 else next_due + timedelta(seconds=row.interval_seconds)
        conn.execute(timer_start.update().where(timer_start.c.definition_key == row.definition_key,
                                                timer_start.c.activity_id == row.activity_id)
                     .values(next_due_at=next_due, cycles_left=cycles))
        return True

    try:
        with new_instance_command(db, actor=SCHEDULER, definition_id=due.definition_id,
                                  definition_key=due.definition_key, business_key=None, claim=claim) as cmd:
            force_timer_start(cmd.workflow, due.activity_id)
            cmd.record("instance_started", definition_id=due.definition_id, timer_start=due.activity_id)
    except NotClaimed:
        return None
    return cmd.instance_id


def _fire_one(db: Database, instance_id: str, now: datetime) -> bool:
    try:
        with instance_command(db, actor=SCHEDULER, instance_id=instance_id, skip_locked=True) as cmd:
            due = aware(cmd.row.next_timer_at)
            if due is None or due > now:
                raise _NotDue
            cmd.workflow.refresh_timers()          # then the command runs the engine and saves
        return True
    except (_NotDue, RowLocked, InstanceSuspended):
        return False
    except Exception:
        log.exception("firing timers failed", extra={"instance_id": instance_id})
        return False
