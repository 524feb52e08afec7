"""The database handle the engine is given: an SQLAlchemy engine and the dialect that knows its ways."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import orjson
import sqlalchemy as sa

from engine.errors import Invalid, Unavailable
from engine.store.dialects import Dialect, open_dialect

#: what a database that cannot be reached, is locked by another process, is full or went away raises
_UNREACHABLE = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.DisconnectionError)


def normalize_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs that name no driver."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _refused_data(exc: sa.exc.DataError) -> Invalid:
    """A value the database cannot hold (a NUL character in text, a number out of range): the
    caller's input, so a 400 — without quoting the value."""
    what = "text with a NUL character" if "NUL" in str(exc.orig) else "a value out of range for its column"
    return Invalid(f"the request holds {what}, which cannot be stored or searched for")


class Database:
    """One database. Writes go through `write()`: one transaction per command; the dialect decides
    how writers take turns (see store.dialects)."""

    def __init__(self, url: str, *, sqlite_synchronous: str = "FULL", busy_timeout_ms: int = 5000,
                 pool_size: int = 10, connect_args: dict[str, Any] | None = None,
                 organisation_variable: str | None = "agency", audit_fast: bool = False) -> None:
        self.url = normalize_url(url)
        self.organisation_variable = organisation_variable     # task variable naming whose request it is
        self.audit_fast = audit_fast                           # read entries need not wait for the disk
        self.private_data: tuple[Any, ...] = ()                # queries.private_data.PrivateData, set by the app
        kwargs: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}
        if self.url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, **(connect_args or {})}
        else:
            kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True,
                          connect_args=connect_args or {})
        self.engine = sa.create_engine(self.url, **kwargs)
        self.dialect: Dialect = open_dialect(self.engine, self.url, sqlite_synchronous=sqlite_synchronous,
                                             busy_timeout_ms=busy_timeout_ms)
        from engine.store.signals import Signals  # noqa: PLC0415
        from engine.store.specs import SpecCache  # noqa: PLC0415 - the cache needs this class
        self.specs = SpecCache(self)
        self.signals = Signals(self.dialect.listen_url)

    @contextmanager
    def write(self, *, relaxed: bool = False) -> Iterator[sa.Connection]:
        """One write transaction: commits on exit, rolls back on any exception. Raises Unavailable
        when the database cannot be reached or goes away."""
        committing = False
        try:
            with self.dialect.write(relaxed=relaxed) as conn:
                yield conn
                committing = True
        except _UNREACHABLE as exc:
            raise Unavailable("the database went away while committing: the outcome is unknown; retry with the "
                              "same Idempotency-Key to find out" if committing else
                              "the database is unavailable; nothing was changed; try again shortly") from exc
        except sa.exc.DataError as exc:
            raise _refused_data(exc) from exc

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A read-only connection (a consistent snapshot on SQLite WAL and PostgreSQL). Raises
        Unavailable."""
        try:
            with self.dialect.read() as conn:
                yield conn
        except _UNREACHABLE as exc:
            raise Unavailable("the database is unavailable; try again shortly") from exc
        except sa.exc.DataError as exc:
            raise _refused_data(exc) from exc

    def read_one(self, statement: sa.Select[Any], params: Mapping[str, Any]) -> Any:
        """The first row of one SELECT built at import, or None (lookups made on every request).
        Raises Unavailable."""
        try:
            return self.dialect.read_one(statement, params)
        except _UNREACHABLE as exc:
            raise Unavailable("the database is unavailable; try again shortly") from exc
        except sa.exc.DataError as exc:
            raise _refused_data(exc) from exc

    def ping(self) -> bool:
        try:
            with self.read() as conn:
                conn.execute(sa.text("SELECT 1"))
            return True
        except (sa.exc.SQLAlchemyError, Unavailable):
            return False

    def dispose(self) -> None:
        self.signals.close()
        self.dialect.close()
        self.engine.dispose()
