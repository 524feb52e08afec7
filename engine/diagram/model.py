"""The parts of a BPMN file that checks and comparisons look at: processes, their scopes (the process and
each sub-process), flow nodes and sequence flows — each with its line — and the messages, errors,
signals and escalations the file declares. Read straight from the XML, so that one broken element
does not hide the others (SpiffWorkflow's parser stops at the first).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.bpmn.parser import CAMUNDA_NS, NSMAP, SPIFF_NS

BPMN_NS = NSMAP["bpmn"]

ACTIVITIES = {"task", "userTask", "manualTask", "serviceTask", "sendTask", "receiveTask", "scriptTask",
              "businessRuleTask", "callActivity", "subProcess", "transaction", "adHocSubProcess"}
EVENTS = {"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"}
GATEWAYS = {"exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway", "complexGateway"}
FLOW_NODES = ACTIVITIES | EVENTS | GATEWAYS
SCOPES = {"subProcess", "transaction", "adHocSubProcess"}
TIMER_KINDS = ("timeDate", "timeDuration", "timeCycle")


def local(tag: Any) -> str:
    return tag.split("}", 1)[1] if isinstance(tag, str) and "}" in tag else str(tag)


def camunda(node: Any, name: str) -> str | None:
    value = node.get(f"{{{CAMUNDA_NS}}}{name}")
    return value.strip() if isinstance(value, str) and value.strip() else None


def child(node: Any, name: str) -> Any | None:
    for c in node:
        if local(c.tag) == name and c.tag.startswith(f"{{{BPMN_NS}}}"):
            return c
    return None


def children(node: Any, name: str) -> list[Any]:
    return [c for c in node if local(c.tag) == name and c.tag.startswith(f"{{{BPMN_NS}}}")]


def text_of(node: Any | None) -> str | None:
    if node is None:
        return None
    text = "".join(node.itertext()).strip()
    return text or None


@dataclass(frozen=True)
class Timer:
    kind: str                 # timeDate | timeDuration | timeCycle
    expression: str | None
    line: int


@dataclass
class Node:
    id: str
    tag: str
    name: str | None
    line: int
    scope: str                # the id of the process or sub-process it belongs to
    xml: Any = field(repr=False)

    @property
    def event_definitions(self) -> list[Any]:
        return [c for c in self.xml if local(c.tag).endswith("EventDefinition")]

    def event_kinds(self) -> set[str]:
        return {local(d.tag).removesuffix("EventDefinition") for d in self.event_definitions}

    @property
    def timers(self) -> list[Timer]:
        found = []
        for definition in self.event_definitions:
            if local(definition.tag) != "timerEventDefinition":
                continue
            parts = [c for c in definition if local(c.tag) in TIMER_KINDS]
            if not parts:
                found.append(Timer("", None, definition.sourceline or self.line))
            for part in parts:
                found.append(Timer(local(part.tag), text_of(part), part.sourceline or self.line))
        return found

    def message_refs(self) -> list[str | None]:
        """The messageRef of a receive or send task, or of each message event definition."""
        if self.tag in ("receiveTask", "sendTask"):
            return [self.xml.get("messageRef")]
        return [d.get("messageRef") for d in self.event_definitions if local(d.tag) == "messageEventDefinition"]

    @property
    def topic(self) -> str | None:
        topic = camunda(self.xml, "topic")
        if topic is None:
            operator = self.xml.find(f"{{{BPMN_NS}}}extensionElements/{{{SPIFF_NS}}}serviceTaskOperator")
            topic = operator.get("id") if operator is not None and operator.get("id") else None
        return topic

    @property
    def documentation(self) -> str | None:
        return text_of(child(self.xml, "documentation"))


@dataclass
class Flow:
    id: str
    source: str
    target: str
    name: str | None
    condition: str | None
    has_condition: bool
    line: int
    scope: str
    xml: Any = field(repr=False)


@dataclass
class Scope:
    """A process or a sub-process: the flow nodes and flows directly inside it."""

    id: str
    tag: str
    line: int
    nodes: dict[str, Node] = field(default_factory=dict)
    flows: dict[str, Flow] = field(default_factory=dict)
    triggered_by_event: bool = False


@dataclass
class Process:
    id: str
    name: str | None
    executable: bool
    line: int
    file: str
    xml: Any = field(repr=False)
    scopes: dict[str, Scope] = field(default_factory=dict)

    @property
    def nodes(self) -> dict[str, Node]:
        return {nid: n for s in self.scopes.values() for nid, n in s.nodes.items()}

    @property
    def flows(self) -> dict[str, Flow]:
        return {fid: f for s in self.scopes.values() for fid, f in s.flows.items()}

    def form_keys(self) -> set[str]:
        """The forms its user tasks name (camunda:formKey)."""
        return {key for n in self.nodes.values() if n.tag == "userTask" and (key := camunda(n.xml, "formKey"))}

    def lane_of(self, node_id: str) -> str | None:
        for lane in self.xml.iter(f"{{{BPMN_NS}}}lane"):
            if any((ref.text or "").strip() == node_id for ref in children(lane, "flowNodeRef")):
                name: str | None = lane.get("name")
                return name
        return None


@dataclass
class Declared:
    id: str
    name: str | None
    line: int


@dataclass
class Diagram:
    file: str
    root: Any = field(repr=False)
    processes: list[Process] = field(default_factory=list)
    messages: dict[str, Declared] = field(default_factory=dict)
    errors: dict[str, Declared] = field(default_factory=dict)
    signals: dict[str, Declared] = field(default_factory=dict)
    escalations: dict[str, Declared] = field(default_factory=dict)

    @property
    def executable(self) -> list[Process]:
        return [p for p in self.processes if p.executable]

    def message_name(self, ref: str | None) -> str | None:
        declared = self.messages.get(ref or "")
        return (declared.name or declared.id) if declared is not None else None


def read_diagram(root: Any, file: str) -> Diagram:
    """The model of one parsed file (`root` is its <definitions> element)."""
    diagram = Diagram(file, root)
    for tag, table in (("message", diagram.messages), ("error", diagram.errors), ("signal", diagram.signals),
                       ("escalation", diagram.escalations)):
        for node in children(root, tag):
            if node.get("id"):
                table[node.get("id")] = Declared(node.get("id"), node.get("name"), node.sourceline or 1)
    for node in children(root, "process"):
        process = Process(node.get("id") or "", node.get("name"), node.get("isExecutable", "true").lower() != "false",
                          node.sourceline or 1, file, node)
        _read_scope(process, node, "process")
        diagram.processes.append(process)
    return diagram


def _read_scope(process: Process, node: Any, tag: str) -> None:
    scope = Scope(node.get("id") or "", tag, node.sourceline or 1,
                  triggered_by_event=node.get("triggeredByEvent", "false").lower() == "true")
    process.scopes[scope.id] = scope
    for c in node:
        name = local(c.tag)
        if not isinstance(c.tag, str) or not c.tag.startswith(f"{{{BPMN_NS}}}"):
            continue
        if name in FLOW_NODES and c.get("id"):
            scope.nodes[c.get("id")] = Node(c.get("id"), name, c.get("name"), c.sourceline or 1, scope.id, c)
            if name in SCOPES:
                _read_scope(process, c, name)
        elif name == "sequenceFlow" and c.get("id"):
            condition = child(c, "conditionExpression")
            scope.flows[c.get("id")] = Flow(c.get("id"), c.get("sourceRef") or "", c.get("targetRef") or "",
                                            c.get("name"), text_of(condition), condition is not None,
                                            c.sourceline or 1, scope.id, c)


def code_of(node: Node) -> list[tuple[str, str, int, str]]:
    """Every piece of Python an element runs, as (code, "eval" | "exec", line, what)."""
    found: list[tuple[str, str, int, str]] = []
    if node.tag == "scriptTask":
        script = child(node.xml, "script")
        if script is not None and text_of(script):
            found.append((text_of(script) or "", "exec", script.sourceline or node.line, "script"))
    loop = child(node.xml, "multiInstanceLoopCharacteristics")
    if loop is None:
        loop = child(node.xml, "standardLoopCharacteristics")
    if loop is not None:
        for part, what in (("loopCardinality", "loop cardinality"), ("completionCondition", "completion condition"),
                           ("loopCondition", "loop condition")):
            expression = child(loop, part)
            if expression is not None and text_of(expression):
                found.append((text_of(expression) or "", "eval", expression.sourceline or node.line, what))
    return found
