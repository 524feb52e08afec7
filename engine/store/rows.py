"""Row -> result value conversions shared by queries and commands."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, overload

import sqlalchemy as sa

from engine.errors import EngineError
from engine.results import ExternalTaskInfo, IncidentInfo, InstanceInfo, UserTaskInfo
from engine.store.projection import unpack
from engine.store.tables import external_task, incident, instance, user_task

if TYPE_CHECKING:
    from engine.store.database import Database


@overload
def aware(value: datetime) -> datetime: ...
@overload
def aware(value: None) -> None: ...
def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything inside is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def one(db: Database, statement: sa.Select[Any], missing: EngineError) -> Any:
    """The one row `statement` reads, in a read transaction of its own; raises `missing` when none."""
    with db.read() as conn:
        row = conn.execute(statement).one_or_none()
    if row is None:
        raise missing
    return row


def user_task_info(row: Any, **extra: Any) -> UserTaskInfo:
    return UserTaskInfo(
        id=row.id, instance_id=row.instance_id, definition_id=row.definition_id,
        definition_key=row.definition_key, business_key=row.business_key, activity_id=row.activity_id,
        name=row.name, documentation=row.documentation, lane=row.lane,
        candidate_groups=unpack(row.candidate_groups), candidate_users=unpack(row.candidate_users),
        assignee=row.assignee, form_key=row.form_key, priority=row.priority,
        created_at=aware(row.created_at), claimed_at=aware(row.claimed_at),
        organisation=getattr(row, "organisation", None), **extra)


def external_task_info(row: Any) -> ExternalTaskInfo:
    return ExternalTaskInfo(
        id=row.id, instance_id=row.instance_id, definition_id=row.definition_id,
        definition_key=row.definition_key, business_key=row.business_key, activity_id=row.activity_id,
        topic=row.topic, priority=row.priority, extension_properties=row.extension_properties or {},
        worker_id=row.worker_id, lock_expires_at=aware(row.lock_expires_at), retries=row.retries,
        error_message=row.error_message, created_at=aware(row.created_at),
        lock_owner=getattr(row, "lock_owner", None))


def incident_info(row: Any) -> IncidentInfo:
    return IncidentInfo(id=row.id, instance_id=row.instance_id, task_id=row.task_id,
                        activity_id=row.activity_id, type=row.type, message=row.message,
                        created_at=aware(row.created_at), resolved_at=aware(row.resolved_at))


_instance_by_id = sa.select(*[c for c in instance.c if c.name != "state"]).where(
    instance.c.id == sa.bindparam("id"))
_user_tasks_of = sa.select(user_task).where(user_task.c.instance_id == sa.bindparam("id")).order_by(
    user_task.c.created_at, user_task.c.id)
_external_tasks_of = sa.select(external_task).where(
    external_task.c.instance_id == sa.bindparam("id")).order_by(external_task.c.created_at, external_task.c.id)
OPEN_INCIDENTS_OF = sa.select(incident).where(incident.c.instance_id == sa.bindparam("id"),
                                              incident.c.resolved_at.is_(None)).order_by(incident.c.created_at)


def instance_info(conn: sa.Connection, instance_id: str, *, row: Any = None) -> InstanceInfo | None:
    """An instance with its variables, open user and external tasks and open incidents."""
    if row is None:
        row = conn.execute(_instance_by_id, {"id": instance_id}).one_or_none()
        if row is None:
            return None
    params = {"id": instance_id}
    return InstanceInfo(
        id=row.id, definition_id=row.definition_id, definition_key=row.definition_key,
        business_key=row.business_key, status=row.status, version=row.version,
        started_at=aware(row.started_at), started_by=row.started_by, updated_at=aware(row.updated_at),
        ended_at=aware(row.ended_at), end_reason=row.end_reason, next_timer_at=aware(row.next_timer_at),
        variables=row.variables or {},
        user_tasks=[user_task_info(r) for r in conn.execute(_user_tasks_of, params)],
        external_tasks=[external_task_info(r) for r in conn.execute(_external_tasks_of, params)],
        incidents=[incident_info(r) for r in conn.execute(OPEN_INCIDENTS_OF, params)], suspended=bool(row.suspended))


def instance_summary(row: Any) -> InstanceInfo:
    return InstanceInfo(
        id=row.id, definition_id=row.definition_id, definition_key=row.definition_key,
        business_key=row.business_key, status=row.status, version=row.version,
        started_at=aware(row.started_at), started_by=row.started_by, updated_at=aware(row.updated_at),
        ended_at=aware(row.ended_at), end_reason=row.end_reason, next_timer_at=aware(row.next_timer_at),
        variables=row.variables or {}, suspended=bool(row.suspended))
