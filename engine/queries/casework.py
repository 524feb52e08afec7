"""Reads for a case-work front end: every open case with where it waits, a case's progress through
its diagrams, the diagrams of a case, and what completed activities recorded.

Each applies the viewer's need-to-know like the other queries (a case the viewer may not see is
not there). Activity names and the process each activity belongs to come from the deployed XML
(parsed once per definition version).
"""

from __future__ import annotations

import threading
import uuid
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from lxml import etree
from SpiffWorkflow.util.task import TaskState

from engine.bpmn import state
from engine.bpmn.parser import SAFE_XML
from engine.errors import DefinitionNotFound, InstanceNotFound
from engine.queries.visibility import can_see_instance, instance_clause
from engine.results import Actor
from engine.store.database import Database
from engine.store.rows import aware
from engine.store.tables import definition, external_task, history_event, incident, instance, message_subscription
from engine.store.tables import user_task as user_task_table

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
COMPLETIONS = ("task_completed", "external_task_completed", "message_correlated", "timer_fired")


@dataclass(frozen=True)
class Activity:
    id: str
    name: str | None
    kind: str                        # the BPMN element: userTask, serviceTask, receiveTask, ...
    process_key: str                 # the process (diagram) it is drawn in
    process_name: str | None


@dataclass(frozen=True)
class WaitingOn:
    """One thing an open case waits for."""

    activity_id: str
    name: str | None
    kind: str                        # user_task | external_task | message | timer
    process_key: str | None
    process_name: str | None
    since: datetime | None = None
    assignee: str | None = None
    candidate_groups: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CaseOverview:
    id: str
    definition_id: str
    definition_key: str
    business_key: str | None
    started_at: datetime
    updated_at: datetime
    next_timer_at: datetime | None
    variables: dict[str, Any]        # only the names asked for
    waiting: list[WaitingOn]
    open_incidents: int
    completed: dict[str, datetime]   # asked-for activity id -> when it first completed


class CaseStamp(NamedTuple):
    """What tells a caller whether its copy of an open case's overview is still current: `version`
    grows with every change to the case and `definition_id` changes when it is migrated; open incidents
    can be raised without a change to the case, so they are counted afresh. (A tuple: thousands are
    made per call.)"""

    id: str
    version: int
    definition_id: str
    open_incidents: int


@dataclass(frozen=True)
class ProcessProgress:
    """Where a case stands in one of its diagrams (element ids)."""

    process_key: str
    name: str | None
    definition_id: str               # whose XML draws this process
    active: list[str]
    completed: list[str]
    failed: list[str]


@dataclass(frozen=True)
class TaskRecord:
    """A completed task of an activity: when, and the named data it ended with."""

    instance_id: str
    task_id: str
    activity_id: str
    completed_at: datetime
    data: dict[str, Any]


class _ActivityIndex:
    """definition id -> {activity id -> Activity} for that definition and every definition it calls."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_db: weakref.WeakKeyDictionary[Database, dict[str, dict[str, Activity]]] = weakref.WeakKeyDictionary()
        self._processes: weakref.WeakKeyDictionary[Database, dict[str, dict[str, str]]] = weakref.WeakKeyDictionary()

    def of(self, db: Database, definition_id: str) -> dict[str, Activity]:
        cached = self._by_db.get(db, {}).get(definition_id)
        if cached is not None:
            return cached
        with db.read() as conn:
            index, processes = _index_tree(conn, definition_id)
        with self._lock:
            self._by_db.setdefault(db, {})[definition_id] = index
            self._processes.setdefault(db, {})[definition_id] = processes
        return index

    def processes(self, db: Database, definition_id: str) -> dict[str, str]:
        """process key -> the definition id whose XML draws it."""
        self.of(db, definition_id)
        return self._processes[db][definition_id]


_index = _ActivityIndex()


def _index_tree(conn: sa.Connection, definition_id: str) -> tuple[dict[str, Activity], dict[str, str]]:
    index: dict[str, Activity] = {}
    processes: dict[str, str] = {}
    todo, seen = [definition_id], set()
    while todo:
        current = todo.pop(0)
        if current in seen:
            continue
        seen.add(current)
        row = conn.execute(sa.select(definition.c.xml, definition.c.calls).where(definition.c.id == current)).first()
        if row is None:
            raise DefinitionNotFound(f"no process definition with id {current}")
        root = etree.fromstring(row.xml.encode(), parser=SAFE_XML)
        for process in root.iter(f"{BPMN}process"):
            key = process.get("id")
            processes.setdefault(key, current)
            for element in process.iter():
                if not isinstance(element.tag, str) or element is process:
                    continue
                element_id = element.get("id")
                tag = etree.QName(element).localname
                if element_id and tag not in ("sequenceFlow", "lane", "laneSet", "documentation"):
                    index.setdefault(element_id, Activity(element_id, element.get("name"), tag, key,
                                                          process.get("name")))
        todo.extend((row.calls or {}).values())
    return index, processes


def activity_index(db: Database, *, definition_id: str) -> dict[str, Activity]:
    """Every named element of a definition and of the definitions it calls: id -> Activity (the
    first one found, the calling process before the called, when two processes share an id).

    Raises: DefinitionNotFound.
    """
    return _index.of(db, definition_id)


def open_cases(db: Database, *, viewer: Actor | None = None, variables: Sequence[str] = (),
               completed_activities: Sequence[str] = (), instance_ids: Sequence[str] | None = None
               ) -> list[CaseOverview]:
    """Every active case the viewer may see (of `instance_ids`, when given), with the named
    variables (as text: dates and words), what it waits for (one entry per waiting activity; `since`
    is its oldest), its open incidents, and when each of `completed_activities` first completed.
    Built for thousands of cases: only the named variables are read, never the state."""
    where = [instance.c.status == "active"]
    if instance_ids is not None:
        where.append(instance.c.id.in_(sorted(set(instance_ids)) or [""]))
    if viewer is not None and not viewer.sees_all_cases:
        where.append(instance_clause(viewer))
    names = [n for n in dict.fromkeys(variables) if n]
    columns = [instance.c.id, instance.c.definition_id, instance.c.definition_key, instance.c.business_key,
               sa.type_coerce(instance.c.started_at, sa.String).label("started_at"),      # parsed below, in C
               sa.type_coerce(instance.c.updated_at, sa.String).label("updated_at"),
               sa.type_coerce(instance.c.next_timer_at, sa.String).label("next_timer_at")]
    columns += [instance.c.variables[n].as_string().label(f"v{i}") for i, n in enumerate(names)]
    # open work belongs to active cases only: filter by case only when not every case is asked for
    restricted = len(where) > 1
    ids = sa.select(instance.c.id).where(*where).scalar_subquery()

    def of_cases(table: sa.Table) -> list[Any]:
        return [table.c.instance_id.in_(ids)] if restricted else []

    with db.read() as conn:
        rows = conn.execute(sa.select(*columns).where(*where)).all()
        if not rows:
            return []
        tasks = conn.execute(sa.select(user_task_table.c.instance_id, user_task_table.c.activity_id,
                                       sa.func.min(user_task_table.c.name), sa.func.count(),
                                       sa.func.min(user_task_table.c.created_at))
                             .where(*of_cases(user_task_table))
                             .group_by(user_task_table.c.instance_id, user_task_table.c.activity_id)).all()
        externals = conn.execute(sa.select(external_task.c.instance_id, external_task.c.activity_id,
                                           sa.func.count(), sa.func.min(external_task.c.created_at))
                                 .where(*of_cases(external_task))
                                 .group_by(external_task.c.instance_id, external_task.c.activity_id)).all()
        messages = conn.execute(sa.select(message_subscription.c.instance_id, message_subscription.c.activity_id,
                                          sa.func.count(), sa.func.min(message_subscription.c.created_at))
                                .where(*of_cases(message_subscription))
                                .group_by(message_subscription.c.instance_id,
                                          message_subscription.c.activity_id)).all()
        incidents: dict[str, int] = dict(conn.execute(sa.select(incident.c.instance_id, sa.func.count())
                                      .where(incident.c.resolved_at.is_(None), *of_cases(incident))
                                      .group_by(incident.c.instance_id)).all())
        completed: dict[str, dict[str, datetime]] = {}
        if completed_activities:
            for r in conn.execute(sa.select(history_event.c.instance_id, history_event.c.activity_id,
                                            sa.func.min(history_event.c.at))
                                  .where(history_event.c.activity_id.in_(sorted(set(completed_activities))),
                                         history_event.c.kind.in_(COMPLETIONS), *of_cases(history_event))
                                  .group_by(history_event.c.instance_id, history_event.c.activity_id)):
                completed.setdefault(r[0], {})[r[1]] = aware(r[2])
    definition_of = {r.id: r.definition_id for r in rows}
    indexes = {d: activity_index(db, definition_id=d) for d in set(definition_of.values())}
    waiting: dict[str, list[WaitingOn]] = {}
    for kind, found in (("user_task", tasks), ("external_task", externals), ("message", messages)):
        for r in found:
            definition_id = definition_of.get(r[0])
            if definition_id is None:
                continue                                  # a case not asked for
            a = indexes[definition_id].get(r[1])
            name = r[2] if kind == "user_task" else (a.name if a else None)
            count, since = (r[3], r[4]) if kind == "user_task" else (r[2], r[3])
            waiting.setdefault(r[0], []).extend(
                [WaitingOn(r[1], name, kind, a.process_key if a else None, a.process_name if a else None,
                           aware(since))] * int(count))
    out = []
    for r in rows:
        values = {n: r[7 + i] for i, n in enumerate(names) if r[7 + i] is not None}
        mine = waiting.get(r.id, [])
        if len(mine) > 1:
            mine.sort(key=lambda w: (w.kind != "user_task", w.since is None, w.since))
        out.append(CaseOverview(
            id=r.id, definition_id=r.definition_id, definition_key=r.definition_key, business_key=r.business_key,
            started_at=_required(r.started_at), updated_at=_required(r.updated_at),
            next_timer_at=_moment(r.next_timer_at), variables=values, waiting=mine,
            open_incidents=int(incidents.get(r.id, 0)),
            completed=completed.get(r.id, {})))
    return out


def open_case_stamps(db: Database, *, viewer: Actor | None = None) -> list[CaseStamp]:
    """Every active case the viewer may see, as `CaseStamp`s: one narrow read, for a caller that keeps
    `open_cases` answers and asks again only for the cases that changed since."""
    where = [instance.c.status == "active"]
    if viewer is not None and not viewer.sees_all_cases:
        where.append(instance_clause(viewer))
    with db.read() as conn:
        rows: Sequence[Any] = conn.execute(sa.select(instance.c.id, instance.c.version, instance.c.definition_id)
                                           .where(*where)).all()
        incidents: dict[str, int] = dict(conn.execute(          # few: counted over all cases, kept for those seen
            sa.select(incident.c.instance_id, sa.func.count()).where(incident.c.resolved_at.is_(None))
            .group_by(incident.c.instance_id)).all())
    return [CaseStamp(i, v, d, incidents.get(i, 0)) for i, v, d in rows]


def _required(value: Any) -> datetime:
    """`_moment` of a column that is never NULL."""
    moment = _moment(value)
    if moment is None:
        raise ValueError("a moment the schema requires is missing")
    return moment


def _moment(value: Any) -> datetime | None:
    """A stored moment as an aware datetime: SQLite hands back text (parsed here by the C parser,
    much faster than a converter per row), PostgreSQL a datetime."""
    if value is None or isinstance(value, datetime):
        return aware(value)
    return aware(datetime.fromisoformat(value))


_LIVE = TaskState.READY | TaskState.STARTED | TaskState.WAITING


def case_progress(db: Database, *, instance_id: str, viewer: Actor | None = None) -> list[ProcessProgress]:
    """The case's position in each diagram it has entered (its own process first, then the
    processes it called, in the order entered): active, completed and failed element ids.
    Boundary events that merely listen are not active. Raises: InstanceNotFound."""
    with db.read() as conn:
        if viewer is not None and not can_see_instance(conn, viewer, instance_id):
            raise InstanceNotFound(f"no process instance with id {instance_id}")
        row = conn.execute(sa.select(instance.c.definition_id, instance.c.state, instance.c.state_format)
                           .where(instance.c.id == instance_id)).first()
        if row is None:
            raise InstanceNotFound(f"no process instance with id {instance_id}")
        failed_ids = [r[0] for r in conn.execute(sa.select(incident.c.activity_id).where(
            incident.c.instance_id == instance_id, incident.c.resolved_at.is_(None)))]
        # what finished long ago has left the live state (state.prune); its history remains
        done_ids = [r[0] for r in conn.execute(sa.select(history_event.c.activity_id).distinct().where(
            history_event.c.instance_id == instance_id, history_event.c.kind.in_(COMPLETIONS),
            history_event.c.activity_id.is_not(None)))]
    index = activity_index(db, definition_id=row.definition_id)
    drawn_by = _index.processes(db, row.definition_id)
    wf = state.loads(row.state, row.state_format, db.specs.get)
    top_key = wf.spec.name
    order = [top_key]
    marks: dict[str, dict[str, set[str]]] = {}
    for task in wf.get_tasks():
        bpmn_id = getattr(task.task_spec, "bpmn_id", None)
        if not bpmn_id:
            continue
        a = index.get(bpmn_id)
        key = a.process_key if a is not None else top_key
        if key not in drawn_by:
            continue
        if task.state & (_LIVE | TaskState.COMPLETED | TaskState.ERROR) and key not in order:
            order.append(key)
        m = marks.setdefault(key, {"active": set(), "completed": set(), "failed": set()})
        if task.state == TaskState.ERROR:
            m["failed"].add(bpmn_id)
        elif task.state & _LIVE:
            listening = task.state == TaskState.WAITING and type(task.task_spec).__name__ == "BoundaryEvent"
            if not listening:
                m["active"].add(bpmn_id)
        elif task.state == TaskState.COMPLETED:
            m["completed"].add(bpmn_id)
    for activity_id in done_ids:
        a = index.get(activity_id)
        if a is not None and a.process_key in drawn_by:
            if a.process_key not in order:
                order.append(a.process_key)
            marks.setdefault(a.process_key, {"active": set(), "completed": set(), "failed": set()})[
                "completed"].add(activity_id)
    for activity_id in failed_ids:
        a = index.get(activity_id)
        if a is not None and a.process_key in marks:
            marks[a.process_key]["failed"].add(activity_id)
    out = []
    for key in order:
        m = marks.get(key, {"active": set(), "completed": set(), "failed": set()})
        name = next((a.process_name for a in index.values() if a.process_key == key), None)
        out.append(ProcessProgress(key, name, drawn_by[key], sorted(m["active"]), sorted(m["completed"] - m["active"]),
                                   sorted(m["failed"])))
    return out


def case_diagram_xml(db: Database, *, instance_id: str, definition_id: str, viewer: Actor | None = None) -> str:
    """The XML of one of the diagrams a case runs on (its definition or one it calls).
    Raises: InstanceNotFound, DefinitionNotFound (not a diagram of this case)."""
    with db.read() as conn:
        if viewer is not None and not can_see_instance(conn, viewer, instance_id):
            raise InstanceNotFound(f"no process instance with id {instance_id}")
        own = conn.execute(sa.select(instance.c.definition_id).where(instance.c.id == instance_id)).scalar()
    if own is None:
        raise InstanceNotFound(f"no process instance with id {instance_id}")
    if definition_id not in set(_index.processes(db, own).values()):
        raise DefinitionNotFound(f"process definition {definition_id} is not one of this case's diagrams")
    with db.read() as conn:
        return conn.execute(sa.select(definition.c.xml).where(definition.c.id == definition_id)).scalar_one()


def completed_task_data(db: Database, *, instance_ids: Iterable[str], activity_id: str,
                        names: Sequence[str]) -> list[TaskRecord]:
    """Each completion of `activity_id` in these cases, oldest first, with the named data the task
    ended with (read from the case's state: meant for reports over tens of cases, not thousands).
    A completion that has left the live state (state.prune: more than 30 tasks behind every open
    task and every branch's end) is not listed."""
    ids = sorted(set(instance_ids))
    if not ids:
        return []
    with db.read() as conn:
        events = conn.execute(sa.select(history_event.c.instance_id, history_event.c.task_id, history_event.c.at)
                              .where(history_event.c.instance_id.in_(ids), history_event.c.kind == "task_completed",
                                     history_event.c.activity_id == activity_id)
                              .order_by(history_event.c.id)).all()
        wanted = sorted({e.instance_id for e in events})
        states = {r.id: r for r in conn.execute(sa.select(instance.c.id, instance.c.state, instance.c.state_format)
                                                .where(instance.c.id.in_(wanted)))}
    out: list[TaskRecord] = []
    workflows: dict[str, Any] = {}
    for e in events:
        if e.instance_id not in workflows:
            r = states[e.instance_id]
            workflows[e.instance_id] = state.loads(r.state, r.state_format, db.specs.get)
        try:
            task = workflows[e.instance_id].get_task_from_id(uuid.UUID(e.task_id))
        except Exception:  # noqa: BLE001 - a task no longer in the tree (reset, or pruned): nothing to read
            continue
        data = state.to_plain({n: task.data[n] for n in names if n in task.data})
        out.append(TaskRecord(e.instance_id, e.task_id, activity_id, aware(e.at), data))
    return out
