"""WorkerSettings and RetryPolicy."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from workers.runtime import RetryPolicy, WorkerSettings


def test_settings_come_from_reviewflow_worker_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEWFLOW_WORKER_ENGINE_URL", "http://engine.example:8080/engine-rest")
    monkeypatch.setenv("REVIEWFLOW_WORKER_MAX_CONCURRENCY", "7")
    monkeypatch.setenv("REVIEWFLOW_WORKER_LONG_POLL", "PT20S")
    monkeypatch.setenv("REVIEWFLOW_WORKER_GRACEFUL_SHUTDOWN", "5")
    settings = WorkerSettings()
    assert str(settings.engine_url) == "http://engine.example:8080/engine-rest"
    assert settings.max_concurrency == 7
    assert settings.long_poll == timedelta(seconds=20)
    assert settings.long_poll_ms == 20_000
    assert settings.fetch_read_timeout == timedelta(seconds=25)
    assert settings.graceful_shutdown == timedelta(seconds=5)


def test_defaults_run_on_a_laptop() -> None:
    settings = WorkerSettings()
    assert str(settings.engine_url) == "http://127.0.0.1:8000/engine-rest"
    assert settings.worker_id and "-" in settings.worker_id
    assert (settings.max_concurrency, settings.max_retries) == (4, 3)
    assert settings.retry_policy() == RetryPolicy(3, timedelta(seconds=10), timedelta(minutes=10))


@pytest.mark.parametrize("bad", [
    {"long_poll": timedelta(0)}, {"long_poll": timedelta(minutes=31)}, {"max_concurrency": 0},
    {"username": "demo"}, {"username": "demo", "password": "x", "token": "t"},
    {"retry_base": timedelta(minutes=20)}, {"engine_url": "not a url"},
])
def test_bad_settings_are_refused_at_start_up(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        WorkerSettings(**bad)  # type: ignore[arg-type]


def test_retries_count_down_from_max_retries_with_doubling_delays() -> None:
    policy = RetryPolicy(max_retries=3, base=timedelta(seconds=10), maximum=timedelta(seconds=30))
    assert policy.after(None) == (3, timedelta(seconds=10))
    assert policy.after(3) == (2, timedelta(seconds=20))
    assert policy.after(2) == (1, timedelta(seconds=30))
    assert policy.after(1) == (0, timedelta(0))
    assert policy.after(0) == (0, timedelta(0))
    assert policy.after(9) == (8, timedelta(seconds=10))  # an operator raised the retries
    assert RetryPolicy(max_retries=0).after(None) == (0, timedelta(0))
