"""A user task marked `caseAccess=task` opens itself alone: whoever may do it sees the task (its form's
fields and `reads`), never the whole case — while it is open, once they claimed it, and after they
did it. An invitation to a reviewer who may decline, or declare a conflict, is such a task."""

from __future__ import annotations

import pytest

import engine

DIAGRAM = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="x">
  <bpmn:process id="invited" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="answer" name="Accept or decline" camunda:candidateUsers="${invited}">
      <bpmn:extensionElements><camunda:properties>
        <camunda:property name="reads" value="case_reference"/>
        <camunda:property name="caseAccess" value="%s"/>
      </camunda:properties></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:userTask id="review" name="Review the case" camunda:candidateGroups="business-unit"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="answer"/>
    <bpmn:sequenceFlow id="f2" sourceRef="answer" targetRef="review"/>
    <bpmn:sequenceFlow id="f3" sourceRef="review" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""

REVIEWER = engine.Actor("reviewer-a")
CASE = {"invited": "reviewer-a", "case_reference": "CR-1", "child_name": "Child A"}


def started(db: engine.Database, access: str) -> engine.InstanceInfo:
    engine.deploy(db, files=[engine.DeployFile("invited.bpmn", DIAGRAM % access.encode())],
                  actor=engine.Actor.system("po"))
    return engine.start_instance(db, actor=engine.Actor.system("bu"), definition_key="invited", variables=CASE)


def sees_case(db: engine.Database, instance_id: str) -> bool:
    listed = [i.id for i in engine.list_instances(db, viewer=REVIEWER).data]
    try:
        engine.get_instance(db, instance_id=instance_id, viewer=REVIEWER)
    except engine.InstanceNotFound:
        assert instance_id not in listed
        return False
    assert instance_id in listed
    return True


def test_a_task_only_invitation_shows_the_task_never_the_case(db: engine.Database) -> None:
    case = started(db, "task")
    task = case.user_tasks[0]
    shown = engine.get_user_task(db, task_id=task.id, viewer=REVIEWER)
    assert shown.variables == {"case_reference": "CR-1"}          # the task: its reads, no child's name
    assert not sees_case(db, case.id)                               # open, and a candidate
    engine.claim_user_task(db, actor=REVIEWER, task_id=task.id)
    assert not sees_case(db, case.id)                               # claimed
    answer = engine.complete_user_task(db, actor=REVIEWER, task_id=task.id, variables={"accepted": False})
    assert "child_name" not in answer.variables
    assert not sees_case(db, case.id)                               # declined: nothing more
    history = engine.instance_history(db, instance_id=case.id, viewer=engine.Actor.system("bu"))
    assert {"task_claimed", "task_completed"} <= {e.kind for e in history if e.actor == REVIEWER.id}


def test_a_task_that_opens_its_case_still_does(db: engine.Database) -> None:
    case = started(db, "case")
    task = case.user_tasks[0]
    assert sees_case(db, case.id)                                   # open, and a candidate
    engine.complete_user_task(db, actor=REVIEWER, task_id=task.id, variables={"accepted": True})
    assert sees_case(db, case.id)                                   # worked on it


def test_case_access_is_case_or_task(db: engine.Database) -> None:
    with pytest.raises(engine.DeploymentError, match="caseAccess"):
        engine.deploy(db, files=[engine.DeployFile("invited.bpmn", DIAGRAM % b"everything")],
                      actor=engine.Actor.system("po"))


def test_whether_a_history_event_opens_its_case_is_a_column_the_need_to_know_index_covers(
        db: engine.Database) -> None:
    """Need-to-know reads the events someone worked from an index alone: a JSON test on each event's
    details read every row (300 ms against 62 ms for a member who worked 90,000 cases)."""
    import sqlalchemy as sa  # noqa: PLC0415

    from engine.queries.visibility import instance_clause  # noqa: PLC0415
    from engine.store.tables import history_event, instance  # noqa: PLC0415

    case = started(db, "task")
    engine.complete_user_task(db, actor=REVIEWER, task_id=case.user_tasks[0].id, variables={"accepted": True})
    with db.engine.connect() as conn:
        marks = dict(conn.execute(sa.select(history_event.c.kind, history_event.c.opens_case).where(
            history_event.c.instance_id == case.id, history_event.c.actor.in_([REVIEWER.id, "bu"]))).all())
        assert marks["task_completed"] is False                     # the task-only invitation, done
        assert marks["instance_started"] is True
        if db.dialect.name == "sqlite":
            count = sa.select(sa.func.count()).select_from(instance).where(instance_clause(REVIEWER))
            compiled = count.compile(conn, compile_kwargs={"literal_binds": True})
            plan = " | ".join(r[3] for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}"))
            assert "history_event USING COVERING INDEX" in plan, plan
