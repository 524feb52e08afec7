"""Long-poll waiters: fetchAndLock requests parked until a task of their topics may be fetchable.

The engine signals after commit (and, on PostgreSQL, other processes' commits arrive by NOTIFY);
a waiter whose topics match is woken on its own event loop. Nothing polls in between.
"""

from __future__ import annotations

import asyncio
import threading

import engine
from engine import SIGNAL_EXTERNAL_TASK as EXTERNAL_TASK


class Waiter:
    __slots__ = ("topics", "event", "loop")

    def __init__(self, topics: set[str], loop: asyncio.AbstractEventLoop) -> None:
        self.topics, self.event, self.loop = topics, asyncio.Event(), loop


class TaskWaiters:
    def __init__(self, db: engine.Database) -> None:
        self._db = db
        self._waiters: set[Waiter] = set()
        self._lock = threading.Lock()
        db.signals.subscribe(self._on_signal)

    def register(self, topics: set[str]) -> Waiter:
        waiter = Waiter(topics, asyncio.get_running_loop())
        with self._lock:
            self._waiters.add(waiter)
        return waiter

    def unregister(self, waiter: Waiter) -> None:
        with self._lock:
            self._waiters.discard(waiter)

    def _on_signal(self, channel: str, topic: str) -> None:
        if channel != EXTERNAL_TASK:
            return
        with self._lock:
            woken = [w for w in self._waiters if topic in w.topics]
        for waiter in woken:
            waiter.loop.call_soon_threadsafe(waiter.event.set)

    def close(self) -> None:
        self._db.signals.unsubscribe(self._on_signal)

    @property
    def waiting(self) -> int:
        return len(self._waiters)
