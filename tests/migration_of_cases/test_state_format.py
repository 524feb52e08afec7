"""The stored state is a versioned format (house style §13): today's format reads back exactly as it
was written, and a state written by the previous SpiffWorkflow serializer (1.4, SpiffWorkflow 3.1)
still loads and runs — fixtures made by data/make_state_fixtures.py, kept in the repository."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta

import orjson
import pytest
import sqlalchemy as sa
from lxml import etree
from SpiffWorkflow.bpmn import BpmnEvent
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState

import engine
from engine.bpmn import state
from engine.bpmn.parser import SAFE_XML, ReviewflowParser
from engine.store.specs import build_specs
from engine.store.tables import instance
from tests.migration_of_cases.conftest import DATA, OWNER

TODAY = DATA / f"stored_case.format-{state.STATE_FORMAT}.json"
LEGACY = DATA / "stored_case.serializer-1.4.json"
WAITING = {("review", "READY"), ("gather", "STARTED"), ("ask_agency", "STARTED"), ("child_step", "READY"),
           ("cooling_off", "WAITING"), ("reply_or_not", "WAITING")}


@pytest.fixture(scope="module")
def specs() -> state.SpecLoader:
    parser = ReviewflowParser()
    parser.add_bpmn_xml(etree.fromstring((DATA / "stored_case.bpmn").read_bytes(), parser=SAFE_XML), "stored_case.bpmn")
    pair = build_specs(parser, "stored_case", "stored_case:1")
    return {"stored_case:1": pair}.__getitem__


def waiting(wf: object) -> set[tuple[str, str]]:
    live = TaskState.READY | TaskState.STARTED | TaskState.WAITING
    return {(t.task_spec.bpmn_id, TaskState.get_name(t.state)) for t in wf.get_tasks(state=live)}  # type: ignore[attr-defined]


def round_trip(wf: object, specs: state.SpecLoader) -> object:
    return state.loads(state.dumps(wf), state.STATE_FORMAT, specs)  # type: ignore[arg-type]


def run_to_the_end(wf: object, specs: state.SpecLoader, *, message: bool) -> object:
    """Finish every branch as the service would, saving and reloading at each wait state."""
    for activity in ("review", "gather", "child_step"):
        [task] = [t for t in wf.get_tasks(state=TaskState.READY | TaskState.STARTED)  # type: ignore[attr-defined]
                  if t.task_spec.bpmn_id == activity]
        task.complete() if task.state == TaskState.STARTED else task.run()
        wf.do_engine_steps()  # type: ignore[attr-defined]
        wf = round_trip(wf, specs)
    if message:
        definition = MessageEventDefinition("agency_reply")
        wf.send_event(BpmnEvent(definition, {}))  # type: ignore[attr-defined]
        wf.do_engine_steps()  # type: ignore[attr-defined]
        wf = round_trip(wf, specs)
    engine.clock.advance(timedelta(days=400))           # past the stored due times
    try:
        wf.refresh_timers()  # type: ignore[attr-defined]
        wf.do_engine_steps()  # type: ignore[attr-defined]
    finally:
        engine.clock.reset()
    return round_trip(wf, specs)


def test_todays_format_reads_back_exactly_as_it_was_written(specs: state.SpecLoader) -> None:
    text = TODAY.read_text()
    wf = state.loads(text, state.STATE_FORMAT, specs)
    assert waiting(wf) == WAITING
    assert orjson.loads(state.dumps(wf)) == json.loads(text)     # a changed format must bump STATE_FORMAT
    done = run_to_the_end(wf, specs, message=True)
    assert done.is_completed()  # type: ignore[attr-defined]
    assert done.data["case_reference"] == "SIN-2024-007"  # type: ignore[attr-defined]


def test_a_state_from_the_previous_serializer_loads_and_runs(specs: state.SpecLoader) -> None:
    text = LEGACY.read_text()
    stored = json.loads(text)
    assert stored["serializer_version"] == "1.4" and "delta" not in next(iter(stored["tasks"].values()))
    [no_reply] = [t for t in stored["tasks"].values() if t["task_spec"] == "no_reply"]
    wf = state.loads(text, state.STATE_FORMAT, specs)
    assert waiting(wf) == WAITING
    [gateway] = [t for t in wf.get_tasks(state=TaskState.WAITING) if t.task_spec.bpmn_id == "reply_or_not"]
    assert gateway.internal_data["event_value"] == no_reply["internal_data"]["event_value"]
    assert json.loads(state.dumps(wf))["serializer_version"] == "1.5"   # saved again in today's format
    done = run_to_the_end(round_trip(wf, specs), specs, message=True)
    assert done.is_completed()  # type: ignore[attr-defined]


def test_the_previous_serializers_timer_at_an_event_based_gateway_still_fires(specs: state.SpecLoader) -> None:
    wf = state.loads(LEGACY.read_text(), state.STATE_FORMAT, specs)
    [gateway] = [t for t in wf.get_tasks(state=TaskState.WAITING) if t.task_spec.bpmn_id == "reply_or_not"]
    due = datetime.fromisoformat(gateway.internal_data["event_value"])
    engine.clock.freeze(due + timedelta(seconds=1))
    try:
        wf.refresh_timers()
        wf.do_engine_steps()
    finally:
        engine.clock.reset()
    assert "reply_or_not" not in {a for a, _ in waiting(wf)}
    done = [t.task_spec.bpmn_id for t in wf.get_tasks(state=TaskState.COMPLETED)]
    assert "no_reply" in done and "reply" not in done


def test_a_state_from_an_unknown_serializer_is_refused_with_a_reason(specs: state.SpecLoader) -> None:
    stored = json.loads(TODAY.read_text())
    stored["serializer_version"] = "1.3"
    with pytest.raises(ValueError, match="serializer 1.3 cannot be read"):
        state.loads(json.dumps(stored), state.STATE_FORMAT, specs)


def test_the_store_loads_a_case_saved_by_the_previous_serializer(db: engine.Database) -> None:
    """A database upgraded from SpiffWorkflow 3.1: its case loads, and a command saves it anew."""
    engine.deploy(db, files=[engine.DeployFile("stored_case.bpmn", (DATA / "stored_case.bpmn").read_bytes())],
                  actor=OWNER)
    case_id, now = str(uuid.uuid4()), engine.clock.now()
    with db.engine.begin() as conn:
        conn.execute(instance.insert().values(
            id=case_id, definition_id="stored_case:1", definition_key="stored_case", business_key=None,
            status="active", state=LEGACY.read_text(), state_format=1, variables={}, version=1,
            started_at=now, started_by="upgrade", updated_at=now, suspended=False))
    plan = engine.generate_migration_plan(db, source_definition_id="stored_case:1",
                                          target_definition_id="stored_case:1")
    [report] = engine.validate_migration(db, plan=plan, instance_ids=[case_id]).instances
    assert report.movable and set(report.waiting_at) == {a for a, _ in WAITING}
    cancelled = engine.cancel_instance(db, actor=OWNER, instance_id=case_id, reason="checked after the upgrade")
    assert cancelled.status == "cancelled"
    with db.read() as conn:
        saved = conn.execute(sa.select(instance.c.state).where(instance.c.id == case_id)).scalar_one()
    assert json.loads(saved)["serializer_version"] == "1.5"
