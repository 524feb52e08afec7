"""Retry what failed: a task in error runs again; an external task out of retries becomes fetchable."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from engine.errors import IncidentNotFound, Invalid
from engine.queries.visibility import can_see_instance
from engine.results import Actor, InstanceInfo
from engine.store.change import Audit
from engine.store.command import instance_command
from engine.store.database import Database
from engine.store.tables import external_task, incident


def retry_incident(db: Database, *, actor: Actor, incident_id: str, retries: int = 1,
                   audit: Audit | None = None) -> InstanceInfo:
    """Resolve an open incident by trying again.

    Raises: IncidentNotFound, Invalid (already resolved), InstanceNotActive.
    """
    if retries < 1:
        raise Invalid("retries must be at least 1")
    with db.read() as conn:
        row = conn.execute(sa.select(incident).where(incident.c.id == incident_id)).one_or_none()
        if row is not None and not can_see_instance(conn, actor, row.instance_id):
            row = None
    if row is None:
        raise IncidentNotFound(f"no incident with id {incident_id}")
    if row.resolved_at is not None:
        raise Invalid(f"incident {incident_id} is already resolved")
    with instance_command(db, actor=actor, instance_id=row.instance_id, audit=audit) as cmd:
        if row.type == "failedExternalTask":
            topic = cmd.conn.execute(sa.select(external_task.c.topic)
                                     .where(external_task.c.id == row.task_id)).scalar()
            cmd.conn.execute(external_task.update().where(external_task.c.id == row.task_id)
                             .values(retries=retries, lock_expires_at=None, worker_id=None, lock_owner=None))
            if topic is not None:
                cmd.change.wake_workers(topic)
            cmd.hold()
        else:
            task = cmd.workflow.get_task_from_id(uuid.UUID(row.task_id))
            cmd.workflow.reset_from_task_id(task.id)
            cmd.before.errors.pop(row.task_id, None)
        cmd.resolve_incidents(reason="retried", task_id=row.task_id)
    return cmd.result
