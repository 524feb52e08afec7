"""What differs between SQLite and PostgreSQL, in one object per dialect (as Prefect's query components).

Nothing outside this module asks which database it runs on: the rest of the engine asks the
`Dialect` the database was opened with. A third database would be one more class here.

* SQLite: one writer at a time, serialized in this process by a lock (then `BEGIN IMMEDIATE`, so
  SQLite's busy timeout only arbitrates between processes), on one connection kept open for
  writing; WAL; `synchronous=FULL` unless the operator chooses NORMAL. The hot statements run on
  the DBAPI cursor (store.fast). Whatever is read under the writer lock cannot go stale before the
  commit, so the open task and its instance are read in one statement. The newest audit entry is
  read inside each write transaction, never kept in memory: another process (the CLI, a second
  server during a restart) may have appended since.
* PostgreSQL: no process-wide lock; instance rows are locked with `SELECT … FOR UPDATE`, task rows
  a fetch hands out with `FOR UPDATE SKIP LOCKED`; the audit chain takes an advisory transaction
  lock just before the commit; other processes are woken by LISTEN/NOTIFY.
"""

from __future__ import annotations

import fcntl
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from engine.store import fast
from engine.store.tables import external_task, incident, instance, user_task

Params = Mapping[str, Any]

INSTANCE_COLUMNS = (instance.c.id, instance.c.definition_id, instance.c.definition_key, instance.c.business_key,
                    instance.c.status, instance.c.state, instance.c.state_format, instance.c.version,
                    instance.c.variables, instance.c.started_at, instance.c.started_by, instance.c.next_timer_at,
                    instance.c.suspended)
_has_incidents = sa.exists().where(incident.c.instance_id == instance.c.id,
                                   incident.c.resolved_at.is_(None)).label("has_incidents")
_instance = sa.select(*INSTANCE_COLUMNS).where(instance.c.id == sa.bindparam("id"))
_instance_with_incidents = sa.select(*INSTANCE_COLUMNS, _has_incidents).where(instance.c.id == sa.bindparam("id"))
_TASK_COLUMNS = {"user": (user_task.c.instance_id, user_task.c.assignee),
                 "external": (external_task.c.instance_id, external_task.c.worker_id, external_task.c.lock_owner,
                              external_task.c.lock_expires_at, external_task.c.activity_id, external_task.c.topic)}
_TASK_TABLE = {"user": user_task, "external": external_task}
_task_and_instance = {kind: sa.select(*INSTANCE_COLUMNS, _has_incidents, *columns)
                      .join_from(_TASK_TABLE[kind], instance, instance.c.id == _TASK_TABLE[kind].c.instance_id)
                      .where(_TASK_TABLE[kind].c.id == sa.bindparam("id"))
                      for kind, columns in _TASK_COLUMNS.items()}
_task_row = {kind: sa.select(*columns).where(_TASK_TABLE[kind].c.id == sa.bindparam("id"))
             for kind, columns in _TASK_COLUMNS.items()}
_PG_AUDIT_LOCK = 0x52464155          # "RFAU": audit appends take turns


@dataclass(frozen=True)
class JsonField:
    """One key of a JSON column, as SQL: whether it holds a number, text or a boolean, and its value
    as each (NULL where it is not that kind), so comparisons never cast the wrong kind."""

    exists: Any
    is_null: Any
    is_number: Any
    is_text: Any
    is_boolean: Any
    number: Any
    text: Any
    boolean: Any
_PG_MIGRATION_LOCK = 0x52464D47      # "RFMG": one schema migration at a time


class Dialect:
    """The operations whose SQL or discipline differs between databases."""

    name = "base"
    #: whether reading the instance row also tells whether it has open incidents
    reads_incidents_with_row = False
    #: a row matching any of several conditions, each served by its own index range, is asked
    #: as a UNION ALL of one SELECT per condition (SQLite: its MULTI-INDEX OR dedupes through a
    #: temporary table, 20 times slower at 25,000 rows), not as one SELECT with OR (PostgreSQL:
    #: a union keeps its planner from walking a list's sort index and probing each row instead)
    any_of_as_union = False

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    # -- transactions ----------------------------------------------------------------------------
    @contextmanager
    def write(self, *, relaxed: bool = False) -> Iterator[sa.Connection]:
        """One write transaction: commits on exit, rolls back on any exception. `relaxed`: its
        commit need not wait for the disk (the audit entries of reads, when the operator chose so)."""
        with self.engine.connect() as conn, conn.begin():
            if relaxed:
                conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
            yield conn

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A read-only transaction (a consistent snapshot)."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    # -- locking ---------------------------------------------------------------------------------
    def lock_instance(self, conn: sa.Connection, instance_id: str, *, skip_locked: bool = False) -> Any:
        """The instance row, locked against other writers; None if there is none. Raises RowLocked
        when `skip_locked` and another transaction holds it."""
        raise NotImplementedError

    def task_with_instance(self, conn: sa.Connection, task_id: str, kind: str) -> Any:
        """The open task's row joined with its locked instance row in one statement, where the
        dialect can (None otherwise, or when the task has no row)."""
        return None

    def task_row(self, conn: sa.Connection, task_id: str, kind: str, *, lock: bool = False) -> Any:
        """The task's projection row (instance id, holder…), locked when `lock`; None if gone."""
        return conn.execute(_task_row[kind], {"id": task_id}).first()

    def for_update(self, query: sa.Select[Any], *, skip_locked: bool = False, of: Any = None) -> sa.Select[Any]:
        """`query` locking the rows it selects, where the database locks rows."""
        return query

    def json_field(self, column: Any, name: str) -> JsonField:
        """The key `name` (a variable name: letters, digits, underscores) of a JSON object column."""
        raise NotImplementedError

    def lock_audit_chain(self, conn: sa.Connection) -> None:
        """Make audit appends take turns until this transaction ends."""

    @contextmanager
    def migration_lock(self, conn: sa.Connection) -> Iterator[None]:
        """Make schema migrations take turns (several servers starting at once)."""
        yield

    # -- statements ------------------------------------------------------------------------------
    def execute(self, conn: sa.Connection, statement: Any, rows: Params | Sequence[Params]) -> int:
        """An INSERT, UPDATE or DELETE with one row of parameters or several; rows touched."""
        many = not isinstance(rows, Mapping)
        return conn.execute(statement, list(rows) if many else rows).rowcount  # type: ignore[arg-type]  # SQLAlchemy's stubs want a list of dicts, not Mappings

    def first(self, conn: sa.Connection, statement: sa.Select[Any], params: Params) -> Any:
        return conn.execute(statement, params).first()

    def read_one(self, statement: sa.Select[Any], params: Params) -> Any:
        """The first row of one SELECT built at import, outside any transaction of the caller's
        (lookups made on every request: API keys)."""
        with self.read() as conn:
            return conn.execute(statement, params).first()

    # -- wake-ups --------------------------------------------------------------------------------
    def notify(self, conn: sa.Connection, channel: str, payloads: Iterable[str]) -> None:
        """Tell other processes, at commit (a no-op where they cannot listen)."""

    @property
    def listen_url(self) -> str | None:
        """Where other processes' notifications can be heard, if anywhere."""
        return None

    def close(self) -> None:
        """Release what the dialect keeps open."""


class RowLocked(Exception):
    """skip_locked: another transaction holds the instance; nothing was done."""


class SQLiteDialect(Dialect):
    name = "sqlite"
    reads_incidents_with_row = True
    any_of_as_union = True

    def __init__(self, engine: sa.Engine, *, synchronous: str = "FULL", busy_timeout_ms: int = 5000) -> None:
        super().__init__(engine)
        synchronous = synchronous.upper()
        if synchronous not in {"FULL", "NORMAL", "EXTRA"}:
            raise ValueError(f"sqlite synchronous must be FULL, NORMAL or EXTRA, not {synchronous!r}")
        self._configure(engine, synchronous, busy_timeout_ms)
        self._busy_timeout_ms = busy_timeout_ms
        self._relaxed_engine: sa.Engine | None = None         # synchronous=NORMAL, for relaxed writes
        self._write_lock = threading.Lock()
        self._writers: dict[int, sa.Connection] = {}          # kept open: no pool check-out per command
        self._quick_reader: Any = None                        # a DBAPI connection for read_one
        self._quick_lock = threading.Lock()

    @staticmethod
    def _configure(engine: sa.Engine, synchronous: str, busy_timeout_ms: int) -> None:
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
            statement = "BEGIN IMMEDIATE" if write else "BEGIN"
            try:
                conn.connection.driver_connection.execute(statement)  # type: ignore[union-attr]  # the pooled connection is open inside the begin event
            except sqlite3.Error as exc:             # as SQLAlchemy raises errors of statements it runs
                raise sa.exc.DBAPIError.instance(statement, None, exc, sqlite3.Error) from exc

    @contextmanager
    def write(self, *, relaxed: bool = False) -> Iterator[sa.Connection]:
        """Under the writer lock, a transaction on the one connection kept open for writing (a
        second one, with synchronous=NORMAL, when `relaxed`). A connection left unusable by a
        failure is closed and replaced on the next write."""
        engine = self._relaxed() if relaxed else self.engine
        with self._write_lock:
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

    def _relaxed(self) -> sa.Engine:
        if self._relaxed_engine is None:
            self._relaxed_engine = sa.create_engine(self.engine.url, connect_args={"check_same_thread": False})
            self._configure(self._relaxed_engine, "NORMAL", self._busy_timeout_ms)
        return self._relaxed_engine

    def lock_instance(self, conn: sa.Connection, instance_id: str, *, skip_locked: bool = False) -> Any:
        return fast.first(conn, _instance_with_incidents, {"id": instance_id})     # the writer lock is held

    @contextmanager
    def migration_lock(self, conn: sa.Connection) -> Iterator[None]:
        """A lock file beside the database: SQLite runs each migration statement on its own, so two
        processes migrating at once would both find the schema missing."""
        database = self.engine.url.database
        if not database or database == ":memory:":
            yield
            return
        with open(f"{database}.migrate.lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def json_field(self, column: Any, name: str) -> JsonField:
        path = f'$."{name}"'
        kind = sa.func.json_type(column, path)
        value = sa.func.json_extract(column, path)
        is_number, is_text = kind.in_(["integer", "real"]), kind == "text"
        is_boolean = kind.in_(["true", "false"])
        return JsonField(exists=kind.is_not(None), is_null=kind == "null", is_number=is_number, is_text=is_text,
                         is_boolean=is_boolean, number=sa.case((is_number, value)), text=sa.case((is_text, value)),
                         boolean=sa.case((is_boolean, kind == "true")))

    def task_with_instance(self, conn: sa.Connection, task_id: str, kind: str) -> Any:
        return fast.first(conn, _task_and_instance[kind], {"id": task_id})

    def execute(self, conn: sa.Connection, statement: Any, rows: Params | Sequence[Params]) -> int:
        return fast.execute(conn, statement, rows)

    def first(self, conn: sa.Connection, statement: sa.Select[Any], params: Params) -> Any:
        return fast.first(conn, statement, params)

    def read_one(self, statement: sa.Select[Any], params: Params) -> Any:
        """On a connection kept open for such lookups, outside any transaction (one statement reads
        one snapshot), without SQLAlchemy's per-call machinery."""
        with self._quick_lock:
            if self._quick_reader is None:
                self._quick_reader = self.engine.raw_connection()     # autocommit: see _configure
            return fast.first_on_driver(self._quick_reader.driver_connection, self.engine.dialect, statement, params)

    def close(self) -> None:
        with self._quick_lock:
            if self._quick_reader is not None:
                self._quick_reader.close()
                self._quick_reader = None
        with self._write_lock:
            for conn in self._writers.values():
                conn.close()
            self._writers.clear()
        if self._relaxed_engine is not None:
            self._relaxed_engine.dispose()


class PostgresDialect(Dialect):
    name = "postgresql"

    def __init__(self, engine: sa.Engine, url: str) -> None:
        super().__init__(engine)
        self._url = url

    def lock_instance(self, conn: sa.Connection, instance_id: str, *, skip_locked: bool = False) -> Any:
        row = conn.execute(_instance.with_for_update(skip_locked=skip_locked), {"id": instance_id}).first()
        if row is None and skip_locked:
            exists = conn.execute(sa.select(instance.c.id).where(instance.c.id == instance_id)).first()
            if exists is not None:
                raise RowLocked(instance_id)
        return row

    def task_row(self, conn: sa.Connection, task_id: str, kind: str, *, lock: bool = False) -> Any:
        query = _task_row[kind]
        if lock:
            query = query.with_for_update(of=_TASK_TABLE[kind])
        return conn.execute(query, {"id": task_id}).first()

    def for_update(self, query: sa.Select[Any], *, skip_locked: bool = False, of: Any = None) -> sa.Select[Any]:
        return query.with_for_update(skip_locked=skip_locked, of=of)

    def json_field(self, column: Any, name: str) -> JsonField:
        element = column.op("->")(name)
        kind = sa.func.json_typeof(element)
        text = column.op("->>", return_type=sa.Text)(name)
        is_number, is_text, is_boolean = kind == "number", kind == "string", kind == "boolean"
        return JsonField(exists=element.is_not(None), is_null=kind == "null", is_number=is_number, is_text=is_text,
                         is_boolean=is_boolean, number=sa.case((is_number, sa.cast(text, sa.Numeric))),
                         text=sa.case((is_text, text)), boolean=sa.case((is_boolean, sa.cast(text, sa.Boolean))))

    def lock_audit_chain(self, conn: sa.Connection) -> None:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK})

    @contextmanager
    def migration_lock(self, conn: sa.Connection) -> Iterator[None]:
        conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_MIGRATION_LOCK})
            conn.commit()

    def notify(self, conn: sa.Connection, channel: str, payloads: Iterable[str]) -> None:
        for payload in set(payloads):
            conn.execute(sa.text("SELECT pg_notify(:c, :p)"), {"c": channel, "p": payload[:7000]})

    @property
    def listen_url(self) -> str | None:
        return self._url.replace("postgresql+psycopg://", "postgresql://")


def open_dialect(engine: sa.Engine, url: str, *, sqlite_synchronous: str, busy_timeout_ms: int) -> Dialect:
    if engine.dialect.name == "sqlite":
        return SQLiteDialect(engine, synchronous=sqlite_synchronous, busy_timeout_ms=busy_timeout_ms)
    if engine.dialect.name == "postgresql":
        return PostgresDialect(engine, url)
    raise ValueError(f"unsupported database {engine.dialect.name!r}: use SQLite or PostgreSQL")
