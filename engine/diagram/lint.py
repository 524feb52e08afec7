"""Check diagrams and their forms before they are deployed, reporting every problem at once.

What is checked, and how serious it is (an error stops a deployment; a warning does not):

* the file: readable and safe XML (no DOCTYPE or entities, in any encoding), valid BPMN 2.0, at least
  one executable process, process ids unique; forms are JSON Schema; Camunda Forms (.form) and DMN
  are refused, as Reviewflow runs neither;
* user tasks: the form they name exists and is valid; a candidate group (warning when missing);
* service tasks: a topic; a topic no handler serves (warning, when the handlers are known);
* gateways: with two or more outgoing flows, a condition on each or a default; conditions elsewhere;
* code: every script, condition and loop expression compiles in the sandbox;
* timers: each parses as the engine reads it (ISO 8601, working_days_after, calendar_months_after),
  and no cycle repeats faster than the configured minimum;
* messages: every message thrown or used for correlation is caught somewhere, message start events
  are unique; call activities name a process deployed or among the files;
* paths: no element unreachable from a start event, none from which no end can be reached;
* finally SpiffWorkflow's own parser, for anything the checks above do not know about.

`lint` needs no database; deploy passes what is already deployed (`Deployed`) and reuses what lint
read (`run`).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

import jsonschema
import orjson
from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.exceptions import SpiffWorkflowException

from engine.bpmn.parser import NSMAP, ReviewflowParser, validator
from engine.diagram import xml
from engine.diagram.checks import CATCHING, THROWING, check_process, form_key_of
from engine.diagram.code import check_code
from engine.diagram.graph import check_paths
from engine.diagram.model import Diagram, Node, read_diagram
from engine.diagram.report import LintReport, Problem, Severity
from engine.diagram.timers import DEFAULT_MIN_TIMER_CYCLE

MAX_FILE_BYTES = 5 * 1024 * 1024
SCHEMA_ROUNDS = 50
READING = {"xml-syntax", "xml-unsafe", "xml-encoding", "bpmn-schema", "form-json", "form-schema"}   # listed first
NOT_DIAGRAMS = {".form": ("form-camunda", "Camunda Forms (.form) are not run by Reviewflow: a user task's form is a "
                          "JSON Schema (camunda:formKey=\"NAME\" with forms/NAME.json); see "
                          "docs/changing-the-pathway.md"),
                ".dmn": ("unsupported", "DMN decision tables are not supported: decide with an exclusive gateway "
                         "or a script task"),
                ".cmmn": ("unsupported", "CMMN case definitions are not supported")}


class Deployed(Protocol):
    """What is already deployed, as far as checks need it (see engine.queries.deployed)."""

    def has_process(self, key: str) -> bool: ...

    def forms_of(self, key: str) -> Mapping[str, Any]: ...

    def message_start_owner(self, message_name: str) -> str | None: ...

    def processes_catching(self, message_name: str) -> set[str]: ...


class NothingDeployed:
    def has_process(self, key: str) -> bool:
        return False

    def forms_of(self, key: str) -> Mapping[str, Any]:
        return {}

    def message_start_owner(self, message_name: str) -> str | None:
        return None

    def processes_catching(self, message_name: str) -> set[str]:
        return set()


@dataclass
class ReadDiagram:
    file: str
    content: bytes
    document: xml.XmlDocument
    model: Diagram


@dataclass
class Linted:
    """What lint read, for deploy to reuse: the report, the diagrams and the forms (key -> schema)."""

    report: LintReport
    diagrams: list[ReadDiagram] = field(default_factory=list)
    forms: dict[str, dict[str, Any]] = field(default_factory=dict)
    form_files: dict[str, str] = field(default_factory=dict)


class _Problems:
    def __init__(self) -> None:
        self.found: list[Problem] = []

    def add(self, severity: Severity, code: str, message: str, file: str, line: int | None,
            element_id: str | None, related: Sequence[str] = ()) -> None:
        problem = Problem(severity, file, line, element_id, message, code, tuple(r for r in related if r))
        if problem not in self.found:
            self.found.append(problem)

    def on(self, file: str) -> Any:
        def report(severity: Severity, code: str, message: str, node: Node, related: Sequence[str] = (),
                   line: int | None = None) -> None:
            self.add(severity, code, message, file, line or node.line, node.id, related)
        return report

    def has_errors(self, file: str) -> bool:
        return any(p.is_error and p.file == file for p in self.found)


def lint(files: Sequence[Any], *, handler_topics: Collection[str] | None = None, deployed: Deployed | None = None,
         min_timer_cycle: timedelta = DEFAULT_MIN_TIMER_CYCLE) -> LintReport:
    """Every problem in `files` (DeployFile: name and bytes). `handler_topics`: the topics that have
    a handler (None: not checked). `deployed`: what is deployed already (None: nothing is known)."""
    return run(files, handler_topics=handler_topics, deployed=deployed, min_timer_cycle=min_timer_cycle).report


def run(files: Sequence[Any], *, handler_topics: Collection[str] | None = None, deployed: Deployed | None = None,
        min_timer_cycle: timedelta = DEFAULT_MIN_TIMER_CYCLE) -> Linted:
    """As `lint`, also handing back what was read (for deploy)."""
    deployed = deployed or NothingDeployed()
    problems = _Problems()
    linted = Linted(LintReport(tuple(f.name for f in files)))
    for f in files:
        _read_file(f, linted, problems)
    if not files:
        problems.add("error", "no-files", "no files to check", "-", None, None)
    elif not linted.diagrams and not problems.found:
        problems.add("error", "no-diagram", "no BPMN diagram among the files", files[0].name, None, None)

    processes = {p.id: d for d in linted.diagrams for p in d.model.executable}
    used_forms: set[str] = set()
    for d in linted.diagrams:
        for process in d.model.executable:
            check_process(d.model, process, problems.on(d.file), forms=linted.form_files,
                          deployed_forms=deployed.forms_of, handler_topics=handler_topics,
                          known_process=lambda key: key in processes or deployed.has_process(key),
                          min_cycle=min_timer_cycle)
            check_paths(process, problems.on(d.file))
            used_forms |= {k for key in process.form_keys() for k in (key, form_key_of(key))}
    _check_messages(linted.diagrams, deployed, problems)
    for key, file in linted.form_files.items():
        if key not in used_forms and not problems.has_errors(file):
            problems.add("warning", "form-unused", f"no user task among these diagrams names form {key!r}",
                         file, 1, None)
    _check_with_spiffworkflow(linted.diagrams, problems)
    order = {name: i for i, name in enumerate(linted.report.files)}
    linted.report = LintReport(linted.report.files, tuple(sorted(problems.found, key=lambda p: (
        order.get(p.file, len(order)), p.code not in READING, p.line or 0, p.element_id or "", p.code))))
    return linted


def _read_file(f: Any, linted: Linted, problems: _Problems) -> None:
    name, content = f.name, f.content
    lower = name.lower()
    if len(content) > MAX_FILE_BYTES:
        problems.add("error", "file-too-large", f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB",
                     name, None, None)
        return
    suffix = "." + lower.rsplit(".", 1)[-1] if "." in lower.rsplit("/", 1)[-1] else ""
    if suffix in NOT_DIAGRAMS:
        code, message = NOT_DIAGRAMS[suffix]
        problems.add("error", code, message, name, None, None)
        return
    if suffix == ".json":
        _read_form(name, content, linted, problems)
        return
    try:
        document = xml.read(content)
    except xml.XmlRefused as exc:
        problems.add("error", exc.code, exc.message, name, exc.line, None)
        return
    except etree.XMLSyntaxError as exc:
        problems.add("error", "xml-syntax", f"not well-formed XML: {exc.msg}", name, exc.lineno, None)
        return
    _schema_problems(document.tree, name, problems)      # and check the rest too: one round trip shows all
    model = read_diagram(document.tree, name)
    if not model.processes and not problems.has_errors(name):
        problems.add("error", "no-process", "the file has no BPMN process", name, document.tree.sourceline, None)
        return
    if not model.executable:
        problems.add("error", "not-executable", "the diagram has no executable process (isExecutable=\"true\")",
                     name, model.processes[0].line if model.processes else None,
                     model.processes[0].id if model.processes else None)
        return
    for other in linted.diagrams:
        clash = {p.id for p in other.model.executable} & {p.id for p in model.executable}
        for pid in sorted(clash):
            process = next(p for p in model.executable if p.id == pid)
            problems.add("error", "process-duplicate", f"process {pid!r} is also defined in {other.file}", name,
                         process.line, pid)
    linted.diagrams.append(ReadDiagram(name, content, document, model))


def _schema_problems(tree: Any, name: str, problems: _Problems) -> bool:
    """BPMN 2.0 schema errors, every one of them, each on its element. libxml2 reports the first error
    of a content model only, so each round removes what was reported (on a copy) and validates again."""
    checker = validator()
    checker.preprocess(tree)
    if checker.validator.validate(tree):
        return False
    by_line = {el.sourceline: el.get("id") for el in tree.iter() if isinstance(el.tag, str) and el.get("id")}
    work, reported = copy.deepcopy(tree), set()
    for _ in range(SCHEMA_ROUNDS):
        if checker.validator.validate(work):
            break
        removed = False
        for error in checker.validator.error_log:
            message = error.message.replace(f"{{{NSMAP['bpmn']}}}", "bpmn:").rstrip(". ")
            if (error.line, message) in reported:
                continue
            reported.add((error.line, message))
            problems.add("error", "bpmn-schema", f"not valid BPMN 2.0: {message}", name, error.line or None,
                         by_line.get(error.line))
            removed = _remove_offender(work, error.line, error.message) or removed
        if not removed:
            break
    return True


def _remove_offender(root: Any, line: int, message: str) -> bool:
    """Take out the element (or attribute) a schema error names, so the next round sees past it."""
    element = re.search(r"Element '([^']+)'", message)
    attribute = re.search(r"attribute '([^']+)'", message)
    for el in root.iter():
        if not isinstance(el.tag, str) or el.sourceline != line or el is root:
            continue
        if element and etree.QName(el).localname != element.group(1).rsplit("}", 1)[-1].rsplit(":", 1)[-1]:
            continue
        if attribute:
            wanted = attribute.group(1).rsplit(":", 1)[-1].rsplit("}", 1)[-1]
            for key in list(el.attrib):
                if etree.QName(key).localname == wanted:
                    del el.attrib[key]
                    return True
        parent = el.getparent()
        if parent is not None:
            parent.remove(el)
            return True
    return False


def _read_form(name: str, content: bytes, linted: Linted, problems: _Problems) -> None:
    try:
        schema = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        problems.add("error", "form-json", f"the form is not valid JSON: {exc.msg}", name, exc.lineno, None)
        return
    if not isinstance(schema, dict):
        problems.add("error", "form-schema", "a form must be a JSON Schema object", name, 1, None)
        return
    errors = sorted(jsonschema.Draft202012Validator(jsonschema.Draft202012Validator.META_SCHEMA)
                    .iter_errors(schema), key=lambda e: list(e.path))
    for error in errors:
        where = "/".join(str(p) for p in error.path)
        problems.add("error", "form-schema", "the form is not a valid JSON Schema"
                     + (f" at {where}" if where else "") + f": {error.message}", name,
                     _json_line(content, error.path), None)
    key = form_key_of(name)
    if key in linted.form_files:
        problems.add("error", "form-duplicate", f"form {key!r} is also given as {linted.form_files[key]}", name, 1,
                     None)
        return
    linted.form_files[key] = name
    if not errors:
        linted.forms[key] = schema


def _json_line(content: bytes, path: Any) -> int:
    """The line of the path's last key, found by looking for each key after the one before; 1 when it
    cannot be told."""
    at = 0
    for key in (p for p in path if isinstance(p, str)):
        found = content.find(orjson.dumps(key), at)
        if found < 0:
            break
        at = found
    return content.count(b"\n", 0, at) + 1


def _check_messages(diagrams: list[ReadDiagram], deployed: Deployed, problems: _Problems) -> None:
    """Thrown and correlated messages are caught; message start events are unique."""
    caught: dict[str, set[str]] = {}
    starts: dict[str, list[tuple[ReadDiagram, Any, Node]]] = {}
    calls: dict[str, set[str]] = {}
    for d in diagrams:
        for process in d.model.executable:
            for node in process.nodes.values():
                if node.tag == "callActivity" and node.xml.get("calledElement"):
                    calls.setdefault(process.id, set()).add(node.xml.get("calledElement").strip())
                if node.tag not in CATCHING:
                    continue
                for ref in node.message_refs():
                    name = d.model.message_name(ref)
                    if name is None:
                        continue
                    caught.setdefault(name, set()).add(process.id)
                    if node.tag == "startEvent" and node.scope == process.id:
                        starts.setdefault(name, []).append((d, process, node))
    for name, places in starts.items():
        if len(places) > 1:
            for d, process, node in places:
                others = [p.id for _, p, _ in places if p is not process]
                problems.add("error", "message-start-duplicate", f"message {name!r} also starts "
                             + ", ".join(sorted(others)) + ": a message start event's name must be unique",
                             d.file, node.line, node.id)
        owner = deployed.message_start_owner(name)
        keys = {p.id for _, p, _ in places}
        if owner is not None and owner not in keys:
            for d, _process, node in places:
                problems.add("error", "message-start-taken", f"message {name!r} already starts the deployed process "
                             f"{owner!r}: a message start event's name must be unique", d.file, node.line, node.id)

    for d in diagrams:
        thrown_or_correlated: dict[str, list[tuple[str, Node | None, int, str]]] = {}
        for process in d.model.executable:
            for node in process.nodes.values():
                if node.tag in THROWING:
                    for ref in node.message_refs():
                        name = d.model.message_name(ref)
                        if name is not None:
                            thrown_or_correlated.setdefault(name, []).append((process.id, node, node.line, "thrown"))
        for expression in d.model.root.iter(f"{{{NSMAP['bpmn']}}}correlationPropertyRetrievalExpression"):
            name = d.model.message_name(expression.get("messageRef"))
            if name is not None:
                holder = expression.getparent()
                thrown_or_correlated.setdefault(name, []).append(
                    ("", Node(holder.get("id") or "", "correlationProperty", holder.get("name"),
                              expression.sourceline or 1, "", holder), expression.sourceline or 1, "correlated"))
            for path in expression:
                text = "".join(path.itertext()).strip()
                for p in check_code(text, "eval") if text else []:
                    problems.add("error", p.code, f"correlation expression {text!r} {p.message}", d.file,
                                 path.sourceline, expression.getparent().get("id"))
        for name, uses in thrown_or_correlated.items():
            catchers = caught.get(name, set()) | deployed.processes_catching(name)
            for pid, user, line, how in uses:
                element = (user.id or None) if user is not None else None
                if not catchers:
                    problems.add("error", "message-not-caught", f"message {name!r} is {how} here, but nothing "
                                 "catches it: no start event, catch event, boundary event or receive task waits for "
                                 "it, among these files or deployed", d.file, line, element)
                elif how == "thrown" and not catchers & _call_tree(pid, calls):
                    problems.add("warning", "message-other-case", f"message {name!r} is caught only by "
                                 + ", ".join(sorted(catchers)) + ", which runs as a case of its own: a thrown "
                                 "message reaches only its own case here; have a worker send it with "
                                 "POST /api/v1/messages", d.file, line, element, tuple(sorted(catchers)))
        used = set(caught) | set(thrown_or_correlated)
        for declared in d.model.messages.values():
            if (declared.name or declared.id) not in used:
                problems.add("warning", "message-unused", f"message {declared.name or declared.id!r} is declared "
                             "but nothing throws or catches it", d.file, declared.line, declared.id)


def _call_tree(pid: str, calls: Mapping[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    todo = [pid]
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(calls.get(current, ()))
    return seen


def _check_with_spiffworkflow(diagrams: list[ReadDiagram], problems: _Problems) -> None:
    """SpiffWorkflow's parser on every file with no error so far: it knows things no check here does."""
    clean = [d for d in diagrams if not problems.has_errors(d.file)]
    parser = ReviewflowParser()
    added = []
    for d in clean:        # every file first: a call may name a process of a file that comes later
        try:
            parser.add_bpmn_xml(d.document.tree, d.file)
        except (ValidationException, SpiffWorkflowException, ValueError) as exc:
            _spiff_problem(exc, d, problems)
            continue
        added.append(d)
    for d in added:
        for process in d.model.executable:
            try:
                parser.get_subprocess_specs(process.id, require_call_activity_specs=False)
            except (ValidationException, SpiffWorkflowException, ValueError) as exc:
                _spiff_problem(exc, d, problems)


def _spiff_problem(exc: Exception, d: ReadDiagram, problems: _Problems) -> None:
    message = str(exc).split("\n")[0].replace(f"{{{NSMAP['bpmn']}}}", "bpmn:").strip()
    element = getattr(exc, "id", None) or None
    nodes = {nid: n for p in d.model.processes for nid, n in p.nodes.items()}
    line = nodes[element].line if element in nodes else getattr(exc, "line_number", None) or None
    problems.add("error", "bpmn-parse", message, d.file, line, element)
