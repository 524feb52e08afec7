"""deploy/: the Compose file (PostgreSQL, two servers behind nginx, workers) and the systemd units.
No container engine runs here, so the Compose file is read as YAML and checked for its shape: the
services, their environment, their health checks and the order they start in; every `reviewflow`
command it and the units run is parsed by the real command line; the units pass `systemd-analyze verify`
where systemd is installed."""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.cli import build_parser
from api.settings import ServerSettings
from tests.ops.conftest import ROOT
from workers.runtime import WorkerSettings

DEPLOY = ROOT / "deploy"
SERVERS = ("server-1", "server-2")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def help_text() -> str:
    """`reviewflow --help`, as the installed command prints it."""
    done = subprocess.run([sys.executable, "-m", "api.cli", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0
    return done.stdout


def assert_a_reviewflow_command(argv: list[str], help_text: str) -> None:
    """A subcommand `reviewflow --help` lists, with arguments the real parser accepts."""
    assert argv[0] in re.findall(r"^    (\w+)\s", help_text, re.M), f"{argv[0]} is not a reviewflow command"
    build_parser().parse_args(argv)                       # exits (SystemExit) on anything it does not know


def test_compose_has_postgresql_two_servers_a_proxy_workers_and_a_backup(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", *SERVERS, "proxy", "worker", "backup"}
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["worker"]["deploy"]["replicas"] >= 2
    assert services["backup"]["profiles"] == ["backup"]   # run on demand, not by `up`
    assert set(compose["volumes"]) >= {"pgdata", "reviewflow-var", "backups"}


def test_compose_services_share_one_database_and_log_json(compose: dict[str, Any]) -> None:
    services = compose["services"]
    urls = {name: services[name]["environment"]["REVIEWFLOW_DATABASE_URL"] for name in (*SERVERS, "worker", "backup")}
    assert len(set(urls.values())) == 1
    url = urls["server-1"]
    assert url.startswith("postgresql://reviewflow:${POSTGRES_PASSWORD:?") and url.endswith("@postgres:5432/reviewflow")
    postgres = services["postgres"]["environment"]
    assert (postgres["POSTGRES_DB"], postgres["POSTGRES_USER"]) == ("reviewflow", "reviewflow")
    for name in SERVERS:
        env = services[name]["environment"]
        assert env["REVIEWFLOW_LOG_FORMAT"] == "json"
        assert int(env["REVIEWFLOW_PROCESSES"]) >= 1
        assert env["REVIEWFLOW_METRICS_KEY"].startswith("${REVIEWFLOW_METRICS_KEY:?")
        assert "ports" not in services[name]               # only the proxy is published
    assert services["worker"]["environment"]["REVIEWFLOW_WORKER_TOKEN"].startswith("${REVIEWFLOW_WORKER_TOKEN:?")
    required = set(re.findall(r"\$\{(\w+):\?", (DEPLOY / "compose.yaml").read_text()))
    example = {line.split("=", 1)[0] for line in (DEPLOY / "env.example").read_text().splitlines()
               if line and not line.startswith("#")}
    assert required == example                            # every variable the file insists on is in the example
    assert services["proxy"]["ports"] == ["127.0.0.1:8000:8080"]


def test_compose_health_checks_and_start_order(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]
    for name in SERVERS:
        check = " ".join(services[name]["healthcheck"]["test"])
        assert "http://127.0.0.1:8000/api/v1/ready" in check
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["server-2"]["depends_on"]["server-1"]["condition"] == "service_healthy"
    assert "/api/v1/ready" in " ".join(services["proxy"]["healthcheck"]["test"])
    assert {s: c["condition"] for s, c in services["proxy"]["depends_on"].items()} == {
        s: "service_healthy" for s in SERVERS}
    assert services["worker"]["depends_on"]["proxy"]["condition"] == "service_healthy"


def test_compose_commands_are_reviewflow_commands(compose: dict[str, Any], help_text: str) -> None:
    services = compose["services"]
    for name in (*SERVERS, "worker", "backup"):
        assert_a_reviewflow_command(services[name]["command"], help_text)
    for name in SERVERS:
        parsed = build_parser().parse_args(services[name]["command"])
        assert (parsed.command, parsed.host, parsed.port, parsed.no_workers) == ("serve", "0.0.0.0", 8000, True)
    worker = build_parser().parse_args(services["worker"]["command"])
    assert worker.engine_url == "http://proxy:8080/engine-rest"


def test_the_proxy_balances_over_both_servers_and_hides_metrics(compose: dict[str, Any]) -> None:
    conf = (DEPLOY / "nginx.conf").read_text()
    assert sorted(re.findall(r"^\s*server (server-\d):8000\b", conf, re.M)) == list(SERVERS)
    assert "location = /metrics { return 404; }" in conf
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in conf       # overwritten, so it cannot be forged
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in compose["services"]["proxy"]["volumes"]
    image = (DEPLOY / "Dockerfile").read_text()
    assert compose["services"]["server-1"]["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    assert 'ENTRYPOINT ["reviewflow"]' in image and "postgresql-client" in image and "pip install" in image
    for folder in re.findall(r"^COPY (\w+) \1$", image, re.M):
        assert (ROOT / folder).is_dir()


def units() -> list[Path]:
    return sorted((DEPLOY / "systemd").glob("*.service"))


def test_the_units_run_reviewflow_commands(help_text: str) -> None:
    assert {p.name for p in units()} == {"reviewflow.service", "reviewflow-worker@.service",
                                         "reviewflow-backup.service"}
    for path in units():
        unit = configparser.ConfigParser(strict=False, interpolation=None)
        unit.optionxform = str  # type: ignore[assignment,method-assign]
        unit.read(path)
        argv = shlex.split(unit["Service"]["ExecStart"])
        assert argv[0] == "/opt/reviewflow/.venv/bin/reviewflow", path.name
        assert_a_reviewflow_command(argv[1:], help_text)
        assert unit["Service"]["EnvironmentFile"] == "/etc/reviewflow/reviewflow.env"
        assert unit["Service"]["User"] == "reviewflow"
    example = (DEPLOY / "systemd" / "reviewflow.env.example").read_text()
    names = set(re.findall(r"^(REVIEWFLOW_\w+)=", example, re.M))
    known = {f"REVIEWFLOW_{n.upper()}" for n in ServerSettings.model_fields}
    known |= {f"REVIEWFLOW_WORKER_{n.upper()}" for n in WorkerSettings.model_fields} | {"REVIEWFLOW_WORKER_DIRECTORY"}
    assert names <= known, names - known                 # no setting the code does not read


def test_the_units_pass_systemd_analyze_where_systemd_is(tmp_path: Path) -> None:
    """`systemd-analyze verify` (with the installed command in place of /opt/reviewflow's): the machines
    here have systemd; without it, this checks only that the timer starts the backup unit."""
    timer = configparser.ConfigParser(strict=False, interpolation=None)
    timer.read(DEPLOY / "systemd" / "reviewflow-backup.timer")
    assert timer["Timer"]["OnCalendar"] and timer["Timer"]["Persistent"] == "true"
    analyze = shutil.which("systemd-analyze")
    command = Path(sys.executable).with_name("reviewflow")
    if analyze is None or not command.exists():
        return
    for path in [*units(), *(DEPLOY / "systemd").glob("*.timer")]:
        text = path.read_text().replace("/opt/reviewflow/.venv/bin/reviewflow", str(command))
        (tmp_path / path.name.replace("@.", "@1.")).write_text(text)
    done = subprocess.run([analyze, "verify", *sorted(str(p) for p in tmp_path.iterdir())], capture_output=True,
                          text=True, cwd=tmp_path)
    assert done.returncode == 0 and done.stderr == "", done.stderr
