"""The `reviewflow` command line: what --help promises, and the user, key, deploy and db commands."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import engine
from tests.conftest import BPMN

ROOT = Path(__file__).parents[1]


def run(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REVIEWFLOW_DATABASE_URL": f"sqlite:///{db}"}
    return subprocess.run([sys.executable, "-m", "api.cli", *args], env=env, capture_output=True, text=True,
                          cwd=ROOT, timeout=60)


def test_help_lists_every_command(tmp_path: Path) -> None:
    out = run("--help", db=tmp_path / "x.db").stdout
    for command in ("serve", "worker", "db", "users", "keys", "audit", "deploy"):
        assert f"    {command}" in out
    assert "REVIEWFLOW_DATABASE_URL" in out


def test_db_users_keys_and_deploy(tmp_path: Path) -> None:
    db_path = tmp_path / "cli.db"
    assert run("db", "current", db=db_path).stdout.strip() == "empty (no revision)"
    assert "database at revision" in run("db", "upgrade", db=db_path).stdout
    added = run("users", "add", "priya", "--role", "crg-member", "--group", "case-review-group", "--key", db=db_path)
    assert added.returncode == 0 and "key (shown once): rfk_" in added.stdout
    secret = added.stdout.strip().splitlines()[-1].split(": ", 1)[1]
    db = engine.Database(f"sqlite:///{db_path}")
    assert engine.authenticate_key(db, secret).id == "priya"
    [key] = engine.list_keys(db, principal_id="priya")
    assert run("keys", "revoke", key.id, db=db_path).returncode == 0
    assert engine.authenticate_key(db, secret) is None
    assert run("users", "add", "x", "--role", "wizard", db=db_path).returncode == 2
    assert run("users", "add", "priya", "--role", "crg-member", db=db_path).returncode == 2      # exists
    deployed = run("deploy", str(BPMN / "one_user_task.bpmn"), db=db_path)
    assert deployed.returncode == 0 and "one_user_task deployed as new version 1" in deployed.stdout
    bad = run("deploy", str(BPMN / "service_without_topic.bpmn"), db=db_path)
    assert bad.returncode == 2 and "submit_to_panel" in bad.stderr
    assert run("deploy", str(tmp_path / "missing.bpmn"), db=db_path).returncode == 2
    db.dispose()
