"""Correlate a message from outside to the instance waiting for it, or start one.

SpiffWorkflow delivers messages only inside one instance; routing across instances goes through the
message_subscription projection (one row per task waiting for a message: intermediate catch, receive
task, boundary event, event-based gateway) and message_start (the latest definition each message
name starts).

A message that nothing waits for is refused (NotFound), never buffered: a buffered message is case
data waiting invisibly to be matched, perhaps to the wrong case, while a refusal tells the sender at
once to retry or to check its keys.

Need-to-know: a message reaches only cases its sender may see. Every other case behaves as if it
did not exist — it is not a candidate, it is not named when several match, and its variables never
decide whether correlation keys match.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from SpiffWorkflow.bpmn import BpmnEvent
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition

from engine.bpmn import compat
from engine.bpmn.starts import enter_at
from engine.commands.variables import check_variables
from engine.errors import Conflict, Invalid, NotFound
from engine.queries.private_data import names_hidden_everywhere, redact
from engine.queries.visibility import can_see_instance, instance_clause
from engine.results import Actor, InstanceInfo
from engine.store.change import Audit, IdempotencyKey
from engine.store.command import instance_command, new_instance_command
from engine.store.database import Database
from engine.store.tables import instance, message_start, message_subscription


class MessageNotCorrelated(NotFound):
    code = "message_not_correlated"


class MessageAmbiguous(Conflict):
    code = "message_ambiguous"

    def __init__(self, message: str, *, candidates: list[str]) -> None:
        super().__init__(message, candidates=candidates)
        self.candidates = candidates


@dataclass(frozen=True)
class Correlation:
    kind: str                     # "delivered" to a waiting instance, or "started" a new one
    activity_id: str
    instance: InstanceInfo


def correlate_message(db: Database, *, actor: Actor, message_name: str, business_key: str | None = None,
                      correlation_keys: Mapping[str, Any] | None = None, variables: Mapping[str, Any] | None = None,
                      instance_id: str | None = None, all_matches: bool = False,
                      audit: Audit | None = None, idempotency: IdempotencyKey | None = None) -> list[Correlation]:
    """Deliver `message_name` with `variables` to the one instance waiting for it whose business key
    and correlation keys (process variable values) match — among the instances the actor may see —
    or, when none waits, start the process whose message start event has that name. Each delivery
    is its own command, with its own audit entry naming its case.

    Raises: MessageNotCorrelated (nothing matches; nothing changed), MessageAmbiguous (several match
    and `all_matches` is false; nothing changed), VariablesInvalid, Invalid.
    """
    if not message_name:
        raise Invalid("a message name is required")
    data = check_variables(variables or {})
    keys = dict(correlation_keys or {})
    with db.read() as conn:
        query = (sa.select(message_subscription.c.task_id, message_subscription.c.instance_id,
                           message_subscription.c.activity_id, instance.c.variables)
                 .join(instance, instance.c.id == message_subscription.c.instance_id)
                 .where(message_subscription.c.message_name == message_name, instance.c.status == "active",
                        instance_clause(actor))
                 .order_by(message_subscription.c.created_at, message_subscription.c.task_id))
        if business_key is not None:
            query = query.where(instance.c.business_key == business_key)
        if instance_id is not None:
            query = query.where(instance.c.id == instance_id)
        waiting = [r for r in conn.execute(query) if all((r.variables or {}).get(k) == v for k, v in keys.items())]
        if set(keys) & names_hidden_everywhere(db.private_data, actor):
            waiting = []        # a key on private data the sender may not read matches nothing
        starts = [] if waiting or instance_id is not None else conn.execute(
            sa.select(message_start).where(message_start.c.message_name == message_name)).all()

    if not waiting and not starts:
        said = [f"business key {business_key}" if business_key else "",
                f"correlation keys {sorted(keys)}" if keys else ""]
        what = " and ".join(part for part in said if part)
        raise MessageNotCorrelated(
            f"nothing waits for message '{message_name}'" + (f" with {what}" if what else "")
            + "; it was not stored — check the keys, or send it again once the case waits for it")
    if not all_matches and len({r.instance_id for r in waiting}) + len(starts) > 1:
        candidates = sorted({r.instance_id for r in waiting}) + [s.definition_id for s in starts]
        raise MessageAmbiguous(f"message '{message_name}' matches {len(candidates)} candidates; "
                               "give a business key or correlation keys that pick one", candidates=candidates)

    results: list[Correlation] = []
    seen: set[str] = set()
    for sub in waiting:
        if sub.instance_id in seen:
            continue
        seen.add(sub.instance_id)
        results.append(_deliver(db, actor, sub.instance_id, sub.task_id, message_name, data, audit,
                                None if results else idempotency))       # the key goes with the first change
        if not all_matches:
            break
    for start in starts[: (None if all_matches else 1)]:
        results.append(_start(db, actor, start, message_name, business_key, data, audit,
                              None if results else idempotency))
    if db.private_data:
        results = [dataclasses.replace(r, instance=dataclasses.replace(
            r.instance, variables=redact(db.private_data, actor, r.instance.variables))) for r in results]
    return results


def _deliver(db: Database, actor: Actor, instance_id: str, task_id: str, name: str,
             data: dict[str, Any], audit: Audit | None, idempotency: IdempotencyKey | None) -> Correlation:
    with instance_command(db, actor=actor, instance_id=instance_id, audit=audit, idempotency=idempotency) as cmd:
        task = cmd.before.messages.get((task_id, name))
        if task is None or not can_see_instance(cmd.conn, actor, instance_id):
            raise MessageNotCorrelated(f"process instance {instance_id} no longer waits for message '{name}'")
        catch(task, name, data)
        cmd.record("message_correlated", task_id=task_id, activity_id=task.task_spec.bpmn_id, message=name)
    return Correlation("delivered", task.task_spec.bpmn_id, cmd.result)


def catch(task: Any, name: str, data: dict[str, Any]) -> None:
    """Deliver to this one waiting task (an event-based gateway waits for several events at once)."""
    definition = task.task_spec.event_definition
    parts = getattr(definition, "event_definitions", None) or [definition]
    [message] = [d for d in parts if isinstance(d, MessageEventDefinition) and d.name == name][:1] or [definition]
    task.task_spec.catch(task, BpmnEvent(message, payload=data))
    compat.update(task)


def _start(db: Database, actor: Actor, start: Any, name: str, business_key: str | None,
           data: dict[str, Any], audit: Audit | None, idempotency: IdempotencyKey | None) -> Correlation:
    with new_instance_command(db, actor=actor, definition_id=start.definition_id, definition_key=start.definition_key,
                              business_key=business_key, audit=audit, idempotency=idempotency) as cmd:
        try:
            task = enter_at(cmd.workflow, start.activity_id)     # begin here, not at another start event
        except ValueError as exc:
            raise Invalid(f"process {start.definition_key}: {exc}") from exc
        catch(task, name, data)
        cmd.record("instance_started", definition_id=start.definition_id, business_key=business_key,
                   message=name)
    return Correlation("started", start.activity_id, cmd.result)


