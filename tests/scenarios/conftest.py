"""The scenario harness: one server with its workers per database backend (SQLite always, PostgreSQL
when REVIEWFLOW_TEST_DATABASE_URL is set), on which each scenario drives one fictional case down
one branch of the pathway through the REST API, moving the clock instead of waiting.

To add a scenario (issue 18: family involvement, screening, reviews led elsewhere): add a PathSpec to
api/demo_paths.py with the answers that differ from the plain path, then a test here that runs it
with `run(scenarios, "name")` and asserts what that branch must show.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import engine
from api.demo import Demo
from api.demo_paths import PATHS, PathSpec
from tests.conftest import BACKENDS, create_schema, drop_schema, pg_database
from tests.workers.services.fakes import TOKEN, FakeNationalPanel


@contextmanager
def demo_on(backend: str, root: Path, kind: type[Demo] = Demo, **options: Any) -> Iterator[Demo]:
    """A Demo (or a subclass) with its server and workers on a fresh database of the backend."""
    schema = None
    if backend == "postgresql":
        schema = f"rf_scen_{uuid.uuid4().hex[:8]}"
        create_schema(schema)
        db = pg_database(schema)
    else:
        db = engine.Database(f"sqlite:///{root / 'scenarios.db'}", audit_fast=True)
    engine.upgrade(db)
    demo = kind(root=root / "demo", out=lambda *a: None, db=db, **options)
    demo.start()
    try:
        yield demo
    finally:
        demo.stop()
        db.dispose()
        if schema:
            drop_schema(schema)


@pytest.fixture(scope="module", params=BACKENDS)
def scenarios(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """No Panel endpoint (the usual case): everything for the Panel is submitted through its portal."""
    with demo_on(request.param, tmp_path_factory.mktemp(f"scenarios-{request.param}")) as demo:
        yield demo


@pytest.fixture(scope="module", params=BACKENDS)
def with_panel(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[tuple[Demo, FakeNationalPanel]]:
    """The Panel's endpoint configured: a stand-in for it on 127.0.0.1 (it can refuse a submission)."""
    panel = FakeNationalPanel()
    panel.start()
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("NORTHBRIDGE_NATIONAL_PANEL_TOKEN", TOKEN)
            with demo_on(request.param, tmp_path_factory.mktemp(f"panel-{request.param}"),
                       national_panel_url=panel.submit_url) as demo:
                yield demo, panel
    finally:
        panel.stop()


def run(demo: Demo, name: str) -> dict[str, Any]:
    """Drive the named path; assert the case ended cleanly: completed, no incident, no open task."""
    return run_path(demo, PATHS[name])


def run_path(demo: Demo, path: PathSpec) -> dict[str, Any]:
    result = demo.run_case(path, f"NB-SCEN-{path.name.upper()}-{uuid.uuid4().hex[:4]}")
    case = result["case"]
    assert case["status"] == "completed", case["status"]
    assert case["incidents"] == [] and case["user_tasks"] == [] and case["external_tasks"] == []
    assert not [e for e in result["history"] if e["kind"] in ("incident_opened", "external_task_failed")]
    return result


def who(result: dict[str, Any], activity: str) -> list[str]:
    return [c["user"] for c in result["completed"] if c["activity_id"] == activity]


def fired(result: dict[str, Any], activity: str) -> list[str]:
    """When each firing of a timer happened (the clock is moved just past its due moment)."""
    return [e["at"] for e in result["history"] if e["kind"] == "timer_fired" and e["activity_id"] == activity]


def outbox(demo: Demo) -> list[Path]:
    return sorted((demo.root / "outbox").rglob("*"))
