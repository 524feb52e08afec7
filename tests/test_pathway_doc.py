"""docs/pathway.md lists every user task and every timer the diagrams in bpmn/ have."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}


def test_every_user_task_and_timer_in_bpmn_is_in_docs_pathway() -> None:
    doc = (ROOT / "docs" / "pathway.md").read_text()
    for path in sorted((ROOT / "bpmn").glob("*.bpmn")):
        root = etree.parse(str(path)).getroot()
        for task in root.iterfind(".//bpmn:userTask", NS):
            assert f"| `{path.stem}` | `{task.get('id')}` | {task.get('name')} |" in doc, (path.name, task.get("id"))
        for timer in root.iterfind(".//bpmn:timerEventDefinition/..", NS):
            assert f"| `{path.stem}` | `{timer.get('id')}` |" in doc, (path.name, timer.get("id"))
