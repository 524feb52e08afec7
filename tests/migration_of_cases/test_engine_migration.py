"""Moving cases between versions, engine-side: what moves, what is refused and why, and what survives."""

from __future__ import annotations

from datetime import timedelta

import pytest

import engine
from tests.conftest import table_counts
from tests.migration_of_cases.conftest import OWNER, Versions

ALICE = engine.Actor("alice", frozenset({"case-review-group", "business-unit"}), sees_all_cases=True)


def start(db: engine.Database, definition_id: str, path: str) -> engine.InstanceInfo:
    return engine.start_instance(db, actor=ALICE, definition_id=definition_id, variables={"path": path})


def finish(db: engine.Database, instance_id: str) -> list[str]:
    """Complete whatever user tasks the case has until it ends; returns their activity ids in order."""
    done = []
    for _ in range(10):
        case = engine.get_instance(db, instance_id=instance_id)
        if case.status != "active":
            return done
        [task] = case.user_tasks
        engine.complete_user_task(db, actor=ALICE, task_id=task.id, variables={})
        done.append(task.activity_id)
    raise AssertionError("the case did not end")


def test_a_plan_maps_what_both_versions_share(db: engine.Database, versions: Versions) -> None:
    v1, v2 = versions("case_review_v1.bpmn", "case_review_v2.bpmn")
    plan = engine.generate_migration_plan(db, source_definition_id=v1, target_definition_id=v2)
    assert [(i.source_activity_id, i.target_activity_id) for i in plan.instructions] == [
        ("cooling_off", "cooling_off"), ("gather_reports", "gather_reports"), ("sign_off", "sign_off")]
    report = engine.validate_migration_plan(db, plan=plan)
    assert report.valid and report.unmapped_activities == ("review",)


def test_a_case_at_a_removed_activity_is_refused_by_name_then_moves_with_a_mapping(
        db: engine.Database, versions: Versions) -> None:
    v1, v2 = versions("case_review_v1.bpmn", "case_review_v2.bpmn")
    at_review, at_timer = start(db, v1, "review"), start(db, v1, "wait")
    plan = engine.generate_migration_plan(db, source_definition_id=v1, target_definition_id=v2)
    report = engine.validate_migration(db, plan=plan)
    by_id = {i.instance_id: i for i in report.instances}
    assert by_id[at_timer.id].movable and by_id[at_timer.id].waiting_at == ("cooling_off",)
    refused = by_id[at_review.id]
    assert not refused.movable and refused.waiting_at == ("review",)
    [activity] = refused.activities
    assert activity.activity_id == "review" and activity.task_id == at_review.user_tasks[0].id
    assert activity.failures == ("There is no migration instruction for this instance's activity",)

    before = table_counts(db)
    done = engine.migrate_instances(db, plan=plan, actor=OWNER, instance_ids=[at_review.id])
    assert done.moved == [] and table_counts(db) == before          # refused: nothing changed

    mapped = engine.generate_migration_plan(db, source_definition_id=v1, target_definition_id=v2,
                                            mapping={"review": "review_case"})
    done = engine.migrate_instances(db, plan=mapped, actor=OWNER)
    assert sorted(done.moved) == sorted([at_review.id, at_timer.id])
    moved = engine.get_instance(db, instance_id=at_review.id)
    assert moved.definition_id == v2
    [task] = moved.user_tasks
    assert (task.id, task.activity_id, task.name, task.definition_id) == (
        at_review.user_tasks[0].id, "review_case", "Review the case, with the chronology", v2)
    history = engine.instance_history(db, instance_id=at_review.id)
    assert history[-1].kind == "instance_migrated" and history[-1].actor == "pat"
    assert history[-1].details == {"from_definition": v1, "to_definition": v2}
    assert finish(db, at_review.id) == ["review_case", "sign_off", "quality_check"]


def test_timers_claims_and_locks_survive(db: engine.Database, versions: Versions) -> None:
    v1, v2 = versions("case_review_v1.bpmn", "case_review_v2.bpmn")
    at_review, at_timer, at_work = start(db, v1, "review"), start(db, v1, "wait"), start(db, v1, "reports")
    engine.claim_user_task(db, actor=ALICE, task_id=at_review.user_tasks[0].id)
    fetched = engine.fetch_and_lock(db, worker_id="w1", actor=OWNER, max_tasks=1,
                                    topics=[engine.TopicRequest("gather-reports", 600_000)])
    [locked] = fetched.tasks
    plan = engine.generate_migration_plan(db, source_definition_id=v1, target_definition_id=v2,
                                          mapping={"review": "review_case"})
    assert sorted(engine.migrate_instances(db, plan=plan, actor=OWNER).moved) == sorted(
        [at_review.id, at_timer.id, at_work.id])

    [task] = engine.get_instance(db, instance_id=at_review.id).user_tasks
    assert task.assignee == "alice" and task.claimed_at is not None
    [external] = engine.get_instance(db, instance_id=at_work.id).external_tasks
    assert (external.id, external.worker_id, external.lock_expires_at, external.definition_id) == (
        locked.task.id, "w1", locked.task.lock_expires_at, v2)
    timer = engine.get_instance(db, instance_id=at_timer.id)
    assert timer.next_timer_at == at_timer.next_timer_at

    engine.complete_external_task(db, task_id=external.id, worker_id="w1", actor=OWNER)
    assert finish(db, at_work.id) == ["sign_off", "quality_check"]
    engine.clock.advance(timedelta(days=31))
    try:
        assert at_timer.id in engine.fire_due_timers(db)
    finally:
        engine.clock.reset()
    assert finish(db, at_timer.id) == ["sign_off", "quality_check"]
