"""The command path's hot statements on SQLite, without SQLAlchemy's per-execution machinery.

SQLAlchemy still compiles each statement (once per statement and set of parameter names) and each
value still goes through the column type's own processors (dates, JSON), both ways: the same SQL and
the same values as `conn.execute`, on the same DBAPI connection and so in the same transaction.
What is skipped is the execution context SQLAlchemy builds around every call, about a fifth of a
command's time (bench.engine). Other dialects go through `conn.execute` unchanged.

Statements must be built once, at import: each one is a cache key, kept for the process's life.
"""

from __future__ import annotations

import threading
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.dml import UpdateBase

Params = Mapping[str, Any]


@dataclass(frozen=True)
class _Plan:
    sql: str
    values: tuple[Callable[[Params], Any], ...]     # one per placeholder, in order: params -> DBAPI value
    row: Callable[[tuple[Any, ...]], Any] | None    # SELECT: DBAPI row -> row with named, converted columns

    def bind(self, params: Params) -> tuple[Any, ...]:
        return tuple(value(params) for value in self.values)


_plans: dict[tuple[sa.Executable, tuple[str, ...]], _Plan] = {}
_lock = threading.Lock()


def execute(conn: sa.Connection, statement: UpdateBase, rows: Params | Sequence[Params]) -> int:
    """Run an INSERT, UPDATE or DELETE with one row of parameters or several with the same names;
    the number of rows it touched (for a batch of inserts PostgreSQL's driver may answer -1)."""
    many = not isinstance(rows, Mapping)
    if conn.dialect.name != "sqlite":
        return conn.execute(statement, list(rows) if many else rows).rowcount  # type: ignore[arg-type]  # SQLAlchemy's stubs want dicts, not Mappings
    batch: Sequence[Params] = rows if many else [rows]  # type: ignore[assignment, list-item]  # `many` tells the two shapes apart
    plan = _plan(conn.dialect, statement, tuple(batch[0]))
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]  # open: the caller holds a transaction
    try:
        if len(batch) == 1:
            cursor.execute(plan.sql, plan.bind(batch[0]))
        else:
            cursor.executemany(plan.sql, [plan.bind(row) for row in batch])
        count: int = cursor.rowcount
        return count
    except conn.dialect.dbapi.Error as exc:  # type: ignore[union-attr]  # the dialect's DBAPI module
        raise _translated(exc, plan.sql, conn.dialect) from exc
    finally:
        cursor.close()


def first(conn: sa.Connection, statement: sa.Select[Any], params: Params) -> Any:
    """The first row of a SELECT, or None; its columns by name, as `conn.execute(...).first()`."""
    if conn.dialect.name != "sqlite":
        return conn.execute(statement, params).first()
    return first_on_driver(conn.connection.driver_connection, conn.dialect, statement, params)


def first_on_driver(driver_connection: Any, dialect: sa.Dialect, statement: sa.Select[Any], params: Params) -> Any:
    """`first` on an SQLite DBAPI connection of `dialect` (a single statement outside a transaction
    reads one consistent snapshot)."""
    plan = _plan(dialect, statement, tuple(params))
    cursor = driver_connection.cursor()
    try:
        cursor.execute(plan.sql, plan.bind(params))
        raw = cursor.fetchone()
    except dialect.dbapi.Error as exc:  # type: ignore[union-attr]  # the dialect's DBAPI module
        raise _translated(exc, plan.sql, dialect) from exc
    finally:
        cursor.close()
    return None if raw is None else plan.row(raw)  # type: ignore[misc]  # a Row built from a tuple, as SQLAlchemy's result does


def _translated(exc: Exception, sql: str, dialect: sa.Dialect) -> Exception:
    """The DBAPI error as SQLAlchemy would raise it (conn.execute and the fast path raise alike)."""
    return sa.exc.DBAPIError.instance(sql, None, exc, dialect.dbapi.Error)  # type: ignore[union-attr]  # a connected dialect has its DBAPI module


def _plan(dialect: sa.Dialect, statement: sa.Executable, names: tuple[str, ...]) -> _Plan:
    plan = _plans.get((statement, names))
    if plan is None:
        plan = _compile(dialect, statement, names)
        with _lock:
            _plans[(statement, names)] = plan
    return plan


def _compile(dialect: sa.Dialect, statement: Any, names: tuple[str, ...]) -> _Plan:
    is_select = isinstance(statement, sa.Select)
    compiled = statement.compile(dialect=dialect, column_keys=None if is_select else list(names))
    values: list[Callable[[Params], Any]] = []
    for position in compiled.positiontup or ():
        bind = compiled.binds[position]
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if position in names:
            values.append(_from_params(position, process))
        elif not bind.required:                        # a constant of the statement, such as LIMIT 1
            constant = process(bind.effective_value) if process else bind.effective_value
            values.append(_constant(constant))
        else:
            raise KeyError(f"no value for {position} in {statement}")
    row = None
    if is_select:
        columns = list(statement.selected_columns)
        processors = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]
        row_type = namedtuple("Row", [c.key for c in columns])  # type: ignore[misc]  # noqa: PYI024

        def row(raw: tuple[Any, ...]) -> Any:
            return row_type._make(v if p is None or v is None else p(v) for v, p in zip(raw, processors, strict=True))
    return _Plan(str(compiled), tuple(values), row)


def _constant(value: Any) -> Callable[[Params], Any]:
    return lambda _params: value


def _from_params(name: str, process: Callable[[Any], Any] | None) -> Callable[[Params], Any]:
    if process is None:
        return lambda params: params[name]
    return lambda params: process(params[name])
