"""Parsed specs, once per definition version: parsed from the stored XML on first use, then cached."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from lxml import etree

from engine.bpmn import state
from engine.bpmn.parser import SAFE_XML, ReviewflowParser
from engine.bpmn.timers import quote_literals
from engine.errors import DefinitionNotFound
from engine.store.tables import definition

if TYPE_CHECKING:
    from engine.store.database import Database


class SpecCache:
    """definition id -> (spec, subprocess specs) plus the definition's form schemas."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._lock = threading.Lock()
        self._specs: dict[str, state.SpecPair] = {}
        self._forms: dict[str, dict[str, Any]] = {}

    def get(self, definition_id: str) -> state.SpecPair:
        pair = self._specs.get(definition_id)
        if pair is None:
            with self._lock:
                pair = self._specs.get(definition_id)
                if pair is None:
                    pair = self._load(definition_id)
        return pair

    def forms(self, definition_id: str) -> dict[str, Any]:
        self.get(definition_id)
        return self._forms[definition_id]

    def _load(self, definition_id: str) -> state.SpecPair:
        with self._db.read() as conn:
            row = conn.execute(sa.select(definition.c.key, definition.c.xml, definition.c.forms,
                                         definition.c.calls, definition.c.resource_name)
                               .where(definition.c.id == definition_id)).one_or_none()
            if row is None:
                raise DefinitionNotFound(f"no process definition with id {definition_id}")
            parser = ReviewflowParser()
            parser.add_bpmn_xml(etree.fromstring(row.xml.encode(), parser=SAFE_XML), row.resource_name)
            add_called(conn, parser, row.calls.values())
        pair = build_specs(parser, row.key, definition_id)
        self._specs[definition_id] = pair
        self._forms[definition_id] = row.forms
        return pair


def add_called(conn: sa.Connection, parser: ReviewflowParser, called_ids: Iterable[str]) -> None:
    """Add to `parser` the XML of the definitions `called_ids` and, through the calls each was
    deployed with, of every definition they call in turn: a process's spec embeds the specs of the
    whole tree of processes it calls. A process the parser holds already keeps its version (the
    nearest call wins, breadth first; a file holding several processes is added once)."""
    pending = sorted(set(called_ids))
    seen = set(pending)
    while pending:
        rows = conn.execute(sa.select(definition.c.id, definition.c.key, definition.c.xml, definition.c.resource_name,
                                      definition.c.calls).where(definition.c.id.in_(pending))).all()
        missing = set(pending) - {r.id for r in rows}
        if missing:
            raise DefinitionNotFound(f"no process definition with id {min(missing)}, which a process calls")
        fresh = []
        for r in sorted(rows, key=lambda r: r.id):
            if r.key not in parser.process_parsers:
                parser.add_bpmn_xml(etree.fromstring(r.xml.encode(), parser=SAFE_XML), r.resource_name)
                fresh.append(r)
        pending = sorted({c for r in fresh for c in (r.calls or {}).values()} - seen)
        seen.update(pending)


def build_specs(parser: ReviewflowParser, key: str, definition_id: str) -> state.SpecPair:
    spec = parser.get_spec(key)
    subprocess_specs = parser.get_subprocess_specs(key)
    spec.rf_definition_id = definition_id
    quote_literals([spec, *subprocess_specs.values()])
    return spec, subprocess_specs
