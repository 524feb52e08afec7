"""Diagrams cannot run arbitrary code: escapes are refused at deployment, endless loops fail as incidents."""

from __future__ import annotations

from xml.sax.saxutils import escape

import pytest

import engine
from tests.conftest import table_counts

SCRIPT_DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:process id="{pid}" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:scriptTask id="script"><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>
    <bpmn:exclusiveGateway id="gw" default="f3"/>
    <bpmn:endEvent id="end"/>
    <bpmn:endEvent id="end2"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="script"/>
    <bpmn:sequenceFlow id="f2" sourceRef="script" targetRef="gw"/>
    <bpmn:sequenceFlow id="f3" sourceRef="gw" targetRef="end"/>
    <bpmn:sequenceFlow id="f4" sourceRef="gw" targetRef="end2">
      <bpmn:conditionExpression>{condition}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
  </bpmn:process>
</bpmn:definitions>"""


def diagram(script: str = "x = 1", condition: str = "x == 2", pid: str = "sandboxed") -> engine.DeployFile:
    """A process that runs `script`, then a gateway on `condition`."""
    return engine.DeployFile(f"{pid}.bpmn", SCRIPT_DIAGRAM.format(pid=pid, script=escape(script),
                                                                  condition=escape(condition)).encode())


@pytest.mark.parametrize("script", [
    "__import__('os').system('id')",
    "import os\nos.system('id')",
    "from subprocess import run",
    "data = open('/etc/passwd').read()",
    "x = ().__class__.__base__.__subclasses__()",
    "x = getattr(1, '__class__')",
    "x = [c for c in ().__class__.__mro__]",
    "x = eval('1')",
])
def test_escape_attempts_in_scripts_are_refused_at_deployment(db: engine.Database, actor: engine.Actor,
                                                              script: str) -> None:
    before = table_counts(db)
    with pytest.raises(engine.DeploymentError) as raised:
        engine.deploy(db, files=[diagram(script=script)], actor=actor)
    assert raised.value.element_id == "script"
    assert table_counts(db) == before


@pytest.mark.parametrize("condition", ["__import__('os').getpid() > 0", "open('/etc/hosts')", "x.__class__ == int"])
def test_escape_attempts_in_conditions_are_refused_at_deployment(db: engine.Database, actor: engine.Actor,
                                                                 condition: str) -> None:
    with pytest.raises(engine.DeploymentError) as raised:
        engine.deploy(db, files=[diagram(condition=condition)], actor=actor)
    assert raised.value.element_id == "f4"          # the flow that carries the condition


def test_an_endless_loop_fails_its_task_with_an_incident(db: engine.Database, actor: engine.Actor) -> None:
    engine.deploy(db, files=[diagram(script="while True:\n    x = 1")], actor=actor)
    started = engine.start_instance(db, actor=actor, definition_key="sandboxed")
    [incident] = started.incidents
    assert incident.activity_id == "script" and "TimeLimitExceeded" in incident.message
    assert started.status == "active"


def test_ordinary_scripts_and_the_calendar_still_work(db: engine.Database, actor: engine.Actor) -> None:
    script = "deadline = working_days_after(sin_sent_on, 15)\nx = max([1, 2]) + len(agencies)"
    engine.deploy(db, files=[diagram(script=script, condition="x == 4")], actor=actor)
    done = engine.start_instance(db, actor=actor, definition_key="sandboxed",
                                 variables={"sin_sent_on": "2026-12-18", "agencies": ["police", "icb"]})
    assert done.status == "completed"
    assert done.variables["deadline"] == "2027-01-13T09:00:00+00:00" and done.variables["x"] == 4
