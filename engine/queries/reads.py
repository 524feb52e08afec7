"""Queries over definitions, instances, user tasks, incidents and history."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from engine.bpmn import state
from engine.errors import DefinitionNotFound, IncidentNotFound, InstanceNotFound, TaskNotFound
from engine.queries.rows import aware, incident_info, instance_info, instance_summary, user_task_info
from engine.queries.visibility import (
    can_see_instance,
    can_see_task,
    exposed_names,
    instance_clause,
    only,
    task_clause,
)
from engine.results import Actor, DefinitionInfo, HistoryEvent, IncidentInfo, InstanceInfo, Page, UserTaskInfo
from engine.store.database import Database
from engine.store.tables import definition, external_task, history_event, incident, instance, user_task

MAX_PAGE = 200
INSTANCE_STATUSES = ("active", "completed", "cancelled")

_definition_columns = [c for c in definition.c if c.name not in ("xml", "forms", "calls")]


def _page_args(limit: int, offset: int) -> tuple[int, int]:
    return max(1, min(limit, MAX_PAGE)), max(0, offset)


def _definition(row: Any) -> DefinitionInfo:
    return DefinitionInfo(id=row.id, key=row.key, version=row.version, name=row.name,
                          resource_name=row.resource_name, checksum=row.checksum,
                          deployment_id=row.deployment_id, deployed_at=aware(row.deployed_at),
                          deployed_by=row.deployed_by)


def list_definitions(db: Database, *, key: str | None = None, latest_only: bool = False,
                     limit: int = 50, offset: int = 0) -> Page[DefinitionInfo]:
    limit, offset = _page_args(limit, offset)
    query = sa.select(*_definition_columns)
    if key is not None:
        query = query.where(definition.c.key == key)
    if latest_only:
        latest = (sa.select(definition.c.key, sa.func.max(definition.c.version).label("v"))
                  .group_by(definition.c.key).subquery())
        query = query.join(latest, sa.and_(latest.c.key == definition.c.key, latest.c.v == definition.c.version))
    with db.read() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
        rows = conn.execute(query.order_by(definition.c.key, definition.c.version).limit(limit).offset(offset))
        return Page([_definition(r) for r in rows], count)


def get_definition(db: Database, *, definition_id: str) -> DefinitionInfo:
    """Raises: DefinitionNotFound."""
    with db.read() as conn:
        row = conn.execute(sa.select(*_definition_columns).where(definition.c.id == definition_id)).one_or_none()
    if row is None:
        raise DefinitionNotFound(f"no process definition with id {definition_id}")
    return _definition(row)


def latest_definition(db: Database, *, key: str) -> DefinitionInfo:
    """Raises: DefinitionNotFound."""
    with db.read() as conn:
        row = conn.execute(sa.select(*_definition_columns).where(definition.c.key == key)
                           .order_by(definition.c.version.desc()).limit(1)).one_or_none()
    if row is None:
        raise DefinitionNotFound(f"no process definition with key {key}")
    return _definition(row)


def definition_xml(db: Database, *, definition_id: str) -> str:
    """Raises: DefinitionNotFound."""
    with db.read() as conn:
        xml = conn.execute(sa.select(definition.c.xml).where(definition.c.id == definition_id)).scalar_one_or_none()
    if xml is None:
        raise DefinitionNotFound(f"no process definition with id {definition_id}")
    return xml


def get_instance(db: Database, *, instance_id: str, viewer: Actor | None = None) -> InstanceInfo:
    """Raises: InstanceNotFound (also when `viewer` may not see it)."""
    with db.read() as conn:
        visible = viewer is None or can_see_instance(conn, viewer, instance_id)
        info = instance_info(conn, instance_id) if visible else None
    if info is None:
        raise InstanceNotFound(f"no process instance with id {instance_id}")
    return info


def list_instances(db: Database, *, definition_key: str | None = None, business_key: str | None = None,
                   status: str | None = None, definition_id: str | None = None,
                   limit: int = 50, offset: int = 0, viewer: Actor | None = None) -> Page[InstanceInfo]:
    limit, offset = _page_args(limit, offset)
    columns = [c for c in instance.c if c.name != "state"]
    where = [] if viewer is None else [instance_clause(viewer)]
    if definition_key is not None:
        where.append(instance.c.definition_key == definition_key)
    if definition_id is not None:
        where.append(instance.c.definition_id == definition_id)
    if business_key is not None:
        where.append(instance.c.business_key == business_key)
    if status is not None:
        where.append(instance.c.status == status)
    with db.read() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(instance).where(*where)).scalar_one()
        rows = conn.execute(sa.select(*columns).where(*where)
                            .order_by(instance.c.started_at.desc(), instance.c.id).limit(limit).offset(offset))
        return Page([instance_summary(r) for r in rows], count)


def list_user_tasks(db: Database, *, candidate_group: str | None = None, candidate_groups: list[str] | None = None,
                    candidate_user: str | None = None, assignee: str | None = None,
                    unassigned: bool | None = None, instance_id: str | None = None,
                    business_key: str | None = None, definition_key: str | None = None,
                    activity_id: str | None = None, limit: int = 50, offset: int = 0,
                    viewer: Actor | None = None) -> Page[UserTaskInfo]:
    limit, offset = _page_args(limit, offset)
    where: list[Any] = [] if viewer is None else [task_clause(viewer)]
    groups = list(candidate_groups or []) + ([candidate_group] if candidate_group else [])
    if groups:
        where.append(sa.or_(*[user_task.c.candidate_groups.contains(f",{g},", autoescape=True) for g in groups]))
    if candidate_user is not None:
        where.append(user_task.c.candidate_users.contains(f",{candidate_user},", autoescape=True))
    if assignee is not None:
        where.append(user_task.c.assignee == assignee)
    if unassigned:
        where.append(user_task.c.assignee.is_(None))
    if instance_id is not None:
        where.append(user_task.c.instance_id == instance_id)
    if business_key is not None:
        where.append(user_task.c.business_key == business_key)
    if definition_key is not None:
        where.append(user_task.c.definition_key == definition_key)
    if activity_id is not None:
        where.append(user_task.c.activity_id == activity_id)
    with db.read() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(user_task).where(*where)).scalar_one()
        rows = conn.execute(sa.select(user_task).where(*where)
                            .order_by(user_task.c.priority.desc(), user_task.c.created_at, user_task.c.id)
                            .limit(limit).offset(offset))
        return Page([user_task_info(r) for r in rows], count)


def get_user_task(db: Database, *, task_id: str, with_variables: bool = True,
                  viewer: Actor | None = None) -> UserTaskInfo:
    """An open user task with its form schema and the variables it exposes — its form's fields, its
    `reads` and whose task it is (queries.visibility) — never the rest of what its data holds.

    Raises: TaskNotFound (also for tasks no longer open, or that `viewer` may not see).
    """
    with db.read() as conn:
        row = conn.execute(sa.select(user_task).where(user_task.c.id == task_id)).one_or_none()
        if row is None or (viewer is not None and not can_see_task(conn, viewer, task_id)):
            raise TaskNotFound(f"no open user task with id {task_id}")
        inst = conn.execute(sa.select(instance.c.state, instance.c.state_format)
                            .where(instance.c.id == row.instance_id)).one() if with_variables else None
    schema = db.specs.forms(row.definition_id).get(row.form_key) if row.form_key else None
    variables = None
    if inst is not None:
        wf = state.loads(inst.state, inst.state_format, db.specs.get)
        task = wf.get_task_from_id(uuid.UUID(task_id))
        names = exposed_names(task.task_spec, schema, db.organisation_variable)
        variables = only(state.to_plain(task.data), names)
    return user_task_info(row, form_schema=schema, variables=variables)


def instance_history(db: Database, *, instance_id: str, viewer: Actor | None = None) -> list[HistoryEvent]:
    """Every event of an instance, in the order it happened. Raises: InstanceNotFound."""
    with db.read() as conn:
        exists = conn.execute(sa.select(instance.c.id).where(instance.c.id == instance_id)).first()
        if exists is None or (viewer is not None and not can_see_instance(conn, viewer, instance_id)):
            raise InstanceNotFound(f"no process instance with id {instance_id}")
        rows = conn.execute(sa.select(history_event).where(history_event.c.instance_id == instance_id)
                            .order_by(history_event.c.id))
        return [HistoryEvent(id=r.id, instance_id=r.instance_id, at=aware(r.at), kind=r.kind, actor=r.actor,
                             task_id=r.task_id, activity_id=r.activity_id, details=r.details) for r in rows]


def list_incidents(db: Database, *, instance_id: str | None = None, type: str | None = None,
                   open_only: bool = True, limit: int = 50, offset: int = 0,
                   viewer: Actor | None = None) -> Page[IncidentInfo]:
    limit, offset = _page_args(limit, offset)
    where: list[Any] = [] if viewer is None else [incident.c.instance_id.in_(
        sa.select(instance.c.id).where(instance_clause(viewer)))]
    if instance_id is not None:
        where.append(incident.c.instance_id == instance_id)
    if type is not None:
        where.append(incident.c.type == type)
    if open_only:
        where.append(incident.c.resolved_at.is_(None))
    with db.read() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(incident).where(*where)).scalar_one()
        rows = conn.execute(sa.select(incident).where(*where).order_by(incident.c.created_at, incident.c.id)
                            .limit(limit).offset(offset))
        return Page([incident_info(r) for r in rows], count)


def get_incident(db: Database, *, incident_id: str) -> IncidentInfo:
    """Raises: IncidentNotFound."""
    with db.read() as conn:
        row = conn.execute(sa.select(incident).where(incident.c.id == incident_id)).one_or_none()
    if row is None:
        raise IncidentNotFound(f"no incident with id {incident_id}")
    return incident_info(row)


_task_history_instance = (sa.select(history_event.c.instance_id)          # every task has a task_created event
                          .where(history_event.c.task_id == sa.bindparam("task_id")).limit(1))
_user_task_instance = sa.select(user_task.c.instance_id).where(user_task.c.id == sa.bindparam("task_id"))
_external_task_instance = sa.select(external_task.c.instance_id).where(
    external_task.c.id == sa.bindparam("task_id"))


def instance_of_task(db: Database, *, task_id: str) -> str | None:
    """The instance a user or external task belongs (or belonged) to, for the audit trail."""
    with db.read() as conn:
        return instance_of_task_on(conn, task_id)


def instance_of_task_on(conn: sa.Connection, task_id: str) -> str | None:
    for query in (_task_history_instance, _user_task_instance, _external_task_instance):
        found = conn.execute(query, {"task_id": task_id}).scalar()
        if found is not None:
            return found
    return None
