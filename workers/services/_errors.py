"""Errors the outbound services raise. Messages name ids, statuses and files, never case data.

* ServiceError                 base of every error workers.services raises on purpose
  + Unavailable                unreachable, timed out, 5xx, 408/429: retryable (the runtime backs off)
  + NeedsAttention             a person must act; also an `Incident`, so a handler may let it escape
    + DirectoryError           the partnership directory is missing, unreadable or inconsistent
    + Rejected                 an outbound service answered 4xx (status, and its error code if it gave one)
    + DocumentUnreadable       a case document is missing, or not in a form the handler can read

`NeedsAttention` subclasses the runtime's `Incident`: escaping a handler, it opens an incident
carrying its message (no retries). Anything else escaping is retried by the runtime.
"""

from __future__ import annotations

from workers.runtime import Incident

__all__ = ["DirectoryError", "DocumentUnreadable", "NeedsAttention", "Rejected", "ServiceError", "Unavailable"]


class ServiceError(Exception):
    """Base of every error workers.services raises on purpose."""


class Unavailable(ServiceError):
    """The service could not be reached, timed out, or answered 5xx/408/429: try again later."""


class NeedsAttention(ServiceError, Incident):
    """A person must act before this can succeed; an `Incident` to the runtime."""

    def __init__(self, message: str) -> None:
        Incident.__init__(self, message)


class DirectoryError(NeedsAttention):
    """The partnership directory file is missing, unreadable or inconsistent."""


class Rejected(NeedsAttention):
    """An outbound service answered 4xx: it understood and said no."""

    def __init__(self, message: str, *, status: int, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class DocumentUnreadable(NeedsAttention):
    """A case document is missing, or in a form the handler cannot read."""
