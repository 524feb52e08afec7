"""What is already deployed, as lint needs it: process keys, the latest version's forms, message start
owners and the processes that catch a message. Read on the connection it is given (deploy's own write
transaction, or a read for `reviewflow lint --database`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from lxml import etree

from engine.bpmn.parser import SAFE_XML
from engine.diagram.checks import CATCHING
from engine.diagram.model import read_diagram
from engine.store.tables import definition, message_start


class DeployedIn:
    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn
        self._keys: set[str] | None = None
        self._catching: dict[str, set[str]] | None = None

    def has_process(self, key: str) -> bool:
        if self._keys is None:
            self._keys = set(self._conn.execute(sa.select(definition.c.key).distinct()).scalars())
        return key in self._keys

    def forms_of(self, key: str) -> Mapping[str, Any]:
        row = self._conn.execute(sa.select(definition.c.forms).where(definition.c.key == key)
                                 .order_by(definition.c.version.desc()).limit(1)).one_or_none()
        return row.forms if row is not None else {}

    def message_start_owner(self, message_name: str) -> str | None:
        return self._conn.execute(sa.select(message_start.c.definition_key)
                                  .where(message_start.c.message_name == message_name).limit(1)).scalar_one_or_none()

    def processes_catching(self, message_name: str) -> set[str]:
        """Read once, and only when a thrown message is caught by none of the files being checked."""
        if self._catching is None:
            self._catching = {}
            latest = (sa.select(definition.c.key, sa.func.max(definition.c.version).label("version"))
                      .group_by(definition.c.key).subquery())
            rows = self._conn.execute(sa.select(definition.c.key, definition.c.xml, definition.c.resource_name)
                                      .join(latest, sa.and_(definition.c.key == latest.c.key,
                                                            definition.c.version == latest.c.version)))
            for row in rows:
                model = read_diagram(etree.fromstring(row.xml.encode(), parser=SAFE_XML), row.resource_name)
                for process in model.processes:
                    if process.id != row.key:
                        continue
                    for node in process.nodes.values():
                        if node.tag in CATCHING:
                            for ref in node.message_refs():
                                name = model.message_name(ref)
                                if name:
                                    self._catching.setdefault(name, set()).add(process.id)
        return set(self._catching.get(message_name, set()))
