"""Where tokens can go: elements no start event reaches, and elements from which no end can be reached.

Each process and sub-process is a scope of its own. A token enters a scope at its start events (an
event sub-process, a boundary event and a link catch event are entered when their scope, their
activity or their link throw is); it leaves at an end event, or at an element with no outgoing flow
(an "implicit end": BPMN allows it, but it hides where the path stops, so it is reported as a warning).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from engine.diagram.model import SCOPES, Node, Process, Scope

Report = Callable[..., None]       # report(severity, code, message, node, related=())


def check_paths(process: Process, report: Report) -> None:
    _check_scope(process, process.scopes[process.id], report)


def _check_scope(process: Process, scope: Scope, report: Report) -> None:
    nodes = {nid: n for nid, n in scope.nodes.items() if not _is_compensation(n)}
    succ: dict[str, set[str]] = {nid: set() for nid in nodes}
    for flow in scope.flows.values():
        if flow.source in succ and flow.target in nodes:
            succ[flow.source].add(flow.target)
    links = _link_edges(nodes.values())
    for source, target in links:
        succ[source].add(target)
    boundaries: dict[str, list[str]] = {}
    for n in nodes.values():
        host = n.xml.get("attachedToRef") if n.tag == "boundaryEvent" else None
        if host in nodes:
            boundaries.setdefault(host, []).append(n.id)

    starts = [n.id for n in nodes.values() if n.tag == "startEvent"]
    if scope.tag == "adHocSubProcess":
        return                                   # its activities run in any order, without flows
    if not starts:
        what = "process" if scope.tag == "process" else "sub-process"
        report("error", "no-start-event", f"the {what} has no start event, so nothing in it can run",
               _scope_node(process, scope), ())
        return
    entries = starts + [n.id for n in nodes.values() if n.tag in SCOPES and _scope_of(process, n).triggered_by_event]
    entries += [n.id for n in nodes.values()               # a boundary event on nothing is reported as such
                if n.tag == "boundaryEvent" and n.xml.get("attachedToRef") not in nodes]
    following = {nid: succ[nid] | set(boundaries.get(nid, ())) for nid in nodes}
    reached = _walk(entries, lambda nid: following[nid])
    predecessors: dict[str, set[str]] = {nid: set() for nid in nodes}
    for source, targets in following.items():
        for target in targets:
            predecessors[target].add(source)

    # report where each unreachable branch begins, with what only it leads to
    unreached = {nid for nid in nodes if nid not in reached}
    covered: set[str] = set()
    heads = [nid for nid in unreached if not predecessors[nid] & unreached]
    while unreached - covered:
        if not heads:                                   # a loop nothing leads into: its first element
            heads = [min(unreached - covered, key=lambda nid: (nodes[nid].line, nid))]
        for head in sorted(heads, key=lambda nid: (nodes[nid].line, nid)):
            branch = _walk([head], lambda nid: following[nid] & unreached)
            covered |= branch
            report("error", "unreachable", "cannot be reached from a start event: it never runs"
                   + (", nor does what follows it" if branch - {head} else ""), nodes[head],
                   tuple(sorted(branch - {head})))
        heads = []

    terminals = {nid for nid, n in nodes.items() if n.tag == "endEvent" or not succ[nid]}
    for nid in terminals:
        n = nodes[nid]
        event_subprocess = n.tag in SCOPES and _scope_of(process, n).triggered_by_event
        if n.tag != "endEvent" and nid in reached and not event_subprocess:
            report("warning", "implicit-end", "has no outgoing flow: its path ends here without an end event", n, ())
    flow_predecessors: dict[str, set[str]] = {nid: set() for nid in nodes}
    for source, targets in succ.items():
        for target in targets:
            flow_predecessors[target].add(source)
    can_end = _walk(terminals, lambda nid: flow_predecessors[nid])
    for n in nodes.values():
        if n.id in reached and n.id not in can_end:
            report("error", "no-end", "no end event can be reached from here: a case that gets here can never "
                                      "finish", n, ())

    for n in nodes.values():
        if n.tag in SCOPES and n.id in reached and n.id in process.scopes:
            _check_scope(process, process.scopes[n.id], report)


def _walk(start: Iterable[str], following: Callable[[str], Iterable[str]]) -> set[str]:
    seen: set[str] = set()
    todo = list(start)
    while todo:
        nid = todo.pop()
        if nid in seen:
            continue
        seen.add(nid)
        todo.extend(following(nid))
    return seen


def _link_edges(nodes: Iterable[Node]) -> list[tuple[str, str]]:
    throws: dict[str, list[str]] = {}
    catches: dict[str, list[str]] = {}
    for n in nodes:
        for definition in n.event_definitions:
            if definition.tag.endswith("}linkEventDefinition"):
                name = definition.get("name") or ""
                (throws if n.tag == "intermediateThrowEvent" else catches).setdefault(name, []).append(n.id)
    return [(t, c) for name, ts in throws.items() for t in ts for c in catches.get(name, [])]


def _is_compensation(n: Node) -> bool:
    return n.xml.get("isForCompensation", "false").lower() == "true" or (
        n.tag == "boundaryEvent" and "compensate" in n.event_kinds())


def _scope_of(process: Process, n: Node) -> Scope:
    return process.scopes.get(n.id) or Scope(n.id, n.tag, n.line)


def _scope_node(process: Process, scope: Scope) -> Node:
    if scope.tag == "process":
        return Node(process.id, "process", process.name, process.line, process.id, process.xml)
    for s in process.scopes.values():
        if scope.id in s.nodes:
            return s.nodes[scope.id]
    return Node(scope.id, scope.tag, None, scope.line, process.id, process.xml)
