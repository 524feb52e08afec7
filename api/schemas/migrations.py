"""Migrating open cases: plans, their reports, and what happened to each case. A report names cases
by id and the activities they wait at — never their variables, documents or history."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

import engine

MAX_INSTANCES = 100_000


class MigrationInstructionIO(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source_activity_id: str = Field(min_length=1, max_length=255, examples=["review"])
    target_activity_id: str = Field(min_length=1, max_length=255, examples=["review_case"])
    update_event_trigger: bool = Field(False, description=(
        "a timer here restarts from the target's definition at the move (otherwise it keeps its due time)"))

    @classmethod
    def of(cls, i: engine.MigrationInstruction) -> MigrationInstructionIO:
        return cls(source_activity_id=i.source_activity_id, target_activity_id=i.target_activity_id,
                   update_event_trigger=i.update_event_trigger)


class MigrationPlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"source_definition_id": "rapid_review:3", "target_definition_id": "rapid_review:4",
         "mapping": {"review": "review_case"}}]})

    source_definition_id: str = Field(min_length=1, max_length=300, examples=["rapid_review:3"])
    target_definition_id: str = Field(min_length=1, max_length=300, examples=["rapid_review:4"])
    mapping: dict[str, str] = Field(default_factory=dict, max_length=10_000, description=(
        "source activity id -> target activity id, for activities whose id changed (every activity with the "
        "same id and kind in both versions is mapped anyway)"))
    update_event_triggers: bool = Field(False, description="timers restart from the target's definitions")
    instructions: list[MigrationInstructionIO] | None = Field(None, max_length=10_000, description=(
        "the whole plan, instruction by instruction (as `POST /migrations/plan` answers): used instead of "
        "`mapping` and `update_event_triggers`"))
    variables: dict[str, Any] = Field(default_factory=dict, description="set in every case that moves")

    def plan(self, db: engine.Database) -> engine.MigrationPlan:
        """The plan this asks for (runs in a worker thread: it may parse the versions)."""
        if self.instructions is None:
            return engine.generate_migration_plan(
                db, source_definition_id=self.source_definition_id, target_definition_id=self.target_definition_id,
                update_event_triggers=self.update_event_triggers, mapping=self.mapping, variables=self.variables)
        return engine.MigrationPlan(self.source_definition_id, self.target_definition_id, tuple(
            engine.MigrationInstruction(i.source_activity_id, i.target_activity_id, i.update_event_trigger)
            for i in self.instructions), self.variables)


class MigrationIn(MigrationPlanIn):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"source_definition_id": "rapid_review:3", "target_definition_id": "rapid_review:4",
         "mapping": {"review": "review_case"}, "dry_run": True}]})

    instance_ids: list[str] | None = Field(None, max_length=MAX_INSTANCES, description=(
        "the cases to move; by default every open case of the source version"))
    dry_run: bool = Field(False, description="only say, case by case, whether it can move and why not")


class InstructionReportOut(BaseModel):
    instruction: MigrationInstructionIO
    failures: list[str]


class ActivityReportOut(BaseModel):
    activity_id: str = Field(description="where the case waits")
    task_id: str = Field(description="the waiting task (Camunda's activity instance)")
    failures: list[str] = Field(examples=[["There is no migration instruction for this instance's activity"]])


class InstanceReportOut(BaseModel):
    instance_id: str
    movable: bool = Field(description="the plan can move this case")
    moved: bool = Field(description="it was moved (never with dry_run)")
    waiting_at: list[str] = Field(description="the activities the case waits at")
    failures: list[str] = Field(description="why the case as a whole cannot move")
    activities: list[ActivityReportOut] = Field(description="the waiting activities that cannot move, and why")

    @classmethod
    def of(cls, i: engine.InstanceReport) -> InstanceReportOut:
        return cls(instance_id=i.instance_id, movable=i.movable, moved=i.moved, waiting_at=list(i.waiting_at),
                   failures=list(i.failures), activities=[
                       ActivityReportOut(activity_id=a.activity_id, task_id=a.task_id, failures=list(a.failures))
                       for a in i.activities])


class MigrationPlanOut(BaseModel):
    source_definition_id: str
    target_definition_id: str
    instructions: list[MigrationInstructionIO]
    variables: list[str] = Field(description="the names of the variables set in every case that moves")
    valid: bool = Field(description="no instruction is wrong in itself")
    instruction_reports: list[InstructionReportOut] = Field(description="the instructions that cannot work, and why")
    unmapped_activities: list[str] = Field(description=(
        "source activities a case may wait at that no instruction maps: cases waiting there cannot move"))

    @classmethod
    def fields_of(cls, r: engine.MigrationReport) -> dict[str, Any]:
        return dict(source_definition_id=r.plan.source_definition_id, target_definition_id=r.plan.target_definition_id,
                    instructions=[MigrationInstructionIO.of(i) for i in r.plan.instructions],
                    variables=sorted(r.plan.variables), valid=r.valid, instruction_reports=[
                        InstructionReportOut(instruction=MigrationInstructionIO.of(x.instruction),
                                             failures=list(x.failures)) for x in r.instruction_reports],
                    unmapped_activities=list(r.unmapped_activities))

    @classmethod
    def of(cls, r: engine.MigrationReport) -> MigrationPlanOut:
        return cls(**cls.fields_of(r))


class MigrationReportOut(MigrationPlanOut):
    instances: list[InstanceReportOut]
    movable: int = Field(description="how many of the cases can move (with dry_run) or could (without)")
    moved: int
    refused: int = Field(description="how many cannot move (see each case's activities and failures)")

    @classmethod
    def of(cls, r: engine.MigrationReport) -> MigrationReportOut:
        return cls(**cls.fields_of(r), instances=[InstanceReportOut.of(i) for i in r.instances],
                   movable=len(r.movable), moved=len(r.moved), refused=len(r.refused))
