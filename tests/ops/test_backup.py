"""`reviewflow db backup` and `restore`: an online backup while a server writes, restored into an empty
database that verifies its audit trail and serves its cases; a database that is not empty is refused
unless --force, which saves it first; a backup of the other kind, or a broken one, changes nothing.
On SQLite files, and on PostgreSQL scratch databases (never the shared test database)."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

import engine
from api.cli import main
from api.settings import ServerSettings
from tests.conftest import BACKENDS, BPMN, Server, bearer
from tests.ops.conftest import cli, drop_scratch_database, make_scratch_database

NewDatabase = Callable[[], str]


@pytest.fixture(params=BACKENDS)
def new_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[NewDatabase]:
    """new_database() -> the URL of an empty database of the backend (SQLite file, PostgreSQL scratch)."""
    made: list[str] = []

    def make() -> str:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / f'db{len(made)}.db'}"
        else:
            url = make_scratch_database()
        made.append(url)
        return url

    yield make
    for url in made:
        if url.startswith("postgresql"):
            drop_scratch_database(url)


def populated(url: str, tmp_path: Path) -> tuple[engine.Database, Server, str]:
    """A migrated database with an administrator, the one_user_task diagram and its server."""
    db = engine.Database(url)
    engine.upgrade(db)
    engine.create_principal(db, principal_id="admin", roles=["admin"])
    key = engine.issue_key(db, principal_id="admin").secret
    server = Server(db, ServerSettings(site_dir=tmp_path / "site")).start()
    deployed = httpx.post(f"{server.url}/api/v1/deployments", headers=bearer(key), timeout=20,
                          files=[("files", ("o.bpmn", (BPMN / "one_user_task.bpmn").read_bytes()))])
    assert deployed.status_code == 201
    return db, server, key


def start(server: Server, key: str, n: int) -> list[str]:
    with httpx.Client(base_url=server.url, headers=bearer(key), timeout=20) as c:
        return [c.post("/api/v1/instances", json={"definition_key": "one_user_task",
                                                   "variables": {"case": i}}).json()["id"] for i in range(n)]


def instance_ids(db: engine.Database) -> set[str]:
    return {i.id for i in engine.list_instances(db, limit=1000).data}


def test_an_online_backup_restores_whole_verifies_and_serves(new_database: NewDatabase, tmp_path: Path) -> None:
    source_url = new_database()
    db, server, key = populated(source_url, tmp_path)
    before = set(start(server, key, 5))
    acknowledged: list[str] = []
    stop = threading.Event()

    def keep_writing() -> None:
        with httpx.Client(base_url=server.url, headers=bearer(key), timeout=20) as c:
            while not stop.is_set():
                answer = c.post("/api/v1/instances", json={"definition_key": "one_user_task", "variables": {}})
                assert answer.status_code == 201
                acknowledged.append(answer.json()["id"])

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        backup = tmp_path / "backups"
        backup.mkdir()
        done = cli("db", "backup", str(backup), url=source_url)
    finally:
        stop.set()
        writer.join()
        server.stop()
    assert done.returncode == 0, done.stderr
    [made] = list(backup.iterdir())
    assert stat.S_IMODE(made.stat().st_mode) == 0o600                       # case data: its owner only
    assert str(made) in done.stdout and "audit entries" in done.stdout

    target_url = new_database()
    restored = cli("db", "restore", str(made), url=target_url)
    assert restored.returncode == 0, restored.stderr
    assert "audit trail intact" in restored.stdout and "replaced" not in restored.stdout
    assert cli("audit", "verify", url=target_url).returncode == 0

    target = engine.Database(target_url)
    try:
        cases = instance_ids(target)
        assert before <= cases <= before | set(acknowledged)                  # a snapshot: nothing half-there
        open_tasks = engine.list_user_tasks(target, candidate_group="case-review-group", limit=1000)
        assert {t.instance_id for t in open_tasks.data} == cases              # each case with its task
        again = Server(target, ServerSettings(site_dir=tmp_path / "site2")).start()
        try:
            with httpx.Client(base_url=again.url, headers=bearer(key), timeout=20) as c:   # the same key works
                listed = c.get("/api/v1/instances", params={"limit": 200}).json()
                assert listed["count"] == len(cases) and {i["id"] for i in listed["data"]} <= cases
                one = sorted(cases)[0]
                assert c.get(f"/api/v1/instances/{one}").status_code == 200
                assert c.get(f"/api/v1/instances/{one}/history").json()
        finally:
            again.stop()
        assert engine.verify_audit(target).ok
    finally:
        target.dispose()
        db.dispose()


def test_a_database_that_is_not_empty_is_refused_unless_forced_and_then_saved_first(
        new_database: NewDatabase, tmp_path: Path) -> None:
    url = new_database()
    db, server, key = populated(url, tmp_path)
    try:
        first = set(start(server, key, 2))
        backup = tmp_path / "first.backup"
        assert cli("db", "backup", str(backup), url=url).returncode == 0
        again = cli("db", "backup", str(backup), url=url)
        assert again.returncode == 2 and "exists" in again.stderr              # no backup overwritten by accident
        later = set(start(server, key, 1))
    finally:
        server.stop()
    db.dispose()

    refused = cli("db", "restore", str(backup), url=url)
    assert refused.returncode == 2 and "is not empty" in refused.stderr and "--force" in refused.stderr
    db = engine.Database(url)
    assert instance_ids(db) == first | later                                  # nothing changed
    db.dispose()

    forced = cli("db", "restore", "--force", str(backup), url=url)
    assert forced.returncode == 0, forced.stderr
    [safety] = [p for p in tmp_path.iterdir() if p.name.startswith("reviewflow-before-restore-")]
    assert str(safety) in forced.stdout and "3 instances" in forced.stdout
    db = engine.Database(url)
    assert instance_ids(db) == first                                          # back to the backup
    db.dispose()
    assert cli("db", "restore", "--force", str(safety), url=url).returncode == 0
    db = engine.Database(url)
    assert instance_ids(db) == first | later                                  # and the saved copy brings it back
    assert engine.verify_audit(db).ok
    db.dispose()


def test_a_broken_or_foreign_backup_changes_nothing(new_database: NewDatabase, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    url = new_database()
    db, server, key = populated(url, tmp_path)
    try:
        cases = set(start(server, key, 2))
    finally:
        server.stop()
    backup = tmp_path / "good.backup"
    assert cli("db", "backup", str(backup), url=url).returncode == 0
    truncated = tmp_path / "truncated.backup"
    truncated.write_bytes(backup.read_bytes()[:300])
    stranger = tmp_path / "notes.txt"
    stranger.write_text("not a backup")
    foreign = tmp_path / "foreign.backup"
    foreign.write_bytes(b"PGDMP" + os.urandom(64) if url.startswith("sqlite") else b"SQLite format 3\x00" + bytes(84))
    for path, said in ((truncated, ""), (stranger, "neither a SQLite backup nor"), (foreign, "backup; the configured"),
                       (tmp_path / "missing.backup", "no such file")):
        monkeypatch.setenv("REVIEWFLOW_DATABASE_URL", url)           # the command in this process: quicker
        status = main(["db", "restore", "--force", str(path)])
        said_out, said_err = capsys.readouterr()
        assert status == 2, (path, said_out, said_err)
        assert said in said_err
        assert instance_ids(db) == cases and engine.verify_audit(db).ok
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("reviewflow-before-restore-")]
    db.dispose()
