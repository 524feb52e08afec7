"""`reviewflow worker` / `python -m workers`: discover, run until SIGTERM, exit 0 after a graceful stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.workers.runtime.fake_engine import FakeEngine
from workers.cli import main

REPO = Path(__file__).resolve().parents[2]

HANDLERS = {
    "ping.py": """
        from dataclasses import dataclass
        from datetime import timedelta
        from workers.runtime import Complete

        TOPIC = "ping"
        LOCK = timedelta(seconds=30)

        @dataclass(frozen=True)
        class Input:
            pass

        def handle(task, services):
            return Complete(pong=True)
    """,
    "other.py": """
        from datetime import timedelta
        from workers.runtime import Complete, handler

        @handler(topic="other", lock=timedelta(seconds=30))
        def other(task, services):
            return Complete()
    """,
}


@pytest.fixture
def handler_package(tmp_path: Path) -> Path:
    root = tmp_path / "cli_handlers"
    root.mkdir()
    (root / "__init__.py").write_text("")
    for name, source in HANDLERS.items():
        (root / name).write_text(textwrap.dedent(source))
    return tmp_path


def test_the_worker_runs_until_sigterm_and_exits_0(fake_engine: FakeEngine, handler_package: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(handler_package), str(REPO)]),
           "REVIEWFLOW_WORKER_LONG_POLL": "1", "REVIEWFLOW_WORKER_GRACEFUL_SHUTDOWN": "1",
           "REVIEWFLOW_WORKER_WORKER_ID": "cli-worker"}
    process = subprocess.Popen(
        [sys.executable, "-m", "workers", "--handlers", "cli_handlers", "--topics", "ping",
         "--engine-url", fake_engine.url, "--max-concurrency", "2"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        task = fake_engine.add_task("ping")
        assert fake_engine.wait_for(lambda: task.state == "completed", timeout=15)
        fetch = fake_engine.calls("fetchAndLock")[0].body
        assert [t["topicName"] for t in fetch["topics"]] == ["ping"]
        assert fetch["workerId"] == "cli-worker" and fetch["maxTasks"] == 2
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, output
    assert "worker stopped" in output
    assert f"task_id={task.id}" in output


def test_an_unknown_topic_is_a_usage_error(handler_package: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.syspath_prepend(str(handler_package))
    assert main(["--handlers", "cli_handlers", "--topics", "ping,nope"]) == 2
    assert "no handler for topic(s) nope; known: other, ping" in capsys.readouterr().err


def test_no_handlers_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty_handlers").mkdir()
    (tmp_path / "empty_handlers" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["--handlers", "empty_handlers"]) == 2
    assert "no handlers in empty_handlers" in capsys.readouterr().err


def test_bad_settings_are_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--max-concurrency", "0"]) == 2
    assert "max_concurrency" in capsys.readouterr().err
