"""Parse BPMN with SpiffWorkflow's standard parser plus Camunda/SpiffArena task attributes.

We build on `BpmnParser`, not `CamundaParser`: Camunda's multi-instance spec mutates the shared spec at
run time (docs/engine-notes.md, "Specs once per definition version"), and we cache one spec per definition version.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser, BpmnValidator, full_tag
from SpiffWorkflow.bpmn.parser.node_parser import DEFAULT_NSMAP
from SpiffWorkflow.bpmn.parser.task_parsers import ConditionalGatewayParser, GatewayParser
from SpiffWorkflow.bpmn.parser.TaskParser import TaskParser

from engine.bpmn.compat import MergingInclusiveGateway, MergingParallelGateway, MergingProcessParser
from engine.bpmn.specs import ExternalServiceTask, HumanTask

CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NSMAP = {**DEFAULT_NSMAP, "camunda": CAMUNDA_NS, "spiffworkflow": SPIFF_NS}

# Entities are never resolved, DTDs never loaded, nothing fetched over the network.
SAFE_XML = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                           remove_comments=False)

#: the extension property (camunda:properties) naming what else a user task shows, comma-separated
READS = "reads"
#: a plain reference to a variable, `${name}` or `${name.key}` (Camunda's expression syntax): who a task
#: names may come from the case (engine.store.projection.resolve)
REFERENCE = re.compile(r"^\$\{\s*([A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*)\s*\}$")
#: the extension property naming the variable that says whose task it is (e.g. action.agency)
ORGANISATION = "organisation"
#: the extension property saying what a user task opens to those who may do it: "case" (the default:
#: the whole case, as for anyone who works on it) or "task" (this task alone: its form's fields and
#: its `reads`; doing it, or declining it, opens nothing more — e.g. an invitation to someone outside)
CASE_ACCESS = "caseAccess"
CASE_ACCESS_VALUES = ("case", "task")

_validator: BpmnValidator | None = None


def validator() -> BpmnValidator:
    """The XSD validator takes ~10 ms to build: build it once."""
    global _validator
    if _validator is None:
        _validator = BpmnValidator()
    return _validator


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def group_for_lane(lane: str | None) -> str | None:
    """A lane named "Case Review Group" stands for the candidate group "case-review-group"."""
    if not lane:
        return None
    return re.sub(r"[^a-z0-9]+", "-", lane.lower()).strip("-") or None


class _CamundaAware(TaskParser):
    def camunda(self, name: str) -> str | None:
        value: str | None = self.node.get(f"{{{CAMUNDA_NS}}}{name}")
        return value

    def parse_extensions(self, node: Any = None) -> dict[str, str]:
        props = self.xpath(".//bpmn:extensionElements/camunda:properties/camunda:property")
        return {p.get("name"): p.get("value") for p in props}

    def int_attr(self, name: str, default: int) -> int:
        raw = self.camunda(name)
        if raw is None or raw.strip() == "":
            return default
        try:
            return int(raw)
        except ValueError:
            self.raise_validation_exception(f"camunda:{name} must be a whole number, not {raw!r}")
            raise  # unreachable; raise_validation_exception raises


class HumanTaskParser(_CamundaAware):
    def _case_access(self) -> str:
        value = self.parse_extensions().get(CASE_ACCESS) or "case"
        if value not in CASE_ACCESS_VALUES:
            self.raise_validation_exception(f"the property {CASE_ACCESS} is case or task, not {value!r}")
        return value

    def create_task(self) -> HumanTask:
        groups = _split(self.camunda("candidateGroups"))
        users, assignee = _split(self.camunda("candidateUsers")), self.camunda("assignee") or None
        # the lane stands for a group only when the task names nobody: a task for the commissioned
        # reviewer (${lead_reviewer.user}) is not every reviewer's
        if not groups and not users and not assignee and (lane_group := group_for_lane(self.lane)):
            groups = [lane_group]
        spec: HumanTask = self.spec_class(
            self.spec, self.bpmn_id,
            candidate_groups=groups, candidate_users=users,
            assignee=assignee, form_key=self.camunda("formKey") or None,
            priority=self.int_attr("priority", 50), reads=_split(self.parse_extensions().get(READS)),
            organisation=self.parse_extensions().get(ORGANISATION) or None,
            case_access=self._case_access(), **self.bpmn_attributes)
        return spec


class ExternalServiceTaskParser(_CamundaAware):
    def create_task(self) -> ExternalServiceTask:
        topic = self.camunda("topic")
        if not topic:
            operator = self.xpath("./bpmn:extensionElements/spiffworkflow:serviceTaskOperator")
            topic = operator[0].get("id") if operator else None
        if not topic:
            self.raise_validation_exception(
                f"Service task '{self.bpmn_id}' has no topic: set camunda:type=\"external\" and "
                "camunda:topic, or a spiffworkflow:serviceTaskOperator")
        service: ExternalServiceTask = self.spec_class(self.spec, self.bpmn_id, topic=topic,
                                                      priority=self.int_attr("taskPriority", 0),
                                                      properties=self.parse_extensions(), **self.bpmn_attributes)
        return service


class ReviewflowParser(BpmnParser):
    OVERRIDE_PARSER_CLASSES = {
        full_tag("userTask"): (HumanTaskParser, HumanTask),
        full_tag("serviceTask"): (ExternalServiceTaskParser, ExternalServiceTask),
        full_tag("parallelGateway"): (GatewayParser, MergingParallelGateway),
        full_tag("inclusiveGateway"): (ConditionalGatewayParser, MergingInclusiveGateway),
    }
    PROCESS_PARSER_CLASS = MergingProcessParser

    def __init__(self) -> None:
        super().__init__(namespaces=NSMAP, validator=validator())
