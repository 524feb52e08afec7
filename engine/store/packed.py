"""A task's candidate groups and users are kept packed in one text column, `,a,b,`
(projection.pack), and found by name with `holds_any`.

* SQLite: `LIKE '%,a,%'`, a scan of the open tasks (measured at 21,665 open tasks, 100,000 cases:
  cheap enough, docs/operations).
* PostgreSQL: the column read as an array, `string_to_array(column, ',') && ARRAY[names]`, which a
  GIN index on that same expression answers (tables.py), with statistics on the names it holds — a
  group's page and count read that group's tasks, not every open task, and the planner knows how many
  there are. The separator is written into the SQL, never bound: a bound one would not match the
  index's expression in a prepared statement's generic plan.

Either way a name matches only whole: `panel` is not `panel-chair`, `%` and `_` are plain letters."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.visitors import InternalTraversal

SEPARATOR = ","


def as_array(column: Any) -> Any:
    """The packed column as PostgreSQL's text[] (the expression the GIN indexes hold)."""
    return sa.func.string_to_array(column, sa.literal_column(f"'{SEPARATOR}'"), type_=postgresql.ARRAY(sa.Text))


class HoldsAny(sa.sql.expression.ColumnElement[bool]):
    """True where the packed `column` names one of `names` (none: false). Compiled for the database
    it runs on; both forms are built once, so the statement cache keys on them like any clause."""

    inherit_cache = True
    type = sa.Boolean()
    _traverse_internals = [("by_like", InternalTraversal.dp_clauseelement),
                           ("by_overlap", InternalTraversal.dp_clauseelement)]

    def __init__(self, column: Any, names: Iterable[str]) -> None:
        names = sorted(set(names))
        self.by_like = sa.or_(sa.false(), *[column.contains(f"{SEPARATOR}{n}{SEPARATOR}", autoescape=True)
                                         for n in names])
        self.by_overlap = as_array(column).overlap(sa.bindparam(None, names, type_=postgresql.ARRAY(sa.Text)))


@compiles(HoldsAny)
def _holds_any_like(element: HoldsAny, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.by_like, **kw))


@compiles(HoldsAny, "postgresql")
def _holds_any_array(element: HoldsAny, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.by_overlap, **kw))


def holds_any(column: Any, names: Iterable[str]) -> HoldsAny:
    """The condition that the packed `column` (candidate groups or users) names one of `names`."""
    return HoldsAny(column, names)
