"""The BPMN runtime: deploy diagrams, run instances, keep them in the database. No HTTP in here.

Every change runs as one command in one transaction (DESIGN §2); every read is a query.
"""

import logging as _logging

from engine.bpmn import compat as _compat
from engine.bpmn import timers as _timers
from engine.bpmn.sandbox import configure as configure_sandbox
from engine.bpmn.sandbox import warm as sandbox_warm
from engine.clock import clock
from engine.commands.access import KEY_PREFIX as API_KEY_PREFIX
from engine.commands.access import (
    IssuedKey,
    KeyInfo,
    PrincipalInfo,
    authenticate_key,
    count_principals,
    create_principal,
    disable_principal,
    get_principal,
    issue_key,
    list_keys,
    list_principals,
    revoke_key,
    share_case,
)
from engine.commands.audit import AuditEntry, AuditVerification, append_audit, case_audit, verify_audit
from engine.commands.deploy import DeployFile, deploy
from engine.commands.documents import DocumentInfo, add_document, get_document, list_documents
from engine.commands.external_tasks import (
    FetchResult,
    LockedTask,
    TopicRequest,
    complete_external_task,
    extend_lock,
    fetch_and_lock,
    get_external_task,
    handle_bpmn_error,
    handle_failure,
    list_external_tasks,
)
from engine.commands.external_tasks import set_retries as set_external_task_retries
from engine.commands.external_tasks import unlock as unlock_external_task
from engine.commands.idempotency import StoredRequest, find_request, forget_requests, store_answer
from engine.commands.incidents import retry_incident
from engine.commands.instances import cancel_instance, start_instance
from engine.commands.messages import Correlation, MessageAmbiguous, MessageNotCorrelated, correlate_message
from engine.commands.migration import (
    ActivityReport,
    InstanceReport,
    InstructionReport,
    MigrationInstruction,
    MigrationPlan,
    MigrationReport,
    generate_migration_plan,
    migrate_instances,
    validate_migration,
    validate_migration_plan,
)
from engine.commands.repair import (
    Modification,
    delete_instance_variable,
    modify_instance,
    set_instance_variable,
    set_suspended,
)
from engine.commands.sessions import (
    OpenedSession,
    SessionInfo,
    close_session,
    open_key_session,
    open_token_session,
    resolve_session,
)
from engine.commands.timers import fire_due_timers
from engine.commands.user_tasks import assign_user_task, claim_user_task, complete_user_task, unclaim_user_task
from engine.diagram.diff import Change, ChangedItem, DefinitionDiff, Item, Section, VersionRef
from engine.diagram.report import LintReport, Problem
from engine.diagram.timers import DEFAULT_MIN_TIMER_CYCLE
from engine.errors import (
    BusinessKeyInUse,
    Conflict,
    DefinitionNotFound,
    DeploymentError,
    DuplicateRequest,
    EngineError,
    Forbidden,
    IdempotencyKeyReused,
    IncidentNotFound,
    InstanceNotActive,
    InstanceNotFound,
    InstanceSuspended,
    Invalid,
    LockedByAnotherWorker,
    MigrationPlanInvalid,
    MigrationRefused,
    NotACandidate,
    NotFound,
    TaskClaimedByOther,
    TaskNotFound,
    TaskNotOpen,
    Unavailable,
    VariablesInvalid,
    VersionConflict,
)
from engine.queries.casework import (
    Activity,
    CaseOverview,
    CaseStamp,
    ProcessProgress,
    TaskRecord,
    WaitingOn,
    activity_index,
    case_diagram_xml,
    case_progress,
    completed_task_data,
    open_case_stamps,
    open_cases,
)
from engine.queries.diagrams import definition_diff, diff_versions, lint, list_deployments
from engine.queries.filters import parse_query_filters as parse_variable_filters
from engine.queries.milestones import (
    Milestones,
    MilestoneStatus,
    WorkingDays,
    evaluate_milestones,
    load_milestones,
    next_deadline,
    rag,
    working_days,
)
from engine.queries.operations import (
    DatabaseContents,
    InstanceTotals,
    OperationalCounts,
    PoolStatus,
    database_contents,
    operational_counts,
    pool_status,
)
from engine.queries.private_data import PrivateData, load_private_data
from engine.queries.reads import (
    definition_xml,
    get_definition,
    get_incident,
    get_instance,
    get_user_task,
    instance_history,
    instance_of_task,
    latest_definition,
    list_definitions,
    list_incidents,
    list_instances,
    list_user_tasks,
)
from engine.queries.reports import TimelinessItem, TimelinessReport, TimelinessSection, case_facts, timeliness_report
from engine.queries.timers import next_timer_due
from engine.results import (
    Actor,
    DefinitionInfo,
    DeployedDefinition,
    DeploymentInfo,
    DeploymentResult,
    ExternalTaskInfo,
    HistoryEvent,
    IncidentInfo,
    InstanceInfo,
    Page,
    UserTaskInfo,
    VariableFilter,
)
from engine.store.change import Audit, IdempotencyKey
from engine.store.command import ProcessFailed
from engine.store.database import Database
from engine.store.migrate import check as check_schema
from engine.store.migrate import current as current_revision
from engine.store.migrate import downgrade, upgrade, would_drop_audit
from engine.store.migrate import head as schema_head
from engine.store.signals import AUDIT_HEAD as SIGNAL_AUDIT_HEAD
from engine.store.signals import EXTERNAL_TASK as SIGNAL_EXTERNAL_TASK
from engine.store.signals import TIMER as SIGNAL_TIMER
from timekeeping import configure as configure_calendar  # noqa: E402

_compat.install(clock.now, _timers.calendar_timedelta)

# SpiffWorkflow attaches task data to its INFO records: case data must never reach a log.
for _name in ("spiff", "spiff.task", "spiff.workflow", "spiff.data", "spiff.metrics"):
    _logging.getLogger(_name).setLevel(_logging.WARNING)

__all__ = [
    "Change", "ChangedItem", "DEFAULT_MIN_TIMER_CYCLE", "DefinitionDiff", "Item", "LintReport", "Problem", "Section",
    "VersionRef", "definition_diff", "diff_versions", "lint", "DeploymentInfo", "list_deployments",
    "FetchResult", "LockedTask", "SIGNAL_EXTERNAL_TASK", "SIGNAL_TIMER", "TopicRequest",
    "complete_external_task", "extend_lock", "fetch_and_lock", "get_external_task", "handle_bpmn_error",
    "handle_failure", "list_external_tasks", "set_external_task_retries", "unlock_external_task",
    "Correlation", "MessageAmbiguous", "MessageNotCorrelated", "correlate_message", "fire_due_timers",
    "next_timer_due", "configure_calendar", "configure_sandbox", "sandbox_warm",
    "DocumentInfo", "add_document", "get_document", "list_documents",
    "API_KEY_PREFIX", "Audit", "AuditEntry", "AuditVerification", "IssuedKey", "KeyInfo", "SIGNAL_AUDIT_HEAD",
    "PrincipalInfo", "append_audit",
    "authenticate_key",
    "case_audit", "count_principals", "create_principal", "disable_principal", "get_principal", "instance_of_task",
    "issue_key", "list_keys", "list_principals", "revoke_key", "share_case", "verify_audit",
    "BusinessKeyInUse", "DuplicateRequest", "IdempotencyKey", "IdempotencyKeyReused", "StoredRequest",
    "Unavailable", "find_request", "forget_requests", "store_answer", "schema_head", "would_drop_audit",
    "Actor", "Conflict", "Database", "Forbidden", "InstanceSuspended", "NotACandidate", "assign_user_task",
    "DefinitionInfo", "DefinitionNotFound", "DeployFile", "DeployedDefinition",
    "DeploymentError", "DeploymentResult", "EngineError", "ExternalTaskInfo", "HistoryEvent", "IncidentInfo",
    "IncidentNotFound", "InstanceInfo", "InstanceNotActive", "InstanceNotFound", "Invalid",
    "LockedByAnotherWorker", "NotFound", "Page", "ProcessFailed", "TaskClaimedByOther", "TaskNotFound",
    "TaskNotOpen", "UserTaskInfo", "VariableFilter", "VariablesInvalid", "VersionConflict", "parse_variable_filters",
    "cancel_instance", "check_schema", "claim_user_task", "clock", "complete_user_task", "current_revision",
    "definition_xml", "deploy", "downgrade", "get_definition", "get_incident", "get_instance", "get_user_task",
    "instance_history", "latest_definition", "list_definitions", "list_incidents", "list_instances",
    "list_user_tasks", "retry_incident", "start_instance", "unclaim_user_task", "upgrade",
    "Activity", "CaseOverview", "ProcessProgress", "TaskRecord", "WaitingOn", "activity_index", "case_diagram_xml",
    "case_progress", "completed_task_data", "open_cases", "CaseStamp", "open_case_stamps",
    "Milestones", "MilestoneStatus", "WorkingDays", "evaluate_milestones", "load_milestones", "next_deadline", "rag",
    "PrivateData", "load_private_data",
    "working_days",
    "TimelinessItem", "TimelinessReport", "TimelinessSection", "case_facts", "timeliness_report",
    "OpenedSession", "SessionInfo", "close_session", "open_key_session", "open_token_session", "resolve_session",
    "DatabaseContents", "InstanceTotals", "OperationalCounts", "PoolStatus", "database_contents",
    "operational_counts", "pool_status",
    "ActivityReport", "InstanceReport", "InstructionReport", "MigrationInstruction", "MigrationPlan",
    "MigrationPlanInvalid", "MigrationRefused", "MigrationReport", "generate_migration_plan", "migrate_instances",
    "validate_migration", "validate_migration_plan",
    "Modification", "delete_instance_variable", "modify_instance", "set_instance_variable", "set_suspended",
]
