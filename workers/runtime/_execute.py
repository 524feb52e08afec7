"""Run one handler on one task and turn whatever happens into the outcome the runtime reports."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from workers.runtime._exceptions import LockLost, TaskGone, VariableTypeError
from workers.runtime._handler import HandlerModule
from workers.runtime._outcomes import (
    BpmnError,
    Complete,
    Dropped,
    Failure,
    Incident,
    Interrupted,
    Outcome,
    ReportBpmnError,
    Unlock,
    qualified_name,
    safe_traceback,
)
from workers.runtime._retry import RetryPolicy
from workers.runtime._task import ExternalTask, LockedTask
from workers.runtime._variables import encode_variables

__all__ = ["run_handler"]


def _as_complete(result: object, handler: HandlerModule) -> Complete:
    if isinstance(result, Complete):
        return result
    if result is None:
        return Complete()
    if isinstance(result, Mapping):
        return Complete(result)
    raise Incident(f"{handler.name}: handle() returned a {type(result).__name__}; "
                   "expected Complete, a dict or None")


def _incident(message: str, error: BaseException) -> Failure:
    return Failure(message, safe_traceback(error), retries=0, error_type=qualified_name(type(error)))


def run_handler(handler: HandlerModule, locked: LockedTask, services: Any = None, *,
                policy: RetryPolicy | None = None,
                heartbeat: Callable[[timedelta], None] | None = None,
                shutdown: threading.Event | None = None) -> Outcome:
    """Parse the handler's `Input`, call `handle(task, services)`, and map what happens (STYLE §2.8):

    =============================  ===================================================================
    returns Complete / dict / None  `Complete` (its variables checked here, so a bad one is named)
    raises BpmnError                `ReportBpmnError` → POST …/bpmnError
    raises Incident                 `Failure(retries=0)` → an incident; also a missing Input field
    raises Interrupted              `Unlock` → another worker takes the task at once
    LockLost / TaskGone escapes     `Dropped`: the task is not this worker's any more; report nothing
    anything else                   `Failure` with the policy's retries and delay, the exception's type
                                    as message and its traceback without messages as details
    =============================  ===================================================================

    Never raises (except BaseExceptions other than Interrupted, such as KeyboardInterrupt).
    """
    policy = policy or RetryPolicy()
    try:
        task = ExternalTask(handler.parse_input(locked.variables), locked, lock=handler.lock,
                            heartbeat=heartbeat, shutdown=shutdown)
        complete = _as_complete(handler.handle(task, services), handler)
        encode_variables(complete.variables)
        return complete
    except BpmnError as error:
        try:
            encode_variables(error.variables)
        except VariableTypeError as bad:
            return _incident(f"{handler.name}: BpmnError {error.code}: {bad}", bad)
        return ReportBpmnError(error.code, error.message, error.variables)
    except Incident as error:
        return _incident(error.message, error)
    except VariableTypeError as error:
        return _incident(f"{handler.name}: {error}", error)
    except (LockLost, TaskGone) as error:
        return Dropped(f"{type(error).__name__} while the handler ran")
    except Interrupted:
        return Unlock("interrupted: the worker is shutting down")
    except Exception as error:
        retries, delay = policy.after(locked.retries)
        return Failure(qualified_name(type(error)), safe_traceback(error), retries, delay,
                       error_type=qualified_name(type(error)))
