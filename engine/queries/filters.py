"""Filters on variables, in SQL: Camunda's `name_op_value` operators on the variable index.

Values from a query string are text; like Camunda, "true"/"false" also match booleans and numbers
also match numbers, so `approved_eq_true` finds `"approved": true` and `age_gt_7` compares numbers.
Each comparison is guarded by the value's JSON kind, so nothing is ever cast from the wrong kind.
The cases' variables are read from the variable index (tables.instance_variable), never from every
case's row: at 100,000 cases on SQLite that read took 40 s (each row's serialized state sits before
its variables); `json_clause`, the condition on the JSON column itself, remains for what the index
does not hold (the full text of long values, names longer than it keeps).
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from engine.errors import Invalid
from engine.results import VariableFilter
from engine.store.dialects import Dialect
from engine.store.tables import instance, instance_variable
from engine.store.variable_index import NAME_MAX, PREFIX

NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")        # a variable name a diagram can use
OPERATORS = ("eq", "neq", "gt", "gteq", "lt", "lteq", "like")
_COMPARE = {"gt": "__gt__", "gteq": "__ge__", "lt": "__lt__", "lteq": "__le__"}


def _as_number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                return None
    return None


def _as_boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def variable_clause(dialect: Dialect, key: Any, f: VariableFilter) -> Any:
    """The SQL condition for one filter: `key` (a column of instance ids) is a case whose variable
    matches. It reads the variable index (store.variable_index), never the cases' rows, but for the
    few texts longer than the index keeps (checked against instance.variables). Raises Invalid."""
    if not NAME.match(f.name):
        raise Invalid(f"variable name {f.name!r} in a filter must start with a letter and contain only letters, "
                      "digits and underscores")
    if f.op not in OPERATORS:
        raise Invalid(f"variable filter operator {f.op!r} is not one of {', '.join(OPERATORS)}")
    if len(f.name) > NAME_MAX:                           # not indexed: every case's row, as before the index
        return key.in_(sa.select(instance.c.id).where(json_clause(dialect, instance.c.variables, f)))
    matching = _matching(dialect, f)
    return sa.false() if matching is None else key.in_(matching)


def _matching(dialect: Dialect, f: VariableFilter) -> Any:
    """The ids of the cases whose variable matches, as one SELECT (None: no case can match).
    Each way a value can match (as text, as a number, as a boolean) is a condition on the index row,
    read from one range of the index; the ways are joined as the dialect answers fastest
    (Dialect.any_of_as_union; a variable has one kind, so no id repeats).
    `neq` is one pass over the variable's rows, keeping those no way matches."""
    number = _as_number(f.value)
    if f.op in ("eq", "neq"):
        if f.value is None:
            ways = [_v.kind == _known("null")]
        else:
            ways = _texts(dialect, f.name, "eq", f.value) if isinstance(f.value, str) else []
            if number is not None:
                ways.append(sa.and_(*_NUMBER, _v.number_value == _known(number)))
            if (boolean := _as_boolean(f.value)) is not None:
                ways.append(sa.and_(*_BOOLEAN, _v.number_value == _known(int(boolean))))
        if f.op == "neq":                                # the variable exists and is not equal
            return _rows(f.name, *([sa.not_(sa.func.coalesce(sa.or_(*ways), sa.false()))] if ways else []))
    elif f.op == "like":
        ways = _texts(dialect, f.name, "like", str(f.value))
    elif number is not None:
        ways = [sa.and_(*_NUMBER, getattr(_v.number_value, _COMPARE[f.op])(_known(number)))]
    else:
        ways = _texts(dialect, f.name, f.op, str(f.value))
    if not ways:
        return None
    if len(ways) == 1:
        return _rows(f.name, ways[0])
    if dialect.any_of_as_union:
        return sa.union_all(*[_rows(f.name, way) for way in ways])
    return sa.select(_v.instance_id).where(sa.or_(*[sa.and_(_v.name == _known(f.name), way) for way in ways]))


def _known(value: Any) -> Any:
    """A value the statement carries written out, not as a parameter: PostgreSQL then plans each
    filter for its own values. As parameters, psycopg prepares a statement run five times and
    PostgreSQL soon plans it once for any value (a generic plan): at 100,000 cases a filter that
    matches a quarter of them took 100-240 ms to answer, against 20 planned for its value."""
    return sa.bindparam(None, value, literal_execute=True)


_v = instance_variable.c
_checked = instance.alias("checked")                  # a case whose long text is checked in full
# what is always true of a number's or a boolean's row, said so that ix_instance_variable_lookup
# (name, kind, text_long, text_value, number_value, instance_id) reaches number_value in order
_NUMBER = (_v.kind == _known("number"), _v.text_long == sa.false(), _v.text_value.is_(None))
_BOOLEAN = (_v.kind == _known("boolean"), _v.text_long == sa.false(), _v.text_value.is_(None))
_TEXT = _v.kind == _known("text")


def _rows(name: str, *where: Any) -> sa.Select[Any]:
    return sa.select(_v.instance_id).where(_v.name == _known(name), *where)


def _texts(dialect: Dialect, name: str, op: str, value: str) -> list[Any]:
    """Conditions on index rows for texts that match: those the index holds whole, compared there;
    the longer ones (whose first PREFIX characters the index holds) checked in full against
    instance.variables — for equality, only those whose first characters are the value's."""

    def compare(column: Any) -> Any:
        known = _known(value)
        return column.like(known) if op == "like" else getattr(column, _COMPARE.get(op, "__eq__"))(known)

    full = sa.exists().where(_checked.c.id == _v.instance_id,
                             compare(dialect.json_field(_checked.c.variables, name).text))
    if op == "eq" and len(value) > PREFIX:
        return [sa.and_(_TEXT, _v.text_long == sa.true(), _v.text_value == _known(value[:PREFIX]), full)]
    short = sa.and_(_TEXT, _v.text_long == sa.false(), compare(_v.text_value))
    return [short] if op == "eq" else [short, sa.and_(_TEXT, _v.text_long == sa.true(), full)]


def json_clause(dialect: Dialect, column: Any, f: VariableFilter) -> Any:
    """The condition for one (valid) filter on a JSON object column itself: every row is read."""
    field = dialect.json_field(column, f.name)
    number, boolean = _as_number(f.value), _as_boolean(f.value)
    if f.op in ("eq", "neq"):
        if f.value is None:
            equal = field.is_null
        else:
            options = []
            if isinstance(f.value, str):
                options.append(field.text == f.value)
            if number is not None:
                options.append(field.number == number)
            if boolean is not None:
                options.append(field.boolean == boolean)
            equal = sa.or_(*options) if options else sa.false()
        return equal if f.op == "eq" else sa.and_(field.exists, sa.not_(sa.func.coalesce(equal, False)))
    if f.op == "like":
        return field.text.like(str(f.value))
    if number is not None:
        return getattr(field.number, _COMPARE[f.op])(number)
    return getattr(field.text, _COMPARE[f.op])(str(f.value))


def parse_query_filters(items: list[str]) -> list[VariableFilter]:
    """`name_op_value` items (Camunda's query-string syntax). Raises Invalid."""
    found = []
    for item in items:
        for op in OPERATORS:
            marker = f"_{op}_"
            if marker in item:
                name, value = item.split(marker, 1)
                found.append(VariableFilter(name, op, value))
                break
        else:
            raise Invalid(f"variable filter {item!r} must look like name_op_value, op one of {', '.join(OPERATORS)}")
    return found
