"""Errors the engine raises. Each has a stable `code`; messages name ids, never case data.

* EngineError
  + Unavailable (the database cannot be reached now: retry; an unknown outcome says so)
  + Forbidden   NotACandidate
  + NotFound    DefinitionNotFound, InstanceNotFound, TaskNotFound, IncidentNotFound
  + Conflict    TaskNotOpen, TaskClaimedByOther, InstanceNotActive, InstanceSuspended, VersionConflict,
                LockedByAnotherWorker, BusinessKeyInUse, DuplicateRequest, IdempotencyKeyReused
  + Invalid     VariablesInvalid, DeploymentError(file, element_id, line, problems),
                MigrationPlanInvalid(report), MigrationRefused(report)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.diagram.report import Problem


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""

    code = "engine_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = {k: v for k, v in details.items() if v is not None}


class Unavailable(EngineError):
    """The database could not be reached, or went away during the command. Nothing was changed —
    unless the connection was lost while committing, which the message says: then the outcome is
    unknown, and a retry with the same Idempotency-Key finds out."""

    code = "database_unavailable"


class Forbidden(EngineError):
    """The actor may see the thing but not do this to it."""

    code = "forbidden"


class NotACandidate(Forbidden):
    code = "not_a_candidate"


class NotFound(EngineError):
    code = "not_found"


class Conflict(EngineError):
    code = "conflict"


class Invalid(EngineError):
    code = "invalid"


class DefinitionNotFound(NotFound):
    code = "definition_not_found"


class InstanceNotFound(NotFound):
    code = "instance_not_found"


class TaskNotFound(NotFound):
    code = "task_not_found"


class IncidentNotFound(NotFound):
    code = "incident_not_found"


class TaskNotOpen(Conflict):
    code = "task_not_open"


class TaskClaimedByOther(Conflict):
    code = "task_claimed_by_other"


class InstanceNotActive(Conflict):
    code = "instance_not_active"


class InstanceSuspended(Conflict):
    code = "instance_suspended"


class BusinessKeyInUse(Conflict):
    code = "business_key_in_use"


class DuplicateRequest(Conflict):
    """A request with this idempotency key is being (or has just been) carried out."""

    code = "duplicate_request"


class IdempotencyKeyReused(Conflict):
    """The idempotency key was used before for a different request."""

    code = "idempotency_key_reused"


class VersionConflict(Conflict):
    code = "version_conflict"


class LockedByAnotherWorker(Conflict):
    code = "locked_by_another_worker"


class VariablesInvalid(Invalid):
    code = "variables_invalid"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.field = field


def _where(file: str | None, line: int | None, element_id: str | None) -> str:
    return ", ".join(p for p in (file and f"file {file}", line and f"line {line}",
                                 element_id and f"element {element_id}") if p)


class DeploymentError(Invalid):
    """Diagrams that cannot be deployed. `problems` holds every problem found (errors and warnings,
    each with its file, line and element); `file`, `element_id` and `line` are the first error's."""

    code = "deployment_invalid"

    def __init__(self, message: str, *, file: str | None = None, element_id: str | None = None,
                 line: int | None = None, problems: Sequence[Problem] = ()) -> None:
        where = _where(file, line, element_id)
        super().__init__(f"{where}: {message}" if where else message,
                         file=file, element_id=element_id, line=line)
        self.file, self.element_id, self.line = file, element_id, line
        self.problems: tuple[Problem, ...] = tuple(problems) or (
            Problem("error", file or "-", line, element_id, message, "deployment"),)

    @classmethod
    def of(cls, problems: Sequence[Problem]) -> DeploymentError:
        """The refusal for a lint report with at least one error: every error in the message."""
        errors = [p for p in problems if p.is_error]
        first = errors[0]
        if len(errors) == 1:
            return cls(first.message, file=first.file, element_id=first.element_id, line=first.line,
                       problems=problems)
        listed = "; ".join(f"{_where(p.file, p.line, p.element_id)}: {p.message}" for p in errors)
        error = cls(f"{len(errors)} errors stop this deployment: {listed}", problems=problems)
        error.file, error.element_id, error.line = first.file, first.element_id, first.line
        error.details.update({k: v for k, v in (("file", first.file), ("element_id", first.element_id),
                                                ("line", first.line)) if v is not None})
        return error


class MigrationPlanInvalid(Invalid):
    """A migration plan with instructions that cannot work whatever the case (`report` says which
    and why: engine.MigrationReport)."""

    code = "migration_plan_invalid"

    def __init__(self, message: str, *, report: Any) -> None:
        super().__init__(message)
        self.report = report


class MigrationRefused(Invalid):
    """Cases that cannot move with this plan, when all were to move or none (`report` names each
    case, the activity it waits at and why)."""

    code = "migration_refused"

    def __init__(self, message: str, *, report: Any) -> None:
        super().__init__(message)
        self.report = report
