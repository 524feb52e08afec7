"""Who a task goes to can come from the case: `${variable}` in candidate users, groups and assignee,
and an `organisation` property naming the variable that says whose task it is."""

from __future__ import annotations

import engine

DIAGRAM = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="x">
  <bpmn:process id="assigned" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:parallelGateway id="fork"/>
    <bpmn:userTask id="draft" name="Write the draft" camunda:assignee="${lead_reviewer}"
                   camunda:candidateUsers="${lead_reviewer}"/>
    <bpmn:userTask id="panel" name="Panel" camunda:candidateUsers="${panel_members}"
                   camunda:candidateGroups="${review.group}"/>
    <bpmn:userTask id="update" name="Update the action" camunda:candidateGroups="agency-leads">
      <bpmn:extensionElements>
        <camunda:properties><camunda:property name="organisation" value="action.agency"/></camunda:properties>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:parallelGateway id="join"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="fork"/>
    <bpmn:sequenceFlow id="f2" sourceRef="fork" targetRef="draft"/>
    <bpmn:sequenceFlow id="f3" sourceRef="fork" targetRef="panel"/>
    <bpmn:sequenceFlow id="f4" sourceRef="fork" targetRef="update"/>
    <bpmn:sequenceFlow id="f5" sourceRef="draft" targetRef="join"/>
    <bpmn:sequenceFlow id="f6" sourceRef="panel" targetRef="join"/>
    <bpmn:sequenceFlow id="f7" sourceRef="update" targetRef="join"/>
    <bpmn:sequenceFlow id="f8" sourceRef="join" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""


def test_assignment_comes_from_the_case(db: engine.Database) -> None:
    engine.deploy(db, files=[engine.DeployFile("assigned.bpmn", DIAGRAM)], actor=engine.Actor.system("po"))
    started = engine.start_instance(db, actor=engine.Actor.system("bu"), definition_key="assigned", variables={
        "lead_reviewer": "dr-reviewer", "panel_members": ["pat", "sam"], "review": {"group": "lcspr-panel"},
        "action": {"agency": "police", "text": "Audit referrals"}})
    tasks = {t.activity_id: t for t in started.user_tasks}
    assert (tasks["draft"].assignee, tasks["draft"].candidate_users) == ("dr-reviewer", ["dr-reviewer"])
    assert (tasks["panel"].candidate_users, tasks["panel"].candidate_groups) == (["pat", "sam"], ["lcspr-panel"])
    assert tasks["update"].organisation == "police"
    reviewer = engine.Actor("dr-reviewer")
    assert [t.id for t in engine.list_user_tasks(db, viewer=reviewer).data] == [tasks["draft"].id]
    icb = engine.Actor("icb-lead", frozenset({"agency-leads"}), organisation="icb")
    assert engine.list_user_tasks(db, viewer=icb).data == []
    police = engine.Actor("police-lead", frozenset({"agency-leads"}), organisation="police")
    assert [t.id for t in engine.list_user_tasks(db, viewer=police).data] == [tasks["update"].id]


LANED = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="x">
  <bpmn:process id="laned" isExecutable="true">
    <bpmn:laneSet id="ls">
      <bpmn:lane id="lane_reviewer" name="Independent Lead Reviewer">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>fork</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>named</bpmn:flowNodeRef><bpmn:flowNodeRef>anyone</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"/>
    <bpmn:parallelGateway id="fork"/>
    <bpmn:userTask id="named" name="For the commissioned reviewer" camunda:candidateUsers="${lead_reviewer.user}"/>
    <bpmn:userTask id="anyone" name="For the lane"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="fork"/>
    <bpmn:sequenceFlow id="f2" sourceRef="fork" targetRef="named"/>
    <bpmn:sequenceFlow id="f3" sourceRef="fork" targetRef="anyone"/>
  </bpmn:process>
</bpmn:definitions>"""


def test_a_task_naming_its_people_is_not_also_the_lanes_group(db: engine.Database) -> None:
    engine.deploy(db, files=[engine.DeployFile("laned.bpmn", LANED)], actor=engine.Actor.system("po"))
    started = engine.start_instance(db, actor=engine.Actor.system("bu"), definition_key="laned",
                                    variables={"lead_reviewer": {"user": "frances", "name": "F"}})
    tasks = {t.activity_id: t for t in started.user_tasks}
    assert (tasks["named"].candidate_users, tasks["named"].candidate_groups) == (["frances"], [])
    assert tasks["anyone"].candidate_groups == ["independent-lead-reviewer"]
    other = engine.Actor("other-reviewer", frozenset({"independent-lead-reviewer"}))
    assert [t.id for t in engine.list_user_tasks(db, viewer=other).data] == [tasks["anyone"].id]
