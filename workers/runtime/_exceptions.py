"""Errors the worker runtime raises. Messages name ids, topics and HTTP statuses, never variable values.

* WorkerError                   base of every error workers.runtime raises on purpose
  + EngineClientError           a call to the engine did not succeed
  | + EngineUnavailable         connection refused or reset, timeout, 5xx: try again later
  | + EngineRejected            a 4xx: the engine understood the call and said no
  | | + TaskGone                404 on a task: completed, cancelled, or never existed
  | | + LockLost                400 on a task: locked by another worker, or no longer locked
  | | + InvalidRequest          400 InvalidRequestException: the request itself was malformed
  | | + NotAuthorized           401 / 403: credentials missing, wrong, or not allowed
  | + ProtocolError             the answer broke the contract (not JSON, wrong shape)
  + HandlerDefinitionError      a handler module or function breaks the protocol (raised at import)
  + VariableTypeError           a value cannot be sent as a Camunda variable (also a TypeError)

Handlers do not raise these (except a `LockLost` or `TaskGone` that `task.extend_lock()` lets
through); they raise `BpmnError`, `Incident` or `Interrupted` from `workers.runtime._outcomes`.
"""

from __future__ import annotations

__all__ = [
    "EngineClientError",
    "EngineRejected",
    "EngineUnavailable",
    "HandlerDefinitionError",
    "InvalidRequest",
    "LockLost",
    "NotAuthorized",
    "ProtocolError",
    "TaskGone",
    "VariableTypeError",
    "WorkerError",
]


class WorkerError(Exception):
    """Base of every error the worker runtime raises on purpose."""


class EngineClientError(WorkerError):
    """A call to the engine did not succeed."""


class EngineUnavailable(EngineClientError):
    """The engine could not be reached or could not answer (connection error, timeout, 5xx).

    Nothing is known about whether the call took effect; calling again later is the remedy.
    """


class EngineRejected(EngineClientError):
    """The engine answered with a 4xx: it understood the call and refused it.

    `status` is the HTTP status; `type` and `engine_message` come from Camunda's `{"type", "message"}`
    error body (empty when the body had none).
    """

    def __init__(self, message: str, *, status: int, type: str = "", engine_message: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.type = type
        self.engine_message = engine_message


class TaskGone(EngineRejected):
    """404: the external task was completed, cancelled, or never existed; its outcome is moot."""


class LockLost(EngineRejected):
    """400 on a task: it is locked by another worker, or not locked at all any more."""


class InvalidRequest(EngineRejected):
    """400 InvalidRequestException: the engine refused the request's content (e.g. a variable)."""


class NotAuthorized(EngineRejected):
    """401 or 403: the worker's credentials are missing, wrong, or not allowed to do this."""


class ProtocolError(EngineClientError):
    """The engine's answer broke the REST contract: not JSON, or not the shape it should have."""


class HandlerDefinitionError(WorkerError):
    """A handler module or function does not follow the handler protocol; raised at import time."""


class VariableTypeError(WorkerError, TypeError):
    """A value cannot be sent as a Camunda variable. The message names the variable and its Python
    type, never the value."""
