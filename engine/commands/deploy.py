"""Deploy BPMN diagrams (and the JSON Schema forms their user tasks name) as new definition versions."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
import sqlalchemy as sa
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.defaults import StartEvent
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.exceptions import SpiffWorkflowException

from engine import clock
from engine.bpmn.parser import NSMAP, ReviewflowParser
from engine.bpmn.specs import HumanTask
from engine.bpmn.timers import first_firing
from engine.diagram import lint
from engine.diagram.checks import form_key_of
from engine.diagram.timers import DEFAULT_MIN_TIMER_CYCLE
from engine.errors import Conflict, DeploymentError
from engine.queries.deployed import DeployedIn
from engine.results import Actor, DefinitionInfo, DeployedDefinition, DeploymentResult
from engine.store.change import Audit, change
from engine.store.database import Database
from engine.store.rows import aware
from engine.store.specs import add_called, build_specs
from engine.store.tables import definition, message_start, timer_start


@dataclass(frozen=True)
class DeployFile:
    name: str
    content: bytes


@dataclass
class _Diagram:
    file: DeployFile
    tree: Any
    xml_text: str
    process_ids: list[str]


def deploy(db: Database, *, files: list[DeployFile], actor: Actor, handler_topics: Collection[str] | None = None,
           min_timer_cycle: timedelta = DEFAULT_MIN_TIMER_CYCLE, audit: Audit | None = None) -> DeploymentResult:
    """Check every file as `reviewflow lint` does, then store each executable process as a new
    version — or, when it is byte-identical to the latest version (forms included), report that
    version unchanged. `handler_topics`: the topics that have a handler (None: not checked);
    `min_timer_cycle`: the shortest interval a repeating timer may have.

    Raises: DeploymentError carrying every problem lint found (file, line and element each), when
    one of them is an error; Conflict on a concurrent deployment of the same key.
    """
    if not files:
        raise DeploymentError("no files to deploy")
    with db.read() as conn:                  # checked outside the writer lock; what the database
        linted = lint.run(files, handler_topics=handler_topics, deployed=DeployedIn(conn),  # decides is
                          min_timer_cycle=min_timer_cycle)                                  # checked again below
    if not linted.report.ok:
        raise DeploymentError.of(linted.report.problems)
    forms = linted.forms
    diagrams = [_Diagram(DeployFile(d.file, d.content), d.document.tree, d.document.text,
                         [p.id for p in d.model.executable]) for d in linted.diagrams]
    uploaded_ids = {pid for d in diagrams for pid in d.process_ids}
    now, deployment_id = clock.now(), str(uuid.uuid4())

    with change(db, actor=actor, audit=audit) as ch:
        conn = ch.conn
        parser = ReviewflowParser()
        for d in diagrams:
            _add(parser, d)
        calls = _resolve_calls(conn, parser, diagrams, uploaded_ids)

        planned: list[_Planned] = []
        for d in diagrams:
            for pid in d.process_ids:
                latest = conn.execute(sa.select(definition).where(definition.c.key == pid)
                                      .order_by(definition.c.version.desc()).limit(1)).one_or_none()
                spec_pair = _build(parser, d, pid)
                used_forms = _forms_for(spec_pair, forms, latest, d.file.name)
                planned.append(_Planned(d, pid, latest, spec_pair, used_forms,
                                        _checksum(d.file.content, used_forms)))
        _bind_calls_in_upload(planned, calls)

        deployed: list[DeployedDefinition] = []
        for p in planned:
            d, pid, latest = p.diagram, p.pid, p.latest
            if not p.created(calls):
                deployed.append(DeployedDefinition(_info(latest), created=False))
                continue
            version = (latest.version + 1) if latest is not None else 1
            row = {"id": f"{pid}:{version}", "key": pid, "version": version,
                   "name": _process_name(d.tree, pid),
                   "resource_name": d.file.name, "xml": d.xml_text, "checksum": p.checksum,
                   "forms": p.forms, "calls": calls.get(pid, {}),
                   "deployment_id": deployment_id, "deployed_at": now, "deployed_by": actor.id}
            try:
                conn.execute(definition.insert(), [row])
            except sa.exc.IntegrityError as exc:
                raise Conflict(f"process {pid} was deployed concurrently; deploy again") from exc
            definition_id = f"{pid}:{version}"
            _register_message_starts(conn, p.spec_pair[0], pid, definition_id, d.file.name)
            _register_timer_starts(conn, p.spec_pair[0], pid, definition_id, d.file.name, now)
            p.spec_pair[0].rf_definition_id = definition_id
            deployed.append(DeployedDefinition(_info(row), created=True))
        ch.unchanged = not any(d.created for d in deployed)
    return DeploymentResult(deployment_id=deployment_id, deployed_at=now, definitions=deployed,
                            warnings=tuple(linted.report.warnings))


@dataclass
class _Planned:
    """One process of the upload, parsed, before it is written (or found unchanged)."""
    diagram: _Diagram
    pid: str
    latest: Any                     # its latest deployed row, if any
    spec_pair: Any
    forms: dict[str, Any]
    checksum: str

    def created(self, calls: dict[str, dict[str, str]]) -> bool:
        """A new version, unless the latest has the same XML and forms and calls the same versions."""
        return (self.latest is None or self.latest.checksum != self.checksum
                or (self.latest.calls or {}) != calls.get(self.pid, {}))

    def final_id(self, calls: dict[str, dict[str, str]]) -> str:
        if self.latest is None:
            return f"{self.pid}:1"
        return f"{self.pid}:{self.latest.version + 1}" if self.created(calls) else str(self.latest.id)


def _bind_calls_in_upload(planned: list[_Planned], calls: dict[str, dict[str, str]]) -> None:
    """Bind the calls between processes of the upload to the versions this deployment leaves latest.
    A caller whose called process gets a new version is new too; repeated until nothing changes
    (a chain of callers over a changed process)."""
    by_pid = {p.pid: p for p in planned}
    changed = True
    while changed:
        changed = False
        for p in planned:
            process = p.diagram.tree.xpath("//bpmn:process[@id=$pid]", pid=p.pid, namespaces=NSMAP)[0]
            for call in process.xpath(".//bpmn:callActivity", namespaces=NSMAP):
                called = by_pid.get((call.get("calledElement") or "").strip())
                if called is None:
                    continue
                bound = called.final_id(calls)
                if calls.get(p.pid, {}).get(called.pid) != bound:
                    calls.setdefault(p.pid, {})[called.pid] = bound
                    changed = True


def _add(parser: ReviewflowParser, d: _Diagram) -> None:
    try:
        parser.add_bpmn_xml(d.tree, d.file.name)
    except ValidationException as exc:
        raise _deployment_error(exc, d.file.name) from exc


def _build(parser: ReviewflowParser, d: _Diagram, pid: str) -> Any:
    try:
        return build_specs(parser, pid, pid)
    except ValidationException as exc:
        raise _deployment_error(exc, d.file.name) from exc
    except SpiffWorkflowException as exc:
        raise DeploymentError(str(exc), file=d.file.name) from exc


def _deployment_error(exc: ValidationException, file: str) -> DeploymentError:
    message = str(exc).split("\n")[0]
    return DeploymentError(message, file=exc.file_name or file, element_id=exc.id or None,
                           line=exc.line_number or None)


def _resolve_calls(conn: sa.Connection, parser: ReviewflowParser, diagrams: list[_Diagram],
                   uploaded_ids: set[str]) -> dict[str, dict[str, str]]:
    """Call activities may name processes deployed earlier: pin the latest version of each."""
    calls: dict[str, dict[str, str]] = {}
    pending = [(d, pid) for d in diagrams for pid in d.process_ids]
    for d, pid in pending:
        process = d.tree.xpath("//bpmn:process[@id=$pid]", pid=pid, namespaces=NSMAP)[0]
        for call in process.xpath(".//bpmn:callActivity", namespaces=NSMAP):
            called = (call.get("calledElement") or "").strip()
            if called in uploaded_ids:
                continue
            row = conn.execute(sa.select(definition.c.id).where(definition.c.key == called)
                               .order_by(definition.c.version.desc()).limit(1)).one_or_none()
            if row is None:
                raise DeploymentError(f"calls process '{called}', which is neither deployed nor in this "
                                      "deployment", file=d.file.name, element_id=call.get("id"),
                                      line=call.sourceline)
            calls.setdefault(pid, {})[called] = row.id
            add_called(conn, parser, [row.id])      # the upload's own processes win
    return calls


def _forms_for(spec_pair: Any, forms: dict[str, dict[str, Any]], latest: Any, file: str) -> dict[str, Any]:
    previous = latest.forms if latest is not None else {}
    used: dict[str, Any] = {}
    for spec in [spec_pair[0], *spec_pair[1].values()]:
        for task_spec in spec.task_specs.values():
            if isinstance(task_spec, HumanTask) and task_spec.form_key:
                key = task_spec.form_key
                schema = forms.get(key) or forms.get(form_key_of(key)) or previous.get(key)
                if schema is None:
                    raise DeploymentError(f"user task names form '{key}', but no form schema '{key}.json' "
                                          "was deployed with it", file=file, element_id=task_spec.bpmn_id)
                used[key] = schema
    return used


def _register_message_starts(conn: sa.Connection, spec: Any, key: str, definition_id: str, file: str) -> None:
    """The latest version of each process is the one its message start events start."""
    conn.execute(message_start.delete().where(message_start.c.definition_key == key))
    for task_spec in spec.task_specs.values():
        event = getattr(task_spec, "event_definition", None)
        if isinstance(task_spec, StartEvent) and isinstance(event, MessageEventDefinition):
            taken = conn.execute(sa.select(message_start.c.definition_key).where(
                message_start.c.message_name == event.name, message_start.c.definition_key != key)).first()
            if taken is not None:
                raise DeploymentError(f"message '{event.name}' already starts process '{taken.definition_key}'; "
                                      "a message start event's name must be unique", file=file,
                                      element_id=task_spec.bpmn_id)
            conn.execute(message_start.insert(), [{"message_name": event.name, "definition_key": key,
                                                   "definition_id": definition_id,
                                                   "activity_id": task_spec.bpmn_id}])


def _register_timer_starts(conn: sa.Connection, spec: Any, key: str, definition_id: str, file: str,
                           now: Any) -> None:
    """Timer start events start instances of the latest version on their own schedule."""
    conn.execute(timer_start.delete().where(timer_start.c.definition_key == key))
    for task_spec in spec.task_specs.values():
        event = getattr(task_spec, "event_definition", None)
        if isinstance(task_spec, StartEvent) and isinstance(event, TimerEventDefinition):
            try:
                first, interval, cycles = first_firing(event, now)
            except ValueError as exc:
                raise DeploymentError(str(exc), file=file, element_id=task_spec.bpmn_id) from exc
            conn.execute(timer_start.insert(), [{"definition_key": key, "activity_id": task_spec.bpmn_id,
                                                 "definition_id": definition_id, "next_due_at": first,
                                                 "interval_seconds": interval, "cycles_left": cycles}])


def _checksum(content: bytes, forms: dict[str, Any]) -> str:
    digest = hashlib.sha256(content)
    if forms:
        digest.update(orjson.dumps(forms, option=orjson.OPT_SORT_KEYS))
    return digest.hexdigest()


def _process_name(tree: Any, pid: str) -> str | None:
    process = tree.xpath("//bpmn:process[@id=$pid]", pid=pid, namespaces=NSMAP)
    return process[0].get("name") if process else None


def _info(row: Any) -> DefinitionInfo:
    values: dict[str, Any] = dict(row) if isinstance(row, dict) else dict(row._mapping)
    return DefinitionInfo(id=values["id"], key=values["key"], version=values["version"], name=values["name"],
                          resource_name=values["resource_name"], checksum=values["checksum"],
                          deployment_id=values["deployment_id"], deployed_at=aware(values["deployed_at"]),
                          deployed_by=values["deployed_by"])
