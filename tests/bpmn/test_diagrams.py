"""The partnership's diagrams (bpmn/*.bpmn) and their user-task forms (bpmn/forms/*.json): they deploy, they
are drawn completely and readably, lanes agree with candidate groups, forms and topics are the agreed ones."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
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
               "lcspr_review", "panel_meeting", "publication", "learning_dissemination", "action_plan"}

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


# --- a case from notification to a closed action plan, through the engine ------------------------------

GROUPS = frozenset({"business-unit", "case-review-group", "lcspr-panel", "independent-lead-reviewer",
                    "agency-leads", "learning-from-practice-sub-group"})
PARTNERS = ("local_authority", "integrated_care_board", "police")


@pytest.fixture
def frozen() -> Iterator[Any]:
    engine.clock.freeze(datetime(2026, 12, 18, 11, tzinfo=UTC))
    yield engine.clock
    engine.clock.reset()


def today(days: int = 0) -> str:
    return (engine.clock.now().date() + timedelta(days=days)).isoformat()


def form_data(decision: str) -> dict[str, Callable[[dict[str, Any], int], dict[str, Any]]]:
    """What each user task's people enter; `n` counts the times the task has come round (loops)."""
    return {
        "record_sin": lambda v, n: {
            "case_reference": "CR-TEST", "became_aware_on": today(-2), "sin_sent_on": today(),
            "incident_type": "serious_harm", "agencies": ["Police", "Health", "School"],
            "confidential_names": ["Alex Example"]},
        "submit_scoping_document": lambda v, n: {"scoping_document": {
            "involvement": f"{v['agency']}: two home visits", "analysis": "a",
            "immediate_safety_concerns": "None"}},
        "hold_rapid_review_meeting": lambda v, n: {
            "meeting_date": today(), "learning_identified": ["Information was not shared"],
            "immediate_safety_actions": "None", "recommendation": decision, "recommendation_reasons": "r",
            "rapid_review_report_id": "DOC-RR"},
        "record_partners_sign_off": lambda v, n: (
            {"partners_signed_off": False, "amendments_requested": "Clarify the timeline"} if n == 1 else
            {"partners_signed_off": True,
             "sign_offs": [{"partner": p, "signed_off_by": "X", "signed_off_on": today()} for p in PARTNERS]}),
        "confirm_decision": lambda v, n: {"decision": decision, "reasons": "Reg 11 criteria",
                                          "decision_date": today()},
        "agree_terms_of_reference": lambda v, n: {
            "terms_of_reference": "DOC-TOR", "key_lines_of_enquiry": ["K1", "K2", "K3"],
            "review_period_start": "2025-01-01", "review_period_end": "2026-11-30",
            "practitioner_discussion_appropriate": True},
        "hold_panel_meeting": lambda v, n: {"panel_meeting_record": {
            "held_on": v["panel_meeting"], "attendees": ["Chair"], "decisions": "d"}},
        "record_practitioner_discussion": lambda v, n: {"practitioner_discussion": {
            "held_on": today(), "attendance": 6, "notes_document_id": "DOC-NOTES"}},
        "resubmit_chronology": lambda v, n: {"corrected_chronology_document_id": f"DOC-CHR2-{v['agency']}"},
        "submit_imr": lambda v, n: {"imr": {
            "imr_document_id": f"DOC-IMR-{v['agency']}", "chronology_document_id": f"DOC-CHR-{v['agency']}",
            "author": "A", "author_independent": True, "senior_manager_sign_off": "S", "signed_off_on": today()}},
        "write_draft_report": lambda v, n: {"draft_report_id": f"DOC-DRAFT-{n}", "draft_version": n},
        "quality_assure_draft": lambda v, n: (
            {"amendments_needed": True, "amendments": "Strengthen KLOE 2"} if n == 1 else {"amendments_needed": False}),
        "approve_final_report": lambda v, n: {
            "final_report_id": "DOC-FINAL",
            "approvals": [{"partner": p, "approved_by": "X", "approved_on": today()} for p in PARTNERS]},
        "decide_publication": lambda v, n: {"publication_scope": "full_report",
                                            "publication_reasons": "No reason not to publish"},
        "redact_report": lambda v, n: {"redacted_document_id": "DOC-REDACTED", "redaction_notes": "Section 2"},
        "redact_briefing": lambda v, n: {"redacted_document_id": "DOC-REDACTED", "redaction_notes": "Point 3"},
        "assess_deadline": lambda v, n: {"deadline_at_risk": False, "progress_summary": "On track"},
        "record_delay": lambda v, n: {"delay_reasons": "Inquest", "expected_publication_date": today(60)},
        "gather_learning": lambda v, n: {"learning_points": ["Share information early"]},
        "review_briefing": lambda v, n: (
            {"changes_needed": True, "briefing_changes": "Shorter"} if n == 1 else
            {"changes_needed": False, "approved_by": "Chair"}),
        "plan_learning_events": lambda v, n: {"learning_events": [
            {"theme": "Information sharing", "planned_on": today(20), "audience": "Practitioners"}]},
        "record_learning_events": lambda v, n: {"learning_event_records": [
            {"theme": "Information sharing", "held_on": today(), "attendance": 40}]},
        "agree_action_plan": lambda v, n: {"actions": [
            {"action": "Audit referrals", "agency": "Health", "owner": "Named nurse", "due_date": today(60),
             "rag": "amber", "evidence_of_impact": "Audit shows timely referrals"}]},
        "update_action": lambda v, n: {"action_update": {"rag": "green", "progress": "Done", "completed": True}},
        "review_progress": lambda v, n: (
            {"any_overdue": True, "overdue_summary": "Audit late", "progress_summary": "p"} if n == 1 else
            {"any_overdue": False, "progress_summary": "p"}),
        "confirm_impact": lambda v, n: (
            {"impact_confirmed": False, "impact_summary": "Not yet"} if n == 1 else
            {"impact_confirmed": True, "impact_summary": "Re-audit shows timely referrals", "closed_on": today()}),
    }


def worker_results(v: dict[str, Any], task: engine.ExternalTaskInfo) -> dict[str, Any]:
    """What each topic's worker returns (as the service tasks' documentation says)."""
    if task.topic == "panel-formation":
        return {"panel_members": ["Chair", "Health lead"], "panel_meetings": [today(10), today(30), today(50)]}
    if task.topic == "reviewer-commissioning":
        return {"lead_reviewer": "Independent Reviewer"}
    if task.topic == "national-panel-submission":
        return {"panel_receipt_id": f"NP-{task.extension_properties['document']}"}
    if task.topic == "publication":
        return {"published_url": "https://partnership.example/reviews/1", "published_on": today(),
                "review_due_on": today(366)}
    if task.topic == "seven-minute-briefing":
        return {"briefing_document_id": "DOC-7MB"}
    if task.topic == "chronology-merge" and task.extension_properties.get("step") == "check":
        return {"imr": v["imr"], "chronology_entries": 2, "chronology_problem": None}
    if task.topic == "chronology-merge":
        assert len(v["imrs"]) == 3
        return {"integrated_chronology_id": "DOC-CHRONOLOGY"}
    return {}


def run_case(db: engine.Database, decision: str) -> tuple[engine.InstanceInfo, list[str]]:
    actor = engine.Actor("tester", GROUPS)
    engine.deploy(db, files=deploy_files(), actor=actor)
    started = engine.start_instance(db, actor=actor, definition_key="rapid_review", business_key="SIN-E2E")
    forms, done, rounds, published = form_data(decision), [], {}, set()
    topics = [engine.TopicRequest(name=t, lock_duration_ms=60_000) for t in sorted(TOPICS)]
    for _ in range(300):
        info = engine.get_instance(db, instance_id=started.id)
        assert not info.incidents, info.incidents
        if info.status != "active":
            return info, done
        if info.user_tasks:
            task = engine.get_user_task(db, task_id=info.user_tasks[0].id)
            rounds[task.activity_id] = n = rounds.get(task.activity_id, 0) + 1
            engine.complete_user_task(db, actor=actor, task_id=task.id,
                                      variables=forms[task.activity_id](task.variables or {}, n))
            done.append(task.activity_id)
            continue
        fetched = engine.fetch_and_lock(db, actor=WORKER, worker_id="worker", topics=topics, max_tasks=1).tasks
        if fetched:
            locked = fetched[0]
            if locked.task.topic == "publication" and locked.task.activity_id not in published:
                published.add(locked.task.activity_id)       # the first attempt finds a confidential name
                engine.handle_bpmn_error(db, actor=WORKER, task_id=locked.task.id, worker_id="worker",
                                         error_code="CONFIDENTIAL_NAME_FOUND")
            else:
                engine.complete_external_task(db, actor=WORKER, task_id=locked.task.id, worker_id="worker",
                                              variables=worker_results(locked.variables, locked.task))
            done.append(locked.task.activity_id)
            continue
        try:
            engine.correlate_message(db, actor=actor, message_name="national_panel_response",
                                     business_key="SIN-E2E", variables={"panel_response": "agree"})
            done.append("national_panel_response")
            continue
        except engine.MessageNotCorrelated:
            pass
        assert info.next_timer_at is not None, "the case is stuck"
        engine.clock.advance(max(info.next_timer_at - engine.clock.now(), timedelta(0)) + timedelta(seconds=1))
        engine.fire_due_timers(db)
    raise AssertionError("the case did not finish")


def _send_notifications(db: engine.Database) -> list[str]:
    """Act as the mailer: take every notification task waiting, return their kinds."""
    kinds = []
    for locked in engine.fetch_and_lock(db, actor=WORKER, worker_id="mailer", max_tasks=50, topics=[
            engine.TopicRequest(name="notification", lock_duration_ms=60_000)]).tasks:
        kinds.append(locked.task.extension_properties.get("kind", ""))
        engine.complete_external_task(db, actor=WORKER, task_id=locked.task.id, worker_id="mailer")
    return kinds


def one_step(db: engine.Database, actor: engine.Actor, instance_id: str) -> None:
    """Complete the case's first open user task with its form data, else one external task of any topic."""
    info = engine.get_instance(db, instance_id=instance_id)
    if info.user_tasks:
        task = engine.get_user_task(db, task_id=info.user_tasks[0].id)
        engine.complete_user_task(db, actor=actor, task_id=task.id,
                                  variables=form_data("lcspr")[task.activity_id](task.variables or {}, 1))
        return
    [locked] = engine.fetch_and_lock(db, actor=WORKER, worker_id="w", max_tasks=1, topics=[
        engine.TopicRequest(name=t, lock_duration_ms=60_000) for t in sorted(TOPICS)]).tasks
    engine.complete_external_task(db, actor=WORKER, task_id=locked.task.id, worker_id="w",
                                  variables=worker_results(locked.variables, locked.task))

