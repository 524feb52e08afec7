"""/metrics: counts read from the database (cached, so scrapes cannot load it), request latency by
route template, the connection pool — and who may read it."""

from __future__ import annotations

import concurrent.futures
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

import api.metrics
import engine
from api.settings import ServerSettings
from tests.conftest import BPMN, Server, bearer

SYSTEM = engine.Actor.system("test")


def scrape(server: Server, **headers: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = httpx.get(f"{server.url}/metrics", headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(answer.text) for s in family.samples}


def value(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def deploy(db: engine.Database, *names: str) -> None:
    engine.deploy(db, files=[engine.DeployFile(n, (BPMN / n).read_bytes()) for n in names], actor=SYSTEM)


@pytest.fixture
def quiet_server(db: engine.Database, tmp_path: Path) -> Server:
    """No timer scheduler (the test moves the clock and reads the lag) and no cache."""
    server = Server(db, ServerSettings(timers=False, metrics_cache_seconds=0, site_dir=tmp_path / "site")).start()
    yield server
    server.stop()
    engine.clock.reset()


def test_counts_by_status_group_topic_state_incident_and_timer_lag(db: engine.Database, quiet_server: Server) -> None:
    deploy(db, "one_user_task.bpmn", "external_task.bpmn", "wait_timer.bpmn")
    for _ in range(2):
        engine.start_instance(db, actor=SYSTEM, definition_key="one_user_task")
    cancelled = engine.start_instance(db, actor=SYSTEM, definition_key="one_user_task")
    engine.cancel_instance(db, actor=SYSTEM, instance_id=cancelled.id, reason="test")
    for _ in range(3):
        engine.start_instance(db, actor=SYSTEM, definition_key="external_task")
    worker = engine.Actor.system("worker-1")
    topic = [engine.TopicRequest("national-panel-submission", 600_000)]
    first, second = engine.fetch_and_lock(db, worker_id="w1", topics=topic, max_tasks=2, actor=worker).tasks
    engine.handle_failure(db, task_id=second.task.id, worker_id="w1", actor=worker, error_message="refused",
                          error_details=None, retries=0, retry_timeout_ms=0)
    engine.start_instance(db, actor=SYSTEM, definition_key="wait_timer")
    engine.clock.advance(timedelta(seconds=61))          # the PT1S timer is now a minute late

    samples = scrape(quiet_server)
    assert value(samples, "reviewflow_database_up") == 1
    assert value(samples, "reviewflow_instances", status="active") == 6
    assert value(samples, "reviewflow_instances", status="cancelled") == 1
    assert value(samples, "reviewflow_instances", status="completed") == 0
    assert value(samples, "reviewflow_instances_suspended") == 0
    assert value(samples, "reviewflow_user_tasks_open", candidate_group="case-review-group") == 2
    states = {s: value(samples, "reviewflow_external_tasks", topic="national-panel-submission", state=s)
              for s in ("available", "locked", "failed")}
    assert states == {"available": 1, "locked": 1, "failed": 1}
    assert value(samples, "reviewflow_incidents_open", type="failedExternalTask") == 1
    assert value(samples, "reviewflow_timers_overdue") == 1
    assert 60 <= value(samples, "reviewflow_timer_lag_seconds") < 70
    assert value(samples, "reviewflow_db_pool_size") > 0
    assert value(samples, "reviewflow_db_pool_checked_out") is not None


def test_latency_by_route_template_never_by_path(db: engine.Database, quiet_server: Server,
                                                 keys: dict[str, str]) -> None:
    deploy(db, "one_user_task.bpmn")
    ids = [engine.start_instance(db, actor=SYSTEM, definition_key="one_user_task").id for _ in range(2)]
    with httpx.Client(base_url=quiet_server.url, headers=bearer(keys["alice"]), timeout=10) as c:
        for instance_id in ids:
            assert c.get(f"/api/v1/instances/{instance_id}").status_code == 200
        assert c.get("/api/v1/instances", params={"business_key": "SECRET-REF"}).status_code == 200
        assert c.get("/no/such/route/C-12345").status_code == 404
    text = httpx.get(f"{quiet_server.url}/metrics", timeout=10).text
    samples = scrape(quiet_server)
    route = {"method": "GET", "route": "/api/v1/instances/{instance_id}", "status": "200"}
    assert value(samples, "reviewflow_http_request_duration_seconds_count", **route) == 2
    assert value(samples, "reviewflow_http_request_duration_seconds_count", method="GET", route="/api/v1/instances",
                 status="200") == 1
    assert value(samples, "reviewflow_http_request_duration_seconds_count", method="GET", route="unmatched",
                 status="404") == 1
    for leaked in (*ids, "SECRET-REF", "C-12345"):
        assert leaked not in text


def test_a_scrape_storm_reads_the_database_once_per_period(db: engine.Database, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    server = Server(db, ServerSettings(timers=False, metrics_cache_seconds=30, site_dir=tmp_path / "s")).start()
    try:
        deploy(db, "one_user_task.bpmn")
        engine.start_instance(db, actor=SYSTEM, definition_key="one_user_task")
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            results = list(pool.map(lambda _: scrape(server), range(48)))
        assert {value(r, "reviewflow_instances", status="active") for r in results} == {1}
        assert server.app.state.metrics.counts.reads == 1
        engine.start_instance(db, actor=SYSTEM, definition_key="one_user_task")
        assert value(scrape(server), "reviewflow_instances", status="active") == 1       # still the cached count
        third = engine.start_instance(db, actor=SYSTEM, definition_key="one_user_task")
        engine.cancel_instance(db, actor=SYSTEM, instance_id=third.id, reason="test")
        later = time.monotonic() + 31                                                   # the period has passed
        monkeypatch.setattr(api.metrics, "monotonic", lambda: later)
        samples = scrape(server)
        assert value(samples, "reviewflow_instances", status="active") == 2
        assert value(samples, "reviewflow_instances", status="cancelled") == 0           # totals: every 5 minutes
        assert value(samples, "reviewflow_counts_age_seconds") == 0
        assert server.app.state.metrics.counts.reads == 2
        much_later = later + api.metrics.TOTALS_SECONDS
        monkeypatch.setattr(api.metrics, "monotonic", lambda: much_later)
        assert value(scrape(server), "reviewflow_instances", status="cancelled") == 1
    finally:
        server.stop()


def test_without_a_database_the_scrape_still_answers(tmp_path: Path) -> None:
    gone = engine.Database("postgresql://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 1})
    server = Server(gone, ServerSettings(timers=False, site_dir=tmp_path / "site")).start()
    try:
        samples = scrape(server)
        assert value(samples, "reviewflow_database_up") == 0
        assert value(samples, "reviewflow_instances", status="active") is None
    finally:
        server.stop()
        gone.dispose()


def test_only_this_host_reads_metrics_unless_a_key_is_sent(db: engine.Database, tmp_path: Path) -> None:
    def serve(**settings: object) -> Server:
        return Server(db, ServerSettings(timers=False, site_dir=tmp_path / "site", **settings)).start()

    local = serve()                                        # the default: loopback only, no key
    try:
        assert httpx.get(f"{local.url}/metrics").status_code == 200
        assert httpx.get(f"{local.url}/metrics", headers=bearer("guess")).status_code == 401
    finally:
        local.stop()
    nobody = serve(metrics_networks=[])                    # no network trusted, no key configured
    try:
        refused = httpx.get(f"{nobody.url}/metrics")
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    finally:
        nobody.stop()
    keyed = serve(metrics_networks=[], metrics_key="scrape-key-0123456789")
    try:
        unauthenticated = httpx.get(f"{keyed.url}/metrics")
        assert unauthenticated.status_code == 401 and unauthenticated.json()["error"]["code"] == "unauthenticated"
        assert unauthenticated.headers["www-authenticate"].startswith("Bearer")
        assert httpx.get(f"{keyed.url}/metrics", headers=bearer("wrong-key")).status_code == 401
        assert httpx.get(f"{keyed.url}/metrics", headers=bearer("scrape-key-0123456789")).status_code == 200
    finally:
        keyed.stop()


def test_metrics_are_not_audited(db: engine.Database, server: Server, keys: dict[str, str]) -> None:
    before = engine.verify_audit(db).checked
    for _ in range(3):
        assert httpx.get(f"{server.url}/metrics", headers=bearer(keys["alice"])).status_code in (200, 401)
        httpx.get(f"{server.url}/metrics")
        httpx.get(f"{server.url}/api/v1/ready")
    assert engine.verify_audit(db).checked == before
