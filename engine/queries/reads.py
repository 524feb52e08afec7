"""Queries over definitions, instances, user tasks, incidents and history."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from engine.bpmn import state
from engine.errors import DefinitionNotFound, IncidentNotFound, InstanceNotFound, Invalid, TaskNotFound
from engine.queries.filters import variable_clause
from engine.queries.private_data import names_hidden_everywhere, redact
from engine.queries.visibility import (
    can_see_instance,
    can_see_task,
    exposed_names,
    instance_clause,
    only,
    sees_widely,
    task_clause,
)
from engine.results import (
    Actor,
    DefinitionInfo,
    HistoryEvent,
    IncidentInfo,
    InstanceInfo,
    Page,
    UserTaskInfo,
    VariableFilter,
)
from engine.store.database import Database
from engine.store.packed import holds_any
from engine.store.rows import aware, incident_info, instance_info, instance_summary, one, user_task_info
from engine.store.tables import definition, external_task, history_event, incident, instance, user_task

MAX_PAGE = 1000
INSTANCE_STATUSES = ("active", "completed", "cancelled")

_definition_columns = [c for c in definition.c if c.name not in ("xml", "forms", "calls")]


def _page_args(limit: int, offset: int) -> tuple[int, int]:
    return max(1, min(limit, MAX_PAGE)), max(0, offset)


def _definition(row: Any) -> DefinitionInfo:
    return DefinitionInfo(id=row.id, key=row.key, version=row.version, name=row.name,
                          resource_name=row.resource_name, checksum=row.checksum,
                          deployment_id=row.deployment_id, deployed_at=aware(row.deployed_at),
                          deployed_by=row.deployed_by)


DEFINITION_SORTS = {"key": definition.c.key, "version": definition.c.version, "id": definition.c.id,
                    "name": definition.c.name, "deploymentId": definition.c.deployment_id}


def list_definitions(db: Database, *, key: str | None = None, latest_only: bool = False,
                     definition_id: str | None = None, keys: list[str] | None = None, key_like: str | None = None,
                     name: str | None = None, version: int | None = None, deployment_id: str | None = None,
                     sort_by: str | None = None, descending: bool = False,
                     limit: int = 50, offset: int = 0) -> Page[DefinitionInfo]:
    """Deployed definitions matching every filter given, by key then version unless sorted otherwise.
    Raises: Invalid."""
    limit, offset = _page_args(limit, offset)
    if sort_by is not None and sort_by not in DEFINITION_SORTS:
        raise Invalid(f"definitions sort by one of {', '.join(DEFINITION_SORTS)}, not {sort_by!r}")
    query = sa.select(*_definition_columns)
    for column, value in ((definition.c.key, key), (definition.c.id, definition_id), (definition.c.name, name),
                          (definition.c.version, version), (definition.c.deployment_id, deployment_id)):
        if value is not None:
            query = query.where(column == value)
    if keys is not None:
        query = query.where(definition.c.key.in_(keys))
    if key_like is not None:
        query = query.where(definition.c.key.like(key_like))
    if latest_only:
        latest = (sa.select(definition.c.key, sa.func.max(definition.c.version).label("v"))
                  .group_by(definition.c.key).subquery())
        query = query.join(latest, sa.and_(latest.c.key == definition.c.key, latest.c.v == definition.c.version))
    with db.read() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
        order: list[Any]
        if sort_by is None:
            order = [definition.c.key, definition.c.version]
        else:
            column = DEFINITION_SORTS[sort_by]
            order = [column.desc() if descending else column.asc(), definition.c.id]
        rows = conn.execute(query.order_by(*order).limit(limit).offset(offset))
        return Page([_definition(r) for r in rows], count)


def get_definition(db: Database, *, definition_id: str) -> DefinitionInfo:
    """Raises: DefinitionNotFound."""
    return _definition(one(db, sa.select(*_definition_columns).where(definition.c.id == definition_id),
                           DefinitionNotFound(f"no process definition with id {definition_id}")))


def latest_definition(db: Database, *, key: str) -> DefinitionInfo:
    """Raises: DefinitionNotFound."""
    return _definition(one(db, sa.select(*_definition_columns).where(definition.c.key == key)
                           .order_by(definition.c.version.desc()).limit(1),
                           DefinitionNotFound(f"no process definition with key {key}")))


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
    if viewer is not None and db.private_data:
        info = dataclasses.replace(info, variables=redact(db.private_data, viewer, info.variables))
    return info


def _filters_private(db: Database, viewer: Actor | None, filters: list[VariableFilter] | None) -> bool:
    """Whether a variable filter names private data the viewer may not search by (it then matches nothing)."""
    hidden = names_hidden_everywhere(db.private_data, viewer) if viewer is not None and db.private_data else set()
    return any(f.name.split(".")[0] in hidden for f in filters or [])


def _given(*filters: tuple[Any, Callable[[Any], Any]]) -> list[Any]:
    """The clauses of the filters that were given: (value, what makes its clause), None for not given."""
    return [clause(value) for value, clause in filters if value is not None]


INSTANCE_SORTS = {"started": instance.c.started_at, "instanceId": instance.c.id,
                  "definitionKey": instance.c.definition_key, "definitionId": instance.c.definition_id,
                  "businessKey": instance.c.business_key, "updated": instance.c.updated_at}


def list_instances(db: Database, *, definition_key: str | None = None, business_key: str | None = None,
                   status: str | None = None, definition_id: str | None = None, ids: list[str] | None = None,
                   definition_keys: list[str] | None = None, business_key_like: str | None = None,
                   suspended: bool | None = None, with_incident: bool | None = None,
                   started_before: datetime | None = None, started_after: datetime | None = None,
                   variables: list[VariableFilter] | None = None, sort_by: str = "started", descending: bool = True,
                   limit: int = 50, offset: int = 0, viewer: Actor | None = None,
                   with_count: bool = True) -> Page[InstanceInfo]:
    """Instances matching every filter given, in the database (so pages and counts are right at any
    size), `viewer`'s need-to-know included; without `with_count`, nothing is counted (the count is
    -1); with `limit` 0, only the count.
    Raises: Invalid (an unknown sort or a bad filter)."""
    count_only = limit == 0
    limit, offset = _page_args(limit, offset)
    if sort_by not in INSTANCE_SORTS:
        raise Invalid(f"instances sort by one of {', '.join(INSTANCE_SORTS)}, not {sort_by!r}")
    if _filters_private(db, viewer, variables):
        return Page([], 0)
    columns = [c for c in instance.c if c.name != "state"]
    where = [] if viewer is None else [instance_clause(viewer)]
    c = instance.c
    where += _given((definition_key, c.definition_key.__eq__), (definition_id, c.definition_id.__eq__),
                    (business_key, c.business_key.__eq__), (status, c.status.__eq__), (suspended, c.suspended.__eq__),
                    (ids, c.id.in_), (definition_keys, c.definition_key.in_), (business_key_like, c.business_key.like),
                    (started_before, c.started_at.__lt__), (started_after, c.started_at.__gt__))
    failing = sa.select(incident.c.instance_id).where(incident.c.resolved_at.is_(None))
    if with_incident is True:                            # the count: the few open incidents lead, not every case
        where.append(instance.c.id.in_(failing))
    elif with_incident is False:
        where.append(sa.not_(sa.exists().where(incident.c.instance_id == instance.c.id,
                                               incident.c.resolved_at.is_(None))))
    where += [variable_clause(db.dialect, instance.c.id, f) for f in variables or []]
    column = INSTANCE_SORTS[sort_by]
    # the sort column then the id, both one way: an index (ix_instance_*_id) gives the order and the
    # page without sorting; the page's ids come from the index first, then only their rows are read
    order = [column.desc(), instance.c.id.desc()] if descending else [column.asc(), instance.c.id.asc()]
    sqlite = db.dialect.name == "sqlite"
    with db.read() as conn:
        wide = viewer is not None and sees_widely(conn, viewer)
        if not with_count:
            count, exact = -1, False
        elif viewer is not None and wide and sqlite:
            count, exact = _sampled_count(conn, where[1:], viewer)
        else:
            count, exact = count_rows(conn, db.dialect.name, instance, where)
        if count_only:                                   # a count alone
            return Page([], count, exact)
        page_where = list(where)
        walk: Any = sa.literal_column("+instance.id") if sqlite else instance.c.id
        if viewer is not None and (wide or sqlite):
            page_where[0] = instance_clause(viewer, key=walk, probe=wide)
        if sqlite:                                       # the page: SQLite walks the sort's index (see visibility)
            if with_incident is True:
                page_where[len(where) - 1 - len(variables or [])] = walk.in_(failing)
            for n, f in enumerate(variables or []):
                page_where[len(where) - len(variables or []) + n] = variable_clause(db.dialect, walk, f)
        page_ids = sa.select(instance.c.id).where(*page_where).order_by(*order).limit(limit).offset(offset)
        rows = conn.execute(sa.select(*columns).where(instance.c.id.in_(page_ids.scalar_subquery()))
                            .order_by(*order))
        found = [instance_summary(r) for r in rows]
    if viewer is not None and db.private_data:
        found = [dataclasses.replace(i, variables=redact(db.private_data, viewer, i.variables)) for i in found]
    return Page(found, count, exact)


ESTIMATE_ABOVE = 10_000
SAMPLE = 1_000


def _sampled_count(conn: sa.Connection, filters: list[Any], viewer: Actor) -> tuple[int, bool]:
    """How many cases matching `filters` `viewer` may see, on SQLite for a viewer who sees widely
    (visibility.sees_widely), where an exact count looks up every matching case: exact when at most
    ESTIMATE_ABOVE cases match the filters; above, an estimate: the cases matching the filters
    (counted exactly, from an index) times the share of the first SAMPLE of them in id order that
    `viewer` may see. Ids are random (UUID 4), so those are a random sample (the estimate is within
    about 3 percentage points of the share, 19 times in 20), and the same one from one page to the next."""
    matching = int(conn.execute(sa.select(sa.func.count()).select_from(instance).where(*filters)).scalar_one())
    if matching <= ESTIMATE_ABOVE:
        return int(conn.execute(sa.select(sa.func.count()).select_from(instance).where(
            *filters, instance_clause(viewer, probe=True))).scalar_one()), True
    sample = sa.select(instance.c.id).where(*filters).order_by(instance.c.id).limit(SAMPLE).subquery()
    seen = sa.select(sa.func.count(), sa.func.count().filter(instance_clause(viewer, key=sample.c.id, probe=True)))
    taken, visible = conn.execute(seen.select_from(sample)).one()
    return (round(matching * visible / taken) if taken else 0), False


def count_rows(conn: sa.Connection, dialect: str, table: sa.Table, where: list[Any]) -> tuple[int, bool]:
    """How many rows of `table` match `where`, and whether exactly. On PostgreSQL, where counting walks
    every matching row, a count its planner expects above ESTIMATE_ABOVE is the planner's estimate
    (from the statistics autovacuum's ANALYZE keeps; typically within a few per cent unfiltered,
    rougher under filters); below it, and always on SQLite, the exact number."""
    if dialect == "postgresql":
        rows: sa.Select[Any] = sa.select(sa.literal_column("1")).select_from(table).where(*where)
        compiled = rows.compile(conn, compile_kwargs={"render_postcompile": True})
        plan: Any = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params).scalar_one()
        estimate = int((json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]["Plan Rows"])
        if estimate > ESTIMATE_ABOVE:
            return estimate, False
    return int(conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()), True


TASK_SORTS = {"priority": user_task.c.priority, "created": user_task.c.created_at, "id": user_task.c.id,
              "name": user_task.c.name, "assignee": user_task.c.assignee,
              "processInstanceId": user_task.c.instance_id}


#: a task list matching at most this many tasks (counted exactly) reads them all and sorts them, rather
#: than walk PostgreSQL's index in the lists' order until a page is full: its planner takes a viewer's
#: groups and organisation for independent, expects thousands where an agency lead whose organisation
#: has no open task sees none, and would read every open task in that order (21,665 at 100,000 cases).
#: With a thousand matches among 21,665, the walk reads about as many tasks as gathering them does.
FEW_TASKS = 1_000


def list_user_tasks(db: Database, *, candidate_group: str | None = None, candidate_groups: list[str] | None = None,
                    candidate_user: str | None = None, assignee: str | None = None,
                    unassigned: bool | None = None, instance_id: str | None = None,
                    business_key: str | None = None, definition_key: str | None = None,
                    activity_id: str | None = None, ids: list[str] | None = None,
                    definition_id: str | None = None, activity_ids: list[str] | None = None,
                    name_like: str | None = None, assignee_like: str | None = None,
                    created_before: datetime | None = None, created_after: datetime | None = None,
                    variables: list[VariableFilter] | None = None, sort_by: str | None = None,
                    descending: bool = False, limit: int = 50, offset: int = 0,
                    viewer: Actor | None = None) -> Page[UserTaskInfo]:
    """Open user tasks matching every filter given — `variables` filter on their instance's
    variables — in the database, `viewer`'s need-to-know included; highest priority and oldest first
    unless sorted otherwise. Raises: Invalid."""
    limit, offset = _page_args(limit, offset)
    if sort_by is not None and sort_by not in TASK_SORTS:
        raise Invalid(f"tasks sort by one of {', '.join(TASK_SORTS)}, not {sort_by!r}")
    if _filters_private(db, viewer, variables):
        return Page([], 0)
    where: list[Any] = [] if viewer is None else [task_clause(viewer)]
    groups = list(candidate_groups or []) + ([candidate_group] if candidate_group else [])
    if groups:
        where.append(holds_any(user_task.c.candidate_groups, groups))
    if candidate_user is not None:
        where.append(holds_any(user_task.c.candidate_users, [candidate_user]))
    if unassigned:
        where.append(user_task.c.assignee.is_(None))
    c = user_task.c
    where += _given((assignee, c.assignee.__eq__), (instance_id, c.instance_id.__eq__),
                    (business_key, c.business_key.__eq__), (definition_key, c.definition_key.__eq__),
                    (activity_id, c.activity_id.__eq__), (definition_id, c.definition_id.__eq__),
                    (ids, c.id.in_), (activity_ids, c.activity_id.in_), (name_like, c.name.like),
                    (assignee_like, c.assignee.like), (created_before, c.created_at.__lt__),
                    (created_after, c.created_at.__gt__))
    where += [variable_clause(db.dialect, user_task.c.instance_id, f) for f in variables or []]
    with db.read() as conn:
        count, exact = count_rows(conn, db.dialect.name, user_task, where)
        if exact and offset >= count:
            return Page([], count, exact)
        if sort_by is None:                              # gathered: see FEW_TASKS
            priority = user_task.c.priority + 0 if exact and count <= FEW_TASKS else user_task.c.priority
            order = [priority.desc(), user_task.c.created_at, user_task.c.id]
        else:
            column = TASK_SORTS[sort_by]
            order = [column.desc() if descending else column.asc(), user_task.c.id]
        rows = conn.execute(sa.select(user_task).where(*where).order_by(*order).limit(limit).offset(offset))
        return Page([user_task_info(r) for r in rows], count, exact)


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
        data = state.to_plain(task.data)
        variables = redact(db.private_data, viewer, only(data, names), case_variables=data)
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
                   open_only: bool = True, activity_id: str | None = None, incident_id: str | None = None,
                   definition_id: str | None = None, limit: int = 50, offset: int = 0,
                   viewer: Actor | None = None) -> Page[IncidentInfo]:
    limit, offset = _page_args(limit, offset)
    where: list[Any] = [] if viewer is None or viewer.sees_all_cases else [incident.c.instance_id.in_(
        sa.select(instance.c.id).where(instance_clause(viewer)))]        # not a list of every case's id
    c = incident.c
    where += _given((instance_id, c.instance_id.__eq__), (type, c.type.__eq__), (activity_id, c.activity_id.__eq__),
                    (incident_id, c.id.__eq__))
    if definition_id is not None:
        where.append(incident.c.instance_id.in_(sa.select(instance.c.id).where(
            instance.c.definition_id == definition_id)))
    if open_only:
        where.append(incident.c.resolved_at.is_(None))
    with db.read() as conn:
        count, exact = count_rows(conn, db.dialect.name, incident, where)
        rows = conn.execute(sa.select(incident).where(*where).order_by(incident.c.created_at, incident.c.id)
                            .limit(limit).offset(offset))
        return Page([incident_info(r) for r in rows], count, exact)


def get_incident(db: Database, *, incident_id: str) -> IncidentInfo:
    """Raises: IncidentNotFound."""
    return incident_info(one(db, sa.select(incident).where(incident.c.id == incident_id),
                             IncidentNotFound(f"no incident with id {incident_id}")))


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
            return str(found)
    return None
