"""Migrating open cases to another version of their process.

A plan (`MigrationPlan`) maps each activity a case may wait at in the source version to an activity
of the target version: `generate_migration_plan` maps every activity whose id and kind both versions
share, and explicit instructions map the rest (an activity renamed, say). `validate_migration` says,
for each case, whether it can move and why not — without changing anything. `migrate_instances`
moves the cases, each in its own transaction under its row lock, checking it again there: the case
is put on the target version (engine.bpmn.migration), keeps its open tasks (claims, worker locks,
retries), its timers (their due times) and its message subscriptions, and gets an
`instance_migrated` history event and the request's audit entry.

What a process owner may do to cases is limited to this: the functions return where each case
waits (activity ids), never its variables, documents or history.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from engine import clock
from engine.bpmn import migration, state, tokens
from engine.commands.variables import check_variables
from engine.errors import (
    DefinitionNotFound,
    EngineError,
    Invalid,
    MigrationPlanInvalid,
    MigrationRefused,
)
from engine.results import Actor
from engine.store import projection
from engine.store.change import Audit
from engine.store.command import Command, instance_command
from engine.store.database import Database
from engine.store.rows import aware
from engine.store.tables import definition, external_task, incident, instance, message_subscription, user_task

log = logging.getLogger(__name__)

MAX_INSTRUCTIONS = 10_000
MAX_INSTANCES = 100_000
_BATCH = 100


MigrationInstruction = migration.Instruction


@dataclass(frozen=True)
class MigrationPlan:
    """Where each activity's cases go; `variables` are set in every case that moves."""

    source_definition_id: str
    target_definition_id: str
    instructions: tuple[MigrationInstruction, ...]
    variables: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InstructionReport:
    instruction: MigrationInstruction
    failures: tuple[str, ...]


@dataclass(frozen=True)
class ActivityReport:
    """One place a case waits that cannot move: the activity, its task (Camunda's activity
    instance), the instruction that applied (if any) and why."""

    activity_id: str
    task_id: str
    instruction: MigrationInstruction | None
    failures: tuple[str, ...]


@dataclass(frozen=True)
class InstanceReport:
    """Whether one case can move (or moved), where it waits, and why not."""

    instance_id: str
    movable: bool
    waiting_at: tuple[str, ...] = ()
    failures: tuple[str, ...] = ()                    # about the case as a whole
    activities: tuple[ActivityReport, ...] = ()
    moved: bool = False

    @property
    def reasons(self) -> list[str]:
        return [*self.failures, *(f"{a.activity_id}: {f}" for a in self.activities for f in a.failures)]


@dataclass(frozen=True)
class MigrationReport:
    """A plan's report: instructions that cannot work, activities of the source no instruction
    covers (cases waiting there cannot move), and — when cases were named or looked for — each case."""

    plan: MigrationPlan
    instruction_reports: tuple[InstructionReport, ...] = ()
    unmapped_activities: tuple[str, ...] = ()
    instances: tuple[InstanceReport, ...] = field(default_factory=tuple)

    @property
    def valid(self) -> bool:
        return not self.instruction_reports

    @property
    def movable(self) -> list[str]:
        return [i.instance_id for i in self.instances if i.movable]

    @property
    def refused(self) -> list[InstanceReport]:
        return [i for i in self.instances if not i.movable]

    @property
    def moved(self) -> list[str]:
        return [i.instance_id for i in self.instances if i.moved]


# -- the plan --------------------------------------------------------------------------------------

def _definition_key(conn: sa.Connection, definition_id: str) -> str:
    key = conn.execute(sa.select(definition.c.key).where(definition.c.id == definition_id)).scalar_one_or_none()
    if key is None:
        raise DefinitionNotFound(f"no process definition with id {definition_id}")
    return str(key)


def _check_versions(db: Database, source_id: str, target_id: str) -> None:
    with db.read() as conn:
        source_key, target_key = _definition_key(conn, source_id), _definition_key(conn, target_id)
    if source_key != target_key:
        raise Invalid(f"{source_id} and {target_id} are not versions of the same process: cases move only "
                      "between versions of their own process")


def generate_migration_plan(db: Database, *, source_definition_id: str, target_definition_id: str,
                            update_event_triggers: bool = False, mapping: Mapping[str, str] | None = None,
                            variables: Mapping[str, Any] | None = None) -> MigrationPlan:
    """A plan mapping every activity with the same id and kind in both versions; `mapping` adds or
    replaces instructions (source activity id -> target activity id), e.g. for a renamed activity.

    Raises: DefinitionNotFound, Invalid (not versions of one process), VariablesInvalid.
    """
    variables = check_variables(variables or {})
    _check_versions(db, source_definition_id, target_definition_id)
    source, target = db.specs.get(source_definition_id), db.specs.get(target_definition_id)
    generated = migration.generate(source, target, update_event_triggers=update_event_triggers)
    by_source = {i.source_activity_id: i for i in generated}
    for old, new in (mapping or {}).items():
        event = migration.is_event(_activity(source, old)) if _activity(source, old) is not None else False
        by_source[old] = MigrationInstruction(old, new, update_event_triggers and event)
    return MigrationPlan(source_definition_id, target_definition_id, tuple(by_source[k] for k in sorted(by_source)),
                         variables)


def _activity(pair: state.SpecPair, activity_id: str) -> Any:
    for process in migration.processes(pair).values():
        found = migration.activities(process).get(activity_id)
        if found is not None:
            return found
    return None


def validate_migration_plan(db: Database, *, plan: MigrationPlan) -> MigrationReport:
    """What is wrong with the plan itself, whatever the cases: instructions naming activities that
    do not exist, mapping an activity to one of another kind, or one source twice; and which
    activities cases could wait at that no instruction covers.

    Raises: DefinitionNotFound, Invalid (not versions of one process, too many instructions),
    VariablesInvalid (the plan's variables).
    """
    if len(plan.instructions) > MAX_INSTRUCTIONS:
        raise Invalid(f"a plan has at most {MAX_INSTRUCTIONS} instructions")
    check_variables(plan.variables)
    _check_versions(db, plan.source_definition_id, plan.target_definition_id)
    source, target = db.specs.get(plan.source_definition_id), db.specs.get(plan.target_definition_id)
    failures = migration.instruction_failures(source, target, plan.instructions)
    reports = tuple(InstructionReport(i, tuple(f)) for i, f in zip(plan.instructions, failures, strict=True) if f)
    covered = {i.source_activity_id for i in plan.instructions}
    unmapped = sorted({a for p in migration.processes(source).values() for a, s in migration.activities(p).items()
                       if migration.holds_tokens(s) and a not in covered})
    return MigrationReport(plan, reports, tuple(unmapped))


# -- the cases ---------------------------------------------------------------------------------------

_CASE_COLUMNS = (instance.c.id, instance.c.definition_id, instance.c.status, instance.c.state, instance.c.state_format)


def _cases(db: Database, plan: MigrationPlan, instance_ids: Sequence[str] | None) -> Iterator[Any]:
    """The rows of the named cases (None for an id no case has), or every open case of the source."""
    if instance_ids is not None:
        if len(instance_ids) > MAX_INSTANCES:
            raise Invalid(f"at most {MAX_INSTANCES} cases at a time")
        ids = list(dict.fromkeys(instance_ids))
        for start in range(0, len(ids), _BATCH):
            chunk = ids[start:start + _BATCH]
            with db.read() as conn:
                found = {r.id: r for r in conn.execute(sa.select(*_CASE_COLUMNS).where(instance.c.id.in_(chunk)))}
            for instance_id in chunk:
                yield found.get(instance_id) or instance_id
        return
    after = ""
    while True:
        with db.read() as conn:
            rows = conn.execute(sa.select(*_CASE_COLUMNS).where(
                instance.c.definition_id == plan.source_definition_id, instance.c.status == "active",
                instance.c.id > after).order_by(instance.c.id).limit(_BATCH)).all()
        if not rows:
            return
        yield from rows
        after = rows[-1].id


def _report(db: Database, plan: MigrationPlan, row: Any, target: state.SpecPair,
            instructions: list[migration.Instruction], wf: Any = None,
            conn: sa.Connection | None = None) -> tuple[InstanceReport, Any]:
    """Whether the case in `row` can move (with `conn`, worker locks are checked too); also its
    workflow (loaded here unless given)."""
    if isinstance(row, str):
        return InstanceReport(row, False, failures=(f"no process instance with id {row}",)), None
    if row.definition_id != plan.source_definition_id:
        return InstanceReport(row.id, False, failures=(
            f"the case runs on {row.definition_id}, not on the plan's source {plan.source_definition_id}",)), None
    if row.status != "active":
        return InstanceReport(row.id, False, failures=(f"the case is {row.status}",)), None
    if wf is None:
        wf = state.loads(row.state, row.state_format, db.specs.get)
    waiting = tuple(dict.fromkeys(t.activity_id for t in migration.tokens(wf)))
    by_source = {i.source_activity_id: i for i in plan.instructions}
    problems = tuple(ActivityReport(p.activity_id, p.task_id, by_source.get(p.activity_id), p.failures)
                     for p in migration.check(wf, target, instructions))
    if conn is not None:
        problems += _locked_topic_changes(conn, clock.now(), wf, target, instructions)
    return InstanceReport(row.id, not problems, waiting, (), problems), wf


def validate_migration(db: Database, *, plan: MigrationPlan,
                       instance_ids: Sequence[str] | None = None) -> MigrationReport:
    """The plan's report and, for each case named (or every open case of the source version),
    whether it can move and why not. Changes nothing.

    Raises: DefinitionNotFound, Invalid.
    """
    report = validate_migration_plan(db, plan=plan)
    if not report.valid:
        return report
    target, instructions = db.specs.get(plan.target_definition_id), list(plan.instructions)
    cases = []
    for row in _cases(db, plan, instance_ids):
        with db.read() as conn:
            cases.append(_report(db, plan, row, target, instructions, conn=conn)[0])
    return MigrationReport(plan, report.instruction_reports, report.unmapped_activities, tuple(cases))


class _Refused(Exception):
    def __init__(self, report: InstanceReport) -> None:
        self.report = report


def migrate_instances(db: Database, *, plan: MigrationPlan, actor: Actor, instance_ids: Sequence[str] | None = None,
                      all_or_nothing: bool = False, audit: Audit | None = None) -> MigrationReport:
    """Move the cases named (or every open case of the source version) to the target version, each
    in its own transaction; a case that cannot move is reported and left as it is. With
    `all_or_nothing` (Camunda's behaviour), no case moves unless every named case can.

    Raises: DefinitionNotFound, Invalid, MigrationPlanInvalid (an instruction cannot work),
    MigrationRefused (all_or_nothing, and a case cannot move).
    """
    report = validate_migration_plan(db, plan=plan)
    if not report.valid:
        raise MigrationPlanInvalid(_plan_message(report), report=report)
    if all_or_nothing:
        checked = validate_migration(db, plan=plan, instance_ids=instance_ids)
        if checked.refused:
            raise MigrationRefused(_refusal_message(checked.refused), report=checked)
        instance_ids = [i.instance_id for i in checked.instances]
    target, instructions = db.specs.get(plan.target_definition_id), list(plan.instructions)
    ids = list(instance_ids) if instance_ids is not None else [r.id for r in _cases(db, plan, None)]
    outcomes = [_migrate_one(db, plan, instance_id, target, instructions, actor, audit) for instance_id in ids]
    done = MigrationReport(plan, (), report.unmapped_activities, tuple(outcomes))
    if all_or_nothing and done.refused:
        raise MigrationRefused(f"{len(done.moved)} cases moved, but then " + _refusal_message(done.refused),
                               report=done)
    return done


def _plan_message(report: MigrationReport) -> str:
    listed = "; ".join(f"{r.instruction.source_activity_id} -> {r.instruction.target_activity_id}: "
                       + ", ".join(r.failures) for r in report.instruction_reports)
    return f"the migration plan from {report.plan.source_definition_id} to {report.plan.target_definition_id} " \
           f"cannot work: {listed}"


def _refusal_message(refused: Sequence[InstanceReport]) -> str:
    first = refused[0]
    more = f" (and {len(refused) - 1} more cases)" if len(refused) > 1 else ""
    return f"process instance {first.instance_id} cannot move: {'; '.join(first.reasons)}{more}"


def _migrate_one(db: Database, plan: MigrationPlan, instance_id: str, target: state.SpecPair,
                 instructions: list[migration.Instruction], actor: Actor, audit: Audit | None) -> InstanceReport:
    try:
        with instance_command(db, actor=actor, instance_id=instance_id, allow_suspended=True, audit=audit) as cmd:
            row = _Row(cmd)
            copy = state.loads(state.dumps(cmd.workflow), state.STATE_FORMAT, db.specs.get)   # `before` stays as it was
            checked, _ = _report(db, plan, row, target, instructions, copy)
            locked = _locked_topic_changes(cmd.conn, cmd.change.now, copy, target, instructions)
            if locked or not checked.movable:
                raise _Refused(InstanceReport(instance_id, False, checked.waiting_at, checked.failures,
                                              checked.activities + locked))
            moved = migration.move(copy, target, instructions)
            for name, value in plan.variables.items():
                tokens.set_variable(copy, name, value)
            cmd.workflow = state.loads(state.dumps(copy), state.STATE_FORMAT, db.specs.get)
            cmd.definition_id = plan.target_definition_id
            if moved.restarted:                        # a restarted timer did not fire: no timer_fired event
                now_waiting = projection.Snapshot(cmd.workflow).timers
                for task_id in moved.restarted:
                    if task_id in cmd.before.timers and task_id in now_waiting:
                        cmd.before.timers[task_id] = now_waiting[task_id]
            cmd.hold()
            _move_rows(cmd, plan)
            cmd.record("instance_migrated", from_definition=plan.source_definition_id,
                       to_definition=plan.target_definition_id, variables_set=sorted(plan.variables) or None,
                       ended_events=moved.ended or None,
                       started_events=moved.started or None, restarted_timers=moved.restarted or None)
    except _Refused as refused:
        return refused.report
    except EngineError as error:
        return InstanceReport(instance_id, False, failures=(error.message,))
    except Exception as error:                                  # one case's trouble stops no other
        log.exception("migrating a case failed", extra={"instance_id": instance_id})
        return InstanceReport(instance_id, False, failures=(
            f"the case could not be moved ({type(error).__name__}); nothing of it changed, and the error is "
            "in the service's log",))
    return InstanceReport(instance_id, True, checked.waiting_at, moved=True)


class _Row:
    """The locked row as `_report` reads it."""

    def __init__(self, cmd: Command) -> None:
        self.id, self.definition_id, self.status = cmd.instance_id, cmd.definition_id, cmd.row.status


def _locked_topic_changes(conn: sa.Connection, now: Any, wf: Any, target: state.SpecPair,
                          instructions: list[migration.Instruction]) -> tuple[ActivityReport, ...]:
    """An external task a worker holds keeps its topic: the worker serves that topic, and a worker
    key limited to topics could not report on it under another."""
    mapping = {i.source_activity_id: i for i in instructions}
    found = []
    for task_id, task in projection.Snapshot(wf).external_tasks.items():
        instruction = mapping.get(task.task_spec.bpmn_id)
        new = _activity(target, instruction.target_activity_id) if instruction is not None else None
        if instruction is None or new is None or getattr(new, "topic", None) == task.task_spec.topic:
            continue
        lock = conn.execute(sa.select(external_task.c.lock_expires_at, external_task.c.topic)
                            .where(external_task.c.id == task_id)).first()
        if lock is not None and lock.lock_expires_at is not None and aware(lock.lock_expires_at) > now:
            found.append(ActivityReport(task.task_spec.bpmn_id, task_id, instruction, (
                f"a worker holds this external task (topic '{lock.topic}') and the target's topic is "
                f"'{new.topic}': wait until it is done or its lock expires, or unlock it",)))
    return tuple(found)


def _move_rows(cmd: Command, plan: MigrationPlan) -> None:
    """The rows beside the state follow the tasks that moved: the instance's version; each open
    task's activity and what the target says of it (name, form, candidates, topic), keeping its
    claim or lock, retries and creation time; subscriptions' and open incidents' activity ids."""
    conn, wf = cmd.conn, cmd.workflow
    conn.execute(instance.update().where(instance.c.id == cmd.instance_id).values(definition_id=cmd.definition_id))
    after = projection.Snapshot(wf)
    org = cmd.db.organisation_variable
    for task_id, task in after.user_tasks.items():
        if task_id not in cmd.before.user_tasks:
            continue
        fresh = projection.user_task_row(task, org)
        fresh.pop("id")
        assignee = fresh.pop("assignee")
        values = {**fresh, "definition_id": cmd.definition_id}
        kept = conn.execute(sa.select(user_task.c.assignee).where(user_task.c.id == task_id)).first()
        if kept is not None and kept.assignee is None and assignee is not None:
            values["assignee"] = assignee               # the target assigns it; nobody had claimed it
        conn.execute(user_task.update().where(user_task.c.id == task_id).values(**values))
    for task_id, task in after.external_tasks.items():
        if task_id not in cmd.before.external_tasks:
            continue
        fresh = projection.external_task_row(task)
        conn.execute(external_task.update().where(external_task.c.id == task_id).values(
            definition_id=cmd.definition_id, activity_id=fresh["activity_id"], topic=fresh["topic"],
            priority=fresh["priority"], extension_properties=fresh["extension_properties"],
            variables=fresh["variables"]))
    for task in after.live:
        task_id, activity_id = str(task.id), task.task_spec.bpmn_id
        if activity_id is None:
            continue
        conn.execute(message_subscription.update().where(message_subscription.c.task_id == task_id)
                     .values(activity_id=activity_id))
        conn.execute(incident.update().where(incident.c.task_id == task_id, incident.c.resolved_at.is_(None))
                     .values(activity_id=activity_id))
