"""Prometheus metrics at `/metrics`, with prometheus-client.

* Counts from the database — active instances, open user tasks by candidate group, external tasks
  by topic and state, open incidents, timer lag — are read by a collector when a scrape comes, in
  one short read transaction over indexed columns (in proportion to the open work, not the history),
  and reused for `REVIEWFLOW_METRICS_CACHE_SECONDS` (10 s): a scrape storm costs the database one
  read per process per period, never one per scrape or per request. Finished and suspended
  instances, which take a pass over every instance, are counted every TOTALS_SECONDS (5 minutes).
* Request latency is a histogram by method, route template and status, observed by a middleware.
* The connection pool of each process: its size, the connections open and those checked out.
* `serve --processes N` runs prometheus-client's multi-process mode (PROMETHEUS_MULTIPROC_DIR, set by
  the supervisor): whichever process answers a scrape reports the histogram summed over all of them,
  and each pool gauge as the sum over the processes alive.

Who may read it: clients in `REVIEWFLOW_METRICS_NETWORKS` (default: this host only) without a key,
and anyone with `Authorization: Bearer <REVIEWFLOW_METRICS_KEY>`. The numbers hold no case data, but
how many reviews are open, and in which groups, is the partnership's business; docs/operations.md says
how to scrape through a reverse proxy without opening it to the world.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import threading
import time
from collections.abc import Iterator
from time import monotonic

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import engine
from api.errors import error_body
from api.logs import route_template
from api.settings import ServerSettings
from api.threads import run_engine

log = logging.getLogger(__name__)

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
FINISHED_STATUSES = ("completed", "cancelled")
TOTALS_SECONDS = 300.0             # finished and suspended instances: a pass over every instance, so less often
EXTERNAL_TASK_STATES = ("available", "locked", "failed")
FAILED_READ_REUSE_S = 2.0          # a database that did not answer is asked again after this, not at once

router = APIRouter(include_in_schema=False)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROCESS_ENV) or None


class DatabaseCounts(Collector):
    """The gauges read from the database, through a short cache shared by concurrent scrapes. What is
    open now is read at most once per `cache_seconds`; the totals of finished and suspended instances,
    which cost a pass over every instance, at most once per TOTALS_SECONDS."""

    def __init__(self, db: engine.Database, cache_seconds: float) -> None:
        self._db, self._ttl = db, cache_seconds
        self._totals_ttl = max(cache_seconds, TOTALS_SECONDS)
        self._lock = threading.Lock()
        self._counts: engine.OperationalCounts | None = None
        self._totals: engine.InstanceTotals | None = None
        self._read_at = self._totals_at = float("-inf")
        self._ok = False
        self.reads = 0                          # how many times the database was asked (tests, curiosity)

    def counts(self) -> tuple[engine.OperationalCounts | None, engine.InstanceTotals | None, bool, float]:
        """(open counts or None, totals or None, whether the last read succeeded, the open counts' age
        in seconds). One scrape reads; scrapes that arrive meanwhile wait for it and share the answer."""
        with self._lock:
            now = monotonic()
            age = now - self._read_at
            if age >= (self._ttl if self._ok else min(self._ttl, FAILED_READ_REUSE_S)):
                self.reads += 1
                with_totals = now - self._totals_at >= self._totals_ttl
                try:
                    self._counts, self._ok = engine.operational_counts(self._db, totals=with_totals), True
                except Exception as exc:
                    log.warning("metrics: the database did not answer (%s)", type(exc).__name__)
                    self._counts, self._ok = None, False
                else:
                    if self._counts.totals is not None:
                        self._totals, self._totals_at = self._counts.totals, now
                self._read_at, age = now, 0.0
            return self._counts, self._totals, self._ok, age

    def collect(self) -> Iterator[Metric]:
        counts, totals, ok, age = self.counts()
        yield GaugeMetricFamily("reviewflow_database_up", "1 when the counts below were read from the database",
                                value=1 if ok else 0)
        if counts is None:
            return
        yield GaugeMetricFamily("reviewflow_counts_age_seconds", "How old the database counts are (cached)",
                                value=age)
        instances = GaugeMetricFamily("reviewflow_instances", "Process instances by status (active: now; "
                                      f"completed, cancelled: read every {self._totals_ttl:.0f} s)",
                                      labels=["status"])
        instances.add_metric(["active"], counts.active_instances)
        if totals is not None:
            for status in sorted(set(FINISHED_STATUSES) | set(totals.by_status)):
                instances.add_metric([status], totals.by_status.get(status, 0))
        yield instances
        if totals is not None:
            yield GaugeMetricFamily("reviewflow_instances_suspended", "Active instances that are suspended (read "
                                    f"every {self._totals_ttl:.0f} s)", value=totals.suspended)
        tasks = GaugeMetricFamily("reviewflow_user_tasks_open", "Open user tasks by candidate group "
                                  "(a task offered to two groups counts in each; \"\" for none)",
                                  labels=["candidate_group"])
        for group, n in sorted(counts.open_user_tasks.items()):
            tasks.add_metric([group], n)
        yield tasks
        external = GaugeMetricFamily("reviewflow_external_tasks", "External tasks by topic and state: available "
                                     "to fetch, locked by a worker, failed (no retries left: an incident)",
                                     labels=["topic", "state"])
        for topic in sorted({topic for topic, _ in counts.external_tasks}):
            for state in EXTERNAL_TASK_STATES:
                external.add_metric([topic, state], counts.external_tasks.get((topic, state), 0))
        yield external
        incidents = GaugeMetricFamily("reviewflow_incidents_open", "Unresolved incidents by type", labels=["type"])
        for kind, n in sorted(counts.open_incidents.items()):
            incidents.add_metric([kind], n)
        yield incidents
        yield GaugeMetricFamily("reviewflow_timer_lag_seconds", "Now minus the due time of the most overdue timer "
                                "(0 when none is overdue)", value=counts.timer_lag_seconds)
        yield GaugeMetricFamily("reviewflow_timers_overdue", "Active instances whose timer is due and not fired",
                                value=counts.overdue_timers)


class Metrics:
    """One app's metrics: its registry, the latency histogram, the pool gauges, the database counts."""

    def __init__(self, db: engine.Database, settings: ServerSettings) -> None:
        self.db = db
        self.settings = settings
        self.counts = DatabaseCounts(db, settings.metrics_cache_seconds)
        self.multiprocess = multiprocess_dir() is not None
        self.registry = CollectorRegistry()
        own = None if self.multiprocess else self.registry   # multi-process: values live in files
        self.latency = Histogram("reviewflow_http_request_duration_seconds",
                                 "Time to answer a request, by method, route template and status",
                                 ["method", "route", "status"], buckets=LATENCY_BUCKETS, registry=own)
        pool = {"registry": own, "multiprocess_mode": "livesum"}
        self.pool_size = Gauge("reviewflow_db_pool_size", "Connections the pool keeps (summed over processes)",
                               **pool)  # type: ignore[arg-type]
        self.pool_checked_out = Gauge("reviewflow_db_pool_checked_out", "Connections in use now (summed over "
                                      "processes)", **pool)  # type: ignore[arg-type]
        self.pool_open = Gauge("reviewflow_db_pool_open", "Connections open now, idle or in use (summed over "
                               "processes)", **pool)  # type: ignore[arg-type]
        if self.multiprocess:
            prometheus_multiprocess.MultiProcessCollector(self.registry)
        else:
            ProcessCollector(registry=self.registry)
        self.registry.register(self.counts)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.latency.labels(method, route, str(status)).observe(seconds)
        self.update_pool()

    def update_pool(self) -> None:
        status = engine.pool_status(self.db)
        for gauge, value in ((self.pool_size, status.size), (self.pool_checked_out, status.checked_out),
                             (self.pool_open, status.open)):
            if value is not None:
                gauge.set(value)

    def render(self) -> bytes:
        self.update_pool()
        return generate_latest(self.registry)

    def may_read(self, request: Request) -> int | None:
        """None when the caller may read the metrics; else the status to refuse with (401 or 403)."""
        key = self.settings.metrics_key
        authorization = request.headers.get("authorization")
        if authorization is not None:
            scheme, _, token = authorization.partition(" ")
            if key is not None and scheme.lower() == "bearer" and hmac.compare_digest(
                    token.strip().encode(), key.get_secret_value().encode()):
                return None
            return 401
        try:
            client = ipaddress.ip_address(request.client.host) if request.client else None
        except ValueError:
            client = None
        if client is not None and any(client in network for network in self.settings.metrics_networks):
            return None
        return 401 if key is not None else 403


class RequestMetrics:
    """ASGI middleware: observes each request's latency under its route template."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            try:
                self.metrics.observe(scope.get("method") or "", route_template(scope), status,
                                     time.perf_counter() - began)
            except Exception:                     # a metric must never cost an answer
                log.exception("metrics: could not observe a request")


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    """Prometheus text format; see the module docstring for who may read it."""
    state: Metrics = request.app.state.metrics
    refused = state.may_read(request)
    if refused == 401:
        return JSONResponse(error_body("unauthenticated", "send the scrape key: Authorization: Bearer <key>"),
                            status_code=401, headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    if refused == 403:
        return JSONResponse(error_body("forbidden", "metrics are served to this host's networks only "
                                       "(REVIEWFLOW_METRICS_NETWORKS), or with the scrape key"), status_code=403)
    body = await run_engine(state.db, state.render)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
