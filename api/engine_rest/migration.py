"""/engine-rest migration: Camunda 7's `POST /migration/generate`, `/migration/validate` and
`/migration/execute`, with its request and response shapes (MigrationPlanGenerationDto,
MigrationPlanDto, MigrationPlanReportDto, MigrationExecutionDto), over the engine's migration.

As in Camunda, `execute` moves every listed case or none: it first checks each, and answers 400
`MigratingProcessInstanceValidationException` naming a case that cannot move (and, beyond Camunda,
`validationReports` naming every one). Unlike Camunda's synchronous execution, the cases then move
one transaction each. Listeners and input/output mappings do not exist here, so `skipCustomListeners`
and `skipIoMappings` change nothing.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import Field

import engine
from api.audit import AuditDep
from api.deps import ActorDep, DbDep, call
from api.engine_rest.camunda import Lenient, plain_map, typed_map
from api.engine_rest.models import Dto, VariableValueDto
from api.security import Need
from api.security import Permission as P

router = APIRouter(prefix="/migration", tags=["engine-rest migration"], dependencies=[Need(P.MIGRATE)])

QUERY_FIELDS = ("processDefinitionId", "processInstanceIds")


class MigrationInstructionDto(Lenient):
    sourceActivityIds: list[str] | None = None
    targetActivityIds: list[str] | None = None
    updateEventTrigger: bool | None = False


class MigrationPlanDto(Lenient):
    sourceProcessDefinitionId: str | None = Field(None, examples=["rapid_review:3"])
    targetProcessDefinitionId: str | None = Field(None, examples=["rapid_review:4"])
    instructions: list[MigrationInstructionDto] | None = None
    variables: dict[str, Any] | None = None

    def plan(self) -> engine.MigrationPlan:
        """Raises: engine.Invalid (a field missing, an instruction with several activities)."""
        if not self.sourceProcessDefinitionId or not self.targetProcessDefinitionId:
            raise engine.Invalid("sourceProcessDefinitionId and targetProcessDefinitionId are required")
        instructions = []
        for i in self.instructions or []:
            sources, targets = i.sourceActivityIds or [], i.targetActivityIds or []
            if len(sources) != 1 or len(targets) != 1:
                raise engine.Invalid("each instruction maps exactly one source activity to one target activity")
            instructions.append(engine.MigrationInstruction(sources[0], targets[0], bool(i.updateEventTrigger)))
        return engine.MigrationPlan(self.sourceProcessDefinitionId, self.targetProcessDefinitionId,
                                    tuple(instructions), plain_map(self.variables))


class MigrationPlanGenerationDto(Lenient):
    sourceProcessDefinitionId: str | None = None
    targetProcessDefinitionId: str | None = None
    updateEventTriggers: bool | None = False
    variables: dict[str, Any] | None = None


class MigrationExecutionDto(Lenient):
    migrationPlan: MigrationPlanDto | None = None
    processInstanceIds: list[str] | None = None
    processInstanceQuery: dict[str, Any] | None = None
    skipCustomListeners: bool | None = None
    skipIoMappings: bool | None = None


class MigrationInstructionOutDto(Dto):
    sourceActivityIds: list[str]
    targetActivityIds: list[str]
    updateEventTrigger: bool

    @classmethod
    def of(cls, i: engine.MigrationInstruction) -> MigrationInstructionOutDto:
        return cls(sourceActivityIds=[i.source_activity_id], targetActivityIds=[i.target_activity_id],
                   updateEventTrigger=i.update_event_trigger)


class MigrationPlanOutDto(Dto):
    sourceProcessDefinitionId: str
    targetProcessDefinitionId: str
    instructions: list[MigrationInstructionOutDto]
    variables: dict[str, VariableValueDto] | None = None

    @classmethod
    def of(cls, plan: engine.MigrationPlan) -> MigrationPlanOutDto:
        return cls(sourceProcessDefinitionId=plan.source_definition_id,
                   targetProcessDefinitionId=plan.target_definition_id,
                   instructions=[MigrationInstructionOutDto.of(i) for i in plan.instructions],
                   variables={k: VariableValueDto(**v) for k, v in typed_map(dict(plan.variables)).items()}
                   if plan.variables else None)


class MigrationInstructionValidationReportDto(Dto):
    instruction: MigrationInstructionOutDto
    failures: list[str]


class MigrationPlanReportDto(Dto):
    instructionReports: list[MigrationInstructionValidationReportDto]
    variableReports: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def of(cls, report: engine.MigrationReport) -> MigrationPlanReportDto:
        return cls(instructionReports=[MigrationInstructionValidationReportDto(
            instruction=MigrationInstructionOutDto.of(r.instruction), failures=list(r.failures))
            for r in report.instruction_reports])


def plan_exception(error: engine.MigrationPlanInvalid) -> dict[str, Any]:
    """Camunda's MigrationPlanValidationExceptionDto."""
    return {"type": "MigrationPlanValidationException", "message": error.message,
            "validationReport": MigrationPlanReportDto.of(error.report).model_dump()}


def _instance_report(i: engine.InstanceReport) -> dict[str, Any]:
    """Camunda's MigratingProcessInstanceValidationReportDto (a waiting task is an activity instance)."""
    return {"processInstanceId": i.instance_id, "failures": list(i.failures),
            "activityInstanceValidationReports": [
                {"migrationInstruction": MigrationInstructionOutDto.of(a.instruction).model_dump()
                 if a.instruction is not None else None,
                 "activityInstanceId": a.task_id, "sourceScopeId": a.activity_id, "failures": list(a.failures)}
                for a in i.activities],
            "transitionInstanceValidationReports": []}


def refusal_exception(error: engine.MigrationRefused) -> dict[str, Any]:
    """Camunda's MigratingProcessInstanceValidationExceptionDto for the first case that cannot move;
    `validationReports` (not Camunda's) has every one."""
    refused = error.report.refused
    return {"type": "MigratingProcessInstanceValidationException", "message": _message(refused[0]),
            "validationReport": _instance_report(refused[0]),
            "validationReports": [_instance_report(i) for i in refused]}


def _message(i: engine.InstanceReport) -> str:
    lines = [f"Cannot migrate process instance '{i.instance_id}':", *(f"\t{f}" for f in i.failures)]
    for a in i.activities:
        lines.append(f"\tCannot migrate activity instance '{a.task_id}' ({a.activity_id}):")
        lines += [f"\t\t{f}" for f in a.failures]
    return "\n".join(lines)


def _generate(db: engine.Database, body: MigrationPlanGenerationDto) -> engine.MigrationPlan:
    if not body.sourceProcessDefinitionId or not body.targetProcessDefinitionId:
        raise engine.Invalid("sourceProcessDefinitionId and targetProcessDefinitionId are required")
    return engine.generate_migration_plan(db, source_definition_id=body.sourceProcessDefinitionId,
                                          target_definition_id=body.targetProcessDefinitionId,
                                          update_event_triggers=bool(body.updateEventTriggers),
                                          variables=plain_map(body.variables))


@router.post("/generate", response_model=MigrationPlanOutDto)
async def generate(body: MigrationPlanGenerationDto, db: DbDep) -> MigrationPlanOutDto:
    """A plan mapping every activity with the same id and kind in both versions (Camunda's
    generateMigrationPlan). Add instructions for activities whose id changed before executing it."""
    return MigrationPlanOutDto.of(await call(db, _generate, body=body))


@router.post("/validate", response_model=MigrationPlanReportDto)
async def validate(body: MigrationPlanDto, db: DbDep) -> MigrationPlanReportDto:
    """The plan's instructions checked on their own (Camunda's creation-time validation): an empty
    `instructionReports` when each can work. Whether each case can move is checked by `execute`."""
    plan = body.plan()
    return MigrationPlanReportDto.of(await call(db, engine.validate_migration_plan, plan=plan))


def _instances(body: MigrationExecutionDto, plan: engine.MigrationPlan) -> list[str] | None:
    """The cases named by `processInstanceIds` and `processInstanceQuery` (None: every open case of
    the source). Raises engine.Invalid."""
    query = body.processInstanceQuery
    if body.processInstanceIds is None and query is None:
        raise engine.Invalid("either processInstanceIds or processInstanceQuery has to be set")
    ids = list(body.processInstanceIds or [])
    if query is not None:
        unknown = sorted(k for k, v in query.items() if k not in QUERY_FIELDS and v not in (None, [], ""))
        if unknown:
            raise engine.Invalid(f"processInstanceQuery supports {' and '.join(QUERY_FIELDS)} here, not "
                                 + ", ".join(unknown))
        by_definition = query.get("processDefinitionId")
        if by_definition is not None and by_definition != plan.source_definition_id:
            raise engine.Invalid("processInstanceQuery.processDefinitionId must be the plan's source definition")
        if query.get("processInstanceIds") is not None:
            ids += [str(i) for i in query["processInstanceIds"]]
        elif by_definition is not None:
            return None
    if not ids:
        raise engine.Invalid("process instance ids is empty")
    return ids


@router.post("/execute", status_code=204, response_class=Response)
async def execute(body: MigrationExecutionDto, db: DbDep, actor: ActorDep, audit: AuditDep) -> Response:
    """Move the listed cases (every one, or none if one cannot move: 400 with the reasons), each in
    its own transaction, with a history event and an audit entry each."""
    if body.migrationPlan is None:
        raise engine.Invalid("migrationPlan is required")
    plan = body.migrationPlan.plan()
    await call(db, engine.migrate_instances, plan=plan, actor=actor, instance_ids=_instances(body, plan),
               all_or_nothing=True, audit=audit.entry(status=204))
    return Response(status_code=204)
