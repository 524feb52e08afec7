"""Messages from outside reach the one instance waiting for them, or start one; otherwise nothing changes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

import engine
from tests.conftest import Deployer, table_counts

BU = engine.Actor.system("bu")


@pytest.fixture
def frozen() -> Iterator[engine.clock.__class__]:
    engine.clock.freeze(datetime(2026, 9, 2, 10, tzinfo=UTC))
    yield engine.clock
    engine.clock.reset()


def waiting(db: engine.Database, business_key: str, **variables: object) -> engine.InstanceInfo:
    return engine.start_instance(db, actor=BU, definition_key="panel_response", business_key=business_key,
                                 variables={"submitted_on": "2026-09-01", **variables})


def test_by_business_key(db: engine.Database, deploy: Deployer, frozen: object) -> None:
    deploy("panel_response.bpmn")
    one, other = waiting(db, "SIN-1"), waiting(db, "SIN-2")
    [result] = engine.correlate_message(db, actor=engine.Actor.system("national-panel"),
                                        message_name="national_panel_response", business_key="SIN-2",
                                        variables={"panel_view": "agree_lcspr"})
    assert (result.kind, result.instance.id) == ("delivered", other.id)
    assert [t.activity_id for t in result.instance.user_tasks] == ["decide"]
    assert result.instance.variables["panel_view"] == "agree_lcspr"
    assert result.instance.next_timer_at is None                  # the chase timer lost the race
    assert engine.get_instance(db, instance_id=one.id).user_tasks == []
    history = engine.instance_history(db, instance_id=other.id)
    assert ("message_correlated", "national-panel") in [(e.kind, e.actor) for e in history]


def test_by_correlation_key(db: engine.Database, deploy: Deployer, frozen: object) -> None:
    deploy("panel_response.bpmn")
    waiting(db, "SIN-1", panel_reference="NP-100")
    target = waiting(db, "SIN-1b", panel_reference="NP-200")
    [result] = engine.correlate_message(db, actor=BU, message_name="national_panel_response",
                                        correlation_keys={"panel_reference": "NP-200"})
    assert result.instance.id == target.id


def test_ambiguity_is_a_conflict_naming_the_candidates_and_changes_nothing(db: engine.Database, deploy: Deployer,
                                                                          frozen: object) -> None:
    deploy("panel_response.bpmn")
    ids = sorted([waiting(db, "SIN-1").id, waiting(db, "SIN-2").id])
    before = table_counts(db)
    with pytest.raises(engine.MessageAmbiguous) as raised:
        engine.correlate_message(db, actor=BU, message_name="national_panel_response")
    assert raised.value.candidates == ids
    assert table_counts(db) == before


def test_no_match_is_refused_not_buffered(db: engine.Database, deploy: Deployer, frozen: object) -> None:
    deploy("panel_response.bpmn")
    waiting(db, "SIN-1")
    before = table_counts(db)
    with pytest.raises(engine.MessageNotCorrelated) as raised:
        engine.correlate_message(db, actor=BU, message_name="national_panel_response", business_key="SIN-404")
    assert "not stored" in raised.value.message
    assert table_counts(db) == before
    with pytest.raises(engine.MessageNotCorrelated):           # early: the instance does not wait for it yet
        engine.correlate_message(db, actor=BU, message_name="case_withdrawn", business_key="SIN-1")
    assert table_counts(db) == before


def test_a_message_start_event_starts_a_new_instance(db: engine.Database, deploy: Deployer) -> None:
    deploy("notification_start.bpmn")
    [result] = engine.correlate_message(db, actor=engine.Actor.system("la"),
                                        message_name="serious_incident_notification",
                                        business_key="SIN-2026-014", variables={"child_ref": "C-1"})
    assert result.kind == "started" and result.instance.business_key == "SIN-2026-014"
    assert [t.activity_id for t in result.instance.user_tasks] == ["record"]
    assert result.instance.variables == {"child_ref": "C-1"}


def test_boundary_message_and_receive_task(db: engine.Database, deploy: Deployer,
                                           frozen: engine.clock.__class__) -> None:
    deploy("panel_response.bpmn")
    late = waiting(db, "SIN-3")
    frozen.freeze(datetime(2026, 9, 16, 10, tzinfo=UTC))       # 10 working days: the chase timer fires
    engine.fire_due_timers(db)
    [result] = engine.correlate_message(db, actor=BU, message_name="national_panel_response", business_key="SIN-3")
    assert [t.activity_id for t in result.instance.user_tasks] == ["decide"]     # via the receive task
    [withdrawn] = engine.correlate_message(db, actor=BU, message_name="case_withdrawn", business_key="SIN-3")
    assert withdrawn.instance.status == "completed" and withdrawn.instance.user_tasks == []
    assert engine.get_instance(db, instance_id=late.id).status == "completed"


def test_a_message_start_name_must_be_unique(db: engine.Database, deploy: Deployer, actor: engine.Actor) -> None:
    from tests.conftest import BPMN
    deploy("notification_start.bpmn")
    clash = (BPMN / "notification_start.bpmn").read_bytes().replace(b'id="notification_start"', b'id="other_start"')
    with pytest.raises(engine.DeploymentError) as raised:
        engine.deploy(db, files=[engine.DeployFile("other.bpmn", clash)], actor=actor)
    assert "serious_incident_notification" in raised.value.message
