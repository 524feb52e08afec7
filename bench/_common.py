"""What the benchmarks share: a free port, starting and stopping a server by its pid, another process's
CPU time, nearest-rank percentiles."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of another process (Linux /proc); None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(pct / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


class BenchError(RuntimeError):
    """The system under test misbehaved (wrong status, a case not completed, a server died)."""


def timed_gets(client: httpx.Client, path: str, requests: int) -> tuple[list[float], httpx.Response]:
    """`requests` GETs of `path`, each timed in ms (sorted), and the last answer."""
    out = []
    answer = None
    for _ in range(requests):
        t0 = time.perf_counter()
        answer = client.get(path)
        out.append((time.perf_counter() - t0) * 1000)
        if answer.status_code != 200:
            raise BenchError(f"GET {path}: {answer.status_code}")
    assert answer is not None, "at least one request"
    return sorted(out), answer


def wait_ready(proc: subprocess.Popen[bytes], base_url: str, timeout_s: float, poll_s: float = 0.05,
               log: Callable[[], str] = lambda: "") -> None:
    """Until `GET /api/v1/health` answers 200; BenchError (with `log()`) if the server exits or is late."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(base_url=base_url, timeout=1.0, trust_env=False) as client:
        for _ in range(int(timeout_s / poll_s) + 1):
            if proc.poll() is not None:
                raise BenchError(f"server exited with {proc.returncode}:\n{log()}")
            try:
                if client.get("/api/v1/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                break
            time.sleep(poll_s)
    raise BenchError(f"server not ready after {timeout_s:.0f} s:\n{log()}")


def stop_process(proc: subprocess.Popen[bytes] | None, timeout_s: float, sig: int = signal.SIGTERM) -> None:
    """Stop our own child by its pid: `sig` (uvicorn shuts down cleanly on it), SIGKILL if it hangs."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout_s)


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) or "(empty log)"
    except OSError:
        return "(no server log)"
