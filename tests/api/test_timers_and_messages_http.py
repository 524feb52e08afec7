"""Timers with nobody asking, across a real restart; messages over both APIs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pycamunda.message

import engine
from tests.conftest import BPMN, Server, free_port, table_counts


def deploy_file(client: httpx.Client, *names: str) -> None:
    response = client.post("/api/v1/deployments", files=[("files", (n, (BPMN / n).read_bytes())) for n in names])
    assert response.status_code in (200, 201), response.text


def test_a_one_second_timer_fires_within_a_second_with_no_request(db: engine.Database, server: Server,
                                                                   client: httpx.Client) -> None:
    deploy_file(client, "wait_timer.bpmn")
    started = client.post("/api/v1/instances", json={"definition_key": "wait_timer"}).json()
    due = datetime.fromisoformat(started["next_timer_at"])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:                      # watch the database; send the server nothing
        if engine.get_instance(db, instance_id=started["id"]).user_tasks:
            break
        time.sleep(0.05)
    [fired] = [e for e in engine.instance_history(db, instance_id=started["id"]) if e.kind == "timer_fired"]
    assert 0 <= (fired.at - due).total_seconds() < 1.0
    assert [t.activity_id for t in engine.get_instance(db, instance_id=started["id"]).user_tasks] == ["after"]


def test_messages_over_the_native_api(db: engine.Database, client: httpx.Client) -> None:
    deploy_file(client, "panel_response.bpmn", "notification_start.bpmn")
    engine.clock.freeze(datetime(2026, 9, 2, 10, tzinfo=UTC))
    try:
        ids = [client.post("/api/v1/instances", json={"definition_key": "panel_response", "business_key": bk,
                                                      "variables": {"submitted_on": "2026-09-01"}}).json()["id"]
               for bk in ("SIN-1", "SIN-2")]
        before = table_counts(db)
        ambiguous = client.post("/api/v1/messages", json={"message_name": "national_panel_response"})
        assert ambiguous.status_code == 409
        assert sorted(ambiguous.json()["error"]["candidates"]) == sorted(ids)
        missing = client.post("/api/v1/messages", json={"message_name": "national_panel_response",
                                                        "business_key": "SIN-404"})
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "message_not_correlated"
        assert table_counts(db) == before
        delivered = client.post("/api/v1/messages", json={"message_name": "national_panel_response",
                                                          "business_key": "SIN-1", "variables": {"view": "agree"}})
        assert delivered.status_code == 200 and delivered.json()["result"] == "delivered"
        assert delivered.json()["instance"]["id"] == ids[0]
        started = client.post("/api/v1/messages", json={"message_name": "serious_incident_notification",
                                                        "business_key": "SIN-3"})
        assert started.status_code == 201 and started.json()["result"] == "started"
    finally:
        engine.clock.reset()


def test_pycamunda_correlates_over_engine_rest(db: engine.Database, server: Server, client: httpx.Client,
                                              keys: dict[str, str]) -> None:
    deploy_file(client, "notification_start.bpmn", "panel_response.bpmn")
    url = f"{server.url}/engine-rest"
    correlate = pycamunda.message.CorrelateSingle(url=url, message_name="serious_incident_notification",
                                                  business_key="SIN-9", result_enabled=True)
    correlate.add_process_variable(name="child_ref", value="C-9")
    correlate.auth = ("alice", keys["alice"])              # pycamunda authenticates with HTTP Basic
    [result] = correlate()
    assert result.process_instance.business_key == "SIN-9"
    nothing = httpx.post(f"{url}/message", json={"messageName": "national_panel_response", "businessKey": "nope"},
                         auth=("alice", keys["alice"]))
    assert nothing.status_code == 400 and nothing.json()["message"].startswith("Cannot correlate message")
    started = engine.list_instances(db, business_key="SIN-9").data[0]
    assert engine.get_instance(db, instance_id=started.id).variables == {"child_ref": "C-9"}


def _admin_key(tmp: Path) -> str:
    """A key on the subprocess's own database, made before it first starts."""
    db = engine.Database(f"sqlite:///{tmp / 'restart.db'}")
    engine.upgrade(db)
    engine.create_principal(db, principal_id="bu", roles=["business-unit"])
    secret = engine.issue_key(db, principal_id="bu").secret
    db.dispose()
    return secret


def _serve(tmp: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "REVIEWFLOW_DATABASE_URL": f"sqlite:///{tmp / 'restart.db'}", "REVIEWFLOW_PORT": str(port),
           "REVIEWFLOW_BPMN_DIR": str(tmp / "bpmn"), "REVIEWFLOW_LOG_LEVEL": "WARNING"}
    log = (tmp / f"serve-{port}-{time.monotonic_ns()}.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "api.cli", "serve"], env=env, cwd=Path(__file__).parents[2],
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("reviewflow serve did not come up")


def test_a_timer_due_while_the_server_was_down_fires_once_after_restart(tmp_path: Path) -> None:
    (tmp_path / "bpmn").mkdir()
    xml = (BPMN / "wait_timer.bpmn").read_text().replace("PT1S", "PT2S")
    (tmp_path / "bpmn" / "wait_timer.bpmn").write_text(xml)
    port = free_port()
    auth = {"Authorization": f"Bearer {_admin_key(tmp_path)}"}
    first = _serve(tmp_path, port)
    try:
        started = httpx.post(f"http://127.0.0.1:{port}/api/v1/instances", json={"definition_key": "wait_timer"},
                             headers=auth).json()
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=40)
    assert first.returncode == -signal.SIGTERM, "a graceful stop, not the watchdog's (exit 1) after 20 s"
    time.sleep(2.5)                                       # the timer comes due while nothing runs
    second = _serve(tmp_path, port)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            got = httpx.get(f"http://127.0.0.1:{port}/api/v1/instances/{started['id']}", headers=auth).json()
            if got["user_tasks"]:
                break
            time.sleep(0.1)
        assert [t["activity_id"] for t in got["user_tasks"]] == ["after"]
        history = httpx.get(f"http://127.0.0.1:{port}/api/v1/instances/{started['id']}/history",
                            headers=auth).json()["data"]
        assert [e["kind"] for e in history].count("timer_fired") == 1
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=40)


