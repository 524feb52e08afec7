"""Moving cases between versions, engine-side: what moves, what is refused and why, and what survives."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

import engine
from tests.conftest import table_counts
from tests.migration_of_cases.conftest import DATA, OWNER, Versions

ALICE = engine.Actor("alice", frozenset({"case-review-group", "business-unit"}), sees_all_cases=True)


def start(db: engine.Database, definition_id: str, path: str) -> engine.InstanceInfo:
    return engine.start_instance(db, actor=ALICE, definition_id=definition_id, variables={"path": path})


def finish(db: engine.Database, instance_id: str) -> list[str]:
    """Complete whatever user tasks the case has (by activity id) until it ends; returns their
    activity ids in the order completed."""
    done = []
    for _ in range(10):
        case = engine.get_instance(db, instance_id=instance_id)
        if case.status != "active":
            return done
        task = sorted(case.user_tasks, key=lambda t: t.activity_id)[0]
        engine.complete_user_task(db, actor=ALICE, task_id=task.id, variables={"imr_item": task.activity_id})
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


def plan_for(db: engine.Database, source: str, target: str, **kwargs: object) -> engine.MigrationPlan:
    return engine.generate_migration_plan(db, source_definition_id=source, target_definition_id=target,
                                          **kwargs)  # type: ignore[arg-type]


def kinds(db: engine.Database, instance_id: str) -> list[str]:
    return [e.kind for e in engine.instance_history(db, instance_id=instance_id)]


@pytest.fixture
def frozen() -> Iterator[object]:
    engine.clock.freeze(engine.clock.now())
    yield engine.clock
    engine.clock.reset()


def test_a_boundary_timer_moves_with_its_activity_and_the_targets_new_ones_start(
        db: engine.Database, versions: Versions, frozen: object) -> None:
    v1, v2 = versions("chased_v1.bpmn", "chased_v2.bpmn")
    case = engine.start_instance(db, actor=ALICE, definition_id=v1, variables={"path": "write"})
    chase_due = case.next_timer_at
    engine.clock.advance(timedelta(days=2))
    moved_at = engine.clock.now()
    assert engine.migrate_instances(db, plan=plan_for(db, v1, v2), actor=OWNER).moved == [case.id]
    after = engine.get_instance(db, instance_id=case.id)
    assert after.next_timer_at == chase_due                       # the week-on reminder keeps its day
    assert engine.instance_history(db, instance_id=case.id)[-1].details == {
        "from_definition": v1, "to_definition": v2, "started_events": ["too_late"]}
    engine.clock.advance(timedelta(days=6))                       # the reminder fires, on v2's path
    assert engine.fire_due_timers(db) == [case.id]
    [chase] = engine.get_instance(db, instance_id=case.id).external_tasks
    assert (chase.activity_id, chase.definition_id) == ("send_chase", v2)
    assert engine.get_instance(db, instance_id=case.id).next_timer_at == moved_at + timedelta(days=30)
    engine.clock.advance(timedelta(days=25))                      # the new month-on timer interrupts
    assert engine.fire_due_timers(db) == [case.id]
    [task] = engine.get_instance(db, instance_id=case.id).user_tasks
    assert task.activity_id == "escalate"


def test_update_event_trigger_restarts_a_timer_from_the_target(db: engine.Database, versions: Versions,
                                                               frozen: object) -> None:
    v1, v2 = versions("chased_v1.bpmn", "chased_v2.bpmn")
    case = engine.start_instance(db, actor=ALICE, definition_id=v1, variables={"path": "write"})
    engine.clock.advance(timedelta(days=2))
    moved_at = engine.clock.now()
    plan = plan_for(db, v1, v2, update_event_triggers=True)
    assert {i.source_activity_id for i in plan.instructions if i.update_event_trigger} == {"chase"}
    assert engine.migrate_instances(db, plan=plan, actor=OWNER).moved == [case.id]
    assert engine.get_instance(db, instance_id=case.id).next_timer_at == moved_at + timedelta(days=3)
    assert "timer_fired" not in kinds(db, case.id)
    assert engine.instance_history(db, instance_id=case.id)[-1].details["restarted_timers"]


def test_a_boundary_timer_the_target_does_not_have_ends_with_the_move(db: engine.Database, versions: Versions) -> None:
    v1, v2 = versions("chased_v1.bpmn", "chased_v2.bpmn")
    case = engine.start_instance(db, actor=ALICE, definition_id=v1, variables={"path": "gather"})
    assert case.next_timer_at is not None
    assert engine.migrate_instances(db, plan=plan_for(db, v1, v2), actor=OWNER).moved == [case.id]
    after = engine.get_instance(db, instance_id=case.id)
    assert after.next_timer_at is None
    assert [t.id for t in after.external_tasks] == [t.id for t in case.external_tasks]
    assert engine.instance_history(db, instance_id=case.id)[-1].details["ended_events"] == ["give_up"]
    fetched = engine.fetch_and_lock(db, worker_id="w", actor=OWNER, max_tasks=1,
                                    topics=[engine.TopicRequest("gather", 60_000)])
    engine.complete_external_task(db, task_id=fetched.tasks[0].task.id, worker_id="w", actor=OWNER)
    assert engine.get_instance(db, instance_id=case.id).status == "completed"


def test_a_gateway_waiting_for_its_other_branch(db: engine.Database, versions: Versions) -> None:
    v1, v2, v3 = versions("two_reviews_v1.bpmn", "two_reviews_v2.bpmn", "two_reviews_v3.bpmn")
    case = engine.start_instance(db, actor=ALICE, definition_id=v1)
    first = next(t for t in case.user_tasks if t.activity_id == "first")
    engine.complete_user_task(db, actor=ALICE, task_id=first.id, variables={})
    fresh = engine.start_instance(db, actor=ALICE, definition_id=v1)

    to_v3 = engine.validate_migration(db, plan=plan_for(db, v1, v3))
    by_id = {i.instance_id: i for i in to_v3.instances}
    [join] = by_id[case.id].activities                 # the branch from `first` arrived; v3 has no `first`
    assert join.activity_id == "join" and "not reached from 'first'" in join.failures[0]
    assert [a.activity_id for a in by_id[fresh.id].activities] == ["first"]

    assert sorted(engine.migrate_instances(db, plan=plan_for(db, v1, v2), actor=OWNER).moved) == sorted(
        [case.id, fresh.id])
    assert finish(db, case.id) == ["second", "summary"]
    assert sorted(finish(db, fresh.id)) == ["first", "second", "summary"]


def test_a_multi_instance_task_moves_with_its_instances(db: engine.Database, versions: Versions) -> None:
    v1, v2 = versions("per_agency_v1.bpmn", "per_agency_v2.bpmn")
    case = engine.start_instance(db, actor=ALICE, definition_id=v1, variables={"agencies": ["police", "health",
                                                                                          "school"]})
    assert len(case.user_tasks) == 3
    engine.complete_user_task(db, actor=ALICE, task_id=case.user_tasks[0].id, variables={"imr_item": "one"})
    assert engine.migrate_instances(db, plan=plan_for(db, v1, v2), actor=OWNER).moved == [case.id]
    left = engine.get_instance(db, instance_id=case.id).user_tasks
    assert sorted(t.id for t in left) == sorted(t.id for t in case.user_tasks[1:])
    for task in left:
        engine.complete_user_task(db, actor=ALICE, task_id=task.id, variables={"imr_item": "more"})
    after = engine.get_instance(db, instance_id=case.id)
    [collate] = after.user_tasks
    assert collate.activity_id == "collate"
    assert after.variables["imr_results"] == ["one", "more", "more"]


def test_fix_the_diagram_move_the_case_retry_its_incident(db: engine.Database, versions: Versions) -> None:
    v1, v2 = versions("choose_v1.bpmn", "choose_v2.bpmn")
    case = engine.start_instance(db, actor=ALICE, definition_id=v1, variables={
        "publication_choice": "improvements_only", "final_report_id": "doc-1"})
    [incident] = case.incidents
    assert incident.activity_id == "choose_version"
    assert engine.migrate_instances(db, plan=plan_for(db, v1, v2), actor=OWNER).moved == [case.id]
    retried = engine.retry_incident(db, actor=OWNER, incident_id=incident.id)
    assert retried.definition_id == v2 and retried.incidents == []
    [task] = retried.user_tasks
    assert task.activity_id == "check"
    assert engine.get_instance(db, instance_id=case.id).variables["publication_document_id"] == "doc-1"


def test_a_case_inside_a_called_process_with_a_message_waiting(db: engine.Database, versions: Versions) -> None:
    v1, v2 = versions("stored_case.bpmn", "stored_case_v2.bpmn")
    case = engine.start_instance(db, actor=ALICE, definition_id=v1, business_key="SIN-9")
    child = next(t for t in case.user_tasks if t.activity_id == "child_step")
    assert engine.migrate_instances(db, plan=plan_for(db, v1, v2), actor=OWNER).moved == [case.id]
    after = engine.get_instance(db, instance_id=case.id)
    moved_child = next(t for t in after.user_tasks if t.activity_id == "child_step")
    assert (moved_child.id, moved_child.name) == (child.id, "Answer the questions, with the chronology")
    engine.correlate_message(db, actor=ALICE, message_name="agency_reply", business_key="SIN-9")
    after = engine.get_instance(db, instance_id=case.id)
    assert "record_reply" in {t.activity_id for t in after.user_tasks}        # v2's path after the reply


def test_a_suspended_case_moves_and_stays_suspended_and_other_refusals(db: engine.Database,
                                                                       versions: Versions) -> None:
    v1, v2 = versions("case_review_v1.bpmn", "case_review_v2.bpmn")
    other = versions("two_reviews_v1.bpmn")[0]
    case, elsewhere = start(db, v1, "wait"), engine.start_instance(db, actor=ALICE, definition_id=other)
    ended = start(db, v1, "wait")
    engine.cancel_instance(db, actor=ALICE, instance_id=ended.id, reason="test")
    engine.set_suspended(db, actor=OWNER, instance_id=case.id, suspended=True, reason="while it moves")
    plan = plan_for(db, v1, v2, mapping={"review": "review_case"})
    report = engine.migrate_instances(db, plan=plan, actor=OWNER,
                                      instance_ids=[case.id, elsewhere.id, ended.id, "no-such-case"])
    assert report.moved == [case.id]
    moved = engine.get_instance(db, instance_id=case.id)
    assert moved.suspended and moved.definition_id == v2 and moved.next_timer_at == case.next_timer_at
    reasons = {i.instance_id: i.reasons for i in report.refused}
    assert reasons == {elsewhere.id: [f"the case runs on {other}, not on the plan's source {v1}"],
                       ended.id: [f"process instance {ended.id} is cancelled"],
                       "no-such-case": ["no process instance with id no-such-case"]}
    with pytest.raises(engine.Invalid, match="not versions of the same process"):
        plan_for(db, v1, other)
    with pytest.raises(engine.DefinitionNotFound):
        plan_for(db, v1, "case_review:9")


def test_a_plan_that_cannot_work_is_refused_and_changes_nothing(db: engine.Database, versions: Versions) -> None:
    v1, v2 = versions("case_review_v1.bpmn", "case_review_v2.bpmn")
    start(db, v1, "review")
    bad = engine.MigrationPlan(v1, v2, (engine.MigrationInstruction("review", "gather_reports"),
                                        engine.MigrationInstruction("nowhere", "review_case"),
                                        engine.MigrationInstruction("sign_off", "missing")))
    report = engine.validate_migration_plan(db, plan=bad)
    assert [(r.instruction.source_activity_id, r.failures) for r in report.instruction_reports] == [
        ("review", ("activity 'review' is a HumanTask but 'gather_reports' is a ExternalServiceTask: a case can "
                    "only move to an activity of the same kind",)),
        ("nowhere", ("source activity 'nowhere' does not exist in the source version",)),
        ("sign_off", ("target activity 'missing' does not exist in process 'case_review' of the target version",))]
    before = table_counts(db)
    with pytest.raises(engine.MigrationPlanInvalid) as refused:
        engine.migrate_instances(db, plan=bad, actor=OWNER)
    assert refused.value.report.instruction_reports == report.instruction_reports
    assert table_counts(db) == before


def test_all_or_nothing_moves_nothing_when_one_case_cannot_move(db: engine.Database, versions: Versions) -> None:
    v1, v2 = versions("case_review_v1.bpmn", "case_review_v2.bpmn")
    movable, stuck = start(db, v1, "wait"), start(db, v1, "review")
    before = table_counts(db)
    with pytest.raises(engine.MigrationRefused) as refused:
        engine.migrate_instances(db, plan=plan_for(db, v1, v2), actor=OWNER, instance_ids=[movable.id, stuck.id],
                                 all_or_nothing=True)
    assert [i.instance_id for i in refused.value.report.refused] == [stuck.id]
    assert table_counts(db) == before


def test_a_locked_external_task_keeps_its_topic_until_the_worker_is_done(db: engine.Database,
                                                                          versions: Versions) -> None:
    [v1] = versions("case_review_v1.bpmn")
    changed = (DATA / "case_review_v1.bpmn").read_bytes().replace(b'camunda:topic="gather-reports"',
                                                                  b'camunda:topic="collect-reports"')
    [v2] = [d.definition.id for d in engine.deploy(db, files=[engine.DeployFile("case_review.bpmn", changed)],
                                                   actor=OWNER).definitions]
    locked_case, free_case = start(db, v1, "reports"), start(db, v1, "reports")
    [locked] = engine.fetch_and_lock(db, worker_id="w", actor=OWNER, max_tasks=1,
                                     topics=[engine.TopicRequest("gather-reports", 600_000)]).tasks
    assert locked.task.instance_id == locked_case.id
    [dry] = engine.validate_migration(db, plan=plan_for(db, v1, v2), instance_ids=[locked_case.id]).instances
    assert not dry.movable and dry.activities[0].activity_id == "gather_reports"
    report = engine.migrate_instances(db, plan=plan_for(db, v1, v2), actor=OWNER)
    assert report.moved == [free_case.id]
    [refused] = report.refused
    assert refused.instance_id == locked_case.id
    assert "a worker holds this external task (topic 'gather-reports')" in refused.activities[0].failures[0]
    [moved] = engine.get_instance(db, instance_id=free_case.id).external_tasks
    assert moved.topic == "collect-reports"
    engine.complete_external_task(db, task_id=locked.task.id, worker_id="w", actor=OWNER)
    assert engine.migrate_instances(db, plan=plan_for(db, v1, v2), actor=OWNER).moved == [locked_case.id]


def test_one_case_that_breaks_stops_no_other(db: engine.Database, versions: Versions,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.bpmn import migration as bpmn_migration
    v1, v2 = versions("case_review_v1.bpmn", "case_review_v2.bpmn")
    cases = [start(db, v1, "wait") for _ in range(3)]
    real, calls = bpmn_migration.move, []

    def breaks_once(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("a bug")
        return real(*args, **kwargs)

    monkeypatch.setattr(bpmn_migration, "move", breaks_once)
    report = engine.migrate_instances(db, plan=plan_for(db, v1, v2), actor=OWNER, instance_ids=[c.id for c in cases])
    assert report.moved == [cases[0].id, cases[2].id]
    [broken] = report.refused
    assert broken.instance_id == cases[1].id and "RuntimeError" in broken.failures[0]
    after = engine.get_instance(db, instance_id=cases[1].id)
    assert (after.definition_id, after.version) == (v1, cases[1].version)
    assert "instance_migrated" not in [e.kind for e in engine.instance_history(db, instance_id=cases[1].id)]
