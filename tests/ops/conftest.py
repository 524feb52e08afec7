"""Fixtures for the operations tests: scratch PostgreSQL databases (never the shared test database's
schemas), the `reviewflow` command as a real process, and a served process that is stopped by its pid."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

import engine
from tests.conftest import PG_URL, free_port

ROOT = Path(__file__).parents[2]


def _admin() -> sa.Engine:
    """A connection to the server's maintenance database, to create and drop scratch databases."""
    url = sa.make_url(engine.store.database.normalize_url(PG_URL or "")).set(database="postgres")
    return sa.create_engine(url, isolation_level="AUTOCOMMIT")


def make_scratch_database() -> str:
    name = f"rf_ops_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = _admin()
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return str(sa.make_url(PG_URL or "").set(database=name).render_as_string(hide_password=False))


def drop_scratch_database(url: str) -> None:
    name = sa.make_url(url).database
    assert name and name.startswith("rf_ops_"), name          # never anything but our own scratch databases
    admin = _admin()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def scratch_pg() -> Iterator[str]:
    """The URL of an empty PostgreSQL database of its own, dropped afterwards."""
    if not PG_URL:
        pytest.skip("REVIEWFLOW_TEST_DATABASE_URL not set")
    url = make_scratch_database()
    yield url
    drop_scratch_database(url)


def env_for(url: str, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REVIEWFLOW_")}
    env.update({"REVIEWFLOW_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}, **more)
    return env


def cli(*args: str, url: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """`reviewflow ARGS` as a process of its own, with REVIEWFLOW_DATABASE_URL=url."""
    return subprocess.run([sys.executable, "-m", "api.cli", *args], env=env_for(url, **env), cwd=cwd or ROOT,
                          capture_output=True, text=True, timeout=300)


class Served:
    """`reviewflow serve ARGS` in a process of its own, on a free port, its standard error in a file."""

    def __init__(self, url: str, cwd: Path, *args: str, **env: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.stderr_path = cwd / "serve.stderr"
        self.stdout_path = cwd / "serve.stdout"
        environment = env_for(url, **{"REVIEWFLOW_BPMN_DIR": str(cwd / "no-diagrams"), **env})
        with self.stderr_path.open("w") as err, self.stdout_path.open("w") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(self.port),
                                             *args], env=environment, cwd=cwd, stdout=out, stderr=err)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited {self.process.returncode}:\n{self.stderr()[-3000:]}")
            try:
                if httpx.get(f"{self.base}/api/v1/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"serve was not ready in {timeout} s:\n{self.stderr()[-3000:]}")

    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def stop(self) -> int:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode
