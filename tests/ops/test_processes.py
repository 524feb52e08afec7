"""`reviewflow serve --processes N`: refused on SQLite; on PostgreSQL N server processes share the port
under a supervisor that replaces one killed, metrics summed over the processes, timers fired once with
a scheduler in each, and the embedded workers run once, in the supervisor."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

import engine
from tests.conftest import BPMN, bearer
from tests.ops.conftest import ROOT, Served, cli


def test_more_than_one_process_on_sqlite_is_refused(tmp_path: Path) -> None:
    refused = cli("serve", "--processes", "2", "--port", "0", url=f"sqlite:///{tmp_path / 'rf.db'}", cwd=tmp_path)
    assert refused.returncode == 2
    assert "--processes 2 needs PostgreSQL" in refused.stderr and "one process write" in refused.stderr
    assert not (tmp_path / "rf.db").exists()                                # refused before anything was made
    bad = cli("serve", "--processes", "0", url=f"sqlite:///{tmp_path / 'rf.db'}", cwd=tmp_path)
    assert bad.returncode == 2 and "from 1 to 64" in bad.stderr


def server_processes(supervisor: int) -> set[int]:
    """The supervisor's children that are server processes (uvicorn spawns them with multiprocessing)."""
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    found = set()
    for pid in map(int, children):
        try:
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.add(pid)
        except FileNotFoundError:
            pass
    return found


def metric(base: str, name: str, **labels: str) -> float | None:
    text = httpx.get(f"{base}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return None


def until(condition: Callable[[], object], timeout: float = 30) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.2)
    raise AssertionError("not within the time allowed")


def test_processes_on_postgresql(scratch_pg: str, tmp_path: Path) -> None:
    shutil.copy(ROOT / "partnership.example.toml", tmp_path / "partnership.toml")   # for the embedded workers
    served = Served(scratch_pg, tmp_path, "--processes", "2", REVIEWFLOW_LOG_FORMAT="json")
    db = engine.Database(scratch_pg)
    try:
        served.wait_ready()
        supervisor = served.process.pid
        def two_servers(other_than: set[int] | None = None) -> set[int] | None:
            found = server_processes(supervisor)
            return found if len(found) == 2 and found != other_than else None

        first = until(two_servers)
        key = (tmp_path / "var" / "admin.key").read_text().strip()

        # the histogram is summed over the processes, whichever answers the scrape
        for _ in range(30):
            assert httpx.get(f"{served.base}/api/v1/instances").status_code == 401     # a new connection each
        unauthorised = {"method": "GET", "route": "/api/v1/instances", "status": "401"}
        assert metric(served.base, "reviewflow_http_request_duration_seconds_count", **unauthorised) == 30

        # a killed server process is replaced; what it counted stays, its pool no longer counts
        os.kill(sorted(first)[0], signal.SIGKILL)
        second = until(lambda: two_servers(other_than=first))
        assert len(second & first) == 1
        until(lambda: httpx.get(f"{served.base}/api/v1/ready", timeout=5).status_code == 200)

        def pools_of_the_living() -> bool:
            httpx.get(f"{served.base}/api/v1/health")
            return metric(served.base, "reviewflow_db_pool_size") == 20                  # 2 processes x 10
        until(pools_of_the_living)
        for _ in range(10):
            httpx.get(f"{served.base}/api/v1/health")
            assert metric(served.base, "reviewflow_db_pool_size") == 20                  # never 30
        assert metric(served.base, "reviewflow_http_request_duration_seconds_count", **unauthorised) == 30

        # timers: a scheduler in each process, each timer fired once
        with httpx.Client(base_url=served.base, headers=bearer(key), timeout=30) as c:
            files = [("files", (n, (BPMN / n).read_bytes())) for n in ("wait_timer.bpmn", "external_task.bpmn")]
            assert c.post("/api/v1/deployments", files=files).status_code == 201
            waiting = [c.post("/api/v1/instances", json={"definition_key": "wait_timer"}).json()["id"]
                       for _ in range(30)]
            submission = c.post("/api/v1/instances", json={"definition_key": "external_task", "variables": {
                "case_reference": "NB-OPS-1", "sin_sent_on": "2026-11-02", "decision": "lcspr",
                "rapid_review_report_id": "doc-1"}}).json()["id"]

        def all_fired() -> bool:
            tasks = engine.list_user_tasks(db, instance_id=None, limit=1000).data
            return sum(1 for t in tasks if t.activity_id == "after") == len(waiting)
        until(all_fired, timeout=60)
        for instance_id in waiting:
            kinds = [e.kind for e in engine.instance_history(db, instance_id=instance_id)]
            assert kinds.count("timer_fired") == 1, kinds

        # the embedded workers: once, in the supervisor
        until(lambda: engine.get_instance(db, instance_id=submission).status == "completed", timeout=60)
    finally:
        status = served.stop()
        db.dispose()
    assert status == 0
    assert not [pid for pid in second if Path(f"/proc/{pid}").exists()]          # the server processes ended too
    lines = [json.loads(line) for line in served.stderr().splitlines() if line.startswith("{")]
    completed = [line for line in lines if line["message"].startswith("task completed")]
    assert [line["pid"] for line in completed] == [supervisor]
    assert [line["message"] for line in lines if line["pid"] == supervisor].count("Received SIGTERM, exiting.") == 1


@pytest.fixture(autouse=True)
def _clock() -> None:
    engine.clock.reset()
