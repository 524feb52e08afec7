"""Logs: one JSON object per line with the request id, ids from `extra`, and never case data; the id
comes from a safe X-Request-Id or is made, is echoed back, and the workers send theirs."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

import engine
from api.logs import JsonFormatter, TextFormatter
from tests.conftest import BPMN, Server, bearer
from tests.ops.conftest import Served
from workers.runtime import Complete, EngineClient, ExternalTask, NoInput, Worker, WorkerSettings, handler

SENTINEL = "Sentinel-Child-Name-5521"


def record(**extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("reviewflow.test", logging.WARNING, __file__, 1, "task %s failed", ("t-1",), None)
    rec.__dict__.update(extra)
    return rec


def test_a_json_line_has_time_level_logger_message_and_the_plain_ids_only() -> None:
    line = JsonFormatter().format(record(instance_id="i-1", topic="notification", attempt=2, ok=True,
                                         variables={"child_name": SENTINEL}, names=[SENTINEL],
                                         obj=object(), color_message="x"))
    data = json.loads(line)
    assert "\n" not in line
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", data.pop("time"))
    assert data.pop("pid") > 0
    assert data == {"level": "WARNING", "logger": "reviewflow.test", "message": "task t-1 failed",
                    "instance_id": "i-1", "topic": "notification", "attempt": 2, "ok": True}
    assert SENTINEL not in line


def test_a_json_line_carries_the_traceback_of_an_exception() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        rec = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    data = json.loads(JsonFormatter().format(rec))
    assert data["message"] == "failed" and "ValueError: boom" in data["exception"]


def test_the_text_line_ends_with_the_ids() -> None:
    line = TextFormatter().format(record(request_id="r-9", task_id="t-1", variables={"a": 1}))
    assert line.endswith("reviewflow.test: task t-1 failed [request_id=r-9 task_id=t-1]")


def test_json_logs_of_a_served_process_with_request_ids_and_no_case_data(tmp_path: Path) -> None:
    served = Served(f"sqlite:///{tmp_path / 'rf.db'}", tmp_path, "--no-workers", REVIEWFLOW_LOG_FORMAT="json")
    try:
        served.wait_ready()
        key = (tmp_path / "var" / "admin.key").read_text().strip()
        with httpx.Client(base_url=served.base, headers=bearer(key), timeout=20) as c:
            deployed = c.post("/api/v1/deployments", headers={"X-Request-Id": "deploy-1"},
                              files=[("files", ("f.bpmn", (BPMN / "failing_script.bpmn").read_bytes()))])
            assert deployed.headers["x-request-id"] == "deploy-1"
            started = c.post("/api/v1/instances", headers={"X-Request-Id": "start-1"},
                             json={"definition_key": "failing_script", "business_key": SENTINEL,
                                   "variables": {"child_name": SENTINEL, "total": 1, "count": 0}})
            assert started.status_code == 201 and started.headers["x-request-id"] == "start-1"
            unsafe = "a b<script>alert(1)</script>"
            listed = c.get("/api/v1/instances", params={"business_key": SENTINEL}, headers={"X-Request-Id": unsafe})
            made = listed.headers["x-request-id"]
            assert re.fullmatch(r"[0-9a-f]{32}", made)
            too_long = c.get("/api/v1/health", headers={"X-Request-Id": "x" * 65}).headers["x-request-id"]
            assert too_long != "x" * 65
    finally:
        assert served.stop() in (0, -15)             # uvicorn re-raises the SIGTERM it handled, once shut down
    text = served.stderr()
    assert "Application shutdown complete." in text
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]       # every line is JSON
    assert lines and all({"time", "level", "logger", "message", "pid"} <= set(line) for line in lines)
    assert SENTINEL not in text and "<script>" not in text
    access = [line for line in lines if line["logger"] == "reviewflow.access"]
    start = [line for line in access if line.get("request_id") == "start-1"]
    assert [(a["method"], a["route"], a["status"]) for a in start] == [("POST", "/api/v1/instances", 201)]
    assert any(a["request_id"] == made and a["route"] == "/api/v1/instances" for a in access)
    failed = [line for line in lines if line["message"] == "task failed"]          # logged inside the engine call
    assert failed and failed[0]["request_id"] == "start-1" and failed[0]["instance_id"] == started.json()["id"]


@handler(topic="national-panel-submission", lock=timedelta(seconds=30))
def submit(task: ExternalTask[NoInput], services: object) -> Complete:
    task.logger.info("submitting")
    task.extend_lock()
    return Complete(panel_receipt_id="R-1")


def test_a_worker_sends_one_request_id_per_task_and_logs_with_it(db: engine.Database, server: Server,
                                                                 keys: dict[str, str]) -> None:
    engine.deploy(db, files=[engine.DeployFile("e.bpmn", (BPMN / "external_task.bpmn").read_bytes())],
                  actor=engine.Actor.system("test"))
    started = engine.start_instance(db, actor=engine.Actor.system("test"), definition_key="external_task")
    stream = io.StringIO()
    capture = logging.StreamHandler(stream)
    capture.setFormatter(JsonFormatter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(capture)
    root.setLevel(logging.INFO)
    settings = WorkerSettings(engine_url=f"{server.url}/engine-rest", worker_id="w-ops", token=keys["worker"],
                              long_poll=timedelta(seconds=1))
    worker = Worker(EngineClient(settings), [submit], settings)
    try:
        worker.start()
        deadline = time.monotonic() + 15
        while engine.get_instance(db, instance_id=started.id).status != "completed" and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        worker.stop()
        root.removeHandler(capture)
        root.setLevel(previous)
    assert engine.get_instance(db, instance_id=started.id).status == "completed"
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    submitting = [line for line in lines if line["message"] == "submitting"]
    assert len(submitting) == 1
    task_request = submitting[0]["request_id"]
    assert re.fullmatch(r"[0-9a-f]{32}", task_request) and submitting[0]["topic"] == "national-panel-submission"
    server_side = {(line["route"], line["status"]) for line in lines
                   if line["logger"] == "reviewflow.access" and line.get("request_id") == task_request}
    assert server_side == {("/engine-rest/external-task/{task_id}/extendLock", 204),
                           ("/engine-rest/external-task/{task_id}/complete", 204)}
    completed = [line for line in lines if line["message"].startswith("task completed")]
    assert completed and completed[0]["request_id"] == task_request
    polls = [line["request_id"] for line in lines if line["logger"] == "reviewflow.access"
             and line["route"] == "/engine-rest/external-task/fetchAndLock"]
    assert polls and task_request not in polls and len(set(polls)) == len(polls)   # one id per fetchAndLock


@pytest.fixture(autouse=True)
def _no_leftover_clock() -> None:
    engine.clock.reset()
