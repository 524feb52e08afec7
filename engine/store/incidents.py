"""Incidents: what failed and waits for a person. Opened and resolved inside a change, each with its
history event."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from engine.store.change import Change
from engine.store.tables import incident

_insert_incident = incident.insert()
_open_incidents = sa.select(incident.c.id, incident.c.task_id, incident.c.activity_id).where(
    incident.c.instance_id == sa.bindparam("instance_id"), incident.c.resolved_at.is_(None))
_open_incidents_of_task = _open_incidents.where(incident.c.task_id == sa.bindparam("task_id"))
_resolve_incident = (incident.update().where(incident.c.id == sa.bindparam("b_id"))
                     .values(resolved_at=sa.bindparam("b_at"), resolved_by=sa.bindparam("b_by")))


def open_incident(ch: Change, *, instance_id: str, task_id: str, activity_id: str, type_: str, message: str) -> str:
    incident_id = str(uuid.uuid4())
    ch.conn.execute(_insert_incident, [{"id": incident_id, "instance_id": instance_id, "task_id": task_id,
                                        "activity_id": activity_id, "type": type_, "message": message,
                                        "created_at": ch.now}])
    ch.record(instance_id, "incident_opened", task_id=task_id, activity_id=activity_id,
              incident_id=incident_id, incident_type=type_)
    return incident_id


def resolve_incidents(ch: Change, *, instance_id: str, reason: str, task_id: str | None = None) -> int:
    """Resolve the instance's open incidents (of one task, if given); how many there were."""
    if task_id is None:
        rows = ch.conn.execute(_open_incidents, {"instance_id": instance_id}).all()
    else:
        rows = ch.conn.execute(_open_incidents_of_task, {"instance_id": instance_id, "task_id": task_id}).all()
    if rows:
        ch.conn.execute(_resolve_incident, [{"b_id": r.id, "b_at": ch.now, "b_by": ch.actor.id} for r in rows])
        for r in rows:
            ch.record(instance_id, "incident_resolved", task_id=r.task_id, activity_id=r.activity_id,
                      incident_id=r.id, reason=reason)
    return len(rows)
