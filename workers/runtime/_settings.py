"""The worker's settings: one object, read from REVIEWFLOW_WORKER_* variables, checked at start-up."""

from __future__ import annotations

import os
import socket
from datetime import timedelta
from typing import Literal

from pydantic import Field, HttpUrl, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from workers.runtime._retry import RetryPolicy

__all__ = ["LONG_POLL_MARGIN", "WorkerSettings"]

LONG_POLL_MARGIN = timedelta(seconds=5)
"""How much longer than the long poll the HTTP read timeout of fetchAndLock is (Camunda's client: 5 s)."""

_MAX_LONG_POLL = timedelta(minutes=30)  # Camunda's ceiling for asyncResponseTimeout


def _default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class WorkerSettings(BaseSettings):
    """Defaults run on a laptop against `reviewflow serve` on 127.0.0.1:8000.

    Durations read from the environment accept seconds (`30`) or ISO 8601 (`PT30S`).
    """

    model_config = SettingsConfigDict(env_prefix="REVIEWFLOW_WORKER_", extra="ignore")

    engine_url: HttpUrl = Field(default=HttpUrl("http://127.0.0.1:8000/engine-rest"),
                                description="base of the Camunda 7 REST API (…/engine-rest)")
    worker_id: str = Field(default_factory=_default_worker_id, min_length=1,
                           description="the workerId that locks tasks; default hostname-pid")
    max_concurrency: int = Field(default=4, ge=1, le=1000, description="handlers running at once")
    long_poll: timedelta = Field(default=timedelta(seconds=30),
                                 description="how long a fetchAndLock waits for work (asyncResponseTimeout)")
    request_timeout: timedelta = Field(default=timedelta(seconds=10),
                                       description="timeout of every call but fetchAndLock")
    graceful_shutdown: timedelta = Field(default=timedelta(seconds=30),
                                         description="how long running handlers get to finish on stop")
    max_retries: int = Field(default=3, ge=0, description="retries after the first failure; then an incident")
    retry_base: timedelta = Field(default=timedelta(seconds=10), description="delay before the first retry")
    retry_max: timedelta = Field(default=timedelta(minutes=10), description="longest delay between retries")
    server_down_backoff_base: timedelta = Field(default=timedelta(milliseconds=500),
                                                description="first pause after the engine is unreachable")
    server_down_backoff_max: timedelta = Field(default=timedelta(seconds=60),
                                               description="longest pause while the engine is unreachable")
    username: str | None = Field(default=None, description="HTTP Basic user")
    password: SecretStr | None = Field(default=None, description="HTTP Basic password")
    token: SecretStr | None = Field(default=None, description="Bearer token (instead of Basic)")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("long_poll", "request_timeout", "graceful_shutdown", "retry_base", "retry_max",
                     "server_down_backoff_base", "server_down_backoff_max", mode="before")
    @classmethod
    def _seconds(cls, value: object) -> object:
        """`30` or `0.5` from the environment means seconds; ISO 8601 (`PT30S`) works too."""
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                return value
        return value

    @model_validator(mode="after")
    def _check(self) -> WorkerSettings:
        if not timedelta(0) < self.long_poll <= _MAX_LONG_POLL:
            raise ValueError("long_poll must be more than 0 and at most 30 minutes")
        for name in ("request_timeout", "retry_base", "server_down_backoff_base"):
            if getattr(self, name) <= timedelta(0):
                raise ValueError(f"{name} must be more than 0")
        if self.graceful_shutdown < timedelta(0):
            raise ValueError("graceful_shutdown must not be negative")
        if self.retry_max < self.retry_base:
            raise ValueError("retry_max must be at least retry_base")
        if self.server_down_backoff_max < self.server_down_backoff_base:
            raise ValueError("server_down_backoff_max must be at least server_down_backoff_base")
        if (self.username is None) != (self.password is None):
            raise ValueError("set both username and password for HTTP Basic, or neither")
        if self.token is not None and self.username is not None:
            raise ValueError("choose one of HTTP Basic (username/password) or a Bearer token, not both")
        return self

    @property
    def long_poll_ms(self) -> int:
        return int(self.long_poll.total_seconds() * 1000)

    @property
    def fetch_read_timeout(self) -> timedelta:
        """The HTTP read timeout of fetchAndLock: the long poll plus a margin, never set apart from it."""
        return self.long_poll + LONG_POLL_MARGIN

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(self.max_retries, self.retry_base, self.retry_max)
