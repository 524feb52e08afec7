"""Need-to-know: which tasks and cases an actor may see.

* An actor who sees all cases (granted by a role) sees everything.
* Otherwise a task is visible to its assignee, its candidate users and members of its candidate
  groups — and, for an actor with an organisation, only the tasks of that organisation (or of none).
* A case is visible to whoever can see one of its open tasks, has worked one of its tasks (claimed,
  completed, or started the case), or belongs to a group the case is shared with. An actor with an
  organisation sees tasks only, never whole cases: other organisations' submissions live there.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from engine.results import Actor
from engine.store.tables import case_share, history_event, instance, user_task

_WORKED = ("task_completed", "task_claimed", "instance_started")


def task_clause(actor: Actor) -> Any:
    if actor.sees_all_cases:
        return sa.true()
    mine = [user_task.c.assignee == actor.id,
            user_task.c.candidate_users.contains(f",{actor.id},", autoescape=True)]
    mine += [user_task.c.candidate_groups.contains(f",{g},", autoescape=True) for g in sorted(actor.groups)]
    clause = sa.or_(*mine)
    if actor.organisation is not None:
        clause = sa.and_(clause, sa.or_(user_task.c.organisation.is_(None),
                                        user_task.c.organisation == actor.organisation))
    return clause


def instance_clause(actor: Actor) -> Any:
    if actor.sees_all_cases:
        return sa.true()
    if actor.organisation is not None:
        return sa.false()
    return sa.or_(
        instance.c.id.in_(sa.select(user_task.c.instance_id).where(task_clause(actor))),
        instance.c.id.in_(sa.select(history_event.c.instance_id).where(
            history_event.c.actor == actor.id, history_event.c.kind.in_(_WORKED))),
        instance.c.id.in_(sa.select(case_share.c.instance_id).where(
            case_share.c.group_name.in_(sorted(actor.groups) or [""]))),
    )


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
