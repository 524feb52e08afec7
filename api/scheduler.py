"""The timer scheduler in `reviewflow serve`: sleeps until the earliest due timer, fires, re-arms.

One APScheduler job, re-armed after every firing and whenever a command sets an earlier due time
(the engine signals it after commit; on PostgreSQL other servers' commits arrive by NOTIFY). Nothing
polls: with 10,000 instances waiting a year, it sleeps a year (in hour-long naps, a safety net for a
lost signal). Overdue timers — due while the service was down — fire at start-up.

Several schedulers may run at once — each process of `serve --processes N`, each server on one
PostgreSQL database: each due instance is fired under its row lock, skipped by the others (SKIP
LOCKED), and its due time is checked again under the lock, so a timer fires once.

`health()` says whether it is running and not stuck, for `/api/v1/ready`: it wakes at least once
every LONGEST_NAP, its next wake is not long past, and a firing makes progress batch by batch.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

import engine

log = logging.getLogger(__name__)

JOB = "fire-due-timers"
HOUSEKEEPING = "housekeeping"
LONGEST_NAP = timedelta(hours=1)
BATCH = 200                                   # timers fired between two signs of progress
LATE = timedelta(minutes=2)                   # a wake this late (or a batch this slow) means stuck


@dataclass(frozen=True)
class SchedulerHealth:
    running: bool
    last_wake: datetime | None                # wall clock, UTC
    next_wake: datetime | None
    firing_since: datetime | None
    problem: str | None                       # None: healthy

    @property
    def ok(self) -> bool:
        return self.problem is None


class TimerScheduler:
    def __init__(self, db: engine.Database) -> None:
        self._db = db
        self._scheduler = BackgroundScheduler(timezone=UTC, job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": None})
        self._lock = threading.Lock()
        self.armed_for: datetime | None = None          # the due time (engine clock) it sleeps until
        self.fired = 0
        self._stopped = False
        self.last_wake: datetime | None = None         # wall clock, when a firing last began
        self.firing_since: datetime | None = None
        self.last_progress: datetime | None = None     # wall clock, when a batch of the firing last ended

    def start(self) -> None:
        self._scheduler.start()
        self._db.signals.subscribe(self._on_signal)
        self._scheduler.add_job(self._housekeeping, IntervalTrigger(hours=1), id=HOUSEKEEPING,
                                next_run_time=datetime.now(UTC) + timedelta(minutes=1))
        self.wake()

    def _housekeeping(self) -> None:
        """Hourly: forget idempotency keys older than a day."""
        try:
            forgotten = engine.forget_requests(self._db)
            if forgotten:
                log.info("idempotency keys forgotten", extra={"count": forgotten})
        except Exception:
            log.exception("housekeeping failed; trying again in an hour")

    def stop(self) -> None:
        """No job is added once this has begun (a firing job re-arming itself while the scheduler
        shuts down would wait for the scheduler's lock forever); then the running job finishes."""
        self._db.signals.unsubscribe(self._on_signal)
        with self._lock:
            self._stopped = True
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)

    def wake(self) -> None:
        """Fire whatever is due now, then re-arm (tests call this after moving the clock)."""
        with self._lock:
            if not self._stopped:
                self._scheduler.add_job(self._fire, DateTrigger(datetime.now(UTC)), id=JOB, replace_existing=True)

    def _on_signal(self, channel: str, payload: str) -> None:
        if channel != engine.SIGNAL_TIMER:
            return
        try:
            due = datetime.fromisoformat(payload)
        except ValueError:
            due = None
        with self._lock:
            if due is not None and self.armed_for is not None and due >= self.armed_for:
                return                                   # it already wakes early enough
        self._arm()

    def health(self) -> SchedulerHealth:
        """Running, and not stuck: see the module docstring."""
        now = datetime.now(UTC)
        job = self._scheduler.get_job(JOB) if self._scheduler.running else None
        next_wake = job.next_run_time if job is not None else None
        firing_since, last_wake, progress = self.firing_since, self.last_wake, self.last_progress
        problem = None
        if self._stopped or not self._scheduler.running:
            problem = "the timer scheduler is not running"
        elif firing_since is not None:
            if now - max(firing_since, progress or firing_since) > LATE:
                problem = f"firing timers since {firing_since:%H:%M:%S} UTC without progress for over {LATE}"
        elif last_wake is None or now - last_wake > LONGEST_NAP + LATE:
            problem = "the timer scheduler has not woken for over an hour"
        elif next_wake is None:
            problem = "the timer scheduler has no next wake"
        elif now - next_wake > LATE:
            problem = f"the timer scheduler's wake at {next_wake:%H:%M:%S} UTC is overdue"
        return SchedulerHealth(running=self._scheduler.running and not self._stopped, last_wake=last_wake,
                               next_wake=next_wake, firing_since=firing_since, problem=problem)

    def _fire(self) -> None:
        self.last_wake = self.firing_since = datetime.now(UTC)
        try:
            try:
                while True:                   # in batches, so that health() sees progress
                    fired = engine.fire_due_timers(self._db, limit=BATCH)
                    self.last_progress = datetime.now(UTC)
                    self.fired += len(fired)
                    if fired:
                        log.info("timers fired", extra={"instances": len(fired)})
                    if len(fired) < BATCH or self._stopped:
                        break
            except Exception:
                log.exception("firing due timers failed; trying again in a minute")
                self._schedule(engine.clock.now() + timedelta(minutes=1))
                return
            self._arm()
        finally:
            self.firing_since = None

    def _arm(self) -> None:
        try:
            due = engine.next_timer_due(self._db)
        except Exception:
            log.exception("could not read the next due timer; trying again in a minute")
            due = engine.clock.now() + timedelta(minutes=1)
        self._schedule(due)

    def _schedule(self, due: datetime | None) -> None:
        now = engine.clock.now()
        with self._lock:
            if self._stopped:
                return
            self.armed_for = due
            if due is None:
                nap = LONGEST_NAP
            else:
                nap = min(max(due - now, timedelta(0)), LONGEST_NAP)
            self._scheduler.add_job(self._fire, DateTrigger(datetime.now(UTC) + nap), id=JOB, replace_existing=True)
