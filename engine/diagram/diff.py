"""Two versions of a process side by side: the activities, flows, forms, timers and topics that were
added, removed or changed — what a process owner needs to see before cases meet the new version.

Elements are matched by id (Camunda Modeler keeps ids stable when an element is renamed or moved);
an element whose id changed shows as one removed and one added.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from engine.diagram.model import (
    GATEWAYS,
    Node,
    Process,
    camunda,
    child,
    children,
    code_of,
    local,
    text_of,
)

Attributes = dict[str, str | None]


@dataclass(frozen=True)
class Change:
    field: str
    before: str | None
    after: str | None


@dataclass(frozen=True)
class Item:
    """One activity, flow, form, timer or topic: its id, what it is, its name, and the details compared."""

    id: str
    type: str
    name: str | None
    details: Mapping[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class ChangedItem:
    id: str
    type: str
    name: str | None
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class Section:
    added: tuple[Item, ...] = ()
    removed: tuple[Item, ...] = ()
    changed: tuple[ChangedItem, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


@dataclass(frozen=True)
class VersionRef:
    id: str
    key: str
    version: int | None            # None: a file not deployed yet


@dataclass(frozen=True)
class DefinitionDiff:
    """From `base` to `target`: "added" is in target and not in base."""

    base: VersionRef
    target: VersionRef
    activities: Section
    flows: Section
    forms: Section
    timers: Section
    topics: Section

    @property
    def identical(self) -> bool:
        return all(s.empty for s in (self.activities, self.flows, self.forms, self.timers, self.topics))


@dataclass(frozen=True)
class Side:
    """One version to compare: its process (read from the XML) and the forms it uses."""

    ref: VersionRef
    process: Process
    forms: Mapping[str, Any]


def compare(base: Side, target: Side) -> DefinitionDiff:
    return DefinitionDiff(
        base=base.ref, target=target.ref,
        activities=_section(_activities(base.process), _activities(target.process)),
        flows=_section(_flows(base.process), _flows(target.process)),
        forms=_section(_forms(base.forms), _forms(target.forms)),
        timers=_section(_timers(base.process), _timers(target.process)),
        topics=_section(_topics(base.process), _topics(target.process)))


def _section(before: dict[str, Item], after: dict[str, Item]) -> Section:
    added = tuple(after[k] for k in sorted(after.keys() - before.keys()))
    removed = tuple(before[k] for k in sorted(before.keys() - after.keys()))
    changed = []
    for k in sorted(before.keys() & after.keys()):
        old, new = before[k], after[k]
        changes = [Change("type", old.type, new.type)] if old.type != new.type else []
        if old.name != new.name:
            changes.append(Change("name", old.name, new.name))
        for name in sorted(old.details.keys() | new.details.keys()):
            if old.details.get(name) != new.details.get(name):
                changes.append(Change(name, old.details.get(name), new.details.get(name)))
        if changes:
            changed.append(ChangedItem(k, new.type, new.name, tuple(changes)))
    return Section(added, removed, tuple(changed))


def _joined(values: Sequence[str | None]) -> str | None:
    kept = [v for v in values if v]
    return ", ".join(kept) if kept else None


def _activities(process: Process) -> dict[str, Item]:
    found = {}
    for node in process.nodes.values():
        details: Attributes = {
            "in": node.scope if node.scope != process.id else None,
            "lane": process.lane_of(node.id),
            "documentation": node.documentation,
        }
        if node.tag == "userTask":
            details.update({"candidate groups": camunda(node.xml, "candidateGroups"),
                            "candidate users": camunda(node.xml, "candidateUsers"),
                            "assignee": camunda(node.xml, "assignee"), "form": camunda(node.xml, "formKey")})
        if node.tag == "serviceTask":
            properties = node.xml.iter("{http://camunda.org/schema/1.0/bpmn}property")
            details.update({"topic": node.topic,
                            "properties": _joined([f"{p.get('name')}={p.get('value')}" for p in properties])})
        if node.tag == "callActivity":
            details["calls"] = node.xml.get("calledElement")
        if node.tag == "boundaryEvent":
            details.update({"attached to": node.xml.get("attachedToRef"),
                            "interrupting": node.xml.get("cancelActivity", "true")})
        if node.tag in GATEWAYS:
            details["default flow"] = node.xml.get("default")
        if node.event_definitions:
            details["events"] = _joined(sorted(_event(node, d) for d in node.event_definitions))
        details["code"] = _joined([f"{what}: {code}" for code, _mode, _line, what in code_of(node)])
        loop = child(node.xml, "multiInstanceLoopCharacteristics")
        if loop is not None:
            details["for each"] = text_of(child(loop, "loopDataInputRef")) or text_of(child(loop, "loopCardinality"))
            details["sequential"] = loop.get("isSequential", "false")
        found[node.id] = Item(node.id, node.tag, node.name, {k: v for k, v in details.items() if v is not None})
    return found


def _event(node: Node, definition: Any) -> str:
    kind = local(definition.tag).removesuffix("EventDefinition")
    ref = (definition.get("messageRef") or definition.get("errorRef") or definition.get("signalRef")
           or definition.get("escalationRef"))
    if kind == "message" and ref:
        root = node.xml.getroottree().getroot()
        names = [m.get("name") for m in children(root, "message") if m.get("id") == ref]
        ref = names[0] if names and names[0] else ref
    return f"{kind} {ref}" if ref else kind


def _flows(process: Process) -> dict[str, Item]:
    return {f.id: Item(f.id, "sequenceFlow", f.name, {k: v for k, v in {
        "from": f.source, "to": f.target, "condition": f.condition,
        "in": f.scope if f.scope != process.id else None}.items() if v is not None})
        for f in process.flows.values()}


def _timers(process: Process) -> dict[str, Item]:
    found = {}
    for node in process.nodes.values():
        for i, timer in enumerate(node.timers):
            key = node.id if i == 0 else f"{node.id}#{i + 1}"
            details: Attributes = {"on": f"{node.tag} {node.id}", timer.kind or "timer": timer.expression}
            if node.tag == "boundaryEvent":
                details.update({"attached to": node.xml.get("attachedToRef"),
                                "interrupting": node.xml.get("cancelActivity", "true")})
            found[key] = Item(key, "timer", node.name, {k: v for k, v in details.items() if v is not None})
    return found


def _topics(process: Process) -> dict[str, Item]:
    used: dict[str, list[str]] = {}
    for node in process.nodes.values():
        if node.tag == "serviceTask" and node.topic:
            used.setdefault(node.topic, []).append(node.id)
    return {t: Item(t, "topic", None, {"activities": ", ".join(sorted(ids))}) for t, ids in used.items()}


def _forms(forms: Mapping[str, Any]) -> dict[str, Item]:
    found = {}
    for key, schema in forms.items():
        details: Attributes = {}
        if isinstance(schema, dict):
            for name, value in (schema.get("properties") or {}).items():
                details[f"field {name}"] = _canonical(value)
            details["required"] = _joined(sorted(str(r) for r in schema.get("required") or [])) or None
            for name, value in schema.items():
                if name not in ("properties", "required"):
                    details[f"schema {name}"] = _canonical(value)
        found[key] = Item(key, "form", schema.get("title") if isinstance(schema, dict) else None,
                          {k: v for k, v in details.items() if v is not None})
    return found


def _canonical(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def forms_used(process: Process, forms: Mapping[str, Any]) -> dict[str, Any]:
    """The forms (of those given) that the process's user tasks name."""
    from engine.diagram.checks import form_key_of  # noqa: PLC0415
    used = {}
    for key in sorted(process.form_keys()):
        if key in forms or form_key_of(key) in forms:
            used[key] = forms.get(key) or forms[form_key_of(key)]
    return used

