"""Migration benchmark: how fast open cases are checked and moved to a new version.

N cases of tests/migration_of_cases/data/case_review_v1.bpmn wait — a third at a user task, a third
at an external task, a third at a timer — in a fresh SQLite file (WAL, synchronous=FULL, as served).
Then, timed: the dry run over all of them (`validate_migration`: every state loaded and checked),
and the migration to v2 (`migrate_instances`: one transaction each, with its history event and audit
entry). For scale, starting the cases is timed too (one transaction each, like a move).

    .venv/bin/python -m bench.migration                  # 600 cases
    .venv/bin/python -m bench.migration --cases 3000 --json var/bench-migration.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import engine

DATA = Path(__file__).parents[1] / "tests" / "migration_of_cases" / "data"
ACTOR = engine.Actor.system("bench")


def run(cases: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        db = engine.Database(f"sqlite:///{tmp}/bench.db")
        engine.upgrade(db)
        for name in ("case_review_v1.bpmn", "case_review_v2.bpmn"):
            engine.deploy(db, files=[engine.DeployFile("case_review.bpmn", (DATA / name).read_bytes())], actor=ACTOR)
        paths = ["review", "reports", "wait"]
        began = time.perf_counter()
        for i in range(cases):
            engine.start_instance(db, actor=ACTOR, definition_id="case_review:1", variables={"path": paths[i % 3]})
        started = time.perf_counter() - began
        plan = engine.generate_migration_plan(db, source_definition_id="case_review:1",
                                              target_definition_id="case_review:2", mapping={"review": "review_case"})
        began = time.perf_counter()
        checked = engine.validate_migration(db, plan=plan)
        validated = time.perf_counter() - began
        assert len(checked.movable) == cases
        began = time.perf_counter()
        done = engine.migrate_instances(db, plan=plan, actor=ACTOR, audit=engine.Audit("bench", "bench"))
        migrated = time.perf_counter() - began
        assert len(done.moved) == cases
        db.dispose()
    return {"cases": cases, "start_per_s": cases / started, "dry_run_per_s": cases / validated,
            "migrate_per_s": cases / migrated, "migrate_ms_per_case": 1000 * migrated / cases}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=600)
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()
    result = run(args.cases)
    for key, value in result.items():
        print(f"{key:22} {value:10.1f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
