"""Failed sign-ins: limited per source address and per key prefix, and summarised in the audit trail.

A source (or a key prefix) with too many failed sign-ins in a moving window is refused with 429 and
`Retry-After` until the window has moved on — valid credentials included, so guessing gains nothing
from trying faster. Failures are counted per source and written to the audit trail as one summary
entry per source and window ("AUTH FAILED", with the count and the key prefixes tried), not one
entry each: a flood of bad keys cannot flood the trail.

Kept in memory, per process (limits' moving windows): with N server processes an attacker gets N
times the allowance, which stays negligible against 256-bit keys.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

import engine

log = logging.getLogger(__name__)

SUMMARY_WINDOW_S = 60.0


@dataclass
class _Pending:
    first_at: float
    count: int = 0
    prefixes: set[str] = field(default_factory=set)


class SignInThrottle:
    def __init__(self, db: engine.Database, *, per_source: str = "20/minute", per_key: str = "10/minute") -> None:
        self._db = db
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._per_source: RateLimitItem = parse(per_source)
        self._per_key: RateLimitItem = parse(per_key)
        self._lock = threading.Lock()
        self._pending: dict[str, _Pending] = defaultdict(lambda: _Pending(time.monotonic()))

    def retry_after(self, source: str, prefix: str | None) -> int | None:
        """Seconds until this source (or key prefix) may try again; None when it may now."""
        waits = []
        for item, key in ((self._per_source, f"src:{source}"), (self._per_key, f"key:{prefix}")):
            if key == "key:None":
                continue
            if not self._limiter.test(item, key):
                reset_at, _ = self._limiter.get_window_stats(item, key)
                waits.append(max(1, int(reset_at - time.time()) + 1))
        return max(waits) if waits else None

    def failed(self, source: str, prefix: str | None) -> None:
        """Count a failed sign-in; write the source's summary once its window has passed."""
        self._limiter.hit(self._per_source, f"src:{source}")
        if prefix is not None:
            self._limiter.hit(self._per_key, f"key:{prefix}")
        due: list[tuple[str, _Pending]] = []
        with self._lock:
            pending = self._pending[source]
            pending.count += 1
            if prefix is not None and len(pending.prefixes) < 20:
                pending.prefixes.add(prefix)
            now = time.monotonic()
            for src, p in list(self._pending.items()):
                if now - p.first_at >= SUMMARY_WINDOW_S:
                    due.append((src, self._pending.pop(src)))
        self._write(due)

    def flush(self) -> None:
        """Write every pending summary (at shutdown)."""
        with self._lock:
            due = list(self._pending.items())
            self._pending.clear()
        self._write(due)

    def _write(self, due: list[tuple[str, _Pending]]) -> None:
        for source, p in due:
            prefixes = ",".join(sorted(p.prefixes)) or "-"
            try:
                engine.append_audit(self._db, actor="anonymous", action="AUTH FAILED",
                                    target=f"{p.count} failed sign-ins; key prefixes {prefixes}", status=401,
                                    client=source)
            except Exception:
                log.exception("could not write the failed sign-in summary")
