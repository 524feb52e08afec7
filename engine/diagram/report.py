"""What lint finds: problems, each with its severity, file, line and element, gathered in a report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a diagram or a form. `code` is stable (tests and clients may rely on it);
    `related_ids` names the other elements involved (a gateway's flows, a message's catchers)."""

    severity: Severity
    file: str
    line: int | None
    element_id: str | None
    message: str
    code: str
    related_ids: tuple[str, ...] = ()

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def format(self) -> str:
        """`file:line: element_id: severity: message` — one line, as compilers and editors expect."""
        return f"{self.file}:{self.line or 1}: {self.element_id or '-'}: {self.severity}: {self.message}"


@dataclass(frozen=True)
class LintReport:
    """Every problem found in a set of files, in file and line order."""

    files: tuple[str, ...]
    problems: tuple[Problem, ...] = field(default=())

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if not p.is_error]

    @property
    def ok(self) -> bool:
        """True when nothing stops a deployment (warnings may remain)."""
        return not self.errors
