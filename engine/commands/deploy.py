"""Deploy BPMN diagrams (and the JSON Schema forms their user tasks name) as new definition versions."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import jsonschema
import orjson
import sqlalchemy as sa
from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.defaults import ScriptTask, StartEvent
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.exceptions import SpiffWorkflowException

from engine import clock
from engine.bpmn.parser import NSMAP, SAFE_XML, ReviewflowParser, validator
from engine.bpmn.script_engine import ForbiddenConstruct, check_source
from engine.bpmn.specs import HumanTask
from engine.bpmn.timers import first_firing
from engine.errors import Conflict, DeploymentError
from engine.results import Actor, DefinitionInfo, DeployedDefinition, DeploymentResult
from engine.store.change import Audit, change
from engine.store.database import Database
from engine.store.rows import aware
from engine.store.specs import build_specs
from engine.store.tables import definition, message_start, timer_start

MAX_FILE_BYTES = 5 * 1024 * 1024


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


def deploy(db: Database, *, files: list[DeployFile], actor: Actor, audit: Audit | None = None) -> DeploymentResult:
    """Validate every file, then store each executable process as a new version — or, when it is
    byte-identical to the latest version (forms included), report that version unchanged.

    Raises: DeploymentError (file, line and element named where known); Conflict on a concurrent
    deployment of the same key.
    """
    if not files:
        raise DeploymentError("no files to deploy")
    forms, diagrams = _split(files)
    if not diagrams:
        raise DeploymentError("no BPMN diagram among the files")
    uploaded_ids = {pid for d in diagrams for pid in d.process_ids}
    now, deployment_id = clock.now(), str(uuid.uuid4())

    with change(db, actor=actor, audit=audit) as ch:
        conn = ch.conn
        parser = ReviewflowParser()
        for d in diagrams:
            _add(parser, d)
        calls = _resolve_calls(conn, parser, diagrams, uploaded_ids)

        deployed: list[DeployedDefinition] = []
        for d in diagrams:
            for pid in d.process_ids:
                latest = conn.execute(sa.select(definition).where(definition.c.key == pid)
                                      .order_by(definition.c.version.desc()).limit(1)).one_or_none()
                spec_pair = _build(parser, d, pid)
                used_forms = _forms_for(spec_pair, forms, latest, d.file.name)
                checksum = _checksum(d.file.content, used_forms)
                if latest is not None and latest.checksum == checksum:
                    deployed.append(DeployedDefinition(_info(latest), created=False))
                    continue
                version = (latest.version + 1) if latest is not None else 1
                row = {"id": f"{pid}:{version}", "key": pid, "version": version,
                       "name": _process_name(d.tree, pid),
                       "resource_name": d.file.name, "xml": d.xml_text, "checksum": checksum,
                       "forms": used_forms, "calls": calls.get(pid, {}),
                       "deployment_id": deployment_id, "deployed_at": now, "deployed_by": actor.id}
                try:
                    conn.execute(definition.insert(), [row])
                except sa.exc.IntegrityError as exc:
                    raise Conflict(f"process {pid} was deployed concurrently; deploy again") from exc
                _register_message_starts(conn, spec_pair[0], pid, row["id"], d.file.name)
                _register_timer_starts(conn, spec_pair[0], pid, row["id"], d.file.name, now)
                spec_pair[0].rf_definition_id = row["id"]
                ch.after_commit(lambda i=row["id"], p=spec_pair, f=used_forms: db.specs.put(i, p, f))
                deployed.append(DeployedDefinition(_info(row), created=True))
        ch.unchanged = not any(d.created for d in deployed)
    return DeploymentResult(deployment_id=deployment_id, deployed_at=now, definitions=deployed)


def _split(files: list[DeployFile]) -> tuple[dict[str, dict[str, Any]], list[_Diagram]]:
    forms: dict[str, dict[str, Any]] = {}
    diagrams: list[_Diagram] = []
    for f in files:
        if len(f.content) > MAX_FILE_BYTES:
            raise DeploymentError(f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB", file=f.name)
        if f.name.lower().endswith(".json"):
            forms[_form_key(f.name)] = _load_form(f)
        else:
            diagrams.append(_read_diagram(f))
    return forms, diagrams


def _form_key(name: str) -> str:
    stem = PurePosixPath(name.replace("\\", "/")).name
    for suffix in (".schema.json", ".form.json", ".json"):
        if stem.lower().endswith(suffix):
            return stem[: -len(suffix)]
    return stem


def _load_form(f: DeployFile) -> dict[str, Any]:
    try:
        schema = orjson.loads(f.content)
    except orjson.JSONDecodeError as exc:
        raise DeploymentError(f"form is not valid JSON: {exc}", file=f.name) from exc
    if not isinstance(schema, dict):
        raise DeploymentError("a form must be a JSON Schema object", file=f.name)
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise DeploymentError(f"form is not a valid JSON Schema: {exc.message}", file=f.name) from exc
    return schema


def _read_diagram(f: DeployFile) -> _Diagram:
    head = f.content.upper()
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
        raise DeploymentError("diagrams with a DOCTYPE or ENTITY declaration are refused", file=f.name)
    try:
        tree = etree.fromstring(f.content, parser=SAFE_XML)
    except etree.XMLSyntaxError as exc:
        raise DeploymentError(f"not well-formed XML: {exc.msg}", file=f.name, line=exc.lineno) from exc
    try:
        validator().validate(tree, f.name)
    except ValidationException as exc:
        message = str(exc).replace(f"{{{NSMAP['bpmn']}}}", "bpmn:").rstrip(". ")
        raise DeploymentError(f"not valid BPMN 2.0: {message}", file=f.name,
                              line=exc.line_number or None) from exc
    process_ids = [p.get("id") for p in tree.xpath("//bpmn:process", namespaces=NSMAP)
                   if p.get("isExecutable", "true").lower() != "false"]
    if not process_ids:
        raise DeploymentError("the diagram has no executable process (isExecutable=\"true\")", file=f.name)
    try:
        xml_text = f.content.decode("utf-8")
    except UnicodeDecodeError:
        xml_text = etree.tostring(tree, encoding="unicode")
    return _Diagram(f, tree, xml_text, process_ids)


def _add(parser: ReviewflowParser, d: _Diagram) -> None:
    try:
        parser.add_bpmn_xml(d.tree, d.file.name)
    except ValidationException as exc:
        raise _deployment_error(exc, d.file.name) from exc


def _build(parser: ReviewflowParser, d: _Diagram, pid: str) -> Any:
    try:
        pair = build_specs(parser, pid, pid)
    except ValidationException as exc:
        raise _deployment_error(exc, d.file.name) from exc
    except SpiffWorkflowException as exc:
        raise DeploymentError(str(exc), file=d.file.name) from exc
    for spec in [pair[0], *pair[1].values()]:
        for task_spec in spec.task_specs.values():
            for code, mode in _code_of(task_spec):
                try:
                    check_source(code, mode)
                except ForbiddenConstruct as exc:
                    raise DeploymentError(f"code refused: {exc}", file=d.file.name,
                                          element_id=task_spec.bpmn_id) from exc
    return pair


def _code_of(task_spec: Any) -> list[tuple[str, str]]:
    """Every piece of code a task spec runs: script, gateway conditions, timer expressions."""
    found: list[tuple[str, str]] = []
    if isinstance(task_spec, ScriptTask) and task_spec.script:
        found.append((task_spec.script, "exec"))
    for condition, _ in getattr(task_spec, "cond_task_specs", None) or []:
        text = condition.args[0] if condition is not None and getattr(condition, "args", None) else condition
        if isinstance(text, str) and text.strip():
            found.append((text, "eval"))
    event = getattr(task_spec, "event_definition", None)
    for ev in getattr(event, "event_definitions", None) or [event]:
        if isinstance(ev, TimerEventDefinition) and isinstance(ev.expression, str):
            found.append((ev.expression, "eval"))
    return found


def _deployment_error(exc: ValidationException, file: str) -> DeploymentError:
    message = str(exc).split("\n")[0]
    return DeploymentError(message, file=exc.file_name or file, element_id=exc.id or None,
                           line=exc.line_number or None)


def _resolve_calls(conn: sa.Connection, parser: ReviewflowParser, diagrams: list[_Diagram],
                   uploaded_ids: set[str]) -> dict[str, dict[str, str]]:
    """Call activities may name processes deployed earlier: pin the latest version of each."""
    calls: dict[str, dict[str, str]] = {}
    pending = [(d, pid) for d in diagrams for pid in d.process_ids]
    seen: set[str] = set()
    for d, pid in pending:
        process = d.tree.xpath("//bpmn:process[@id=$pid]", pid=pid, namespaces=NSMAP)[0]
        for call in process.xpath(".//bpmn:callActivity", namespaces=NSMAP):
            called = call.get("calledElement")
            if not called:
                raise DeploymentError("call activity names no calledElement", file=d.file.name,
                                      element_id=call.get("id"), line=call.sourceline)
            if called in uploaded_ids:
                continue
            row = conn.execute(sa.select(definition.c.id, definition.c.xml, definition.c.resource_name)
                               .where(definition.c.key == called)
                               .order_by(definition.c.version.desc()).limit(1)).one_or_none()
            if row is None:
                raise DeploymentError(f"calls process '{called}', which is neither deployed nor in this "
                                      "deployment", file=d.file.name, element_id=call.get("id"),
                                      line=call.sourceline)
            calls.setdefault(pid, {})[called] = row.id
            if row.id not in seen:
                seen.add(row.id)
                parser.add_bpmn_xml(etree.fromstring(row.xml.encode(), parser=SAFE_XML), row.resource_name)
    return calls


def _forms_for(spec_pair: Any, forms: dict[str, dict[str, Any]], latest: Any, file: str) -> dict[str, Any]:
    previous = latest.forms if latest is not None else {}
    used: dict[str, Any] = {}
    for spec in [spec_pair[0], *spec_pair[1].values()]:
        for task_spec in spec.task_specs.values():
            if isinstance(task_spec, HumanTask) and task_spec.form_key:
                key = task_spec.form_key
                schema = forms.get(key) or forms.get(_form_key(key)) or previous.get(key)
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
    get = row.get if isinstance(row, dict) else row._mapping.get
    return DefinitionInfo(id=get("id"), key=get("key"), version=get("version"), name=get("name"),
                          resource_name=get("resource_name"), checksum=get("checksum"),
                          deployment_id=get("deployment_id"), deployed_at=aware(get("deployed_at")),
                          deployed_by=get("deployed_by"))
