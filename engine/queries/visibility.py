"""Need-to-know: which tasks and cases an actor may see, and what a task shows.

* An actor who sees all cases (granted by a role) sees every case and task.
* Otherwise a task is visible to its assignee, its candidate users and members of its candidate
  groups — and, for an actor with an organisation, only the tasks of that organisation (or of none).
* A case is visible to whoever can see one of its open tasks, has worked one of its tasks (claimed,
  completed, or started the case), or belongs to a group the case is shared with — except through a
  task the diagram marks `caseAccess=task` (an invitation to someone outside the case): that task
  shows itself alone, before and after it is done. An actor with an
  organisation sees tasks only, never whole cases: other organisations' submissions live there.
* A task shows only the variables its form asks for, those its diagram lists in the task's `reads`
  extension property, and the organisation variable saying whose task it is — whoever reads it,
  whatever else the task's data holds (a call activity hands a sub-process every variable).
* On top, private data (queries.private_data) is shown only to the groups and the person it names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from engine.queries.private_data import PrivateData, redact
from engine.results import Actor, InstanceInfo
from engine.store.packed import holds_any, holds_any_at
from engine.store.projection import unpack
from engine.store.tables import case_share, history_event, instance, user_task

_WORKED = ("task_completed", "task_claimed", "instance_started")
#: a history event of a task that opens only itself (the diagram's caseAccess=task) grants nothing more
_OPENS_CASE = history_event.c.opens_case == sa.true()      # `= true`: an index condition, where `IS TRUE` is a filter


def task_only(task_spec: Any) -> str | None:
    """The mark a history event of this task carries when doing the task opens nothing but the task."""
    return "task" if getattr(task_spec, "case_access", "case") == "task" else None


def task_clause(actor: Actor) -> Any:
    if actor.sees_all_cases:
        return sa.true()
    named = sa.or_(user_task.c.assignee == actor.id, holds_any(user_task.c.candidate_users, [actor.id]))
    if actor.organisation is None:
        return sa.or_(named, holds_any(user_task.c.candidate_groups, actor.groups))
    same = sa.or_(user_task.c.organisation.is_(None), user_task.c.organisation == actor.organisation)
    return sa.or_(sa.and_(named, same), holds_any_at(user_task.c.candidate_groups, user_task.c.organisation,
                                                     actor.groups, actor.organisation))


def instance_clause(actor: Actor, *, key: Any = None, probe: bool = False) -> Any:
    """The cases `actor` may see, as a condition on `key` (the instance's id unless given: a list
    passes SQLite's `+instance.id`, so that its planner walks the list's index in order rather than
    reading every visible case to sort them).

    Gathered (`probe` false), each way of seeing a case is the set of its ids, read once: right for
    someone who sees few cases. Probed, each case met is looked up in the indexes (EXISTS): right for
    a list's page when the actor sees most cases (sees_widely), which a set of tens of thousands of
    ids would cost more to build than the page."""
    if actor.sees_all_cases:
        return sa.true()
    if actor.organisation is not None:
        return sa.false()
    key = instance.c.id if key is None else key
    if probe:
        return sa.or_(*[_probe(column.table, *where, column == key) for column, where in _ways(actor)])
    return sa.or_(*[key.in_(sa.select(column).where(*where)) for column, where in _ways(actor)])


def _ways(actor: Actor) -> list[tuple[Any, list[Any]]]:
    """Each way `actor` may see a case — worked on it, its group shares it, holds one of its open
    tasks that opens the case — as the column holding the case's id and the conditions on its rows;
    the likeliest first (a probe stops at the first that holds)."""
    return [
        (history_event.c.instance_id, [history_event.c.actor == actor.id, history_event.c.kind.in_(_WORKED),
                                       _OPENS_CASE]),
        (case_share.c.instance_id, [case_share.c.group_name.in_(sorted(actor.groups) or [""])]),
        (user_task.c.instance_id, [task_clause(actor), user_task.c.case_access.is_(True)]),
    ]


def _probe(table: sa.Table, *where: Any) -> Any:
    """EXISTS (SELECT 1 … OFFSET 0): the offset keeps PostgreSQL from turning the probe back into a set
    gathered once (a hashed subplan, which its planner prefers for every row the walk might meet,
    not knowing the page stops after 50); `1` lets an index answer alone."""
    return sa.select(sa.literal_column("1")).select_from(table).where(*where).offset(0).exists()


#: above this many cases worked on or shared with one's groups, a list's page probes each case it
#: meets (instance_clause(probe=True)) rather than gathering every visible id first
WIDE = 2_000


def sees_widely(conn: sa.Connection, actor: Actor) -> bool:
    """Whether `actor` may see more than WIDE cases through what they worked on or shares: two index
    reads, each stopped after WIDE rows (a case worked twice counts twice: an approximation that is
    only ever used to choose between two ways to the same answer). Open tasks are too few to tip it."""
    if actor.sees_all_cases or actor.organisation is not None:
        return False
    worked, shared, _tasks = _ways(actor)
    found = sum(conn.execute(sa.select(sa.func.count()).select_from(
        sa.select(column).where(*where).limit(WIDE + 1).subquery())).scalar_one() for column, where in (worked, shared))
    return found > WIDE


def can_see_instance(conn: sa.Connection, actor: Actor, instance_id: str) -> bool:
    if actor.sees_all_cases:
        return True
    return conn.execute(sa.select(instance.c.id).where(instance.c.id == instance_id,
                                                       instance_clause(actor))).first() is not None


def can_see_task(conn: sa.Connection, actor: Actor, task_id: str) -> bool:
    if actor.sees_all_cases:
        return True
    return conn.execute(sa.select(user_task.c.id).where(user_task.c.id == task_id,
                                                        task_clause(actor))).first() is not None


def is_candidate(task_row: Any, principal_id: str, groups: Iterable[str], organisation: str | None) -> bool:
    """Whether someone may hold the task: named among its candidate users or a member of one of its
    candidate groups — and, when both the task and the person belong to an organisation, the same one."""
    named = principal_id in unpack(task_row.candidate_users)
    member = bool(set(groups) & set(unpack(task_row.candidate_groups)))
    same_organisation = task_row.organisation is None or organisation is None or organisation == task_row.organisation
    return (named or member) and same_organisation


def exposed_names(task_spec: Any, form_schema: Mapping[str, Any] | None, organisation_variable: str | None) -> set[str]:
    """The variables a task shows: its form's fields, its `reads`, and whose task it is."""
    names = set(getattr(task_spec, "reads", None) or [])
    properties = (form_schema or {}).get("properties")
    if isinstance(properties, Mapping):
        names |= {str(name) for name in properties}
    if organisation_variable:
        names.add(organisation_variable)
    return names


def only(variables: Mapping[str, Any], names: set[str]) -> dict[str, Any]:
    return {name: value for name, value in variables.items() if name in names}


def answer_for(conn: sa.Connection | None, actor: Actor, info: InstanceInfo, names: set[str],
               private: tuple[PrivateData, ...] = ()) -> InstanceInfo:
    """What a task's answer shows the actor who completed it: the variables the task exposes; the
    case's open tasks the actor may see; its external tasks and incidents only to someone who may
    see the whole case; never private data the actor may not read. (`conn` may be None for an actor
    who sees all cases: nothing is read.)"""
    tasks = info.user_tasks
    if not actor.sees_all_cases and tasks:
        assert conn is not None
        visible: set[str] = set(conn.execute(sa.select(user_task.c.id).where(
            user_task.c.instance_id == info.id, task_clause(actor))).scalars())
        tasks = [t for t in tasks if t.id in visible]
    whole_case = actor.sees_all_cases or (actor.organisation is None and conn is not None
                                          and can_see_instance(conn, actor, info.id))
    shown = redact(private, actor, only(info.variables, names), case_variables=info.variables)
    return dataclasses.replace(info, variables=shown, user_tasks=tasks,
                               external_tasks=info.external_tasks if whole_case else [],
                               incidents=info.incidents if whole_case else [])
