"""Lay out a BPMN diagram on a grid and write it with its drawing (BPMN DI), so that Camunda Modeler
and bpmn.io show it as drawn here.

The pathway's diagrams were first written with this module (bpmn/drawing/pathway.py describes them:
lanes, nodes on a grid of columns and rows, flows, boundary events). The .bpmn files are what is
deployed and what process owners edit; run `python bpmn/drawing/pathway.py` to write them again from
the description, and look at `git diff` before committing.

Each node sits in a lane, in a column and a row of that lane. Flows are drawn orthogonally: forward
to the right, back along the bottom, boundary events downwards from the host's bottom edge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

SIZES = {"event": (36, 36), "gateway": (50, 50), "activity": (100, 80)}
COL = 170          # column pitch
ROW = 140          # row pitch within a lane
LANE_TOP = 45      # space above the first row of a lane
LANE_BOTTOM = 55   # space below the last row (boundary events and the flows under them)
LEFT = 100         # pool's left edge
LABEL = 30         # pool and lane label bands

EVENT_KINDS = {"start", "end", "terminate", "error_end", "timer_catch", "message_catch", "signal_throw",
               "signal_catch", "boundary"}
GATEWAY_KINDS = {"xor", "and", "or", "event_gateway"}


@dataclass
class Node:
    id: str
    kind: str
    name: str
    lane: str
    col: float
    row: int = 0
    doc: str = ""
    attrs: dict[str, str] = field(default_factory=dict)
    props: dict[str, str] = field(default_factory=dict)
    inner: str = ""                                  # extra XML inside the element (MI, timer, ...)
    host: str | None = None                          # boundary events
    slot: int = 0                                    # boundary events: position on the host's bottom edge
    cancel: bool = True
    incoming: list[str] = field(default_factory=list)
    outgoing: list[str] = field(default_factory=list)

    @property
    def shape(self) -> str:
        if self.kind in EVENT_KINDS:
            return "event"
        if self.kind in GATEWAY_KINDS:
            return "gateway"
        return "activity"


@dataclass
class Flow:
    id: str
    source: str
    target: str
    name: str = ""
    condition: str | None = None


TAGS = {"start": "startEvent", "end": "endEvent", "terminate": "endEvent", "error_end": "endEvent",
        "timer_catch": "intermediateCatchEvent", "message_catch": "intermediateCatchEvent",
        "signal_catch": "intermediateCatchEvent", "signal_throw": "intermediateThrowEvent",
        "boundary": "boundaryEvent", "user": "userTask", "service": "serviceTask", "script": "scriptTask",
        "call": "callActivity", "receive": "receiveTask", "xor": "exclusiveGateway", "and": "parallelGateway",
        "or": "inclusiveGateway", "event_gateway": "eventBasedGateway"}


class Diagram:
    def __init__(self, process_id: str, name: str, doc: str, lanes: list[str]) -> None:
        self.id, self.name, self.doc, self.lanes = process_id, name, doc, lanes
        self.nodes: dict[str, Node] = {}
        self.flows: list[Flow] = []
        self.defaults: dict[str, str] = {}
        self.globals: list[str] = []                 # <bpmn:message>, <bpmn:error>, <bpmn:signal>

    # ---- describing ---------------------------------------------------------------------------
    def message(self, name: str) -> str:
        ref = f"message_{name}"
        self._global(f'<bpmn:message id="{ref}" name="{name}"/>')
        return ref

    def error(self, code: str, name: str) -> str:
        ref = f"error_{code.lower()}"
        self._global(f'<bpmn:error id="{ref}" name={quoteattr(name)} errorCode="{code}"/>')
        return ref

    def _global(self, xml: str) -> None:
        if xml not in self.globals:
            self.globals.append(xml)

    def add(self, kind: str, id: str, name: str, lane: str, col: float, row: int = 0, doc: str = "",
            **kw: object) -> Node:
        assert id not in self.nodes, id
        assert lane in self.lanes, (id, lane)
        node = Node(id=id, kind=kind, name=name, lane=lane, col=col, row=row, doc=doc, **kw)  # type: ignore[arg-type]
        self.nodes[id] = node
        return node

    def user(self, id: str, name: str, lane: str, col: float, row: int = 0, *, form: str, doc: str,
             reads: str = "", group: str | None = None, users: str | None = None, assignee: str | None = None,
             organisation: str | None = None, case_access: str | None = None, inner: str = "") -> Node:
        attrs = {}
        if group is not None:
            attrs["camunda:candidateGroups"] = group
        if users:
            attrs["camunda:candidateUsers"] = users
        if assignee:
            attrs["camunda:assignee"] = assignee
        attrs["camunda:formKey"] = form
        props = {}
        if reads:
            props["reads"] = reads
        if organisation:
            props["organisation"] = organisation
        if case_access:
            props["caseAccess"] = case_access
        return self.add("user", id, name, lane, col, row, doc, attrs=attrs, props=props, inner=inner)

    def service(self, id: str, name: str, lane: str, col: float, row: int = 0, *, topic: str, doc: str,
                priority: int | None = None, **props: str) -> Node:
        attrs = {"camunda:type": "external", "camunda:topic": topic}
        if priority is not None:
            attrs["camunda:taskPriority"] = str(priority)
        return self.add("service", id, name, lane, col, row, doc, attrs=attrs, props=dict(props))

    def script(self, id: str, name: str, lane: str, col: float, row: int = 0, *, script: str, doc: str) -> Node:
        return self.add("script", id, name, lane, col, row, doc, attrs={"scriptFormat": "python"},
                        inner=f"<bpmn:script>{escape(script)}</bpmn:script>")

    def call(self, id: str, name: str, lane: str, col: float, row: int = 0, *, called: str, doc: str,
             inner: str = "") -> Node:
        return self.add("call", id, name, lane, col, row, doc, attrs={"calledElement": called},
                        inner=inner)

    def timer(self, kind: str, expression: str) -> str:
        return (f'<bpmn:timerEventDefinition id="{{id}}_timer"><bpmn:{kind} xsi:type="bpmn:tFormalExpression">'
                f"{escape(expression)}</bpmn:{kind}></bpmn:timerEventDefinition>")

    def boundary(self, id: str, name: str, host: str, *, definition: str, cancel: bool = False, slot: int = 0,
                 doc: str = "") -> Node:
        h = self.nodes[host]
        node = self.add("boundary", id, name, h.lane, h.col, h.row, doc, inner=definition, host=host, slot=slot,
                        cancel=cancel)
        return node

    def flow(self, source: str, target: str, name: str = "", condition: str | None = None,
             default: bool = False) -> str:
        fid = f"flow_{source}_to_{target}"
        assert all(f.id != fid for f in self.flows), fid
        self.flows.append(Flow(fid, source, target, name, condition))
        self.nodes[source].outgoing.append(fid)
        self.nodes[target].incoming.append(fid)
        if default:
            self.defaults[source] = fid
        return fid

    def chain(self, *ids: str) -> None:
        for a, b in zip(ids, ids[1:], strict=False):
            self.flow(a, b)

    # ---- geometry -----------------------------------------------------------------------------
    def _geometry(self) -> None:
        rows = {lane: 1 for lane in self.lanes}
        for n in self.nodes.values():
            rows[n.lane] = max(rows[n.lane], n.row + 1)
        self.lane_box: dict[str, tuple[float, float, float, float]] = {}
        width = LABEL * 2 + (max(n.col for n in self.nodes.values()) + 1) * COL + 60
        y = 60.0
        for lane in self.lanes:
            h = LANE_TOP + rows[lane] * ROW + LANE_BOTTOM - (ROW - 80)
            self.lane_box[lane] = (LEFT + LABEL, y, width - LABEL, h)
            y += h
        self.pool = (LEFT, 60.0, width, y - 60.0)
        self.box: dict[str, tuple[float, float, float, float]] = {}
        for n in self.nodes.values():
            if n.kind == "boundary":
                continue
            w, h = SIZES[n.shape]
            lx, ly, _, _ = self.lane_box[n.lane]
            cx = lx + 20 + 60 + n.col * COL
            cy = ly + LANE_TOP + 40 + n.row * ROW
            self.box[n.id] = (cx - w / 2, cy - h / 2, w, h)
        for n in self.nodes.values():
            if n.kind == "boundary":
                hx, hy, hw, hh = self.box[n.host]  # type: ignore[index]
                cx = hx + 25 + 50 * n.slot if n.slot < 2 else hx + hw
                cy = hy + hh if n.slot < 2 else hy + hh / 2
                self.box[n.id] = (cx - 18, cy - 18, 36, 36)

    def _waypoints(self, f: Flow) -> list[tuple[float, float]]:
        sx, sy, sw, sh = self.box[f.source]
        tx, ty, tw, th = self.box[f.target]
        scx, scy, tcx, tcy = sx + sw / 2, sy + sh / 2, tx + tw / 2, ty + th / 2
        src = self.nodes[f.source]
        if src.kind == "boundary":
            start = (scx, sy + sh)
            if ty > sy + sh and tx <= scx <= tx + tw:           # straight down into the target
                return [start, (scx, ty)]
            if tcy > sy + sh:
                return [start, (scx, tcy), (tx if tx > scx else tx + tw, tcy)]
            low = max(sy + sh, ty + th) + 20
            return [start, (scx, low), (tcx, low), (tcx, ty + th)]
        if tx >= sx + sw:                                   # forward
            if abs(scy - tcy) < 1:
                return [(sx + sw, scy), (tx, tcy)]
            if src.shape == "gateway":
                if tcy > scy:
                    return [(scx, sy + sh), (scx, tcy), (tx, tcy)]
                return [(scx, sy), (scx, tcy), (tx, tcy)]
            mid = tx - 25
            return [(sx + sw, scy), (mid, scy), (mid, tcy), (tx, tcy)]
        if abs(scx - tcx) < 1:                              # same column
            if tcy > scy:
                return [(scx, sy + sh), (tcx, ty)]
            return [(scx, sy), (tcx, ty + th)]
        # backwards: along the bottom
        low = max(sy + sh, ty + th) + 30
        return [(scx, sy + sh), (scx, low), (tcx, low), (tcx, ty + th)]

    # ---- writing ------------------------------------------------------------------------------
    def _node_xml(self, n: Node) -> str:
        tag = TAGS[n.kind]
        attrs = {"id": n.id, "name": n.name, **n.attrs}
        if n.kind == "boundary":
            attrs["attachedToRef"] = n.host  # type: ignore[assignment]
            attrs["cancelActivity"] = "true" if n.cancel else "false"
        if n.id in self.defaults:
            attrs["default"] = self.defaults[n.id]
        head = " ".join(f"{k}={quoteattr(v)}" for k, v in attrs.items())
        body = []
        if n.doc:
            body.append(f"<bpmn:documentation>{escape(n.doc)}</bpmn:documentation>")
        ext = []
        if n.props:
            ext.append("<camunda:properties>" + "".join(
                f"<camunda:property name={quoteattr(k)} value={quoteattr(v)}/>" for k, v in n.props.items())
                + "</camunda:properties>")
        if n.kind == "call":
            ext.append('<camunda:in variables="all"/><camunda:out variables="all"/>')
        if ext:
            body.append("<bpmn:extensionElements>" + "".join(ext) + "</bpmn:extensionElements>")
        body += [f"<bpmn:incoming>{i}</bpmn:incoming>" for i in n.incoming]
        body += [f"<bpmn:outgoing>{o}</bpmn:outgoing>" for o in n.outgoing]
        inner = n.inner.replace("{id}", n.id)
        if n.kind == "terminate":
            inner = f'<bpmn:terminateEventDefinition id="{n.id}_terminate"/>' + inner
        body.append(inner)
        return f"    <bpmn:{tag} {head}>\n      " + "\n      ".join(b for b in body if b) + f"\n    </bpmn:{tag}>"

    def xml(self) -> str:
        self._geometry()
        pid = self.id
        out = ['<?xml version="1.0" encoding="UTF-8"?>',
               '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
               'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" '
               'xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
               'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
               f'id="definitions_{pid}" targetNamespace="http://reviewflow.local/bpmn" exporter="Reviewflow" '
               'exporterVersion="1.0">',
               f'  <bpmn:collaboration id="collaboration_{pid}">',
               f'    <bpmn:participant id="participant_{pid}" name="Safeguarding Children Partnership" '
               f'processRef="{pid}"/>',
               "  </bpmn:collaboration>"]
        out += ["  " + g for g in self.globals]
        out.append(f'  <bpmn:process id="{pid}" name={quoteattr(self.name)} isExecutable="true">')
        out.append(f"    <bpmn:documentation>{escape(self.doc)}</bpmn:documentation>")
        out.append(f'    <bpmn:laneSet id="laneset_{pid}">')
        for lane in self.lanes:
            out.append(f'      <bpmn:lane id="{lane_id(lane)}" name={quoteattr(lane)}>')
            out += [f"        <bpmn:flowNodeRef>{n.id}</bpmn:flowNodeRef>" for n in self.nodes.values()
                    if n.lane == lane]
            out.append("      </bpmn:lane>")
        out.append("    </bpmn:laneSet>")
        out += [self._node_xml(n) for n in self.nodes.values()]
        for f in self.flows:
            name = f" name={quoteattr(f.name)}" if f.name else ""
            head = f'    <bpmn:sequenceFlow id="{f.id}" sourceRef="{f.source}" targetRef="{f.target}"{name}'
            if f.condition:
                out.append(head + ">")
                out.append(f'      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">'
                           f"{escape(f.condition)}</bpmn:conditionExpression>")
                out.append("    </bpmn:sequenceFlow>")
            else:
                out.append(head + "/>")
        out.append("  </bpmn:process>")
        out.append(f'  <bpmndi:BPMNDiagram id="diagram_{pid}">')
        out.append(f'    <bpmndi:BPMNPlane id="plane_{pid}" bpmnElement="collaboration_{pid}">')

        def shape(element: str, b: tuple[float, float, float, float], extra: str = "") -> str:
            x, y, w, h = b
            return (f'      <bpmndi:BPMNShape id="{element}_di" bpmnElement="{element}"{extra}>'
                    f'<dc:Bounds x="{x:g}" y="{y:g}" width="{w:g}" height="{h:g}"/></bpmndi:BPMNShape>')

        out.append(shape(f"participant_{pid}", self.pool, ' isHorizontal="true"'))
        for lane in self.lanes:
            out.append(shape(lane_id(lane), self.lane_box[lane], ' isHorizontal="true"'))
        for n in self.nodes.values():
            out.append(shape(n.id, self.box[n.id], ' isMarkerVisible="true"' if n.kind == "xor" else ""))
        for f in self.flows:
            points = "".join(f'<di:waypoint x="{x:g}" y="{y:g}"/>' for x, y in self._waypoints(f))
            out.append(f'      <bpmndi:BPMNEdge id="{f.id}_di" bpmnElement="{f.id}">{points}</bpmndi:BPMNEdge>')
        out += ["    </bpmndi:BPMNPlane>", "  </bpmndi:BPMNDiagram>", "</bpmn:definitions>", ""]
        return "\n".join(out)


def lane_id(lane: str) -> str:
    return "lane_" + "".join(c if c.isalnum() else "_" for c in lane.lower()).strip("_").replace("__", "_")


def mi(input_ref: str, output_ref: str, item: str, output_item: str, *, sequential: bool = False) -> str:
    """A multi-instance over a collection the case keeps (declared as properties, as bpmn-js keeps them)."""
    seq = ' isSequential="true"' if sequential else ""
    return (f'<bpmn:property id="{input_ref}" name="{input_ref}"/><bpmn:property id="{output_ref}" name="{output_ref}"/>'
            f"<bpmn:multiInstanceLoopCharacteristics{seq}><bpmn:loopDataInputRef>{input_ref}</bpmn:loopDataInputRef>"
            f"<bpmn:loopDataOutputRef>{output_ref}</bpmn:loopDataOutputRef>"
            f'<bpmn:inputDataItem id="{item}" name="{item}"/><bpmn:outputDataItem id="{output_item}" '
            f'name="{output_item}"/></bpmn:multiInstanceLoopCharacteristics>')
