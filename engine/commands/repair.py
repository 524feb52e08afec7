"""Repairing a stuck case, by an administrator, always with a reason: set or delete a variable, move
a token (cancel an activity, start before or after one), suspend and resume.

Each is one instance command (one transaction under the case's row lock), and records what was done
and why twice: a history event with the reason, and the request's audit entry, whose target carries
the reason too. A suspended case accepts no completions, messages or timers until it is resumed
(store.command refuses them; the timer scheduler and fetchAndLock skip it); repairs are allowed on
it — suspend, repair, resume is the safe order — and a resumed case runs on at once (timers that
came due meanwhile fire then).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.bpmn import state, tokens
from engine.commands.instances import check_text
from engine.commands.variables import check_variables
from engine.errors import InstanceNotFound, Invalid, NotFound
from engine.queries.reads import get_instance
from engine.queries.visibility import can_see_instance
from engine.results import Actor, InstanceInfo
from engine.store import projection
from engine.store.change import Audit
from engine.store.command import Command, instance_command
from engine.store.database import Database
from engine.store.tables import external_task, instance

MAX_REASON = 500
MAX_INSTRUCTIONS = 100
MODIFICATIONS = ("cancel", "startBeforeActivity", "startAfterActivity")


@dataclass(frozen=True)
class Modification:
    """One instruction of a process instance modification (Camunda's names): `cancel` every token
    at `activity_id`, or the one task `activity_instance_id`; `startBeforeActivity` /
    `startAfterActivity` `activity_id`, with `variables` for the new token, inside the running
    call activity `ancestor_activity_instance_id` when the activity's process runs more than once."""

    type: str
    activity_id: str | None = None
    activity_instance_id: str | None = None
    ancestor_activity_instance_id: str | None = None
    variables: Mapping[str, Any] = field(default_factory=dict)


def _reason(reason: str | None) -> str:
    if reason is None or not reason.strip():
        raise Invalid("a reason is required: repairs to a case are recorded with why they were made")
    return check_text(reason.strip(), "the reason", max_length=MAX_REASON)


def _audited(audit: Audit | None, reason: str) -> Audit | None:
    """The request's audit entry, saying why."""
    if audit is None:
        return None
    return dataclasses.replace(audit, target=f"{audit.target} (reason: {reason})"[:1000])


def _visible(cmd: Command, actor: Actor) -> None:
    if not can_see_instance(cmd.conn, actor, cmd.instance_id):
        raise InstanceNotFound(f"no process instance with id {cmd.instance_id}")


def _refresh_external_variables(cmd: Command) -> None:
    """Open external tasks show workers the case's data as it is now (a worker that failed for want
    of a variable finds it on its next fetch)."""
    for task_id, task in projection.Snapshot(cmd.workflow).external_tasks.items():
        cmd.conn.execute(external_task.update().where(external_task.c.id == task_id)
                         .values(variables=state.to_plain(task.data)))


def set_instance_variable(db: Database, *, actor: Actor, instance_id: str, name: str, value: Any, reason: str,
                          audit: Audit | None = None) -> InstanceInfo:
    """Set one variable of a running case where it will read it next (its open tasks, and where a
    task in error starts again when retried). Does not move the case on.

    Raises: InstanceNotFound, InstanceNotActive, VariablesInvalid, Invalid (no reason).
    """
    why = _reason(reason)
    value = check_variables({name: value})[name]
    with instance_command(db, actor=actor, instance_id=instance_id, allow_suspended=True,
                          audit=_audited(audit, why)) as cmd:
        _visible(cmd, actor)
        tokens.set_variable(cmd.workflow, name, value)
        _refresh_external_variables(cmd)
        cmd.hold()
        cmd.record("variable_set", name=name, reason=why)
    return cmd.result


def delete_instance_variable(db: Database, *, actor: Actor, instance_id: str, name: str, reason: str,
                             missing_ok: bool = False, audit: Audit | None = None) -> InstanceInfo:
    """Remove one variable of a running case. Raises: InstanceNotFound, InstanceNotActive, Invalid,
    NotFound (the case has no such variable, unless `missing_ok`: Camunda answers 204 then)."""
    why = _reason(reason)
    with instance_command(db, actor=actor, instance_id=instance_id, allow_suspended=True,
                          audit=_audited(audit, why)) as cmd:
        _visible(cmd, actor)
        found = tokens.delete_variable(cmd.workflow, name)
        if not found and not missing_ok:
            raise NotFound(f"process instance {instance_id} has no variable {name}")
        _refresh_external_variables(cmd)
        cmd.hold()
        cmd.record("variable_deleted", name=name, reason=why, found=found if not found else None)
    return cmd.result


def _check_instruction(m: Modification) -> None:
    if m.type not in MODIFICATIONS:
        supported = ", ".join(MODIFICATIONS)
        raise Invalid(f"modification type {m.type!r} is not supported (supported: {supported}); for "
                      "startTransition, start before the activity the flow leads to")
    if m.type == "cancel" and not (m.activity_id or m.activity_instance_id):
        raise Invalid("a cancel instruction needs activityId or activityInstanceId")
    if m.type != "cancel" and not m.activity_id:
        raise Invalid(f"a {m.type} instruction needs activityId")
    if m.type == "cancel" and m.variables:
        raise Invalid("a cancel instruction takes no variables")


def modify_instance(db: Database, *, actor: Actor, instance_id: str, instructions: Sequence[Modification],
                    reason: str, audit: Audit | None = None) -> InstanceInfo:
    """Move a case's tokens by hand, instructions applied in order, in one transaction: all or
    none. A case left with nothing to do is cancelled (as Camunda does); otherwise it runs on to its
    next wait states — unless it is suspended, when it waits for its resumption.

    Raises: InstanceNotFound, InstanceNotActive, Invalid (an instruction this case cannot take, no
    reason), VariablesInvalid.
    """
    why = _reason(reason)
    if not instructions:
        raise Invalid("give at least one instruction")
    if len(instructions) > MAX_INSTRUCTIONS:
        raise Invalid(f"at most {MAX_INSTRUCTIONS} instructions at a time")
    for m in instructions:
        _check_instruction(m)
    extra = [check_variables(m.variables) for m in instructions]
    with instance_command(db, actor=actor, instance_id=instance_id, allow_suspended=True,
                          audit=_audited(audit, why)) as cmd:
        _visible(cmd, actor)
        wf = cmd.workflow
        current = projection.variables(wf, cmd.before)          # the case's variables before this
        for m, variables in zip(instructions, extra, strict=True):
            try:
                if m.type == "cancel":
                    for task in tokens.cancel(wf, activity_id=m.activity_id, task_id=m.activity_instance_id):
                        cmd.record("activity_cancelled", task_id=str(task.id), activity_id=task.task_spec.bpmn_id,
                                   reason=why)
                        if str(task.id) in cmd.before.errors:
                            cmd.resolve_incidents(reason="activity cancelled", task_id=str(task.id))
                else:
                    data = {**current, **variables}
                    place = tokens.start_before if m.type == "startBeforeActivity" else tokens.start_after
                    token = place(wf, m.activity_id or "", data=data, in_task=m.ancestor_activity_instance_id)
                    cmd.record("activity_started", task_id=str(token.id), activity_id=token.task_spec.bpmn_id
                               or m.activity_id, instruction=m.type, reason=why)
            except tokens.CannotModify as exc:
                raise Invalid(str(exc)) from exc
        if not tokens.settle(wf):
            cmd.cancel(f"nothing left to do after a modification: {why}")
        elif cmd.row.suspended:
            cmd.hold()                                  # placed; it moves on when resumed
    return cmd.result


def set_suspended(db: Database, *, actor: Actor, instance_id: str, suspended: bool, reason: str,
                  audit: Audit | None = None) -> InstanceInfo:
    """Suspend a running case (no completions, messages or timers until resumed), or resume it: it
    runs on at once, and timers that came due meanwhile fire. Suspending a suspended case (or
    resuming a running one) changes nothing and records nothing.

    Raises: InstanceNotFound, InstanceNotActive, Invalid (no reason).
    """
    why = _reason(reason)
    try:
        with instance_command(db, actor=actor, instance_id=instance_id, allow_suspended=True,
                              audit=_audited(audit, why)) as cmd:
            _visible(cmd, actor)
            if bool(cmd.row.suspended) == suspended:
                raise _AsItIs
            cmd.conn.execute(instance.update().where(instance.c.id == instance_id).values(suspended=suspended))
            cmd.record("instance_suspended" if suspended else "instance_resumed", reason=why)
            if suspended:
                cmd.hold()
            else:
                cmd.workflow.refresh_timers()           # what came due meanwhile fires now
    except _AsItIs:
        return get_instance(db, instance_id=instance_id, viewer=actor)
    return dataclasses.replace(cmd.result, suspended=suspended)


class _AsItIs(Exception):
    """Raised inside the command to write nothing: the case already is as asked."""
