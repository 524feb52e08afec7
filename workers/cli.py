"""`reviewflow worker` — run the partnership's handlers against the engine until SIGTERM or SIGINT.

Configuration comes from REVIEWFLOW_WORKER_* environment variables (see WorkerSettings); the flags
below override them. Exit status: 0 after a graceful shutdown, 2 for a configuration or handler
error found at start-up, 1 when the worker failed, 130 when a second signal forced the exit.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Any

from pydantic import ValidationError

from workers.handlers import discover
from workers.runtime import EngineClient, HandlerDefinitionError, Worker, WorkerSettings
from workers.services import DirectoryError, Services

__all__ = ["add_arguments", "build_parser", "main", "run"]

log = logging.getLogger("workers.cli")

_IDS = ("topic", "task_id", "instance_id")


class _IdsFormatter(logging.Formatter):
    """Appends the ids the runtime stamps on records (`topic`, `task_id`, `instance_id`)."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        ids = " ".join(f"{name}={value}" for name in _IDS if (value := getattr(record, name, None)))
        return f"{text} [{ids}]" if ids else text


def _configure_logging(level: str) -> None:
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(_IdsFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        root.setLevel(level)
    for noisy in ("httpx", "httpcore"):  # one INFO line per request, long polls included
        logging.getLogger(noisy).setLevel(logging.WARNING)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The worker's flags, for `reviewflow worker` or `python -m workers`."""
    parser.add_argument("--topics", metavar="A,B", help="serve only these topics (default: every handler)")
    parser.add_argument("--engine-url", metavar="URL",
                        help="the engine's …/engine-rest (default REVIEWFLOW_WORKER_ENGINE_URL or "
                             "http://127.0.0.1:8000/engine-rest)")
    parser.add_argument("--max-concurrency", type=int, metavar="N",
                        help="handlers running at once (default REVIEWFLOW_WORKER_MAX_CONCURRENCY or 4)")
    parser.add_argument("--handlers", default="workers.handlers", metavar="PACKAGE",
                        help="package whose modules are the handlers (default workers.handlers)")


def build_parser(prog: str = "reviewflow worker") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return parser


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace, *, services: Any = None) -> int:
    """Discover handlers, keep those of `--topics`, and run a Worker until SIGTERM or SIGINT.

    `services` is handed to every handler (built once per process by the caller).
    """
    overrides: dict[str, Any] = {}
    if args.engine_url:
        overrides["engine_url"] = args.engine_url
    if args.max_concurrency is not None:
        overrides["max_concurrency"] = args.max_concurrency
    try:
        settings = WorkerSettings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}"
                             for e in exc.errors(include_input=False, include_url=False))
        return _error(f"worker settings: {problems}")
    _configure_logging(settings.log_level)
    try:
        handlers = discover(args.handlers)
    except (HandlerDefinitionError, ImportError) as exc:
        return _error(str(exc))
    if args.topics:
        wanted = [t.strip() for t in args.topics.split(",") if t.strip()]
        known = {h.topic for h in handlers}
        if unknown := [t for t in wanted if t not in known]:
            return _error(f"no handler for topic(s) {', '.join(unknown)}; "
                          f"known: {', '.join(sorted(known)) or 'none'}")
        handlers = [h for h in handlers if h.topic in wanted]
    if not handlers:
        return _error(f"no handlers in {args.handlers}")
    owns_services = services is None
    if owns_services:
        try:
            services = Services.from_settings(settings)
        except DirectoryError as exc:
            return _error(f"partnership directory: {exc}")

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("%s: stopping gracefully (send it again to stop at once)", signal.Signals(signum).name)
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        Worker(EngineClient(settings), handlers, settings, services).run_until(stop)
    except KeyboardInterrupt:
        log.warning("stopped at once; unfinished tasks return when their locks run out")
        return 130
    except RuntimeError:
        return 1  # already logged by the worker, without case data
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if owns_services:
            services.close()
    return 0


def main(argv: Sequence[str] | None = None, *, services: Any = None) -> int:
    """`python -m workers [--topics a,b] [--engine-url URL] [--max-concurrency N]`."""
    return run(build_parser().parse_args(argv), services=services)
