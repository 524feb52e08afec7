"""/api/v1/health is liveness (it never asks the database); /api/v1/ready checks the database, the
schema's migration head and the timer scheduler, and says what failed."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

import api.scheduler
import engine
from api.settings import ServerSettings
from tests.conftest import BPMN, Server


def ready(server: Server) -> httpx.Response:
    return httpx.get(f"{server.url}/api/v1/ready", timeout=10)


def test_ready_when_database_schema_and_scheduler_are_well(db: engine.Database, server: Server) -> None:
    answer = ready(server)
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "ready" and body["failed"] == []
    assert body["checks"]["database"] == {"ok": True, "problem": None, "dialect": db.dialect.name}
    assert body["checks"]["schema"]["revision"] == body["checks"]["schema"]["head"] == engine.schema_head()
    scheduler = body["checks"]["scheduler"]
    assert scheduler["ok"] and scheduler["enabled"] and scheduler["running"] and scheduler["last_wake"]


def test_without_a_database_health_is_200_and_ready_503(tmp_path: Path) -> None:
    gone = engine.Database("postgresql://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 1})
    server = Server(gone, ServerSettings(timers=False, site_dir=tmp_path / "site")).start()
    try:
        assert httpx.get(f"{server.url}/api/v1/health", timeout=10).json() == {"status": "ok"}
        answer = ready(server)
        assert answer.status_code == 503
        body = answer.json()
        assert body["status"] == "not_ready" and body["failed"] == ["database", "schema"]
        assert body["checks"]["database"]["problem"] == "the database does not answer"
        assert body["checks"]["scheduler"] == {"ok": True, "problem": None, "enabled": False, "running": False,
                                               "last_wake": None, "next_wake": None}
    finally:
        server.stop()
        gone.dispose()


def test_a_schema_behind_the_migration_head_is_not_ready(tmp_path: Path) -> None:
    head = engine.schema_head()
    scripts = ScriptDirectory.from_config(Config(str(Path(engine.__file__).parents[1] / "alembic.ini")))
    previous = scripts.get_revision(head).down_revision
    assert isinstance(previous, str)
    db = engine.Database(f"sqlite:///{tmp_path / 'old.db'}")
    engine.upgrade(db, previous)
    server = Server(db, ServerSettings(site_dir=tmp_path / "site")).start()
    try:
        answer = ready(server)
        assert answer.status_code == 503 and answer.json()["failed"] == ["schema"]
        schema = answer.json()["checks"]["schema"]
        assert (schema["revision"], schema["head"]) == (previous, head)
        assert "reviewflow db upgrade" in schema["problem"]
        engine.upgrade(db)
        assert ready(server).status_code == 200
    finally:
        server.stop()
        db.dispose()


def test_a_stopped_scheduler_is_not_ready(server: Server) -> None:
    server.app.state.timers.stop()
    answer = ready(server)
    assert answer.status_code == 503 and answer.json()["failed"] == ["scheduler"]
    assert answer.json()["checks"]["scheduler"]["problem"] == "the timer scheduler is not running"


def test_a_scheduler_stuck_firing_is_not_ready_and_ready_again_once_it_moves(
        db: engine.Database, server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """A firing that makes no progress (here: it waits behind another transaction — SQLite's one
    writer; on PostgreSQL a lock on the whole instance table) is reported once it has lasted longer
    than LATE; the check clears when the firing gets through."""
    monkeypatch.setattr(api.scheduler, "LATE", timedelta(milliseconds=300))
    engine.deploy(db, files=[engine.DeployFile("wait_timer.bpmn", (BPMN / "wait_timer.bpmn").read_bytes())],
                  actor=engine.Actor.system("test"))
    engine.start_instance(db, actor=engine.Actor.system("test"), definition_key="wait_timer")
    timers = server.app.state.timers
    hold, held, release = threading.Event(), threading.Event(), threading.Event()

    def hold_the_instance() -> None:
        with db.write() as conn:                 # the instance's writer: the firing waits behind it
            if db.dialect.name == "postgresql":
                conn.exec_driver_sql("LOCK TABLE instance IN ACCESS EXCLUSIVE MODE")
            held.set()
            hold.wait()
            release.wait(timeout=30)

    holder = threading.Thread(target=hold_the_instance)
    hold.set()
    holder.start()
    try:
        assert held.wait(10)
        engine.clock.advance(timedelta(seconds=5))
        timers.wake()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and ready(server).status_code == 200:
            time.sleep(0.1)
        answer = ready(server)
        assert answer.status_code == 503 and answer.json()["failed"] == ["scheduler"]
        assert "without progress" in answer.json()["checks"]["scheduler"]["problem"]
    finally:
        release.set()
        holder.join()
        engine.clock.reset()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and ready(server).status_code != 200:
        time.sleep(0.1)
    assert ready(server).status_code == 200
