"""What the migration and repair tests share: their diagrams (tests/migration_of_cases/data), deployed
as a process owner would, and a quick way to start cases on a given version."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import engine

DATA = Path(__file__).parent / "data"
OWNER = engine.Actor.system("pat")

Versions = Callable[..., list[str]]


@pytest.fixture
def versions(db: engine.Database) -> Versions:
    """versions("case_review_v1.bpmn", "case_review_v2.bpmn") deploys each file in turn (each the next
    version of process `case_review`) and returns the definition ids of that process."""

    def _deploy(*names: str) -> list[str]:
        ids = []
        for name in names:
            key = Path(name).stem.split("_v")[0]
            result = engine.deploy(db, files=[engine.DeployFile(f"{key}.bpmn", (DATA / name).read_bytes())],
                                   actor=OWNER)
            ids += [d.definition.id for d in result.definitions if d.definition.key == key]
        return ids

    return _deploy
