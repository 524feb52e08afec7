"""`reviewflow serve` parses the deployed processes at start-up and freezes its heap out of the
garbage collector's walks (api.heap), so a full collection no longer pauses requests for 100 ms and
more. Apps that tests create and drop are left alone."""

from __future__ import annotations

import asyncio
import gc
import json
from pathlib import Path

import engine
from api.app import create_app
from api.heap import warm_specs
from api.settings import ServerSettings
from tests.conftest import BPMN
from tests.ops.conftest import Served

ROOT = Path(__file__).parents[2]


def test_serve_parses_every_process_then_freezes_the_heap(tmp_path: Path) -> None:
    served = Served(f"sqlite:///{tmp_path / 'rf.db'}", tmp_path, "--no-workers", REVIEWFLOW_LOG_FORMAT="json",
                    REVIEWFLOW_LOG_LEVEL="INFO", REVIEWFLOW_BPMN_DIR=str(ROOT / "bpmn"))
    try:
        served.wait_ready()
    finally:
        served.stop()
    settled = [line for line in map(json.loads, served.stderr().splitlines()) if line.get("logger") == "api.heap"]
    assert len(settled) == 1, served.stderr()[-2000:]
    parsed, frozen = (int(word) for word in settled[0]["message"].split() if word.isdigit())
    deployed = len(list((ROOT / "bpmn").glob("*.bpmn")))
    assert parsed >= deployed                      # each file holds one executable process or more
    assert frozen > 10_000


def test_warm_specs_parses_the_latest_version_of_each_process(tmp_path: Path) -> None:
    db = engine.Database(f"sqlite:///{tmp_path / 'warm.db'}")
    try:
        engine.upgrade(db)
        diagram = BPMN / "one_user_task.bpmn"
        for _ in range(2):                         # two versions of one process
            engine.deploy(db, files=[engine.DeployFile(diagram.name, diagram.read_bytes().replace(
                b"</bpmn:definitions>", f"<!-- {_} --></bpmn:definitions>".encode()))],
                actor=engine.Actor.system("po"))
        assert warm_specs(db) == 1
        assert list(db.specs._specs) == ["one_user_task:2"]
    finally:
        db.dispose()


def test_an_app_a_test_creates_freezes_nothing(tmp_path: Path) -> None:
    db = engine.Database(f"sqlite:///{tmp_path / 'plain.db'}")
    engine.upgrade(db)
    before = gc.get_freeze_count()
    settings = ServerSettings(database_url=f"sqlite:///{tmp_path / 'plain.db'}", timers=False, workers=False,
                              site_dir=tmp_path / "site")
    app = create_app(settings, db=db)

    async def start_and_stop() -> None:
        async with app.router.lifespan_context(app):
            pass

    asyncio.run(start_and_stop())
    assert gc.get_freeze_count() == before
    db.dispose()
