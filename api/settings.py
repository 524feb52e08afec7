"""The server's settings: one object, read from REVIEWFLOW_* environment variables, checked at start-up."""

from __future__ import annotations

from datetime import date, timedelta
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServerSettings(BaseSettings):
    """Defaults run on a laptop: embedded SQLite under var/, API on 127.0.0.1:8000."""

    model_config = SettingsConfigDict(env_prefix="REVIEWFLOW_", extra="ignore")

    database_url: str = Field("sqlite:///var/reviewflow.db",
                              description="SQLAlchemy URL; postgresql://… uses psycopg 3")
    sqlite_synchronous: Literal["FULL", "NORMAL", "EXTRA"] = Field(
        "FULL", description="FULL survives power loss after every commit; NORMAL may lose the last commits")
    sqlite_busy_timeout_ms: int = Field(5000, ge=0)
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    bpmn_dir: Path = Field(Path("bpmn"), description="diagrams (and forms/) deployed at start-up")
    deploy_on_start: bool = True
    timers: bool = Field(True, description="run the timer scheduler in this process")
    workers: bool = Field(True, description="run the external-task handlers in this process (over HTTP)")
    closure_days: list[date] = Field(default_factory=list, description=(
        "the partnership's own closure days, not counted as working days (besides England and Wales bank "
        "holidays): a JSON list, e.g. [\"2026-12-29\", \"2026-12-30\"]"))
    organisation_variable: str = Field("agency", description=(
        "the task variable that says whose request a task is; users with an organisation see only theirs"))
    audit: bool = Field(True, description="record every authenticated request in the hash-chained audit trail")
    audit_durability: Literal["full", "fast"] = Field("fast", description=(
        "for audit entries in a transaction of their own (reads; on PostgreSQL every request — on SQLite "
        "a change's entry commits with the change): fast: committed before the answer, without waiting "
        "for the disk (a power cut may lose the last moment's entries); full: it waits, like case changes do"))
    oidc_issuer: str | None = Field(None, description="OpenID Connect issuer whose bearer tokens are accepted")
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = Field(None, description="the issuer's keys (JWKS) by URL …")
    oidc_jwks_file: Path | None = Field(None, description="… or from a file")
    oidc_user_claim: str = "sub"
    oidc_groups_claim: str = "groups"
    oidc_roles_claim: str = "roles"
    oidc_organisation_claim: str | None = None
    audit_head: str | None = Field(None, description=(
        "where to publish the audit trail's newest (seq, hash) after each commit: a file path or an http(s) "
        "URL outside the database's reach; `reviewflow audit verify --head` checks the trail against it"))
    audit_head_key: SecretStr | None = Field(None, description=(
        "a secret (kept outside the database) that signs the published head with an HMAC"))
    sign_in_limit_per_source: str = Field("20/minute", description="failed sign-ins allowed per client address")
    sign_in_limit_per_key: str = Field("10/minute", description="failed sign-ins allowed per API key prefix")
    script_time_limit: float = Field(2.0, gt=0, le=60, description=(
        "seconds a diagram's script or expression may run (wall clock and processor time) before its task "
        "fails with an incident"))
    script_memory_mb: int = Field(256, ge=16, le=8192, description="memory a diagram's script may allocate")
    sandbox_processes: int = Field(2, ge=1, le=16, description="processes that run diagrams' scripts")
    engine_threads: int = Field(8, ge=1, le=64, description=(
        "threads that run engine calls off the event loop (at most this many database connections in use)"))
    first_key_file: Path = Field(Path("var/admin.key"), description=(
        "where the first administrator's key is written (readable only by its owner), never to the log"))
    min_timer_cycle: timedelta = Field(timedelta(minutes=1), gt=timedelta(0), description=(
        "the shortest interval a repeating timer (timeCycle) may have, checked by deploy and lint, as an ISO 8601 "
        "duration (PT1M, PT1H); a timer start firing every millisecond would flood the service with cases"))
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = Field("text", description=(
        "text: one readable line per record; json: one JSON object per line (time, level, logger, message, "
        "request_id, ids such as instance_id, task_id, topic), for a log collector"))
    access_log: bool = Field(True, description=(
        "log one line per request: method, route template (never the path or query), status, duration, request id"))
    processes: int = Field(1, ge=1, le=64, description=(
        "server processes `serve` runs on one port (more than one needs PostgreSQL)"))
    metrics_key: SecretStr | None = Field(None, description=(
        "a scrape key: a client sending `Authorization: Bearer <key>` may read /metrics from anywhere"))
    metrics_networks: list[IPv4Network | IPv6Network] = Field(
        default_factory=lambda: [IPv4Network("127.0.0.0/8"), IPv6Network("::1/128")], description=(
            "client networks that may read /metrics without the key, as JSON: '[\"127.0.0.0/8\", \"::1/128\"]' "
            "(the default: this host only); '[]' requires the key from everyone"))
    metrics_cache_seconds: float = Field(10.0, ge=0, le=300, description=(
        "how long the counts /metrics reads from the database are reused, so scrapes cannot load it"))
    max_body_bytes: int = Field(25 * 1024 * 1024, ge=1024, description=(
        "largest request body accepted (413 above it); documents are at most max_document_bytes within it"))
    max_document_bytes: int = Field(20 * 1024 * 1024, ge=1024, description="largest document accepted")
    site_dir: Path = Field(Path("var/site"), description="the published site served at /site/ (no login)")

    def sqlite_path(self) -> Path | None:
        url = self.database_url
        if url.startswith("sqlite:///") and ":memory:" not in url:
            return Path(url.removeprefix("sqlite:///"))
        return None
