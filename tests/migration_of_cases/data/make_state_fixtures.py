"""Make the stored-state fixtures the state-format tests load (run by hand, never by the tests).

    # today's format (STATE_FORMAT 1: SpiffWorkflow 3.2's serializer 1.5, the spec kept apart):
    .venv/bin/python tests/migration_of_cases/data/make_state_fixtures.py today

    # the previous serializer (1.4, SpiffWorkflow 3.1.2), in the same stored shape:
    python3.11 -m venv /tmp/spiff31 && /tmp/spiff31/bin/pip install spiffworkflow==3.1.2
    /tmp/spiff31/bin/python tests/migration_of_cases/data/make_state_fixtures.py legacy

Both run `stored_case.bpmn` to its first wait states — a user task, an external (service) task, a
call activity waiting at the called process's user task, a timer, and an event-based gateway
waiting for a message or a timer — and write what the store would hold: the serializer's document
without the spec (`spec_key` names the definition instead, engine.bpmn.state).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
DIAGRAM = HERE / "stored_case.bpmn"
START_DATA = {"case_reference": "SIN-2024-007", "agency": "police"}


def legacy() -> None:
    from SpiffWorkflow.bpmn.parser import BpmnParser
    from SpiffWorkflow.bpmn.serializer import DEFAULT_CONFIG, BpmnWorkflowSerializer
    from SpiffWorkflow.bpmn.serializer.default.task_spec import BpmnTaskSpecConverter
    from SpiffWorkflow.bpmn.specs.defaults import ServiceTask
    from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

    parser = BpmnParser()
    parser.add_bpmn_file(str(DIAGRAM))
    wf = BpmnWorkflow(parser.get_spec("stored_case"), parser.get_subprocess_specs("stored_case"))
    wf.task_tree.data.update(START_DATA)
    wf.do_engine_steps()                                  # the service task waits, STARTED
    config = dict(DEFAULT_CONFIG)
    config[ServiceTask] = BpmnTaskSpecConverter
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))
    dct = serializer.to_dict(wf)
    dct[serializer.VERSION_KEY] = serializer.VERSION
    del dct["spec"], dct["subprocess_specs"]
    dct["spec_key"] = "stored_case:1"
    (HERE / f"stored_case.serializer-{serializer.VERSION}.json").write_text(json.dumps(dct, indent=1) + "\n")


def today() -> None:
    sys.path.insert(0, str(HERE.parents[2]))
    from lxml import etree

    from engine.bpmn import state
    from engine.bpmn.parser import SAFE_XML, ReviewflowParser
    from engine.store.specs import build_specs

    parser = ReviewflowParser()
    parser.add_bpmn_xml(etree.fromstring(DIAGRAM.read_bytes(), parser=SAFE_XML), DIAGRAM.name)
    wf = state.new_workflow(build_specs(parser, "stored_case", "stored_case:1"))
    wf.task_tree.data.update(START_DATA)
    wf.do_engine_steps()
    text = state.dumps(wf)
    (HERE / f"stored_case.format-{state.STATE_FORMAT}.json").write_text(json.dumps(json.loads(text), indent=1) + "\n")


if __name__ == "__main__":
    {"legacy": legacy, "today": today}[sys.argv[1]]()
