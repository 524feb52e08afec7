"""A migration running while people complete the very tasks it moves: each case is changed by one
command at a time (its row lock), so every completion succeeds — before the move on v1, or after it
on v2 with the same task id — and every case ends up on v2, moved once, with nothing lost."""

from __future__ import annotations

import threading

import engine
from tests.migration_of_cases.conftest import OWNER, Versions

ALICE = engine.Actor("alice", frozenset({"case-review-group"}), sees_all_cases=True)


def test_migrating_while_tasks_are_completed(db: engine.Database, versions: Versions) -> None:
    v1, v2 = versions("case_review_v1.bpmn", "case_review_v2.bpmn")
    cases = [engine.start_instance(db, actor=ALICE, definition_id=v1, variables={"path": "review"}) for _ in range(12)]
    plan = engine.generate_migration_plan(db, source_definition_id=v1, target_definition_id=v2,
                                          mapping={"review": "review_case"})
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def migrate() -> None:
        try:
            start.wait()
            report = engine.migrate_instances(db, plan=plan, actor=OWNER, instance_ids=[c.id for c in cases])
            assert report.refused == [], report.refused
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def complete() -> None:
        try:
            start.wait()
            for case in reversed(cases):
                engine.complete_user_task(db, actor=ALICE, task_id=case.user_tasks[0].id, variables={"seen": True})
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=migrate), threading.Thread(target=complete)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    for case in cases:
        after = engine.get_instance(db, instance_id=case.id)
        assert after.definition_id == v2 and after.variables["seen"] is True
        assert [t.activity_id for t in after.user_tasks] == ["sign_off"]
        kinds = [e.kind for e in engine.instance_history(db, instance_id=case.id)]
        assert kinds.count("instance_migrated") == 1 and kinds.count("task_completed") == 1
