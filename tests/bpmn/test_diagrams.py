"""The partnership's diagrams (bpmn/*.bpmn) and their user-task forms (bpmn/forms/*.json): they deploy, they
are drawn completely and readably, lanes agree with candidate groups, forms and topics are the agreed ones."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from lxml import etree

import engine
from engine.bpmn.parser import ReviewflowParser
from engine.bpmn.specs import HumanTask

WORKER = engine.Actor.system("worker")

ROOT = Path(__file__).resolve().parents[2] / "bpmn"
FORMS = ROOT / "forms"
DIAGRAMS = sorted(ROOT.glob("*.bpmn"))
PROCESS_IDS = {"rapid_review", "rapid_review_work", "agency_return", "national_panel_submission", "lcspr",
               "lcspr_review", "panel_meeting", "publication", "learning_dissemination", "action_plan",
               # issue 18: cases screened, not notified; reviews led elsewhere
               "case_screening", "local_learning_review", "agency_led_review", "cross_boundary_review",
               "review_led_elsewhere", "information_request_elsewhere",
               "reviewer_commissioning"}

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
    "camunda": "http://camunda.org/schema/1.0/bpmn",
}
CAMUNDA = f"{{{NS['camunda']}}}"
FLOW_NODE_TAGS = {
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
    "task", "userTask", "manualTask", "serviceTask", "scriptTask", "sendTask", "receiveTask", "businessRuleTask",
    "callActivity", "subProcess", "exclusiveGateway", "parallelGateway", "inclusiveGateway",
    "eventBasedGateway", "complexGateway",
}
LANES = {"Business unit", "Case Review Group", "Safeguarding partners", "LCSPR panel", "Independent Lead Reviewer",
         "Agency leads", "Learning from Practice sub-group"}
TOPICS = {"panel-formation", "reviewer-commissioning", "information-request", "chronology-merge",
          "national-panel-submission", "publication", "seven-minute-briefing", "notification"}
# The engine's timer notation: plain ISO 8601 (duration, cycle or date-time), or a statutory-clock function
# of a date variable.
TIMER = re.compile(
    r"^(?:R\d*/P[0-9YMWDTHS.]+|P(?=\d|T\d)[0-9YMWD]*(?:T[0-9HMS.]+)?|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?Z"
    r"|(?:local_)?working_days_after\([a-z][a-z0-9_]*(?:\[\"[a-z_]+\"\])?, -?\d+\)"
    r"|calendar_months_after\([a-z][a-z0-9_]*, \d+\))$")


def local(el: Any) -> str:
    return etree.QName(el).localname


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def parse(path: Path) -> Any:
    return etree.parse(str(path)).getroot()


def flow_nodes(root: Any) -> list[Any]:
    return [el for el in root.iter() if isinstance(el.tag, str) and el.tag.startswith(f"{{{NS['bpmn']}}}")
            and local(el) in FLOW_NODE_TAGS]


def bounds(root: Any) -> dict[str, tuple[float, float, float, float]]:
    out = {}
    for shape in root.iterfind(".//bpmndi:BPMNShape", NS):
        b = shape.find("dc:Bounds", NS)
        out[shape.get("bpmnElement")] = tuple(float(b.get(k)) for k in ("x", "y", "width", "height"))
    return out


def inside(inner: tuple[float, ...], outer: tuple[float, ...]) -> bool:
    x, y, w, h = inner
    ox, oy, ow, oh = outer
    return ox <= x and oy <= y and x + w <= ox + ow and y + h <= oy + oh


def user_tasks() -> list[tuple[str, Any]]:
    return [(p.name, t) for p in DIAGRAMS for t in parse(p).iterfind(".//bpmn:userTask", NS)]


def deploy_files() -> list[engine.DeployFile]:
    files = [engine.DeployFile(p.name, p.read_bytes()) for p in DIAGRAMS]
    files += [engine.DeployFile("forms/" + p.name, p.read_bytes()) for p in sorted(FORMS.glob("*.json"))]
    return files


by_file = pytest.mark.parametrize("path", DIAGRAMS, ids=[p.stem for p in DIAGRAMS])


def test_there_are_the_pathways_diagrams() -> None:
    ids = {p.get("id") for path in DIAGRAMS for p in parse(path).iterfind("bpmn:process", NS)}
    assert ids == PROCESS_IDS
    assert {p.stem for p in DIAGRAMS} == PROCESS_IDS


def test_all_deploy_together(db: engine.Database, actor: engine.Actor) -> None:
    result = engine.deploy(db, files=deploy_files(), actor=actor)
    assert {d.definition.key for d in result.definitions} == PROCESS_IDS
    assert all(d.created for d in result.definitions)
    again = engine.deploy(db, files=deploy_files(), actor=actor)
    assert not any(d.created for d in again.definitions)


@by_file
def test_ids_are_unique(path: Path) -> None:
    ids = [el.get("id") for el in parse(path).iter() if isinstance(el.tag, str) and el.get("id")]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


@by_file
def test_every_element_is_drawn(path: Path) -> None:
    root = parse(path)
    [collaboration] = root.iterfind("bpmn:collaboration", NS)
    [participant] = collaboration.iterfind("bpmn:participant", NS)
    [process] = root.iterfind("bpmn:process", NS)
    assert participant.get("processRef") == process.get("id")
    [plane] = root.iterfind(".//bpmndi:BPMNPlane", NS)
    assert plane.get("bpmnElement") == collaboration.get("id")
    shapes = bounds(root)
    lanes = list(root.iterfind(".//bpmn:lane", NS))
    assert lanes, "a diagram has lanes"
    for el in [participant, *lanes, *flow_nodes(root)]:
        assert el.get("id") in shapes, f"{el.get('id')} has no BPMNShape"
    for el in flow_nodes(root):
        w, h = shapes[el.get("id")][2:]
        kind = local(el)
        if kind.endswith("Event"):
            assert (w, h) == (36, 36), el.get("id")
        elif kind.endswith("Gateway"):
            assert (w, h) == (50, 50), el.get("id")
        elif kind != "subProcess":
            assert (w, h) == (100, 80), el.get("id")
    edges = {e.get("bpmnElement"): e for e in root.iterfind(".//bpmndi:BPMNEdge", NS)}
    for flow in root.iterfind(".//bpmn:sequenceFlow", NS):
        edge = edges.get(flow.get("id"))
        assert edge is not None, f"{flow.get('id')} has no BPMNEdge"
        points = [(float(p.get("x")), float(p.get("y"))) for p in edge.iterfind("di:waypoint", NS)]
        assert len(points) >= 2, flow.get("id")
        # the edge starts on its source's outline and ends on its target's
        for (px, py), ref in ((points[0], flow.get("sourceRef")), (points[-1], flow.get("targetRef"))):
            x, y, w, h = shapes[ref]
            assert x - 1 <= px <= x + w + 1 and y - 1 <= py <= y + h + 1, (flow.get("id"), ref)
        # orthogonal: every segment is horizontal or vertical
        for (x1, y1), (x2, y2) in zip(points, points[1:], strict=False):
            assert x1 == x2 or y1 == y2, flow.get("id")


@by_file
def test_nodes_lie_in_their_lanes_and_containers(path: Path) -> None:
    root = parse(path)
    shapes = bounds(root)
    [participant] = root.iterfind(".//bpmn:participant", NS)
    pool = shapes[participant.get("id")]
    lane_of: dict[str, str] = {}
    for lane in root.iterfind(".//bpmn:lane", NS):
        assert lane.get("name") in LANES
        assert inside(shapes[lane.get("id")], pool), lane.get("id")
        for ref in lane.iterfind("bpmn:flowNodeRef", NS):
            assert ref.text not in lane_of, f"{ref.text} is in two lanes"
            lane_of[ref.text] = lane.get("id")
            assert inside(shapes[ref.text], shapes[lane.get("id")]), f"{ref.text} lies outside its lane"
    for el in flow_nodes(root):
        nid = el.get("id")
        assert inside(shapes[nid], pool), nid
        if local(el) == "subProcess":
            # An expanded sub-process spans lanes and belongs to none: SpiffWorkflow would otherwise give every
            # task inside it the sub-process's lane.
            assert nid not in lane_of, nid
        else:
            assert nid in lane_of, f"{nid} is in no lane"
        parent = el.getparent()
        if local(parent) == "subProcess" and local(el) != "boundaryEvent":
            assert inside(shapes[nid], shapes[parent.get("id")]), f"{nid} lies outside its sub-process"
    # shapes of activities and gateways in the same lane do not overlap
    solid = [el.get("id") for el in flow_nodes(root) if local(el) not in {"subProcess", "boundaryEvent"}]
    for i, a in enumerate(solid):
        ax, ay, aw, ah = shapes[a]
        for b in solid[i + 1:]:
            bx, by, bw, bh = shapes[b]
            assert ax + aw <= bx or bx + bw <= ax or ay + ah <= by or by + bh <= ay, f"{a} overlaps {b}"


@by_file
def test_boundary_events_sit_on_their_hosts_border(path: Path) -> None:
    root = parse(path)
    shapes = bounds(root)
    for event in root.iterfind(".//bpmn:boundaryEvent", NS):
        x, y, w, h = shapes[event.get("id")]
        cx, cy = x + w / 2, y + h / 2
        hx, hy, hw, hh = shapes[event.get("attachedToRef")]
        on_top_or_bottom = cy in (hy, hy + hh) and hx <= cx <= hx + hw
        on_left_or_right = cx in (hx, hx + hw) and hy <= cy <= hy + hh
        assert on_top_or_bottom or on_left_or_right, event.get("id")


@by_file
def test_everything_is_named_for_the_business_unit(path: Path) -> None:
    for el in flow_nodes(parse(path)):
        assert (el.get("name") or "").strip(), f"{el.get('id')} has no name"


def test_user_task_groups_match_their_lanes() -> None:
    for path in DIAGRAMS:
        root = parse(path)
        lane_name = {ref.text: lane.get("name") for lane in root.iterfind(".//bpmn:lane", NS)
                     for ref in lane.iterfind("bpmn:flowNodeRef", NS)}
        for task in root.iterfind(".//bpmn:userTask", NS):
            if task.get(CAMUNDA + "candidateUsers"):     # named from the case: the lane says whose work it is
                assert task.get(CAMUNDA + "candidateGroups") is None, task.get("id")
                continue
            assert task.get(CAMUNDA + "candidateGroups") == slug(lane_name[task.get("id")]), task.get("id")


def test_every_user_task_has_a_valid_form() -> None:
    for _, task in user_tasks():
        key = task.get(CAMUNDA + "formKey")
        assert key and re.fullmatch(r"[a-z][a-z0-9_]*", key), task.get("id")
        form = FORMS / f"{key}.json"
        assert form.exists(), f"{task.get('id')}: no {form.name}"
        schema = json.loads(form.read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["type"] == "object" and schema["required"] and schema["properties"]
        assert schema["title"] and schema["description"]
        for name, prop in schema["properties"].items():
            assert prop.get("title") and prop.get("description"), f"{key}.{name}"


def test_every_form_is_used_by_a_task() -> None:
    used = {task.get(CAMUNDA + "formKey") for _, task in user_tasks()}
    assert {p.stem for p in FORMS.glob("*.json")} == used


def test_multi_instance_collections_are_declared_and_forms_ask_for_the_output_item() -> None:
    for _, task in [(p, t) for p in DIAGRAMS for t in flow_nodes(parse(p))]:
        mi = task.find("bpmn:multiInstanceLoopCharacteristics", NS)
        if mi is None:
            continue
        assert task.get(CAMUNDA + "collection") is None
        properties = {p.get("id"): p.get("name") for p in task.iterfind("bpmn:property", NS)}
        # bpmn-js (Camunda Modeler, bpmn.io) drops loopData*Ref that resolves to nothing when it saves
        for ref in ("loopDataInputRef", "loopDataOutputRef"):
            name = mi.findtext(f"bpmn:{ref}", namespaces=NS)
            assert name and properties.get(name) == name, (task.get("id"), ref)
        output_item = mi.find("bpmn:outputDataItem", NS).get("name")
        if local(task) == "userTask":
            schema = json.loads((FORMS / f"{task.get(CAMUNDA + 'formKey')}.json").read_text())
            assert output_item in schema["required"], task.get("id")


def test_service_tasks_are_external_with_agreed_topics() -> None:
    for path in DIAGRAMS:
        for task in parse(path).iterfind(".//bpmn:serviceTask", NS):
            assert task.get(CAMUNDA + "type") == "external", task.get("id")
            assert task.get(CAMUNDA + "topic") in TOPICS, task.get("id")
            assert (task.findtext("bpmn:documentation", namespaces=NS) or "").count("Returns:") == 1, task.get("id")


def test_gateways_have_defaults_and_timers_use_the_engine_notation() -> None:
    for path in DIAGRAMS:
        root = parse(path)
        flows = {f.get("id"): f for f in root.iterfind(".//bpmn:sequenceFlow", NS)}
        for gateway in root.iterfind(".//bpmn:exclusiveGateway", NS):
            outgoing = [f for f in flows.values() if f.get("sourceRef") == gateway.get("id")]
            if len(outgoing) > 1:
                assert gateway.get("default") in {f.get("id") for f in outgoing}, gateway.get("id")
                for f in outgoing:
                    has_condition = f.find("bpmn:conditionExpression", NS) is not None
                    assert has_condition != (f.get("id") == gateway.get("default")), f.get("id")
        for definition in root.iterfind(".//bpmn:timerEventDefinition", NS):
            [expression] = list(definition)
            assert TIMER.match(expression.text or ""), expression.text


@pytest.mark.parametrize("count, valid", [(2, False), (3, True), (4, True), (5, False)])
def test_the_panel_agrees_three_or_four_key_lines_of_enquiry(count: int, valid: bool) -> None:
    schema = json.loads((FORMS / "agree_key_lines_of_enquiry.json").read_text())
    data = {"terms_of_reference": {"scope": "Practice in 2025", "methodology": "Systems"},
            "review_period_start": "2025-01-01", "review_period_end": "2025-12-31",
            "practitioner_discussion_appropriate": True, "agencies": ["Police"], "agency_changes": [],
            "key_lines_of_enquiry": [f"Question {i}" for i in range(1, count + 1)]}
    assert jsonschema.Draft202012Validator(schema).is_valid(data) is valid


def test_starting_a_rapid_review_asks_the_business_unit_to_record_the_notification(
        db: engine.Database, actor: engine.Actor) -> None:
    engine.deploy(db, files=deploy_files(), actor=actor)
    started = engine.start_instance(db, actor=actor, definition_key="rapid_review", business_key="SIN-TEST")
    assert started.status == "active"
    [task] = started.user_tasks
    assert (task.activity_id, task.candidate_groups, task.form_key) == (
        "record_sin", ["business-unit"], "record_serious_incident_notification")
    assert started.external_tasks == []


def test_the_engine_sees_every_user_task_in_the_lane_it_is_drawn_in() -> None:
    """Tasks inside an expanded sub-process keep their own lane (the sub-process itself is in no lane)."""
    parser = ReviewflowParser()
    drawn: dict[str, str] = {}
    for path in DIAGRAMS:
        root = parse(path)
        parser.add_bpmn_xml(root, path.name)
        drawn |= {ref.text: lane.get("name") for lane in root.iterfind(".//bpmn:lane", NS)
                  for ref in lane.iterfind("bpmn:flowNodeRef", NS)}
    seen = set()
    for pid in PROCESS_IDS:
        specs = [parser.get_spec(pid), *parser.get_subprocess_specs(pid).values()]
        for spec in specs:
            for task_spec in spec.task_specs.values():
                if isinstance(task_spec, HumanTask):
                    assert task_spec.lane == drawn[task_spec.bpmn_id], task_spec.bpmn_id
                    seen.add(task_spec.bpmn_id)
    assert seen == {t.get("id") for _, t in user_tasks()}


# --- clocks and loops, through the engine (the whole paths run in tests/scenarios, over HTTP) -----------

BU = engine.Actor("bu-officer", frozenset({"business-unit"}))
PANEL = engine.Actor("panel-chair", frozenset({"lcspr-panel"}))


def lead(agency: str) -> engine.Actor:
    return engine.Actor(f"lead-{agency.lower()}", frozenset({"agency-leads"}), agency)


@pytest.fixture
def frozen() -> Iterator[Any]:
    engine.clock.freeze(datetime(2026, 12, 18, 11, tzinfo=UTC))       # Friday 18 December 2026
    yield engine.clock
    engine.clock.reset()
    engine.configure_calendar(())


def today(days: int = 0) -> str:
    return (engine.clock.now().date() + timedelta(days=days)).isoformat()


def worker_results(task: engine.ExternalTaskInfo, v: dict[str, Any]) -> dict[str, Any]:
    """What each topic's worker returns, as the service tasks' documentation says."""
    if task.topic == "information-request":
        return {"requests_sent": 1, "return_due_on": today(28)}
    if task.topic == "panel-formation":
        return {"panel_members": ["Chair", "Health lead"], "panel_meetings": [today(30), today(60), today(90)]}
    if task.topic == "reviewer-commissioning" and task.extension_properties.get("step") == "invite":
        return {"reviewer_invited": {"id": "rev-1", "name": "Reviewer", "email": "r@example.org", "user": "rev-1"},
                "reviewer_invited_on": today()}
    if task.topic == "reviewer-commissioning":
        return {"lead_reviewer": {"id": "rev-1", "name": "Reviewer", "email": "r@example.org", "user": "rev-1"},
                "commissioning_letter_id": "DOC-LETTER", "terms_of_reference_document_id": "DOC-TOR"}
    if task.topic == "chronology-merge" and task.extension_properties.get("step") == "check":
        return {"imr": v["imr"], "chronology_entries": 2, "chronology_problem": None}
    return {}


def commission_the_reviewer(db: engine.Database, instance_id: str) -> None:
    """The pool's first reviewer is invited and accepts; the business unit agrees the terms; commissioned."""
    work(db, "reviewer-commissioning")
    open_tasks = engine.get_instance(db, instance_id=instance_id).user_tasks
    [invitation] = [t for t in open_tasks if t.activity_id == "answer_invitation"]
    engine.complete_user_task(db, actor=engine.Actor("rev-1"), task_id=invitation.id, variables={
        "invitation_accepted": True, "conflict_declared": False})
    open_tasks = engine.get_instance(db, instance_id=instance_id).user_tasks
    [terms] = [t for t in open_tasks if t.activity_id == "agree_commission"]
    engine.complete_user_task(db, actor=BU, task_id=terms.id, variables={"commission": {
        "fee_gbp": 9000, "days_of_work": 20, "report_due_on": today(150)}})
    work(db, "reviewer-commissioning")


def work(db: engine.Database, topic: str) -> int:
    """Play the worker for one topic: complete every open task of it as the worker would."""
    done = 0
    for locked in engine.fetch_and_lock(db, actor=WORKER, worker_id="w", max_tasks=50, topics=[
            engine.TopicRequest(name=topic, lock_duration_ms=60_000)]).tasks:
        engine.complete_external_task(db, actor=WORKER, task_id=locked.task.id, worker_id="w",
                                      variables=worker_results(locked.task, locked.variables))
        done += 1
    return done


def uk_day(moment: datetime) -> str:
    from timekeeping.calendar import UK  # noqa: PLC0415
    return moment.astimezone(UK).date().isoformat()


def test_the_rapid_review_clock_reminds_on_working_days_10_and_15_and_escalates_on_16(
        db: engine.Database, actor: engine.Actor, frozen: Any) -> None:
    """The notification is sent on Friday 18 December 2026. Friday 25 and Monday 28 December and Friday
    1 January are bank holidays; the partnership is also closed on 29-31 December. The law's clock
    skips the bank holidays only: working day 10 is Wednesday 6 January, day 15 (the deadline)
    Wednesday 13 January, day 16 Thursday 14 January. The agencies' chases, a local deadline, skip the
    closure days as well: the first falls on Monday 4 January (not Tuesday 29 December), the second on
    Monday 11 January, and then the Case Review Group is asked whether to go on without the agency."""
    engine.configure_calendar([date(2026, 12, 29), date(2026, 12, 30), date(2026, 12, 31)])
    engine.deploy(db, files=deploy_files(), actor=actor)
    started = engine.start_instance(db, actor=actor, definition_key="rapid_review", business_key="SIN-DAYS")
    engine.complete_user_task(db, actor=BU, task_id=started.user_tasks[0].id, variables={
        "case_reference": "CR-DAYS", "became_aware_on": "2026-12-16", "sin_sent_on": "2026-12-18",
        "incident_type": "serious_harm", "child_looked_after": False, "agencies": ["Police"],
        "confidential_names": ["Alex Example"]})
    work(db, "information-request")
    [scoping] = engine.get_instance(db, instance_id=started.id).user_tasks
    assert (scoping.activity_id, scoping.organisation) == ("submit_scoping_document", "Police")
    fired: list[tuple[str, str]] = []
    sent: list[tuple[str, str, str]] = []
    for _ in range(10):                                       # to each timer in turn, the mailer after each
        due = engine.get_instance(db, instance_id=started.id).next_timer_at
        assert due is not None
        engine.clock.freeze(due - timedelta(minutes=1))
        assert engine.fire_due_timers(db) == []                # not a minute early
        engine.clock.freeze(due + timedelta(minutes=1))
        engine.fire_due_timers(db)
        for locked in engine.fetch_and_lock(db, actor=WORKER, worker_id="mailer", max_tasks=50, topics=[
                engine.TopicRequest(name="notification", lock_duration_ms=60_000)]).tasks:
            p = locked.task.extension_properties
            sent.append((uk_day(engine.clock.now()), p["kind"], p["about"]))
            engine.complete_external_task(db, actor=WORKER, task_id=locked.task.id, worker_id="mailer")
        if uk_day(due) >= "2027-01-14":
            break
    fired = [(e.activity_id, uk_day(e.at)) for e in engine.instance_history(db, instance_id=started.id)
             if e.kind == "timer_fired"]
    assert fired == [("chase_due", "2027-01-04"), ("rapid_review_due_soon", "2027-01-06"),
                     ("chase_due", "2027-01-11"), ("rapid_review_due_today", "2027-01-13"),
                     ("rapid_review_overdue", "2027-01-14")]
    assert sent == [("2027-01-04", "chase", "agency_return"), ("2027-01-06", "reminder", "rapid_review"),
                    ("2027-01-11", "chase", "agency_return"), ("2027-01-13", "reminder", "rapid_review"),
                    ("2027-01-14", "escalation", "rapid_review")]
    open_now = engine.get_instance(db, instance_id=started.id)
    tasks = {t.activity_id: t for t in open_now.user_tasks}
    # the work goes on beside the escalation: the agency may still return, the group may go on without it,
    # and the business unit records why the Rapid Review is late (it then goes to the Panel)
    assert set(tasks) == {"submit_scoping_document", "decide_missing_return", "explain_late_rapid_review"}
    assert tasks["explain_late_rapid_review"].candidate_groups == ["business-unit"]
    assert tasks["decide_missing_return"].candidate_groups == ["case-review-group"]
    engine.complete_user_task(db, actor=BU, task_id=tasks["explain_late_rapid_review"].id, variables={
        "rapid_review_late_reasons": ["The police return was late"], "rapid_review_expected_on": "2027-01-20"})
    [notice] = engine.fetch_and_lock(db, actor=WORKER, worker_id="w", max_tasks=5, topics=[
        engine.TopicRequest(name="national-panel-submission", lock_duration_ms=60_000)]).tasks
    assert notice.variables["panel_document"] == "rapid_review_delay"
    assert notice.variables["rapid_review_late_reasons"] == ["The police return was late"]
    # nothing statutory fires again before the submission: the next timer is the agency's next chase
    assert open_now.next_timer_at is None or uk_day(open_now.next_timer_at) > "2027-01-14"


def test_an_unreadable_chronology_goes_back_to_its_agency_alone_and_the_imr_is_kept(
        db: engine.Database, actor: engine.Actor, frozen: Any) -> None:
    """Each agency_return reads its own agency's chronology as soon as the IMR is submitted; a problem
    goes back to that agency's leads with the message, the other agency's return is done, and the
    merge of the chronologies waits for the corrected file."""
    engine.deploy(db, files=deploy_files(), actor=actor)
    started = engine.start_instance(db, actor=actor, definition_key="lcspr_review", business_key="LCSPR-CHR",
                                    variables={"case_reference": "CR-CHR", "agencies": ["Police", "Health"],
                                               "decision": "lcspr", "decision_date": today(),
                                               "confidential_names": ["Alex Example"]})
    work(db, "panel-formation")
    [tor] = engine.get_instance(db, instance_id=started.id).user_tasks
    engine.complete_user_task(db, actor=PANEL, task_id=tor.id, variables={
        "terms_of_reference": {"scope": "Practice in 2026", "methodology": "Systems"},
        "key_lines_of_enquiry": ["K1", "K2", "K3"], "review_period_start": "2026-01-01",
        "review_period_end": "2026-11-30", "practitioner_discussion_appropriate": False,
        "agencies": ["Police", "Health"], "agency_changes": []})
    commission_the_reviewer(db, started.id)
    work(db, "information-request")
    imr_tasks = {t.organisation: t for t in engine.get_instance(db, instance_id=started.id).user_tasks
                 if t.activity_id == "submit_imr"}
    assert sorted(imr_tasks) == ["Health", "Police"]
    for agency, task in imr_tasks.items():
        engine.complete_user_task(db, actor=lead(agency), task_id=task.id, variables={"imr": {
            "imr_document_id": f"DOC-IMR-{agency}", "chronology_document_id": f"DOC-CHR-{agency}", "author": "A",
            "author_independent": True, "senior_manager_sign_off": "S", "signed_off_on": today()}})
    checks: dict[str, engine.LockedTask] = {}
    for locked in engine.fetch_and_lock(db, actor=WORKER, worker_id="w", max_tasks=5, topics=[
            engine.TopicRequest(name="chronology-merge", lock_duration_ms=60_000)]).tasks:
        assert locked.task.extension_properties == {"step": "check"}
        checks[locked.variables["agency"]] = locked
    assert sorted(checks) == ["Health", "Police"]
    problem = "the chronology of Health: sheet 1, row 7, column A (the date): not understood"
    engine.handle_bpmn_error(db, actor=WORKER, task_id=checks["Health"].task.id, worker_id="w",
                             error_code="CHRONOLOGY_UNREADABLE", variables={"chronology_problem": problem})
    engine.complete_external_task(db, actor=WORKER, task_id=checks["Police"].task.id, worker_id="w",
                                  variables=worker_results(checks["Police"].task, checks["Police"].variables))
    info = engine.get_instance(db, instance_id=started.id)
    [resubmit] = [t for t in info.user_tasks if t.activity_id == "resubmit_chronology"]
    assert (resubmit.organisation, resubmit.candidate_groups) == ("Health", ["agency-leads"])
    assert not [t for t in info.user_tasks if t.organisation == "Police"]           # the police return is done
    assert not [t for t in info.external_tasks if t.activity_id == "merge_chronologies"]   # the merge waits
    police_sees = engine.list_user_tasks(db, viewer=lead("Police")).data
    assert resubmit.id not in {t.id for t in police_sees}                           # Health's task is Health's
    shown = engine.get_user_task(db, task_id=resubmit.id, viewer=lead("Health"))
    assert shown.form_key == "resubmit_chronology" and shown.variables["chronology_problem"] == problem
    assert shown.variables["imr"]["imr_document_id"] == "DOC-IMR-Health"                # the IMR is kept
    assert "imrs" not in shown.variables and "confidential_names" not in shown.variables
    engine.complete_user_task(db, actor=lead("Health"), task_id=resubmit.id,
                              variables={"corrected_chronology_document_id": "DOC-CHR2-Health"})
    [again] = engine.fetch_and_lock(db, actor=WORKER, worker_id="w", max_tasks=5, topics=[
        engine.TopicRequest(name="chronology-merge", lock_duration_ms=60_000)]).tasks
    assert again.task.extension_properties == {"step": "check"} and again.variables["agency"] == "Health"
    assert again.variables["corrected_chronology_document_id"] == "DOC-CHR2-Health"
    imr = dict(again.variables["imr"], chronology_document_id="DOC-CHR2-Health")
    engine.complete_external_task(db, actor=WORKER, task_id=again.task.id, worker_id="w",
                                  variables={"imr": imr, "chronology_entries": 3, "chronology_problem": None})
    [merge] = engine.fetch_and_lock(db, actor=WORKER, worker_id="w", max_tasks=5, topics=[
        engine.TopicRequest(name="chronology-merge", lock_duration_ms=60_000)]).tasks
    assert merge.task.extension_properties == {"step": "merge"}
    imrs = merge.variables["imrs"]
    assert {a: (r["status"], r["imr"]["imr_document_id"], r["imr"]["chronology_document_id"])
            for a, r in imrs.items()} == {"Health": ("received", "DOC-IMR-Health", "DOC-CHR2-Health"),
                                          "Police": ("received", "DOC-IMR-Police", "DOC-CHR-Police")}
