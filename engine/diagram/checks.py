"""Checks on one process: its tasks, gateways, flows, code, timers and references.

Each check reports through `report(severity, code, message, element, related_ids)`; nothing here
stops at the first problem.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import timedelta
from typing import Any

from engine.bpmn.parser import REFERENCE, group_for_lane
from engine.diagram.code import check_code
from engine.diagram.model import (
    GATEWAYS,
    Diagram,
    Flow,
    Node,
    Process,
    camunda,
    code_of,
    local,
)
from engine.diagram.timers import check_timer

Report = Callable[..., None]

PYTHON_FORMATS = {"", "python", "python3", "py"}
CAMUNDA_FORM_PREFIXES = ("embedded:", "camunda-forms:", "app:", "deployment:")
JAVA_ATTRIBUTES = ("class", "expression", "delegateExpression")
CATCHING = {"startEvent", "intermediateCatchEvent", "boundaryEvent", "receiveTask"}
THROWING = {"intermediateThrowEvent", "endEvent", "sendTask"}


def form_key_of(name: str) -> str:
    """The key a form file is known by: forms/decision.json, decision.schema.json -> decision."""
    stem = name.replace("\\", "/").rsplit("/", 1)[-1]
    for suffix in (".schema.json", ".form.json", ".json"):
        if stem.lower().endswith(suffix):
            return stem[: -len(suffix)]
    return stem


def check_process(diagram: Diagram, process: Process, report: Report, *, forms: Mapping[str, Any],
                  deployed_forms: Callable[[str], Mapping[str, Any]], handler_topics: Collection[str] | None,
                  known_process: Callable[[str], bool], min_cycle: timedelta) -> None:
    nodes = process.nodes
    for scope in process.scopes.values():
        outgoing: dict[str, list[Flow]] = {}
        for flow in scope.flows.values():
            outgoing.setdefault(flow.source, []).append(flow)
            _check_flow(flow, scope.nodes, report)
        for node in scope.nodes.values():
            _check_node(diagram, process, node, report, forms=forms, deployed_forms=deployed_forms,
                        handler_topics=handler_topics, known_process=known_process, min_cycle=min_cycle,
                        nodes=nodes, scope_nodes=scope.nodes)
            if node.tag in GATEWAYS:
                _check_gateway(node, outgoing.get(node.id, []), scope.nodes, report)
            elif node.id in outgoing:
                for flow in outgoing[node.id]:
                    if flow.has_condition:
                        report("error", "flow-condition-ignored",
                               f"flow {flow.id} has a condition, but only the flows leaving an exclusive or "
                               "inclusive gateway are evaluated: this one would always be taken. Put an "
                               "exclusive gateway after the element", node, (flow.id,))


def _check_flow(flow: Flow, scope_nodes: Mapping[str, Node], report: Report) -> None:
    as_node = Node(flow.id, "sequenceFlow", flow.name, flow.line, flow.scope, flow.xml)
    for end, ref in (("starts at", flow.source), ("leads to", flow.target)):
        if ref not in scope_nodes:
            report("error", "flow-dangling", f"the flow {end} {ref!r}, which is not an element of the same "
                                             "process or sub-process", as_node, ())
    if flow.has_condition:
        if not flow.condition:
            report("error", "condition-empty", "the flow's condition is empty", as_node, ())
        else:
            for p in check_code(flow.condition, "eval"):
                report("error", p.code, f"the condition {flow.condition!r} {p.message}", as_node, ())


def _check_gateway(node: Node, flows: list[Flow], scope_nodes: Mapping[str, Node], report: Report) -> None:
    default = node.xml.get("default")
    ids = [f.id for f in flows]
    if default and default not in ids:
        report("error", "gateway-default", f"the default flow {default!r} does not leave this gateway", node, ids)
    if node.tag in ("exclusiveGateway", "inclusiveGateway"):
        if len(flows) >= 2:
            missing = [f.id for f in flows if not f.has_condition and f.id != default]
            if missing:
                report("error", "gateway-condition", "has several outgoing flows, but "
                       + ", ".join(missing) + (" has" if len(missing) == 1 else " have")
                       + " neither a condition nor is the default flow: give each a condition, or mark one "
                         "as the default", node, tuple(missing))
        for f in flows:
            if f.id == default and f.has_condition:
                report("warning", "gateway-default-condition",
                       f"the default flow {f.id} also has a condition, which is never evaluated", node, (f.id,))
    elif node.tag == "parallelGateway":
        conditioned = [f.id for f in flows if f.has_condition]
        if conditioned:
            report("warning", "gateway-parallel-condition", "conditions on the flows after a parallel gateway are "
                   "ignored: every flow is taken (" + ", ".join(conditioned) + ")", node, tuple(conditioned))
    elif node.tag == "eventBasedGateway":
        for f in flows:
            target = scope_nodes.get(f.target)
            if target is None:
                continue
            waits = target.tag == "receiveTask" or (
                target.tag == "intermediateCatchEvent" and target.event_kinds() & {"message", "timer", "signal"})
            if not waits:
                report("error", "gateway-event-target", f"an event-based gateway must lead to events it waits for "
                       f"(message, timer, signal) or receive tasks, not to {target.tag} {target.id}", node, (f.id,))
    elif node.tag == "complexGateway":
        report("error", "unsupported", "complex gateways are not supported: use exclusive, inclusive or parallel "
                                       "gateways", node, ())


def _check_node(diagram: Diagram, process: Process, node: Node, report: Report, *, forms: Mapping[str, Any],
                deployed_forms: Callable[[str], Mapping[str, Any]], handler_topics: Collection[str] | None,
                known_process: Callable[[str], bool], min_cycle: timedelta, nodes: Mapping[str, Node],
                scope_nodes: Mapping[str, Node]) -> None:
    if node.tag == "userTask":
        _check_user_task(process, node, report, forms, deployed_forms)
    elif node.tag == "serviceTask":
        _check_service_task(node, report, handler_topics)
    elif node.tag == "scriptTask":
        language = (node.xml.get("scriptFormat") or "").strip().lower()
        if language not in PYTHON_FORMATS:
            report("error", "script-language", f"the script is {node.xml.get('scriptFormat')}; scripts here are "
                                               "Python (scriptFormat=\"python\")", node, ())
        elif not code_of(node):
            report("error", "script-empty", "the script task has no script", node, ())
    elif node.tag == "businessRuleTask":
        report("error", "unsupported", "business rule tasks (DMN) are not supported: use an exclusive gateway "
                                       "or a script task", node, ())
    elif node.tag == "callActivity":
        called = (node.xml.get("calledElement") or "").strip()
        if not called:
            report("error", "call-none", "the call activity names no process (calledElement)", node, ())
        elif "${" in called or "#{" in called:
            report("error", "call-expression", f"calledElement {called!r} is an expression; name the process id",
                   node, ())
        elif not known_process(called):
            report("error", "call-unknown", f"calls process {called!r}, which is neither deployed nor among these "
                                            "files", node, ())
    for code, mode, line, what in code_of(node):
        for p in check_code(code, mode):
            report("error", p.code, f"the {what} {p.message}", node, (), line=line)
    for timer in node.timers:
        for t in check_timer(timer, start_event=node.tag == "startEvent", min_cycle=min_cycle):
            report(t.severity, t.code, t.message, node, (), line=timer.line)
    if node.tag == "boundaryEvent":
        host = node.xml.get("attachedToRef")
        if host not in scope_nodes:
            report("error", "boundary-host", f"the boundary event is attached to {host!r}, which is not an activity "
                                             "of the same process or sub-process", node, ())
    _check_references(diagram, node, report)


def _check_user_task(process: Process, node: Node, report: Report, forms: Mapping[str, Any],
                     deployed_forms: Callable[[str], Mapping[str, Any]]) -> None:
    form_key, form_ref = camunda(node.xml, "formKey"), camunda(node.xml, "formRef")
    if form_key is None and form_ref is not None:
        report("error", "form-camunda", f"camunda:formRef {form_ref!r} links a Camunda Form; here a user task's "
               "form is a JSON Schema named by camunda:formKey (forms/NAME.json)", node, ())
    elif form_key is not None:
        if form_key.startswith(CAMUNDA_FORM_PREFIXES) or "${" in form_key:
            report("error", "form-camunda", f"form key {form_key!r} is a Camunda form reference; here a user task's "
                   "form is a JSON Schema: camunda:formKey=\"NAME\" with forms/NAME.json", node, ())
        elif form_key not in forms and form_key_of(form_key) not in forms \
                and form_key not in deployed_forms(process.id):
            report("error", "form-missing", f"names form {form_key!r}, but no form schema {form_key_of(form_key)}.json "
                   "is among these files or deployed with this process", node, ())
    else:
        report("warning", "form-none", "has no form (camunda:formKey): what is sent on completion is not checked",
               node, ())
    groups = camunda(node.xml, "candidateGroups")
    users, assignee = camunda(node.xml, "candidateUsers"), camunda(node.xml, "assignee")
    for attribute, value in (("candidateGroups", groups), ("candidateUsers", users), ("assignee", assignee)):
        parts = [p.strip() for p in (value or "").split(",") if p.strip()]
        for part in parts:
            if ("${" in part or "#{" in part) and not REFERENCE.match(part):
                report("error", "task-expression", f"camunda:{attribute} {part!r} is a Camunda expression this "
                       "engine does not evaluate: name the groups or people, or refer to a variable that holds "
                       "them as ${variable} or ${variable.key}", node, ())
    if not groups and not group_for_lane(process.lane_of(node.id)):
        who = "only " + ", ".join(p for p in (users, assignee) if p) if (users or assignee) else \
            "only those who see every case (business unit, administrators)"
        report("warning", "task-no-group", f"has no candidate group (camunda:candidateGroups, or a lane): {who} "
               "will see it", node, ())


def _check_service_task(node: Node, report: Report, handler_topics: Collection[str] | None) -> None:
    topic = node.topic
    if topic is None:
        java = [a for a in JAVA_ATTRIBUTES if camunda(node.xml, a)]
        hint = (f" (camunda:{java[0]} is Java, which is not run here)" if java else "")
        report("error", "service-no-topic", "the service task has no topic" + hint + ": set camunda:type=\"external\" "
               "and camunda:topic, or a spiffworkflow:serviceTaskOperator", node, ())
    elif handler_topics is not None and topic not in handler_topics:
        report("warning", "topic-no-handler", f"topic {topic!r} has no handler in workers/handlers: its tasks "
               "wait until a worker for it runs", node, ())


def _check_references(diagram: Diagram, node: Node, report: Report) -> None:
    if node.tag in CATCHING | THROWING:
        for ref in node.message_refs():
            if ref is None:
                if node.tag in ("receiveTask", "sendTask") or node.event_kinds() & {"message"}:
                    report("error", "message-none", "names no message (messageRef)", node, ())
            elif ref not in diagram.messages:
                report("error", "message-undeclared", f"names message {ref!r}, which this file does not declare",
                       node, ())
    for definition in node.event_definitions:
        kind = local(definition.tag).removesuffix("EventDefinition")
        table = {"error": diagram.errors, "signal": diagram.signals, "escalation": diagram.escalations}.get(kind)
        ref = definition.get(f"{kind}Ref")
        if table is not None and ref and ref not in table:
            report("error", f"{kind}-undeclared", f"names {kind} {ref!r}, which this file does not declare", node, ())
