"""Starting, completing and cancelling instances; the guards SpiffWorkflow does not have."""

from __future__ import annotations

import pytest

import engine
from tests.conftest import Deployer, table_counts


def kinds(db: engine.Database, instance_id: str) -> list[str]:
    return [e.kind for e in engine.instance_history(db, instance_id=instance_id)]


def test_start_runs_to_the_first_user_task(db: engine.Database, deploy: Deployer, actor: engine.Actor) -> None:
    deploy("one_user_task.bpmn")
    started = engine.start_instance(db, actor=actor, definition_key="one_user_task",
                                    variables={"child_age": 7}, business_key="SIN-1")
    assert started.status == "active"
    assert started.business_key == "SIN-1"
    assert started.variables == {"child_age": 7}
    [task] = started.user_tasks
    assert (task.activity_id, task.name, task.candidate_groups) == ("review", "Review the case", ["case-review-group"])
    assert kinds(db, started.id) == ["instance_started", "task_created"]


def test_completing_the_task_runs_the_gateway_to_the_end(db: engine.Database, deploy: Deployer,
                                                         actor: engine.Actor) -> None:
    deploy("one_user_task.bpmn")
    started = engine.start_instance(db, actor=actor, definition_key="one_user_task")
    done = engine.complete_user_task(db, actor=actor, task_id=started.user_tasks[0].id,
                                     variables={"approved": True})
    assert done.status == "completed" and done.ended_at is not None
    assert done.variables == {}                   # the answer shows what the task shows: it has no form
    assert engine.get_instance(db, instance_id=started.id).variables == {"approved": True}
    assert done.user_tasks == []
    history = engine.instance_history(db, instance_id=started.id)
    assert [e.kind for e in history] == ["instance_started", "task_created", "task_completed", "instance_completed"]
    assert history[2].actor == "alice"


def test_start_by_definition_id_keeps_that_version(db: engine.Database, deploy: Deployer,
                                                   actor: engine.Actor) -> None:
    from tests.conftest import BPMN
    deploy("one_user_task.bpmn")
    changed = (BPMN / "one_user_task.bpmn").read_bytes().replace(b"Review the case", b"Second review")
    engine.deploy(db, files=[engine.DeployFile("one_user_task.bpmn", changed)], actor=actor)
    old = engine.start_instance(db, actor=actor, definition_id="one_user_task:1")
    new = engine.start_instance(db, actor=actor, definition_key="one_user_task")
    assert (old.definition_id, old.user_tasks[0].name) == ("one_user_task:1", "Review the case")
    assert (new.definition_id, new.user_tasks[0].name) == ("one_user_task:2", "Second review")


def test_unknown_definition_is_not_found_and_writes_nothing(db: engine.Database, actor: engine.Actor) -> None:
    before = table_counts(db)
    with pytest.raises(engine.DefinitionNotFound):
        engine.start_instance(db, actor=actor, definition_key="no_such_process")
    assert table_counts(db) == before


@pytest.mark.parametrize("variables", [{"1abc": 1}, {"a b": 1}, {"x": {"typename": "invoice"}}])
def test_bad_variables_are_refused(db: engine.Database, deploy: Deployer, actor: engine.Actor,
                                   variables: dict) -> None:
    deploy("one_user_task.bpmn")
    before = table_counts(db)
    with pytest.raises(engine.VariablesInvalid):
        engine.start_instance(db, actor=actor, definition_key="one_user_task", variables=variables)
    assert table_counts(db) == before


def test_completing_a_task_twice_is_refused(db: engine.Database, deploy: Deployer, actor: engine.Actor) -> None:
    deploy("one_user_task.bpmn")
    started = engine.start_instance(db, actor=actor, definition_key="one_user_task")
    task_id = started.user_tasks[0].id
    engine.complete_user_task(db, actor=actor, task_id=task_id, variables={"approved": False})
    before = table_counts(db)
    with pytest.raises(engine.TaskNotOpen):
        engine.complete_user_task(db, actor=actor, task_id=task_id, variables={"approved": True})
    assert table_counts(db) == before


def test_completing_a_cancelled_task_is_refused(db: engine.Database, deploy: Deployer, actor: engine.Actor) -> None:
    deploy("one_user_task.bpmn")
    started = engine.start_instance(db, actor=actor, definition_key="one_user_task")
    cancelled = engine.cancel_instance(db, actor=actor, instance_id=started.id, reason="duplicate notification")
    assert cancelled.status == "cancelled" and cancelled.end_reason == "duplicate notification"
    assert cancelled.user_tasks == []
    with pytest.raises(engine.TaskNotOpen):
        engine.complete_user_task(db, actor=actor, task_id=started.user_tasks[0].id, variables={})
    assert kinds(db, started.id)[-2:] == ["instance_cancelled", "task_cancelled"]
    with pytest.raises(engine.InstanceNotActive):
        engine.cancel_instance(db, actor=actor, instance_id=started.id, reason="again")


def test_unknown_task_is_not_found(db: engine.Database, actor: engine.Actor) -> None:
    with pytest.raises(engine.TaskNotFound):
        engine.complete_user_task(db, actor=actor, task_id="00000000-0000-0000-0000-000000000000", variables={})


def test_a_claimed_task_belongs_to_its_assignee(db: engine.Database, deploy: Deployer, actor: engine.Actor) -> None:
    deploy("one_user_task.bpmn")
    task_id = engine.start_instance(db, actor=actor, definition_key="one_user_task").user_tasks[0].id
    claimed = engine.claim_user_task(db, actor=actor, task_id=task_id)
    assert claimed.assignee == "alice" and claimed.claimed_at is not None
    bob = engine.Actor("bob", frozenset({"case-review-group"}))
    with pytest.raises(engine.TaskClaimedByOther):
        engine.claim_user_task(db, actor=bob, task_id=task_id)
    with pytest.raises(engine.TaskClaimedByOther):
        engine.complete_user_task(db, actor=bob, task_id=task_id, variables={"approved": True})
    with pytest.raises(engine.TaskClaimedByOther):
        engine.unclaim_user_task(db, actor=bob, task_id=task_id)
    assert engine.unclaim_user_task(db, actor=actor, task_id=task_id).assignee is None
    engine.complete_user_task(db, actor=bob, task_id=task_id, variables={"approved": True})
    instance_id = claimed.instance_id
    assert kinds(db, instance_id) == ["instance_started", "task_created", "task_claimed", "task_unclaimed",
                                      "task_completed", "instance_completed"]


def test_candidate_groups_come_from_the_lane_when_the_task_names_none(db: engine.Database, deploy: Deployer,
                                                                      actor: engine.Actor) -> None:
    deploy("lanes.bpmn")
    started = engine.start_instance(db, actor=actor, definition_key="lanes")
    [record] = started.user_tasks
    assert (record.lane, record.candidate_groups) == ("Business unit", ["business-unit"])
    with pytest.raises(engine.TaskNotFound):                  # alice is of the Case Review Group only
        engine.complete_user_task(db, actor=actor, task_id=record.id)
    after = engine.complete_user_task(db, actor=engine.Actor("bu", frozenset({"business-unit"})), task_id=record.id)
    assert after.user_tasks == []                 # the next task is the Case Review Group's: not bu's to see
    [meet] = engine.get_instance(db, instance_id=started.id).user_tasks
    assert (meet.activity_id, meet.candidate_groups) == ("meet", ["case-review-group"])
    by_group = engine.list_user_tasks(db, candidate_group="case-review-group")
    assert [t.id for t in by_group.data] == [meet.id]


def test_a_form_checks_the_completion_and_names_the_field(db: engine.Database, deploy: Deployer) -> None:
    deploy("form_task.bpmn", "forms/decision.json")
    carol = engine.Actor.system("carol")
    started = engine.start_instance(db, actor=carol, definition_key="form_task")
    [task] = started.user_tasks
    assert task.assignee == "carol" and task.form_key == "decision"
    assert engine.get_user_task(db, task_id=task.id).form_schema["title"] == "Decision"
    before = table_counts(db)
    with pytest.raises(engine.VariablesInvalid) as missing:
        engine.complete_user_task(db, actor=carol, task_id=task.id, variables={"outcome": "lcspr"})
    assert missing.value.field == "reasons"
    with pytest.raises(engine.VariablesInvalid) as wrong:
        engine.complete_user_task(db, actor=carol, task_id=task.id,
                                  variables={"outcome": "lcspr", "reasons": "new learning",
                                             "key_lines_of_enquiry": ["a", "b"]})
    assert wrong.value.field == "key_lines_of_enquiry"
    assert table_counts(db) == before
    done = engine.complete_user_task(db, actor=carol, task_id=task.id,
                                     variables={"outcome": "lcspr", "reasons": "new learning"})
    assert done.status == "completed"


def test_a_failing_script_opens_an_incident_and_a_retry_resolves_it(db: engine.Database, deploy: Deployer,
                                                                    actor: engine.Actor) -> None:
    deploy("failing_script.bpmn")
    started = engine.start_instance(db, actor=actor, definition_key="failing_script",
                                    variables={"total": 10, "count": 0})
    assert started.status == "active" and started.user_tasks == []
    [incident] = started.incidents
    assert (incident.type, incident.activity_id) == ("failedTask", "divide")
    assert "ZeroDivisionError" in incident.message
    again = engine.retry_incident(db, actor=actor, incident_id=incident.id)
    [still] = again.incidents                       # count is still 0: fails again, new incident
    assert still.id != incident.id
    assert engine.get_incident(db, incident_id=incident.id).resolved_at is not None
    history = kinds(db, started.id)
    assert history.count("incident_opened") == 2 and history.count("incident_resolved") == 1


def test_list_instances_filters_and_pages(db: engine.Database, deploy: Deployer, actor: engine.Actor) -> None:
    deploy("one_user_task.bpmn")
    ids = [engine.start_instance(db, actor=actor, definition_key="one_user_task", business_key=f"case-{i % 2}").id
           for i in range(5)]
    engine.cancel_instance(db, actor=actor, instance_id=ids[0], reason="test")
    assert engine.list_instances(db, business_key="case-0").count == 3
    assert engine.list_instances(db, status="cancelled").count == 1
    page = engine.list_instances(db, definition_key="one_user_task", limit=2, offset=2)
    assert page.count == 5 and len(page.data) == 2
    assert engine.list_user_tasks(db, business_key="case-1").count == 2
