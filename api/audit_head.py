"""The audit trail's head, published where the database's users cannot rewrite it.

The chain in the database shows an edit or a deletion in its middle, but not the deletion of its
newest entries, nor a chain rebuilt from scratch after removing one user's entries: whoever can
write the database can do both. So after each commit the newest (seq, hash) is published — to a
file (best on another machine's share, or an append-only mount) or to a URL (a witness service,
which must keep the highest seq it is sent) — with an HMAC under a key kept outside the database
when one is configured. `reviewflow audit verify --head FILE|URL` checks the chain against it.

Publishing is coalesced on a background thread: a burst of requests writes the head a few times,
not once each. What can be lost is the window between a commit and the next publication (at most
`interval` seconds while the service runs); the documented procedure (SECURITY.md) is to verify
against the witness regularly.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

import engine

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Head:
    seq: int
    hash: str
    at: str | None = None
    mac: str | None = None

    def signed(self, key: bytes | None) -> Head:
        return Head(self.seq, self.hash, self.at, _mac(key, self.seq, self.hash) if key else None)

    def as_json(self) -> str:
        return json.dumps({"seq": self.seq, "hash": self.hash, "at": self.at, "mac": self.mac}, sort_keys=True)


def _mac(key: bytes, seq: int, digest: str) -> str:
    return hmac.new(key, f"{seq}:{digest}".encode(), hashlib.sha256).hexdigest()


class HeadProblem(Exception):
    """The recorded head cannot be read, or its HMAC does not match."""


def read_head(where: str, key: bytes | None = None, *, timeout: float = 10.0) -> Head:
    """The head recorded at a file path or an http(s) URL. Raises HeadProblem."""
    try:
        if where.startswith(("http://", "https://")):
            text = httpx.get(where, timeout=timeout).raise_for_status().text
        else:
            text = Path(where).read_text()
        raw = json.loads(text)
        head = Head(int(raw["seq"]), str(raw["hash"]), raw.get("at"), raw.get("mac"))
    except (OSError, ValueError, KeyError, TypeError, httpx.HTTPError) as exc:
        raise HeadProblem(f"cannot read the recorded audit head from {where}: {exc}") from exc
    if key is not None and not (head.mac and hmac.compare_digest(head.mac, _mac(key, head.seq, head.hash))):
        raise HeadProblem("the recorded audit head's HMAC does not match: it was not written by this service")
    return head


class HeadPublisher:
    """Listens for new audit heads (engine.SIGNAL_AUDIT_HEAD) and publishes the newest."""

    def __init__(self, db: engine.Database, where: str, key: bytes | None = None, *, interval: float = 0.2) -> None:
        self._db, self._where, self._key, self._interval = db, where, key, interval
        self._latest: tuple[int, str] | None = None
        self._published = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="rf-audit-head", daemon=True)

    def start(self) -> None:
        self._db.signals.subscribe(self._on_signal)
        self._thread.start()

    def stop(self) -> None:
        self._db.signals.unsubscribe(self._on_signal)
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)
        self._publish()                       # the last head, on the way out

    def _on_signal(self, channel: str, payload: str) -> None:
        if channel != engine.SIGNAL_AUDIT_HEAD:
            return
        seq, _, digest = payload.partition(":")
        with self._lock:
            if self._latest is None or int(seq) > self._latest[0]:
                self._latest = (int(seq), digest)
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            self._publish()
            self._stop.wait(self._interval)

    def _publish(self) -> None:
        with self._lock:
            latest = self._latest
        if latest is None or latest[0] <= self._published:
            return
        head = Head(latest[0], latest[1], datetime.now(UTC).isoformat()).signed(self._key)
        try:
            if self._where.startswith(("http://", "https://")):
                httpx.put(self._where, content=head.as_json(), headers={"content-type": "application/json"},
                          timeout=5).raise_for_status()
            else:
                _write_file(Path(self._where), head)
            self._published = latest[0]
        except Exception:  # noqa: BLE001 - the next commit tries again; the service goes on
            log.exception("could not publish the audit head")


def _write_file(path: Path, head: Head) -> None:
    """Replace the file atomically, readable by its owner only; never move it backwards."""
    try:
        current = json.loads(path.read_text())
        if int(current.get("seq", 0)) >= head.seq:
            return
    except (OSError, ValueError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".audit-head.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(head.as_json())
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
