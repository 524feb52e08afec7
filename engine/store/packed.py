"""A task's candidate groups and users are kept packed in one text column, `,a,b,`
(projection.pack), and found by name with `holds_any`.

* SQLite: `LIKE '%,a,%'`, a scan of the open tasks (measured at 21,665 open tasks, 100,000 cases:
  cheap enough, docs/operations).
* PostgreSQL: the column read as an array, `string_to_array(column, ',') && ARRAY[names]`, which a
  GIN index on that same expression answers (tables.py), with statistics on the names it holds — a
  group's page and count read that group's tasks, not every open task, and the planner knows how many
  there are. The separator is written into the SQL, never bound: a bound one would not match the
  index's expression in a prepared statement's generic plan.

An agency lead sees their groups' tasks of their organisation or of none: `holds_any_at`, which on
PostgreSQL asks a GIN index of each name joined to its task's organisation (at_organisation).

Either way a name matches only whole: `panel` is not `panel-chair`, `%` and `_` are plain letters."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.visitors import InternalTraversal

SEPARATOR = ","
_SEP: Any = sa.literal_column(f"'{SEPARATOR}'")   # in the SQL itself, never bound (above)
_UNIT: Any = sa.literal_column("chr(31)")          # U+001F, between a name and its task's organisation


def as_array(column: Any) -> Any:
    """The packed column as PostgreSQL's text[] (the expression the GIN indexes hold)."""
    return sa.func.string_to_array(column, _SEP, type_=postgresql.ARRAY(sa.Text))


def at_organisation(column: Any, organisation: Any) -> Any:
    """PostgreSQL: each name of the packed column joined to the task's organisation by U+001F,
    name, U+001F, organisation (nothing after U+001F for a task of no organisation), as text[] (the
    expression a GIN index holds). An agency lead's groups at their organisation or none then have statistics of their
    own: taken apart, the planner multiplies the groups' share by the organisations' and expects
    thousands of tasks for a lead whose organisation has none. No name or organisation a principal
    holds has a control character (commands.instances.check_text), so the joined pair is unambiguous."""
    joined = sa.func.replace(column, _SEP, _UNIT.op("||")(sa.func.coalesce(organisation, sa.literal_column("''")))
                             .op("||")(_SEP))
    return sa.func.string_to_array(joined, _SEP, type_=postgresql.ARRAY(sa.Text))


class HoldsAny(sa.sql.expression.ColumnElement[bool]):
    """A condition compiled for the database it runs on: `by_like` on SQLite, `by_overlap` on
    PostgreSQL. Both are built once, so the statement cache keys on them like on any clause."""

    inherit_cache = True
    type = sa.Boolean()
    _traverse_internals = [("by_like", InternalTraversal.dp_clauseelement),
                           ("by_overlap", InternalTraversal.dp_clauseelement)]

    def __init__(self, by_like: Any, by_overlap: Any) -> None:
        self.by_like, self.by_overlap = by_like, by_overlap


@compiles(HoldsAny)
def _holds_any_like(element: HoldsAny, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.by_like, **kw))


@compiles(HoldsAny, "postgresql")
def _holds_any_array(element: HoldsAny, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.by_overlap, **kw))


def _like_any(column: Any, names: list[str]) -> Any:
    return sa.or_(sa.false(), *[column.contains(f"{SEPARATOR}{n}{SEPARATOR}", autoescape=True) for n in names])


def _text_array(values: list[str]) -> Any:
    return sa.bindparam(None, values, type_=postgresql.ARRAY(sa.Text))


def holds_any(column: Any, names: Iterable[str]) -> HoldsAny:
    """The condition that the packed `column` (candidate groups or users) names one of `names`
    (none: false)."""
    names = sorted(set(names))
    return HoldsAny(_like_any(column, names), as_array(column).overlap(_text_array(names)))


def holds_any_at(column: Any, organisation_column: Any, names: Iterable[str], organisation: str) -> HoldsAny:
    """The condition that the packed `column` names one of `names` and the task belongs to
    `organisation` or to none (on PostgreSQL through at_organisation's index)."""
    names = sorted(set(names))
    same = sa.or_(organisation_column.is_(None), organisation_column == organisation)
    joined = [f"{n}\x1f{o}" for n in names for o in (organisation, "")]
    return HoldsAny(sa.and_(_like_any(column, names), same),
                    at_organisation(column, organisation_column).overlap(_text_array(joined)))
