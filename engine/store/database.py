"""The database handle the engine is given: an SQLAlchemy engine plus the write discipline per dialect."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from typing import Any, Protocol

import orjson
import sqlalchemy as sa
from sqlalchemy import event

from engine.store import fast


def normalize_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs that name no driver."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


class TransactionNote(Protocol):
    """Something to write inside the next write transaction of this context (SQLite only), such as
    the audit entry of the request that makes the change. `instance_id` is filled in by the command
    path when the note does not know it yet."""

    instance_id: str | None

    def write(self, conn: sa.Connection, db: Database) -> Callable[[], None] | None:
        """Write the note's rows on `conn`; return what to do once they are committed (still under
        the writer lock), or None when there is nothing (left) to write."""


_note: ContextVar[TransactionNote | None] = ContextVar("rf_transaction_note", default=None)


@contextmanager
def note_next_write(note: TransactionNote) -> Iterator[TransactionNote]:
    """Within this block (and what it awaits or calls), the next SQLite write transaction that
    commits also writes `note`."""
    token = _note.set(note)
    try:
        yield note
    finally:
        _note.reset(token)


def pending_note() -> TransactionNote | None:
    return _note.get()


class Database:
    """One database. Writes go through `write()`: one transaction per command.

    SQLite: writers are serialized in-process by a lock and start with BEGIN IMMEDIATE, so SQLite's
    busy timeout only arbitrates between processes. WAL mode; `synchronous=FULL` unless the operator
    chooses NORMAL. PostgreSQL: no process-wide lock; instance rows are locked with SELECT … FOR UPDATE.
    """

    def __init__(self, url: str, *, sqlite_synchronous: str = "FULL", busy_timeout_ms: int = 5000,
                 pool_size: int = 10, connect_args: dict[str, Any] | None = None,
                 organisation_variable: str | None = "agency", audit_fast: bool = False) -> None:
        self.url = normalize_url(url)
        self.organisation_variable = organisation_variable     # task variable naming whose request it is
        self.audit_fast = audit_fast                           # audit commits need not wait for the disk
        self.audit_head: str | None = None                     # SQLite: the newest audit hash, once known
        kwargs: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}
        self.is_sqlite = self.url.startswith("sqlite")
        if self.is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, **(connect_args or {})}
        else:
            kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True,
                          connect_args=connect_args or {})
        self.engine = sa.create_engine(self.url, **kwargs)
        self._write_lock: threading.Lock | None = threading.Lock() if self.is_sqlite else None
        self._busy_timeout_ms = busy_timeout_ms
        self._relaxed_engine: sa.Engine | None = None
        self._writers: dict[int, sa.Connection] = {}           # SQLite: one open connection per engine
        self._quick_reader: Any = None                          # SQLite: a DBAPI connection for read_one
        self._quick_lock = threading.Lock()
        if self.is_sqlite:
            self._configure_sqlite(self.engine, sqlite_synchronous.upper(), busy_timeout_ms)
        from engine.store.signals import Signals  # noqa: PLC0415
        from engine.store.specs import SpecCache  # noqa: PLC0415 - the cache needs this class
        self.specs = SpecCache(self)
        self.signals = Signals(None if self.is_sqlite else self.url)

    @staticmethod
    def _configure_sqlite(engine: sa.Engine, synchronous: str, busy_timeout_ms: int) -> None:
        if synchronous not in {"FULL", "NORMAL", "EXTRA"}:
            raise ValueError(f"sqlite synchronous must be FULL, NORMAL or EXTRA, not {synchronous!r}")

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None          # we issue BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={synchronous}")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: sa.Connection) -> None:
            write = conn.get_execution_options().get("rf_write", False)
            conn.connection.driver_connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")  # type: ignore[union-attr]

    @contextmanager
    def write(self, *, carry_note: bool = True) -> Iterator[sa.Connection]:
        """One write transaction: commits on exit, rolls back on any exception. On SQLite it also
        writes the pending note of this context (see note_next_write), unless `carry_note` is false."""
        if self._write_lock is None:
            with self.engine.connect() as conn, conn.begin():
                yield conn
            return
        with self._write_lock:
            with self._writer_transaction(self.engine) as conn:
                yield conn
                note = _note.get() if carry_note else None
                committed = note.write(conn, self) if note is not None else None
            if committed is not None:
                committed()

    @contextmanager
    def _writer_transaction(self, engine: sa.Engine) -> Iterator[sa.Connection]:
        """SQLite, under the writer lock: a transaction on the one connection kept open for writing
        (no pool check-out, reset and check-in per command). A connection left unusable by a failure
        is closed and replaced on the next write."""
        conn = self._writers.get(id(engine))
        if conn is None or conn.closed or conn.invalidated:
            conn = self._writers[id(engine)] = engine.connect().execution_options(rf_write=True)
        try:
            with conn.begin():
                yield conn
        except BaseException:
            if conn.invalidated or conn.in_transaction():
                self._writers.pop(id(engine), None)
                conn.close()
            raise

    @contextmanager
    def write_relaxed(self) -> Iterator[sa.Connection]:
        """A write transaction whose commit need not wait for the disk (used for the audit trail when
        the operator chose so): on SQLite a second connection pool with synchronous=NORMAL, under the
        same writer lock; on PostgreSQL synchronous_commit=off for this transaction."""
        if not self.is_sqlite:
            with self.write() as conn:
                conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
                yield conn
            return
        if self._relaxed_engine is None:
            self._relaxed_engine = sa.create_engine(self.url, connect_args={"check_same_thread": False})
            self._configure_sqlite(self._relaxed_engine, "NORMAL", self._busy_timeout_ms)
        with self._write_lock or nullcontext(), self._writer_transaction(self._relaxed_engine) as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A read-only connection (a consistent snapshot on SQLite WAL and PostgreSQL)."""
        with self.engine.connect() as conn:
            with conn.begin():
                yield conn

    def read_one(self, statement: sa.Select[Any], params: dict[str, Any]) -> Any:
        """The first row of one SELECT built at import, or None — for lookups made on every request
        (API keys). SQLite: on a connection kept open for them, outside any transaction (one
        statement reads one snapshot), without SQLAlchemy's per-call machinery (see store.fast)."""
        if not self.is_sqlite:
            with self.read() as conn:
                return conn.execute(statement, params).first()
        with self._quick_lock:
            if self._quick_reader is None:
                self._quick_reader = self.engine.raw_connection()     # autocommit: see _configure_sqlite
            return fast.first_on_driver(self._quick_reader.driver_connection, self.engine.dialect, statement, params)

    def ping(self) -> bool:
        try:
            with self.read() as conn:
                conn.execute(sa.text("SELECT 1"))
            return True
        except sa.exc.SQLAlchemyError:
            return False

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.signals.close()
        with self._quick_lock:
            if self._quick_reader is not None:
                self._quick_reader.close()
                self._quick_reader = None
        with self._write_lock or nullcontext():
            for conn in self._writers.values():
                conn.close()
            self._writers.clear()
        self.engine.dispose()
        if self._relaxed_engine is not None:
            self._relaxed_engine.dispose()
