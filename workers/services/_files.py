"""Files written once: the outbox and the site folder are written atomically, and a key already
written is never written again, so a retried task leaves one file, not two."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

__all__ = ["digest", "safe_name", "write_atomic", "write_once"]


def digest(*parts: str, length: int = 16) -> str:
    """A short, stable hex digest of `parts` (for file names and ids that must not carry case data)."""
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:length]


def safe_name(key: str, *, limit: int = 120) -> str:
    """`key` as a file name: letters, digits, '.', '_' and '-' kept, the rest '_'; long keys end in a
    digest so that two keys never share a name."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", key).strip("._") or "key"
    if len(name) > limit or name != key:
        name = f"{name[: limit - 17]}-{digest(key)}"
    return name


def write_atomic(path: Path, content: bytes) -> None:
    """Write `content` to `path` through a temporary file and a rename: readers see all or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def write_once(path: Path, content: bytes) -> bool:
    """Write `path` unless it exists. True when this call wrote it.

    The content goes to a temporary file first and is linked into place, so two writers racing on
    one key leave exactly one complete file.
    """
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
        try:
            os.link(temp, path)   # fails if path exists: first writer wins
        except FileExistsError:
            return False
        except OSError:           # a file system without hard links
            if path.exists():
                return False
            os.replace(temp, path)
        return True
    finally:
        Path(temp).unlink(missing_ok=True)
