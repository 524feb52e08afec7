"""What a handler can say: return `Complete`, or raise `BpmnError`, `Incident` or `Interrupted`.

Any other exception is a retryable failure; the runtime decides retries and delays (`RetryPolicy`),
never the handler.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType
from typing import Any

__all__ = [
    "BpmnError",
    "Complete",
    "Dropped",
    "Failure",
    "Incident",
    "Interrupted",
    "Outcome",
    "ReportBpmnError",
    "Unlock",
    "qualified_name",
    "safe_traceback",
]

_MAX_ERROR_MESSAGE = 666  # Camunda's column; longer messages are cut by the engine anyway


class Complete:
    """The task is done; these variables go to the process. `Complete(receipt_id=r.id)`, or
    `Complete({"odd-name": 1})` for names that are not identifiers."""

    __slots__ = ("variables",)

    def __init__(self, variables: Mapping[str, Any] | None = None, /, **more: Any) -> None:
        self.variables: Mapping[str, Any] = MappingProxyType({**(variables or {}), **more})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Complete) and dict(self.variables) == dict(other.variables)

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.variables)))

    def __repr__(self) -> str:  # names only: values are case data
        return f"Complete(<{', '.join(sorted(self.variables))}>)"


class BpmnError(Exception):
    """An outcome the diagram models: an error boundary event with this `code` catches it.

    `raise BpmnError("PANEL_REJECTED", f"reason code {code}", reason_code=code)`. The message goes to
    the engine; keep case data out of it. Uncaught, it opens an incident (Reviewflow's one deviation
    from Camunda 7).
    """

    def __init__(self, code: str, message: str = "", /, **variables: Any) -> None:
        if not code:
            raise ValueError("a BpmnError needs a code")
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.variables: Mapping[str, Any] = MappingProxyType(variables)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" if self.message else self.code


class Incident(Exception):
    """A person must act (an outbound 4xx, a missing variable): report a failure with no retries left,
    which opens an incident carrying `message`. Write it for the operator; ids, never case data."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Interrupted(BaseException):
    """The worker is shutting down; the runtime unlocks the task so another worker resumes it.

    Raised by `task.stop_if_shutting_down()`. A BaseException (like asyncio's CancelledError), so a
    handler's `except Exception` does not swallow it.
    """


# --- what the runtime reports, built from the above ------------------------------------------


@dataclass(frozen=True)
class ReportBpmnError:
    code: str
    message: str
    variables: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Failure:
    """POST …/failure. `retries == 0` opens an incident."""

    message: str
    details: str
    retries: int
    retry_timeout: timedelta = timedelta(0)
    error_type: str = ""

    def __post_init__(self) -> None:
        if len(self.message) > _MAX_ERROR_MESSAGE:
            object.__setattr__(self, "message", self.message[: _MAX_ERROR_MESSAGE - 1] + "…")


@dataclass(frozen=True)
class Unlock:
    """POST …/unlock: give the task back at once (shutting down, or never started)."""

    reason: str


@dataclass(frozen=True)
class Dropped:
    """Report nothing: the task is no longer this worker's (lock lost, task gone)."""

    reason: str


Outcome = Complete | ReportBpmnError | Failure | Unlock | Dropped


def qualified_name(exc_type: type[BaseException]) -> str:
    module, name = exc_type.__module__, exc_type.__qualname__
    if module.startswith("workers.runtime._"):
        module = "workers.runtime"  # the public name, not the private module
    return name if module in ("builtins", "__main__") else f"{module}.{name}"


def safe_traceback(exc: BaseException) -> str:
    """The traceback of `exc` and of its causes: frames and exception types, without messages or locals.

    Exception messages often quote values (`KeyError('…')`, `ValueError(f"bad {name}")`), so they are
    left out; source lines are kept (they show code, not data). Safe for `errorDetails` and for logs.
    """
    chain: list[tuple[BaseException, str]] = []  # outermost first, with how it relates to the next
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if current.__cause__ is not None:
            chain.append((current, _CAUSE))
            current = current.__cause__
        elif current.__context__ is not None and not current.__suppress_context__:
            chain.append((current, _CONTEXT))
            current = current.__context__
        else:
            chain.append((current, ""))
            current = None
    out: list[str] = []
    for link_index, (error, _) in enumerate(reversed(chain)):
        if link_index:
            out.append(chain[len(chain) - 1 - link_index][1])
        if error.__traceback__ is not None:
            out.append("Traceback (most recent call last):\n")
            out.extend(traceback.format_list(traceback.extract_tb(error.__traceback__)))
        out.append(qualified_name(type(error)) + "\n")
    return "".join(out)


_CAUSE = "\nThe above exception was the direct cause of the following exception:\n\n"
_CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n\n"
