"""Every topic the diagrams use has exactly one handler module, named after it; every handler serves a
topic some diagram uses; and the properties the diagrams set are ones the handlers understand."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

from lxml import etree

import workers.handlers
from workers.handlers import discover, information_request, national_panel_submission, notification, publication

BPMN = Path(__file__).resolve().parents[3] / "bpmn"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "camunda": CAMUNDA}


def service_tasks() -> list[etree._Element]:
    tasks = []
    for path in sorted(BPMN.glob("*.bpmn")):
        tasks += etree.parse(str(path)).findall(".//bpmn:serviceTask", NS)
    assert tasks
    return tasks


def diagram_topics() -> set[str]:
    return {t.get(f"{{{CAMUNDA}}}topic") for t in service_tasks()}


def properties(task: etree._Element) -> dict[str, str]:
    return {p.get("name"): p.get("value") for p in task.findall(".//camunda:property", NS)}


def test_every_topic_in_the_diagrams_has_exactly_one_handler_module() -> None:
    modules = [m.name for m in pkgutil.iter_modules(workers.handlers.__path__) if not m.name.startswith("_")]
    topics = {importlib.import_module(f"workers.handlers.{name}").TOPIC: name for name in modules}
    assert len(topics) == len(modules), "two modules serve one topic"
    for topic in diagram_topics():
        assert topics.get(topic) == topic.replace("-", "_"), topic


def test_every_handler_serves_a_topic_of_a_diagram() -> None:
    handlers = discover()
    assert sorted(h.topic for h in handlers) == sorted(diagram_topics())
    for handler in handlers:
        assert handler.name == f"workers.handlers.{handler.topic.replace('-', '_')}"


def test_the_properties_the_diagrams_set_are_understood() -> None:
    understood = {
        "information-request": {"document": {*information_request.DOCUMENTS, "from_case"}},
        "national-panel-submission": {"document": {*national_panel_submission.REQUIRED, "from_case"}},
        "publication": {"document": set(publication.DOCUMENTS)},
        "notification": {"kind": set(notification.KINDS)},
    }
    for task in service_tasks():
        topic = task.get(f"{{{CAMUNDA}}}topic")
        for name, allowed in understood.get(topic, {}).items():
            assert properties(task).get(name) in allowed, (task.get("id"), name)


def test_what_the_blocks_read_from_the_case_is_what_the_diagrams_name() -> None:
    """The reusable blocks take what to ask for or send from the case (from_case): every value a
    diagram's script gives return_kind or panel_document is one the handlers know."""
    text = " ".join(p.read_text() for p in BPMN.glob("*.bpmn"))
    kinds = set(re.findall(r'return_kind = (?:&quot;|")(\w+)', text))
    documents = set(re.findall(r'panel_document = (?:&quot;|")(\w+)', text))
    assert kinds == {"initial_scoping", "imr_and_chronology"}
    assert documents and documents <= set(national_panel_submission.REQUIRED)
    assert {"rapid_review", "delay_notice", "pre_publication", "publication_link"} <= documents


def test_every_notification_of_the_diagrams_has_its_own_wording() -> None:
    for task in service_tasks():
        if task.get(f"{{{CAMUNDA}}}topic") == "notification":
            p = properties(task)
            assert (p["kind"], p["about"]) in notification.COMPOSERS or ("*", p["about"]) in notification.COMPOSERS, \
                task.get("id")
