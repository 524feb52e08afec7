"""What the attacks share: people with keys, diagrams deployed over HTTP, and a snapshot of the
database to show that a refused request changed nothing.

Everything the attacks do goes over real HTTP to the real app (tests.conftest.Server); the database
is only read, to prove what was or was not written — except where the attack is on the database
itself (the audit trail's tampering tests).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

import engine
from tests.conftest import Server, bearer, table_counts

DATA = Path(__file__).parent / "data"

Person = Callable[..., str]
Command = Callable[..., tuple[int, str, str]]
Deployer = Callable[..., None]
Client = Callable[[str], httpx.Client]


@pytest.fixture
def person(db: engine.Database) -> Person:
    """person("uma", roles=["crg-member"], groups=["other-crg"]) creates someone and returns their key."""

    def _person(principal_id: str, *, roles: list[str], groups: list[str] | None = None,
                organisation: str | None = None, kind: str = "user", topics: list[str] | None = None) -> str:
        engine.create_principal(db, principal_id=principal_id, roles=roles, groups=groups or [],
                                organisation=organisation, kind=kind, topics=topics)
        return engine.issue_key(db, principal_id=principal_id).secret

    return _person


@pytest.fixture
def as_(server: Server) -> Iterator[Client]:
    """as_(key) is an HTTP client signed in with that key."""
    clients: list[httpx.Client] = []

    def _client(key: str) -> httpx.Client:
        c = httpx.Client(base_url=server.url, timeout=20, headers=bearer(key))
        clients.append(c)
        return c

    yield _client
    for c in clients:
        c.close()


@pytest.fixture
def deploy_http(server: Server, keys: dict[str, str]) -> Deployer:
    """Deploy diagrams (and forms/…json) from tests/security/data as the administrator, over HTTP."""

    def _deploy(*names: str) -> None:
        files = [("files", (name, (DATA / name).read_bytes(), "application/octet-stream")) for name in names]
        with httpx.Client(base_url=server.url, timeout=20, headers=bearer(keys["admin"])) as c:
            answer = c.post("/api/v1/deployments", files=files)
        assert answer.status_code in (200, 201), answer.text

    return _deploy


@pytest.fixture
def reviewflow(db: engine.Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Command:
    """reviewflow("users", "add", …) runs the real command line (api.cli.main) on the test's
    database: its exit status, what it printed, and what it printed to standard error."""
    from api import cli  # noqa: PLC0415

    monkeypatch.setattr(cli, "open_database", lambda settings: db)

    def _run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            status = cli.main(list(argv))
        except SystemExit as exc:              # argparse refusing the arguments
            status = int(exc.code or 0)
        said = capsys.readouterr()
        return status, said.out, said.err

    return _run


def start(client: httpx.Client, key: str, *, business_key: str | None = None, **variables: Any) -> dict[str, Any]:
    """Start the latest `key` over the native API; the answer's JSON."""
    body: dict[str, Any] = {"definition_key": key, "variables": variables}
    if business_key is not None:
        body["business_key"] = business_key
    answer = client.post("/api/v1/instances", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()


def snapshot(db: engine.Database) -> dict[str, Any]:
    """Row counts of every table but the audit trail, and what a refused request could have altered
    in place: each case's status, version and variables, each task's assignee, each lock."""
    with db.engine.connect() as conn:
        instances = sorted(tuple(map(str, r)) for r in conn.execute(sa.text(
            "SELECT id, status, version, variables FROM instance")))
        tasks = sorted(tuple(map(str, r)) for r in conn.execute(sa.text("SELECT id, assignee FROM user_task")))
        locks = sorted(tuple(map(str, r)) for r in conn.execute(sa.text(
            "SELECT id, worker_id, lock_expires_at, retries FROM external_task")))
        principals = sorted(tuple(map(str, r)) for r in conn.execute(sa.text("SELECT id FROM principal")))
    return {"counts": table_counts(db), "instances": instances, "user_tasks": tasks, "locks": locks,
            "principals": principals}


def audit_rows(db: engine.Database) -> list[Any]:
    """The audit trail, oldest first."""
    with db.engine.connect() as conn:
        return list(conn.execute(sa.text("SELECT * FROM audit_event ORDER BY seq")))
