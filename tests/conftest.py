"""Fixtures: a migrated database on SQLite (always) and PostgreSQL (when REVIEWFLOW_TEST_DATABASE_URL
is set), a deployer, and the real app served by uvicorn on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import uvicorn

import engine
from api.app import create_app
from api.settings import ServerSettings

DATA = Path(__file__).parent / "data"
BPMN = DATA / "bpmn"
PG_URL = os.environ.get("REVIEWFLOW_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
TABLES = ["web_session", "idempotency_key", "instance_variable",
          "document", "audit_event", "case_share", "history_event", "incident", "message_subscription", "external_task",
          "user_task", "message_start", "timer_start", "instance", "definition", "api_key", "principal"]


def pg_database(schema: str) -> engine.Database:
    return engine.Database(PG_URL or "", connect_args={"options": f"-csearch_path={schema}"}, audit_fast=True)


def create_schema(schema: str) -> None:
    admin = sa.create_engine(engine.store.database.normalize_url(PG_URL or ""))
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()


@contextmanager
def statements_run(db: engine.Database, keep: Callable[[str], bool]) -> Iterator[list[tuple[str, Any]]]:
    """The SQL statements `db` runs inside the block that `keep` selects, with their parameters (to
    EXPLAIN them afterwards)."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if keep(statement):
            seen.append((statement, parameters))

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)


def drop_schema(schema: str) -> None:
    admin = sa.create_engine(engine.store.database.normalize_url(PG_URL or ""))
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file; each test gets a copy (migrating per test is slow)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = engine.Database(f"sqlite:///{path}")
    engine.upgrade(db)
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return path


@pytest.fixture(scope="session")
def pg_schema() -> Iterator[str]:
    if not PG_URL:
        pytest.skip("REVIEWFLOW_TEST_DATABASE_URL not set")
    schema = f"rf_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    create_schema(schema)
    db = pg_database(schema)
    engine.upgrade(db)
    db.dispose()
    yield schema
    drop_schema(schema)


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[engine.Database]:
    """An empty, migrated database: a fresh SQLite file, or the session's PostgreSQL schema emptied."""
    if request.param == "sqlite":
        path = tmp_path / "reviewflow.db"
        shutil.copy(sqlite_template, path)
        database = engine.Database(f"sqlite:///{path}", audit_fast=True)       # as serve runs by default
    else:
        schema = request.getfixturevalue("pg_schema")
        database = pg_database(schema)
        with database.engine.begin() as conn:
            conn.execute(sa.text("TRUNCATE " + ", ".join(TABLES) + " RESTART IDENTITY CASCADE"))
    yield database
    database.dispose()


@pytest.fixture
def actor() -> engine.Actor:
    return engine.Actor("alice", frozenset({"case-review-group"}))


Deployer = Callable[..., engine.DeploymentResult]


@pytest.fixture
def reopen(request: pytest.FixtureRequest, db: engine.Database) -> Iterator[Callable[[], engine.Database]]:
    """reopen() is the same database as a restarted server opens it: nothing cached."""
    opened: list[engine.Database] = []

    def _reopen() -> engine.Database:
        if db.url.startswith("sqlite"):
            fresh = engine.Database(db.url, audit_fast=True)
        else:
            fresh = pg_database(request.getfixturevalue("pg_schema"))
        opened.append(fresh)
        return fresh

    yield _reopen
    for fresh in opened:
        fresh.dispose()


@pytest.fixture
def deploy(db: engine.Database, actor: engine.Actor) -> Deployer:
    """deploy("one_user_task.bpmn", ...) deploys files from tests/data/bpmn (forms from its forms/)."""

    def _deploy(*names: str) -> engine.DeploymentResult:
        files = []
        for name in names:
            path = BPMN / name
            files.append(engine.DeployFile(name, path.read_bytes()))
        return engine.deploy(db, files=files, actor=actor)

    return _deploy


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """The real app, served by uvicorn in a thread on 127.0.0.1."""

    def __init__(self, db: engine.Database, settings: ServerSettings | None = None,
                 handler_topics: frozenset[str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = create_app(settings or ServerSettings(), db=db, handler_topics=handler_topics)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


PEOPLE = {   # id: (roles, groups, organisation)
    "alice": (["business-unit", "process-owner"], ["case-review-group", "business-unit"], None),
    "bob": (["crg-member"], ["case-review-group"], None),
    "mary": (["crg-member"], ["case-review-group"], None),
    "admin": (["admin"], [], None),
}


@pytest.fixture
def keys(db: engine.Database) -> dict[str, str]:
    """An API key for each test person, and for `worker` (any topic)."""
    out = {}
    for name, (roles, groups, organisation) in PEOPLE.items():
        engine.create_principal(db, principal_id=name, roles=roles, groups=groups, organisation=organisation)
        out[name] = engine.issue_key(db, principal_id=name).secret
    engine.create_principal(db, principal_id="worker", roles=["worker"], kind="worker")
    out["worker"] = engine.issue_key(db, principal_id="worker").secret
    return out


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def server(db: engine.Database) -> Iterator[Server]:
    srv = Server(db).start()
    yield srv
    srv.stop()


@pytest.fixture
def client(server: Server, keys: dict[str, str]) -> Iterator[httpx.Client]:
    """alice of the business unit (sees every case), who also owns the diagrams, over real HTTP."""
    with httpx.Client(base_url=server.url, timeout=10, headers=bearer(keys["alice"])) as c:
        yield c


def table_counts(db: engine.Database) -> dict[str, int]:
    """Rows per table: refusal tests assert that nothing was written (but the audit trail, which
    records the refused request too)."""
    with db.engine.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in TABLES
                if t != "audit_event"}
