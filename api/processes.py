"""`reviewflow serve --processes N`: N server processes on one port, under one supervisor (PostgreSQL).

The supervisor (the process `serve` started as) migrates and deploys once, binds the port, then
starts N server processes with uvicorn's multi-process supervisor, which passes them the socket
(the kernel shares connections among them), pings them, replaces one that dies or hangs, and on
SIGHUP replaces them one by one without closing the port. Each server process loads
`serving_app()`: its own database pool, long-poll waiters and timer scheduler.

* Timers: every process runs the scheduler. That is safe — each due instance is fired under its row
  lock and skipped by the others (SKIP LOCKED), its due time checked again under the lock, so a
  timer fires once — and it keeps timers firing while any one process is alive.
* Embedded workers run once, in the supervisor, not in every server process: they are HTTP clients
  anyway, and the kernel hands their calls to whichever process accepts. On SIGTERM they stop first
  (their last completions and unlocks still reach a server), then the server processes do.
* Metrics: prometheus-client's multi-process mode, in a fresh folder per start (PROMETHEUS_MULTIPROC_DIR),
  so any process answers a scrape with the sum over all of them.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
import threading
import time
from typing import TYPE_CHECKING, Any

import httpx
import uvicorn
from uvicorn.supervisors.multiprocess import Multiprocess

import engine
from api.metrics import MULTIPROCESS_ENV
from api.settings import ServerSettings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from api.cli import EmbeddedWorkers

log = logging.getLogger("reviewflow.supervisor")

STOP_LIMIT_S = 20.0                 # a server process still running this long after SIGTERM is killed
READY_WAIT_S = 60.0                 # how long the embedded workers wait for a server process to answer


def serving_app() -> FastAPI:
    """The app one server process serves (uvicorn's factory): settings from the environment."""
    from api.app import create_app  # noqa: PLC0415
    from api.logs import configure_logging  # noqa: PLC0415
    settings = ServerSettings()
    configure_logging(settings.log_level, settings.log_format)
    engine.configure_calendar(settings.closure_days)
    return create_app(settings, settle_heap=True)


class Supervisor(Multiprocess):
    """uvicorn's supervisor, plus: the embedded workers around the server processes, the metrics of
    processes that died let go of, and a bounded wait for server processes to stop."""

    def __init__(self, config: uvicorn.Config, sockets: list[socket.socket], workers: EmbeddedWorkers | None,
                 url: str) -> None:
        super().__init__(config, sockets)
        self._workers, self._url = workers, url

    def init_processes(self) -> None:
        super().init_processes()
        if self._workers is not None:
            threading.Thread(target=self._start_workers, name="embedded-workers", daemon=True).start()

    def _start_workers(self) -> None:
        deadline = time.monotonic() + READY_WAIT_S
        with httpx.Client(timeout=2) as client:
            while time.monotonic() < deadline and not self.should_exit.is_set():
                try:
                    if client.get(f"{self._url}/api/v1/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
        if self._workers is not None and not self.should_exit.is_set():
            try:
                self._workers.start()
            except Exception as exc:        # the server processes serve on; `reviewflow worker` can take over
                log.error("the embedded workers could not start: %s", exc)

    def keep_subprocess_alive(self) -> None:
        before = {p.pid for p in self.processes}
        super().keep_subprocess_alive()
        for pid in before - {p.pid for p in self.processes}:
            if pid is not None:
                _forget_metrics_of(pid)

    def terminate_all(self) -> None:
        if self._workers is not None:
            self._workers.stop()               # first: their last reports need a server to answer
        super().terminate_all()

    def join_all(self) -> None:
        deadline = time.monotonic() + STOP_LIMIT_S
        for process in self.processes:
            process.process.join(max(0.0, deadline - time.monotonic()))
            if process.process.is_alive():
                log.error("server process %s did not stop in %.0f s: killing it", process.pid, STOP_LIMIT_S)
                process.kill()
                process.process.join()


def _forget_metrics_of(pid: int) -> None:
    """A dead process's pool gauges must not count in the sums (its request counts stay: they happened)."""
    if os.environ.get(MULTIPROCESS_ENV):
        from prometheus_client import multiprocess  # noqa: PLC0415
        multiprocess.mark_process_dead(pid)


def serve_processes(settings: ServerSettings, db: engine.Database, *, workers: bool) -> int:
    """Serve with `settings.processes` server processes (the database is migrated and deployed)."""
    from api.cli import EmbeddedWorkers, embedded_worker_key  # noqa: PLC0415
    metrics_dir = tempfile.mkdtemp(prefix="reviewflow-metrics-")
    os.environ[MULTIPROCESS_ENV] = metrics_dir          # inherited by the server processes
    config = uvicorn.Config("api.processes:serving_app", factory=True, host=settings.host, port=settings.port,
                            workers=settings.processes, log_level=settings.log_level.lower(), log_config=None,
                            access_log=False, timeout_graceful_shutdown=5, timeout_worker_healthcheck=10)
    sock = config.bind_socket()
    port = sock.getsockname()[1]
    settings.port = port                                # the embedded workers call this port (0 picked one)
    embedded: Any = EmbeddedWorkers(settings, token=embedded_worker_key(db)) if workers else None
    db.dispose()                                        # the supervisor itself serves nothing from the database
    print(f"Reviewflow serving on http://{settings.host}:{port} with {settings.processes} server processes "
          f"(supervisor pid {os.getpid()})"
          + (f"; workers for {len(embedded.handlers)} topics run once, in the supervisor" if embedded else ""),
          flush=True)
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    try:
        Supervisor(config, [sock], embedded, f"http://{host}:{port}").run()
    finally:
        sock.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0
