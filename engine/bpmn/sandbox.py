"""Where diagram code runs when it could take long: a separate process that can be stopped.

A tracing time limit stops Python code between lines, but not work done inside one C call —
`sum(range(4 * 10**8))` runs for seconds, `'a' * 10**10` asks for 10 GB — and while it runs the
command holds the database's writer, and on SQLite the whole service waits. So any script, and any
expression that is not plainly cheap (see `is_plainly_cheap`), runs in a sandbox process:

* its address space is capped (RLIMIT_AS: what it had after start-up plus `memory_bytes`), so a
  huge allocation fails there with MemoryError;
* its CPU time is capped per evaluation (RLIMIT_CPU), and the caller stops waiting after
  `time_limit` seconds of wall-clock time and kills it; a new one takes its place;
* what crosses the boundary is plain data: the task's variables and the result, pickled, and read
  back by an unpickler that accepts only containers, numbers, text and dates.

The sandbox sees the engine clock's "now" and the partnership's closure days of the caller, so the
calendar functions answer as they would in the engine.
"""

from __future__ import annotations

import builtins
import io
import logging
import os
import pickle
import queue
import resource
import select
import struct
import subprocess
import sys
import threading
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_MEMORY_BYTES = 256 * 1024 * 1024
DEFAULT_TIME_LIMIT = 2.0
DEFAULT_PROCESSES = 2
STARTUP_LIMIT = 60.0            # seconds a new sandbox process may take to import the engine


class TimeLimitExceeded(Exception):
    """A script or expression ran longer than the engine allows."""


class SandboxError(Exception):
    """The sandbox could not run the code (it died, or answered what cannot be read)."""


_SAFE_CLASSES = {("datetime", "datetime"), ("datetime", "date"), ("datetime", "time"), ("datetime", "timedelta"),
                 ("datetime", "timezone"), ("decimal", "Decimal"), ("builtins", "set"), ("builtins", "frozenset"),
                 ("builtins", "complex"), ("zoneinfo", "ZoneInfo"), ("zoneinfo", "_unpickle")}
_SAFE_EXCEPTIONS = {"ArithmeticError", "AssertionError", "AttributeError", "IndexError", "KeyError", "LookupError",
                    "MemoryError", "NameError", "OverflowError", "RecursionError", "TypeError", "ValueError",
                    "ZeroDivisionError", "PermissionError", "SyntaxError", "UnboundLocalError"}


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _SAFE_CLASSES:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} may not come out of the sandbox")


def _plain(value: Any, depth: int = 0) -> Any:
    """What may cross the boundary: plain data; anything else (functions, modules) is dropped."""
    if depth > 64:
        raise ValueError("the data is nested too deeply")
    if value is None or isinstance(value, bool | int | float | str | bytes | date | datetime):
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v, depth + 1) for k, v in value.items() if not callable(v)}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v, depth + 1) for v in value if not callable(v)]
    return str(value)


# -- the sandbox process ---------------------------------------------------------------------------

_HEADER = struct.Struct("!Q")
MAX_FRAME = 64 * 1024 * 1024


def _vm_size() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _write_frame(stream: Any, payload: bytes) -> None:
    stream.write(_HEADER.pack(len(payload)) + payload)
    stream.flush()


def _read_frame(stream: Any) -> bytes | None:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    payload: bytes = stream.read(size)
    return payload


def serve(memory_bytes: int, cpu_seconds: float) -> None:  # pragma: no cover - runs in the sandbox process
    """The sandbox's loop: read a request on stdin, answer on stdout, until stdin closes."""
    from engine.bpmn import script_engine
    from timekeeping import calendar
    from timekeeping.clock import clock

    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr                      # print() in a script must not corrupt the replies
    limit = _vm_size() + memory_bytes
    if limit > memory_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    _write_frame(replies, b"ready")
    closures: tuple[date, ...] = ()
    while (frame := _read_frame(requests)) is not None:
        mode, code, context, external, now, wanted_closures = pickle.loads(frame)
        if wanted_closures != closures:
            calendar.configure(wanted_closures)
            closures = wanted_closures
        usage = resource.getrusage(resource.RUSAGE_SELF)
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        soft = int(usage.ru_utime + usage.ru_stime + cpu_seconds) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard))
        clock.freeze(now)
        try:
            result = script_engine.run_restricted(mode, code, context, external)
            reply: tuple[Any, ...] = ("ok", _plain(result), _plain(context))
            payload = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        except MemoryError:
            payload = pickle.dumps(("error", "MemoryError", "the script asked for more memory than diagrams may use"))
        except BaseException as exc:  # noqa: BLE001 - reported to the caller, which raises it there
            payload = pickle.dumps(("error", type(exc).__name__, str(exc)[:2000]))
        if len(payload) > MAX_FRAME:
            payload = pickle.dumps(("error", "MemoryError", "the result is too large"))
        _write_frame(replies, payload)


# -- the caller's side -----------------------------------------------------------------------------

class _Worker:
    def __init__(self, memory_bytes: int, cpu_seconds: float) -> None:
        root = Path(__file__).resolve().parents[2]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "engine.bpmn._sandbox_main", str(memory_bytes), str(cpu_seconds)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=root, close_fds=True)
        try:
            ready = self._read(STARTUP_LIMIT)
        except BaseException:
            self.stop()
            raise
        if ready != b"ready":
            self.stop()
            raise SandboxError("the sandbox process did not start")

    def ask(self, request: bytes, timeout: float) -> bytes:
        """Send a request and wait at most `timeout` seconds for the answer. Raises
        TimeLimitExceeded (no answer in time), EOFError (the process died)."""
        assert self.process.stdin is not None
        _write_frame(self.process.stdin, request)
        return self._read(timeout)

    def _read(self, timeout: float) -> bytes:
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        fd = self.process.stdout.fileno()
        buffer = b""
        needed = _HEADER.size
        header_read = False
        while len(buffer) < needed:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeLimitExceeded(f"stopped after {timeout:g} s: scripts and expressions must be short")
            chunk = os.read(fd, min(needed - len(buffer), 1 << 20))
            if not chunk:
                raise EOFError("the sandbox process ended")
            buffer += chunk
            if not header_read and len(buffer) >= _HEADER.size:
                (size,) = _HEADER.unpack(buffer[:_HEADER.size])
                if size > MAX_FRAME:
                    raise EOFError("the sandbox answered too much")
                buffer, needed, header_read = buffer[_HEADER.size:], size, True
        return buffer

    def stop(self) -> None:
        try:
            if self.process.stdin is not None:
                self.process.stdin.close()
        except OSError:
            pass
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()


class Sandbox:
    """A small pool of sandbox processes, started on first use."""

    def __init__(self, *, processes: int = DEFAULT_PROCESSES, memory_bytes: int = DEFAULT_MEMORY_BYTES,
                 time_limit: float = DEFAULT_TIME_LIMIT) -> None:
        self.processes, self.memory_bytes, self.time_limit = processes, memory_bytes, time_limit
        self._idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        self._started = 0
        self._lock = threading.Lock()

    def _take(self) -> _Worker:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if self._started < self.processes:
                self._started += 1
                try:
                    return _Worker(self.memory_bytes, self.time_limit)
                except BaseException:
                    self._started -= 1
                    raise
        return self._idle.get()

    def _retire(self, worker: _Worker) -> None:
        try:
            worker.stop()
        finally:
            with self._lock:
                self._started -= 1

    def run(self, mode: str, code: str, context: dict[str, Any], external: dict[str, Any] | None,
            now: datetime, closures: tuple[date, ...]) -> Any:
        """Run restricted code (`mode` "eval" or "exec") on `context`; for "exec" the context is
        updated in place. Raises TimeLimitExceeded, the code's own exception, or SandboxError."""
        request = pickle.dumps((mode, code, _plain(context), _plain(external or {}), now, closures),
                               protocol=pickle.HIGHEST_PROTOCOL)
        worker = self._take()
        try:
            raw = worker.ask(request, self.time_limit)
        except TimeLimitExceeded:
            self._retire(worker)
            raise
        except (EOFError, OSError) as exc:
            self._retire(worker)           # killed by its CPU limit, or died
            raise TimeLimitExceeded(f"stopped after using {self.time_limit:g} s of processor time: scripts and "
                                    "expressions must be short") from exc
        except BaseException:
            self._retire(worker)
            raise
        self._idle.put(worker)
        try:
            reply = _PlainUnpickler(io.BytesIO(raw)).load()
        except (pickle.UnpicklingError, EOFError, ValueError) as exc:
            raise SandboxError(f"the sandbox answered what cannot be read: {exc}") from exc
        if reply[0] == "error":
            raise _error(reply[1], reply[2])
        _, result, new_context = reply
        if mode == "exec":
            context.clear()
            context.update(new_context)
        return result

    def warm(self) -> None:
        """Start one sandbox process now (in the background), so the first script does not wait for it."""
        if self._started:
            return

        def start() -> None:
            try:
                self._idle.put(self._take())
            except Exception:  # noqa: BLE001 - the first script will try again and report it
                log.exception("could not start a sandbox process")
        threading.Thread(target=start, name="rf-sandbox-warm", daemon=True).start()

    def close(self) -> None:
        while True:
            try:
                self._retire(self._idle.get_nowait())
            except queue.Empty:
                break


def _error(name: str, message: str) -> BaseException:
    """The code's exception, as the same built-in type where it is one (SpiffWorkflow reports it)."""
    if name == "TimeLimitExceeded":
        return TimeLimitExceeded(message)
    if name in _SAFE_EXCEPTIONS:
        cls: type[BaseException] = getattr(builtins, name)
        return cls(message)
    return RuntimeError(f"{name}: {message}")


_sandbox = Sandbox()


def sandbox() -> Sandbox:
    """The process's sandbox pool."""
    return _sandbox


def warm() -> None:
    """Start a sandbox process in the background (at service start-up)."""
    _sandbox.warm()


def configure(*, processes: int = DEFAULT_PROCESSES, memory_bytes: int = DEFAULT_MEMORY_BYTES,
              time_limit: float = DEFAULT_TIME_LIMIT) -> None:
    """Size the pool and its limits (before it is first used; a running pool is replaced)."""
    global _sandbox
    current = _sandbox
    if (current.processes, current.memory_bytes, current.time_limit) == (processes, memory_bytes, time_limit):
        return                                   # the running pool already has these limits
    _sandbox = Sandbox(processes=processes, memory_bytes=memory_bytes, time_limit=time_limit)
    current.close()
