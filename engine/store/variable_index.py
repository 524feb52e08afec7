"""The variable index (tables.instance_variable), kept in step with instance.variables.

Every save writes the instance's variables (saving.save); in the same transaction it hands this
module the projection the row held before and the one it writes now, and only the names whose index
row changed are inserted, updated or deleted — a completion that sets one variable writes one row.
Filters on variables (queries.filters) then read the index, never every case's row.

A row holds a value's kind — text, number, boolean, null, or other (lists and objects: filters ask
only whether they exist) — and the value: a text in `text_value`, cut to its first PREFIX characters
when longer (`text_long`: filters recheck those few against instance.variables), a number in
`number_value`, a boolean as 1 or 0 there. Names longer than NAME_MAX are not indexed: filters on
them read instance.variables as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from engine.store.dialects import Dialect
from engine.store.tables import instance_variable

PREFIX = 200                    # the characters of a text kept in the index (tables.instance_variable)
NAME_MAX = 255
_INT64 = 2 ** 63                # SQLite's integers; orjson writes up to 2**64 - 1

_insert = instance_variable.insert()
_update = instance_variable.update().where(instance_variable.c.instance_id == sa.bindparam("b_instance_id"),
                                           instance_variable.c.name == sa.bindparam("b_name"))
_delete = instance_variable.delete().where(instance_variable.c.instance_id == sa.bindparam("b_instance_id"),
                                           instance_variable.c.name == sa.bindparam("b_name"))


def index_values(value: Any) -> dict[str, Any]:
    """The index row's columns for one variable's value (a plain JSON value), but its ids."""
    kind: str = "other"
    text: str | None = None
    number: int | float | None = None
    if value is None:
        kind = "null"
    elif isinstance(value, bool):
        kind, number = "boolean", int(value)
    elif isinstance(value, int):
        kind, number = "number", value if -_INT64 <= value < _INT64 else float(value)
    elif isinstance(value, float):
        kind, number = "number", value
    elif isinstance(value, str):
        kind, text = "text", value[:PREFIX]
    return {"kind": kind, "text_value": text, "text_long": isinstance(value, str) and len(value) > PREFIX,
            "number_value": number}


def rows(instance_id: str, variables: Mapping[str, Any]) -> list[dict[str, Any]]:
    """All index rows of one instance's variables (a new case; bench.scale's copies)."""
    return [{"instance_id": instance_id, "name": name, **index_values(value)}
            for name, value in variables.items() if len(name) <= NAME_MAX]


def write(dialect: Dialect, conn: sa.Connection, instance_id: str, before: Mapping[str, Any],
          after: Mapping[str, Any]) -> None:
    """Bring the instance's index rows from `before` (the variables its row held) to `after` (the
    ones written now): insert, update and delete only the names whose row changed."""
    if after is before:                                   # a cancellation keeps the variables
        return
    if not before:
        if new := rows(instance_id, after):
            dialect.execute(conn, _insert, new)
        return
    inserted, updated = [], []
    for name, value in after.items():
        if len(name) > NAME_MAX:
            continue
        if name not in before:
            inserted.append({"instance_id": instance_id, "name": name, **index_values(value)})
            continue
        old = before[name]
        if type(old) is type(value) and (old == value or isinstance(value, list | dict)):
            continue                                      # the same row (lists and objects are only "other")
        values = index_values(value)
        if values != index_values(old):
            updated.append({"b_instance_id": instance_id, "b_name": name, **values})
    if inserted:
        dialect.execute(conn, _insert, inserted)
    if updated:
        dialect.execute(conn, _update, updated)
    if gone := _gone(before, after):
        dialect.execute(conn, _delete, [{"b_instance_id": instance_id, "b_name": name} for name in gone])


def _gone(before: Mapping[str, Any], after: Mapping[str, Any]) -> Iterable[str]:
    return [name for name in before if name not in after and len(name) <= NAME_MAX]
