"""Wake-ups after commit: long-polling workers when external tasks become fetchable, the timer
scheduler when a timer comes due earlier. In-process listeners always; on PostgreSQL also
LISTEN/NOTIFY (sent by the dialect inside the transaction), so a server process is woken by
another process's commit."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger(__name__)

Listener = Callable[[str, str], None]          # (channel, payload)
CHANNELS = ("rf_external_task", "rf_timer")     # also heard from other processes (PostgreSQL)
EXTERNAL_TASK, TIMER = CHANNELS
AUDIT_HEAD = "rf_audit_head"                    # this process only: "seq:hash" of the newest audit entry


class Signals:
    def __init__(self, url: str | None = None) -> None:
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        self._pg_url = url
        self._pg_thread: threading.Thread | None = None
        self._stop = threading.Event()

    def subscribe(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)
            if self._pg_url and self._pg_thread is None:
                self._pg_thread = threading.Thread(target=self._listen_pg, name="rf-pg-listen", daemon=True)
                self._pg_thread.start()

    def unsubscribe(self, listener: Listener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def emit(self, channel: str, payloads: Iterable[str]) -> None:
        """Tell this process's listeners (call after commit)."""
        with self._lock:
            listeners = list(self._listeners)
        for payload in set(payloads):
            for listener in listeners:
                try:
                    listener(channel, payload)
                except Exception:  # a listener's failure must not fail the command that committed
                    log.exception("signal listener failed")

    def _listen_pg(self) -> None:
        import psycopg  # noqa: PLC0415 - only with PostgreSQL

        url = self._pg_url
        assert url is not None
        while not self._stop.is_set():
            try:
                with psycopg.connect(url, autocommit=True) as conn:
                    for channel in CHANNELS:
                        conn.execute(f"LISTEN {channel}")
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=1.0):
                            self.emit(note.channel, [note.payload])
            except Exception:  # reconnect after a pause: the database may be restarting
                log.warning("PostgreSQL LISTEN connection lost; reconnecting")
                self._stop.wait(1.0)

    def close(self, *_: Any) -> None:
        self._stop.set()
