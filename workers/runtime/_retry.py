"""Two kinds of waiting: the retry policy reported to the engine, and the backoff while it is unreachable."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

__all__ = ["Backoff", "RetryPolicy"]


@dataclass(frozen=True)
class RetryPolicy:
    """What to tell the engine after a retryable failure: how many retries are left, and when to retry.

    Camunda sends `retries: null` until the first failure, so the first failure reports `max_retries`
    and each later one counts down; the failure that reports 0 opens an incident. With `max_retries=3`
    a task runs at most 4 times. The delay before the next attempt doubles from `base` up to `maximum`.
    """

    max_retries: int = 3
    base: timedelta = timedelta(seconds=10)
    maximum: timedelta = timedelta(minutes=10)

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if self.base <= timedelta(0) or self.maximum < self.base:
            raise ValueError("need 0 < base <= maximum")

    def after(self, retries: int | None) -> tuple[int, timedelta]:
        """`(retries left, retry timeout)` for a task that failed with `retries` as the engine sent it."""
        left = self.max_retries if retries is None else max(retries - 1, 0)
        if left == 0:
            return 0, timedelta(0)
        attempt = max(self.max_retries - left, 0)  # 0 on the first failure
        return left, min(self.maximum, self.base * (2 ** min(attempt, 32)))


class Backoff:
    """Exponential backoff with jitter: each delay is drawn from [d/2, d], d doubling from `base` to
    `maximum`. Half the delay is always kept, so a flapping engine is never hammered."""

    def __init__(self, base: timedelta, maximum: timedelta,
                 rand: Callable[[], float] = random.random) -> None:
        self._base = base.total_seconds()
        self._maximum = maximum.total_seconds()
        self._rand = rand
        self.attempts = 0

    def next(self) -> float:
        """The next delay in seconds."""
        ceiling = min(self._maximum, self._base * float(2 ** min(self.attempts, 32)))
        self.attempts += 1
        return ceiling / 2 + self._rand() * ceiling / 2

    def reset(self) -> None:
        self.attempts = 0
