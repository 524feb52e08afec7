"""Filters on variables, in SQL: Camunda's `name_op_value` operators on a JSON column.

Values from a query string are text; like Camunda, "true"/"false" also match booleans and numbers
also match numbers, so `approved_eq_true` finds `"approved": true` and `age_gt_7` compares numbers.
Each comparison is guarded by the value's JSON kind, so nothing is ever cast from the wrong kind.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from engine.errors import Invalid
from engine.results import VariableFilter
from engine.store.dialects import Dialect

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


def variable_clause(dialect: Dialect, column: Any, f: VariableFilter) -> Any:
    """The SQL condition for one filter on a JSON object column. Raises Invalid."""
    if not NAME.match(f.name):
        raise Invalid(f"variable name {f.name!r} in a filter must start with a letter and contain only letters, "
                      "digits and underscores")
    if f.op not in OPERATORS:
        raise Invalid(f"variable filter operator {f.op!r} is not one of {', '.join(OPERATORS)}")
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
