"""Diagrams before and between deployments: lint (against what is deployed, when a database is given)
and the difference between two versions of a process."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import timedelta
from typing import Any

import orjson
import sqlalchemy as sa
from lxml import etree

from engine.bpmn.parser import SAFE_XML
from engine.diagram import lint as _lint
from engine.diagram import xml
from engine.diagram.checks import form_key_of
from engine.diagram.diff import DefinitionDiff, Side, VersionRef, compare, forms_used
from engine.diagram.model import read_diagram
from engine.diagram.report import LintReport
from engine.diagram.timers import DEFAULT_MIN_TIMER_CYCLE
from engine.errors import DefinitionNotFound, Invalid
from engine.queries.deployed import DeployedIn
from engine.results import DeploymentInfo, Page
from engine.store.database import Database
from engine.store.rows import aware
from engine.store.tables import definition


def lint(files: Sequence[Any], *, db: Database | None = None, handler_topics: Collection[str] | None = None,
         min_timer_cycle: timedelta = DEFAULT_MIN_TIMER_CYCLE) -> LintReport:
    """Every problem in `files` (DeployFile), as deploy would find them. With `db`, call activities,
    forms and messages are also checked against what is deployed there; `handler_topics` (the topics
    that have a handler) turns on the missing-handler warning."""
    if db is None:
        return _lint.lint(files, handler_topics=handler_topics, min_timer_cycle=min_timer_cycle)
    with db.read() as conn:
        return _lint.lint(files, handler_topics=handler_topics, deployed=DeployedIn(conn),
                          min_timer_cycle=min_timer_cycle)


def list_deployments(db: Database, *, limit: int = 50, offset: int = 0, newest_first: bool = False) -> \
        Page[DeploymentInfo]:
    """Deployments that made new definition versions, oldest first (or newest first)."""
    first_at = sa.func.min(definition.c.deployed_at)
    order = first_at.desc() if newest_first else first_at.asc()
    with db.read() as conn:
        count = conn.execute(sa.select(sa.func.count(sa.distinct(definition.c.deployment_id)))).scalar_one()
        rows = conn.execute(sa.select(definition.c.deployment_id, first_at.label("deployed_at"),
                                      sa.func.min(definition.c.deployed_by).label("deployed_by"))
                            .group_by(definition.c.deployment_id).order_by(order, definition.c.deployment_id)
                            .limit(limit).offset(offset)).all()
        ids = [r.deployment_id for r in rows]
        members: dict[str, list[str]] = {}
        for row in conn.execute(sa.select(definition.c.deployment_id, definition.c.id)
                                .where(definition.c.deployment_id.in_(ids)).order_by(definition.c.id)):
            members.setdefault(row.deployment_id, []).append(row.id)
    return Page([DeploymentInfo(r.deployment_id, aware(r.deployed_at), r.deployed_by, members.get(r.deployment_id, []))
                 for r in rows], count)


def definition_diff(db: Database, *, definition_id: str, against_id: str) -> DefinitionDiff:
    """What changed from version `against_id` to version `definition_id` ("added": in `definition_id`).

    Raises: DefinitionNotFound for either id.
    """
    return compare(_deployed_side(db, against_id), _deployed_side(db, definition_id))


def diff_versions(db: Database | None, *, key: str, base: int | Sequence[Any], target: int | Sequence[Any]) -> \
        DefinitionDiff:
    """As `definition_diff`, where each side is a deployed version number of `key` or the files of a
    diagram not deployed yet (a .bpmn file and the .json forms it may name).

    Raises: DefinitionNotFound; Invalid when the files do not hold process `key`.
    """
    def side(which: int | Sequence[Any]) -> Side:
        if isinstance(which, int):
            if db is None:
                raise Invalid("a version number needs the database")
            return _deployed_side(db, f"{key}:{which}")
        return _file_side(key, which)
    return compare(side(base), side(target))


def _deployed_side(db: Database, definition_id: str) -> Side:
    with db.read() as conn:
        row = conn.execute(sa.select(definition.c.id, definition.c.key, definition.c.version, definition.c.xml,
                                     definition.c.forms, definition.c.resource_name)
                           .where(definition.c.id == definition_id)).one_or_none()
    if row is None:
        raise DefinitionNotFound(f"no process definition with id {definition_id}")
    model = read_diagram(etree.fromstring(row.xml.encode(), parser=SAFE_XML), row.resource_name)
    process = next(p for p in model.processes if p.id == row.key)
    # a definition keeps the forms of the processes it calls too: compare only its own
    return Side(VersionRef(row.id, row.key, row.version), process, forms_used(process, row.forms or {}))


def _file_side(key: str, files: Sequence[Any]) -> Side:
    """Process `key` from the diagram files given, with the forms (among the .json files) it names."""
    process, name = None, None
    for f in files:
        if f.name.lower().endswith(".json"):
            continue
        try:
            document = xml.read(f.content)
        except (xml.XmlRefused, etree.XMLSyntaxError) as exc:
            raise Invalid(f"{f.name}: {getattr(exc, 'message', None) or exc}") from exc
        found = [p for p in read_diagram(document.tree, f.name).processes if p.id == key]
        if found:
            process, name = found[0], f.name
    if process is None:
        raise Invalid(f"no process {key!r} in {', '.join(f.name for f in files)}")
    wanted = {form_key_of(k) for k in process.form_keys()}
    forms: dict[str, Any] = {}
    for f in files:
        if f.name.lower().endswith(".json") and form_key_of(f.name) in wanted:
            try:
                forms[form_key_of(f.name)] = orjson.loads(f.content)
            except orjson.JSONDecodeError as exc:
                raise Invalid(f"{f.name}: not valid JSON: {exc.msg}") from exc
    return Side(VersionRef(name or key, key, None), process, forms_used(process, forms))

