"""A diagram may not make the service start cases (or fire timers) faster than the partnership allows.

The attack: a timer start event with `R/PT0.001S` created 4,583 cases in 25 seconds. Timer cycles now
have a minimum interval (REVIEWFLOW_MIN_TIMER_CYCLE, one minute by default), checked by deploy and lint.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

import engine
from api.settings import ServerSettings
from tests.conftest import Server, bearer, table_counts

START = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs" targetNamespace="http://reviewflow.example/test">
  <bpmn:process id="flood" isExecutable="true">
    <bpmn:startEvent id="tick"><bpmn:timerEventDefinition>
      <bpmn:timeCycle>{cycle}</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:startEvent>
    <bpmn:userTask id="review" name="Review" camunda:candidateGroups="case-review-group"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="tick" targetRef="review"/>
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""
BOUNDARY = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs" targetNamespace="http://reviewflow.example/test">
  <bpmn:process id="chatter" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="review" name="Review" camunda:candidateGroups="case-review-group"/>
    <bpmn:boundaryEvent id="nag" attachedToRef="review" cancelActivity="false"><bpmn:timerEventDefinition>
      <bpmn:timeCycle>{cycle}</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:boundaryEvent>
    <bpmn:serviceTask id="notify" name="Notify" camunda:type="external" camunda:topic="notification"/>
    <bpmn:endEvent id="nagged"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review"/>
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="end"/>
    <bpmn:sequenceFlow id="f3" sourceRef="nag" targetRef="notify"/>
    <bpmn:sequenceFlow id="f4" sourceRef="notify" targetRef="nagged"/>
  </bpmn:process>
</bpmn:definitions>
"""


def diagram(template: str, cycle: str) -> engine.DeployFile:
    return engine.DeployFile("timers.bpmn", template.format(cycle=cycle).encode())


@pytest.mark.parametrize("cycle", ["R/PT0.001S", "R/PT1S", "R5/PT59S", "R/2027-01-04T09:00:00Z/PT0.001S"])
@pytest.mark.parametrize("template", [START, BOUNDARY], ids=["timer start", "boundary timer"])
def test_a_cycle_faster_than_a_minute_is_refused(db: engine.Database, actor: engine.Actor, template: str,
                                                 cycle: str) -> None:
    before = table_counts(db)
    with pytest.raises(engine.DeploymentError) as raised:
        engine.deploy(db, files=[diagram(template, cycle)], actor=actor)
    assert raised.value.element_id in ("tick", "nag")
    assert "minimum" in raised.value.message
    assert table_counts(db) == before                                  # no definition, no timer_start row


def test_lint_reports_the_same_cycle_as_an_error() -> None:
    report = engine.lint([diagram(START, "R/PT0.001S")])
    [problem] = report.errors
    assert (problem.element_id, problem.file, problem.severity) == ("tick", "timers.bpmn", "error")
    assert "1 minute" in problem.message


def test_a_cycle_of_a_minute_or_more_deploys(db: engine.Database, actor: engine.Actor) -> None:
    engine.deploy(db, files=[diagram(START, "R/PT1M")], actor=actor)
    engine.deploy(db, files=[diagram(BOUNDARY, "R3/P1D")], actor=actor)
    assert engine.list_definitions(db).count == 2


def test_the_minimum_is_configurable_and_deploy_honours_it(db: engine.Database, actor: engine.Actor) -> None:
    hourly = timedelta(hours=1)
    with pytest.raises(engine.DeploymentError):
        engine.deploy(db, files=[diagram(START, "R/PT30M")], actor=actor, min_timer_cycle=hourly)
    assert engine.lint([diagram(START, "R/PT30M")], min_timer_cycle=hourly).errors
    engine.deploy(db, files=[diagram(START, "R/PT1H")], actor=actor, min_timer_cycle=hourly)


def test_the_server_reads_the_minimum_from_its_settings(db: engine.Database, keys: dict[str, str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEWFLOW_MIN_TIMER_CYCLE", "PT2H")
    settings = ServerSettings()
    assert settings.min_timer_cycle == timedelta(hours=2)
    server = Server(db, settings).start()
    try:
        with httpx.Client(base_url=server.url, timeout=10, headers=bearer(keys["alice"])) as c:
            files = [("files", ("timers.bpmn", START.format(cycle="R/PT1H").encode()))]
            refused = c.post("/api/v1/deployments", files=files)
            assert refused.status_code == 400
            [problem] = [p for p in refused.json()["error"]["problems"] if p["severity"] == "error"]
            assert problem["element_id"] == "tick" and "2 hours" in problem["message"]
            camunda = c.post("/engine-rest/deployment/create", files=[("timers.bpmn", files[0][1])])
            assert camunda.status_code == 400 and camunda.json()["type"] == "ParseException"
    finally:
        server.stop()
    assert engine.list_definitions(db).count == 0
