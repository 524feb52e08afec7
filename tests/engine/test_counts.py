"""Counts: exact on SQLite; on PostgreSQL the planner's estimate above queries.reads.ESTIMATE_ABOVE rows,
said by `count_exact`. Pages are index-ordered with the id as tie-break, the same rows at any offset."""

from __future__ import annotations

import pytest

import engine
from engine.queries import reads

DIAGRAM = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:process id="counted" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="work" name="Work"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work"/>
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""


def test_counts_say_whether_they_are_estimates(db: engine.Database, monkeypatch: pytest.MonkeyPatch) -> None:
    actor = engine.Actor.system("bu")
    engine.deploy(db, files=[engine.DeployFile("counted.bpmn", DIAGRAM)], actor=actor)
    started = [engine.start_instance(db, actor=actor, definition_key="counted", business_key=f"K-{n % 3}").id
               for n in range(12)]
    exact = engine.list_instances(db, limit=5)
    assert (exact.count, exact.count_exact) == (12, True)
    monkeypatch.setattr(reads, "ESTIMATE_ABOVE", -1)      # every count is "large"
    page = engine.list_instances(db, limit=5)
    tasks = engine.list_user_tasks(db, limit=5)
    if db.dialect.name == "postgresql":
        assert not page.count_exact and not tasks.count_exact and page.count >= 0
    else:
        assert (page.count, page.count_exact, tasks.count, tasks.count_exact) == (12, True, 12, True)
    by_key = [i.id for off in range(0, 12, 5)
              for i in engine.list_instances(db, sort_by="businessKey", descending=False, limit=5, offset=off).data]
    assert sorted(by_key) == sorted(started) and len(set(by_key)) == 12   # ties broken by id: no row twice
