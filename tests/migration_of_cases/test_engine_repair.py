"""Repairing stuck cases, engine-side: variables, moving tokens, suspension — each with its reason."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

import engine
from tests.conftest import table_counts
from tests.migration_of_cases.conftest import Versions

ADMIN = engine.Actor.system("root")
ALICE = engine.Actor("alice", frozenset({"case-review-group", "business-unit"}), sees_all_cases=True)
WHY = "ticket 42: the partners chose improvements only"


@pytest.fixture
def frozen() -> Iterator[None]:
    engine.clock.freeze(engine.clock.now())
    yield
    engine.clock.reset()


def history(db: engine.Database, instance_id: str) -> list[tuple[str, str | None, dict | None]]:
    return [(e.kind, e.activity_id, e.details) for e in engine.instance_history(db, instance_id=instance_id)]


def test_a_case_stuck_on_a_missing_variable_gets_it_and_moves_on(db: engine.Database, versions: Versions) -> None:
    [v1] = versions("choose_v1.bpmn")
    case = engine.start_instance(db, actor=ALICE, definition_id=v1, variables={
        "publication_choice": "improvements_only", "final_report_id": "doc-1"})
    [incident] = case.incidents
    assert "improvements_document_id" in incident.message
    fixed = engine.set_instance_variable(db, actor=ADMIN, instance_id=case.id, name="improvements_document_id",
                                         value="doc-7", reason=WHY)
    assert fixed.variables["improvements_document_id"] == "doc-7" and len(fixed.incidents) == 1
    assert history(db, case.id)[-1] == ("variable_set", None, {"name": "improvements_document_id", "reason": WHY})
    retried = engine.retry_incident(db, actor=ADMIN, incident_id=incident.id)
    assert retried.incidents == [] and retried.variables["publication_document_id"] == "doc-7"
    [check] = retried.user_tasks
    done = engine.complete_user_task(db, actor=ALICE, task_id=check.id, variables={})
    assert done.status == "completed"


def test_a_repair_needs_a_reason_and_a_refusal_changes_nothing(db: engine.Database, versions: Versions) -> None:
    [v1] = versions("choose_v1.bpmn")
    case = engine.start_instance(db, actor=ALICE, definition_id=v1, variables={"publication_choice": "full"})
    before = table_counts(db)
    for reason in ("", "   ", "x" * 501, "fix\u202eit"):
        with pytest.raises(engine.Invalid):
            engine.set_instance_variable(db, actor=ADMIN, instance_id=case.id, name="a", value=1, reason=reason)
    with pytest.raises(engine.VariablesInvalid):
        engine.set_instance_variable(db, actor=ADMIN, instance_id=case.id, name="1bad", value=1, reason=WHY)
    with pytest.raises(engine.NotFound):
        engine.delete_instance_variable(db, actor=ADMIN, instance_id=case.id, name="nothing_here", reason=WHY)
    with pytest.raises(engine.InstanceNotFound):
        engine.set_instance_variable(db, actor=ADMIN, instance_id="no-such-case", name="a", value=1, reason=WHY)
    hidden = engine.Actor("bob", frozenset({"elsewhere"}))
    with pytest.raises(engine.InstanceNotFound):
        engine.set_suspended(db, actor=hidden, instance_id=case.id, suspended=True, reason=WHY)
    assert table_counts(db) == before


def test_deleting_a_variable(db: engine.Database, versions: Versions) -> None:
    [v1] = versions("case_review_v1.bpmn")
    case = engine.start_instance(db, actor=ALICE, definition_id=v1, variables={"path": "review", "note": "x"})
    gone = engine.delete_instance_variable(db, actor=ADMIN, instance_id=case.id, name="note", reason=WHY)
    assert "note" not in gone.variables and gone.variables["path"] == "review"
    again = engine.delete_instance_variable(db, actor=ADMIN, instance_id=case.id, name="note", reason=WHY,
                                            missing_ok=True)
    assert again.version == gone.version + 1
    assert history(db, case.id)[-1] == ("variable_deleted", None, {"name": "note", "reason": WHY, "found": False})


def test_a_worker_sees_a_variable_set_while_its_task_waits(db: engine.Database, versions: Versions) -> None:
    [v1] = versions("case_review_v1.bpmn")
    case = engine.start_instance(db, actor=ALICE, definition_id=v1, variables={"path": "reports"})
    engine.set_instance_variable(db, actor=ADMIN, instance_id=case.id, name="agency", value="police", reason=WHY)
    [locked] = engine.fetch_and_lock(db, worker_id="w", actor=ADMIN, max_tasks=1,
                                     topics=[engine.TopicRequest("gather-reports", 60_000)]).tasks
    assert locked.variables == {"path": "reports", "agency": "police"}


def test_move_a_token_cancel_here_start_there(db: engine.Database, versions: Versions) -> None:
    [v1] = versions("case_review_v1.bpmn")
    case = engine.start_instance(db, actor=ALICE, definition_id=v1, variables={"path": "review"})
    moved = engine.modify_instance(db, actor=ADMIN, instance_id=case.id, reason=WHY, instructions=[
        engine.Modification("cancel", activity_id="review"),
        engine.Modification("startBeforeActivity", activity_id="sign_off", variables={"skipped_review": True})])
    [task] = moved.user_tasks
    assert task.activity_id == "sign_off" and moved.variables["skipped_review"] is True
    kinds = [(k, a) for k, a, _ in history(db, case.id)]
    assert kinds[-4:] == [("activity_cancelled", "review"), ("activity_started", "sign_off"),
                          ("task_created", "sign_off"), ("task_cancelled", "review")]
    assert history(db, case.id)[-4][2] == {"reason": WHY}
    done = engine.complete_user_task(db, actor=ALICE, task_id=task.id, variables={})
    assert done.status == "completed"


def test_start_after_an_activity_takes_its_one_outgoing_flow(db: engine.Database, versions: Versions) -> None:
    [v1] = versions("case_review_v1.bpmn")
    case = engine.start_instance(db, actor=ALICE, definition_id=v1, variables={"path": "review"})
    after = engine.modify_instance(db, actor=ADMIN, instance_id=case.id, reason=WHY, instructions=[
        engine.Modification("cancel", activity_instance_id=case.user_tasks[0].id),
        engine.Modification("startAfterActivity", activity_id="review")])
    assert [t.activity_id for t in after.user_tasks] == ["sign_off"]       # through the merge gateway
    before = table_counts(db)
    for bad, message in ((engine.Modification("startAfterActivity", activity_id="route"), "3 outgoing"),
                         (engine.Modification("startBeforeActivity", activity_id="nowhere"), "does not exist"),
                         (engine.Modification("startTransition", activity_id="to_end"), "not supported"),
                         (engine.Modification("cancel", activity_id="review"), "nothing waits"),
                         (engine.Modification("startBeforeActivity", activity_id="start"), "start event")):
        with pytest.raises(engine.Invalid, match=message):
            engine.modify_instance(db, actor=ADMIN, instance_id=case.id, reason=WHY, instructions=[bad])
    assert table_counts(db) == before


def test_cancelling_the_last_token_cancels_the_case(db: engine.Database, versions: Versions) -> None:
    [v1] = versions("case_review_v1.bpmn")
    case = engine.start_instance(db, actor=ALICE, definition_id=v1, variables={"path": "reports"})
    ended = engine.modify_instance(db, actor=ADMIN, instance_id=case.id, reason=WHY, instructions=[
        engine.Modification("cancel", activity_id="gather_reports")])
    assert ended.status == "cancelled" and ended.external_tasks == []
    assert WHY in (ended.end_reason or "")


def test_a_cancelled_activity_takes_its_boundary_timers_and_a_started_one_brings_them(
        db: engine.Database, versions: Versions, frozen: None) -> None:
    [v1] = versions("chased_v1.bpmn")
    case = engine.start_instance(db, actor=ALICE, definition_id=v1, variables={"path": "write"})
    engine.clock.advance(timedelta(days=3))
    again = engine.modify_instance(db, actor=ADMIN, instance_id=case.id, reason=WHY, instructions=[
        engine.Modification("cancel", activity_id="write"),
        engine.Modification("startBeforeActivity", activity_id="write")])
    assert again.next_timer_at == engine.clock.now() + timedelta(days=7)   # the reminder counts from now
    assert [t.activity_id for t in again.user_tasks] == ["write"] and again.user_tasks[0].id != case.user_tasks[0].id


def test_start_before_a_timer_and_inside_a_running_called_process(db: engine.Database, versions: Versions,
                                                                  frozen: None) -> None:
    [v1] = versions("case_review_v1.bpmn")
    case = engine.start_instance(db, actor=ALICE, definition_id=v1, variables={"path": "review"})
    waiting = engine.modify_instance(db, actor=ADMIN, instance_id=case.id, reason=WHY, instructions=[
        engine.Modification("startBeforeActivity", activity_id="cooling_off")])
    assert waiting.next_timer_at == engine.clock.now() + timedelta(days=30)

    [stored] = versions("stored_case.bpmn")
    other = engine.start_instance(db, actor=ALICE, definition_id=stored)
    twice = engine.modify_instance(db, actor=ADMIN, instance_id=other.id, reason=WHY, instructions=[
        engine.Modification("startBeforeActivity", activity_id="child_step")])
    assert [t.activity_id for t in twice.user_tasks].count("child_step") == 2
    call = next(t for t in twice.user_tasks if t.activity_id == "child_step")
    for task in [t for t in twice.user_tasks if t.activity_id == "child_step"]:
        engine.complete_user_task(db, actor=ALICE, task_id=task.id, variables={})
    assert "child_step" not in {t.activity_id for t in engine.get_instance(db, instance_id=other.id).user_tasks}
    assert call is not None
    with pytest.raises(engine.Invalid, match="not running"):
        engine.modify_instance(db, actor=ADMIN, instance_id=other.id, reason=WHY, instructions=[
            engine.Modification("startBeforeActivity", activity_id="child_step")])


def test_a_suspended_case_accepts_no_completions_and_fires_no_timers_until_resumed(
        db: engine.Database, versions: Versions, frozen: None) -> None:
    [v1] = versions("case_review_v1.bpmn")
    at_task = engine.start_instance(db, actor=ALICE, definition_id=v1, variables={"path": "review"})
    at_timer = engine.start_instance(db, actor=ALICE, definition_id=v1, variables={"path": "wait"})
    at_work = engine.start_instance(db, actor=ALICE, definition_id=v1, variables={"path": "reports"})
    for case in (at_task, at_timer, at_work):
        assert engine.set_suspended(db, actor=ADMIN, instance_id=case.id, suspended=True, reason=WHY).suspended
    with pytest.raises(engine.InstanceSuspended):
        engine.complete_user_task(db, actor=ALICE, task_id=at_task.user_tasks[0].id, variables={})
    assert engine.fetch_and_lock(db, worker_id="w", actor=ADMIN, max_tasks=5,
                                 topics=[engine.TopicRequest("gather-reports", 60_000)]).tasks == []
    engine.clock.advance(timedelta(days=31))
    assert engine.fire_due_timers(db) == []
    assert [t.activity_id for t in engine.get_instance(db, instance_id=at_timer.id).user_tasks] == []
    events = len(history(db, at_task.id))
    engine.set_suspended(db, actor=ADMIN, instance_id=at_task.id, suspended=True, reason=WHY)   # already: nothing
    assert len(history(db, at_task.id)) == events

    resumed = engine.set_suspended(db, actor=ADMIN, instance_id=at_timer.id, suspended=False, reason=WHY)
    assert not resumed.suspended and [t.activity_id for t in resumed.user_tasks] == ["sign_off"]  # fired on resuming
    engine.set_suspended(db, actor=ADMIN, instance_id=at_task.id, suspended=False, reason=WHY)
    assert engine.complete_user_task(db, actor=ALICE, task_id=at_task.user_tasks[0].id, variables={}).user_tasks
    engine.set_suspended(db, actor=ADMIN, instance_id=at_work.id, suspended=False, reason=WHY)
    assert len(engine.fetch_and_lock(db, worker_id="w", actor=ADMIN, max_tasks=5,
                                     topics=[engine.TopicRequest("gather-reports", 60_000)]).tasks) == 1
    assert [k for k, _, _ in history(db, at_timer.id)][-4:] == [
        "instance_suspended", "instance_resumed", "task_created", "timer_fired"]


def test_a_suspended_case_can_be_repaired_and_moves_on_when_resumed(db: engine.Database, versions: Versions) -> None:
    [v1] = versions("case_review_v1.bpmn")
    case = engine.start_instance(db, actor=ALICE, definition_id=v1, variables={"path": "review"})
    engine.set_suspended(db, actor=ADMIN, instance_id=case.id, suspended=True, reason=WHY)
    placed = engine.modify_instance(db, actor=ADMIN, instance_id=case.id, reason=WHY, instructions=[
        engine.Modification("cancel", activity_id="review"),
        engine.Modification("startAfterActivity", activity_id="gather_reports")])   # a gateway, then sign_off
    assert placed.suspended and placed.user_tasks == []                       # held until resumed
    resumed = engine.set_suspended(db, actor=ADMIN, instance_id=case.id, suspended=False, reason=WHY)
    assert [t.activity_id for t in resumed.user_tasks] == ["sign_off"]
