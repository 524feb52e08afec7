"""A join keeps what every branch changed; a late side branch no longer overwrites with stale copies."""

from __future__ import annotations

import engine

DIAGRAM = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:process id="late_branch" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:parallelGateway id="fork"/>
    <bpmn:userTask id="main_work" name="Confirm impact"/>
    <bpmn:userTask id="side_work" name="Answer the reminder"/>
    <bpmn:parallelGateway id="join"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="fork"/>
    <bpmn:sequenceFlow id="f2" sourceRef="fork" targetRef="main_work"/>
    <bpmn:sequenceFlow id="f3" sourceRef="fork" targetRef="side_work"/>
    <bpmn:sequenceFlow id="f4" sourceRef="main_work" targetRef="join"/>
    <bpmn:sequenceFlow id="f5" sourceRef="side_work" targetRef="join"/>
    <bpmn:sequenceFlow id="f6" sourceRef="join" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""


def test_the_branch_finishing_last_does_not_undo_the_others(db: engine.Database) -> None:
    actor = engine.Actor.system("bu")
    engine.deploy(db, files=[engine.DeployFile("late.bpmn", DIAGRAM)], actor=actor)
    started = engine.start_instance(db, actor=actor, definition_key="late_branch",
                                    variables={"impact_confirmed": False, "notes": ["first"]})
    tasks = {t.activity_id: t.id for t in started.user_tasks}
    engine.complete_user_task(db, actor=actor, task_id=tasks["main_work"],
                              variables={"impact_confirmed": True, "notes": ["first", "second"]})
    done = engine.complete_user_task(db, actor=actor, task_id=tasks["side_work"], variables={"reminder_seen": True})
    assert done.status == "completed"
    assert engine.get_instance(db, instance_id=started.id).variables == {
        "impact_confirmed": True, "notes": ["first", "second"], "reminder_seen": True}
