"""The statutory milestones the process owners declare beside their diagrams (<bpmn_dir>/milestones.toml),
loaded on first use and again whenever the file changes."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from fastapi import Request

import engine

log = logging.getLogger(__name__)
FILE_NAME = "milestones.toml"
NONE = engine.Milestones(())


class MilestonesFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: float | None = None
        self._value = NONE

    def get(self) -> engine.Milestones:
        try:
            stamp = self.path.stat().st_mtime
        except OSError:
            if self._stamp is not None or self._value is NONE:
                log.warning("no milestones file at %s: no statutory deadlines are shown", self.path)
            self._stamp, self._value = None, NONE
            return NONE
        if stamp != self._stamp:
            with self._lock:
                if stamp != self._stamp:
                    self._value = engine.load_milestones(self.path)       # Invalid names the file and the fault
                    self._stamp = stamp
        return self._value


def milestones(request: Request) -> engine.Milestones:
    state = request.app.state
    holder = getattr(state, "milestones_file", None)
    if holder is None:
        holder = state.milestones_file = MilestonesFile(Path(state.settings.bpmn_dir) / FILE_NAME)
    return holder.get()
