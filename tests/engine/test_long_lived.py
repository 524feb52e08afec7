"""A case that loops a thousand times: its finished history leaves the live state (engine.bpmn.state.prune),
so its state stays the same size from its first hundred steps on, and the case stays correct —
without pruning, SpiffWorkflow's depth-1000 task iterator loses the open task after about 333 rounds
of this loop and the case looks finished."""

from __future__ import annotations

import sqlalchemy as sa

import engine
from engine.store.tables import history_event, instance

DIAGRAM = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:process id="chase_loop" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="chase" name="Chase the agency"/>
    <bpmn:scriptTask id="count"><bpmn:script>rounds = rounds + 1</bpmn:script></bpmn:scriptTask>
    <bpmn:exclusiveGateway id="answered" default="again"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="chase"/>
    <bpmn:sequenceFlow id="f2" sourceRef="chase" targetRef="count"/>
    <bpmn:sequenceFlow id="f3" sourceRef="count" targetRef="answered"/>
    <bpmn:sequenceFlow id="done" sourceRef="answered" targetRef="end">
      <bpmn:conditionExpression>answered</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="again" sourceRef="answered" targetRef="chase"/>
  </bpmn:process>
</bpmn:definitions>"""

ROUNDS = 1000


def _state_size(db: engine.Database, instance_id: str) -> int:
    with db.read() as conn:
        return len(conn.execute(sa.select(instance.c.state).where(instance.c.id == instance_id)).scalar_one())


def test_a_thousand_rounds_keep_the_state_small_and_the_case_right(db: engine.Database) -> None:
    actor = engine.Actor.system("bu")
    engine.deploy(db, files=[engine.DeployFile("chase.bpmn", DIAGRAM)], actor=actor)
    case = engine.start_instance(db, actor=actor, definition_key="chase_loop",
                                 variables={"rounds": 0, "answered": False, "first_note": "kept from the start"})
    sizes: dict[int, int] = {}
    for n in range(1, ROUNDS + 1):
        assert len(case.user_tasks) == 1, f"round {n}: {case.status}, {case.user_tasks}"
        case = engine.complete_user_task(db, actor=actor, task_id=case.user_tasks[0].id,
                                         variables={"answered": n == ROUNDS, "last_note": f"round {n}"})
        sizes[n] = _state_size(db, case.id)
        if n < ROUNDS:
            assert case.status == "active"
    steady = max(sizes[n] for n in range(100, 200))
    assert max(sizes[n] for n in range(200, ROUNDS)) <= steady * 1.05, (sizes[10], steady, sizes[ROUNDS - 1])
    assert sizes[ROUNDS - 1] < 3 * sizes[100]
    assert case.status == "completed"
    assert engine.get_instance(db, instance_id=case.id).variables == {
        "rounds": ROUNDS, "answered": True, "last_note": f"round {ROUNDS}", "first_note": "kept from the start"}
    with db.read() as conn:                                # the history keeps every round
        done = conn.execute(sa.select(sa.func.count()).select_from(history_event).where(
            history_event.c.instance_id == case.id, history_event.c.kind == "task_completed")).scalar_one()
    assert done == ROUNDS


def test_a_short_case_is_not_pruned(db: engine.Database) -> None:
    actor = engine.Actor.system("bu")
    engine.deploy(db, files=[engine.DeployFile("chase.bpmn", DIAGRAM)], actor=actor)
    case = engine.start_instance(db, actor=actor, definition_key="chase_loop",
                                 variables={"rounds": 0, "answered": False})
    for n in range(1, 6):
        case = engine.complete_user_task(db, actor=actor, task_id=case.user_tasks[0].id, variables={"answered": n == 5})
    progress = engine.case_progress(db, instance_id=case.id)
    assert "chase" in progress[0].completed
