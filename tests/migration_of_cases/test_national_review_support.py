"""Issue 18: a case waiting at the old `support_national_review` (one user task, before the support
became review_led_elsewhere) moves to the new rapid_review with the generated plan, keeps its task,
and goes on into the new support when the task is completed (docs/pathway.md)."""

from __future__ import annotations

from pathlib import Path

import engine
from tests.migration_of_cases.conftest import DATA, OWNER

BPMN = Path(__file__).resolve().parents[2] / "bpmn"
BU = engine.Actor("bu-officer", frozenset({"business-unit"}), sees_all_cases=True)


def files(*, old: bool) -> list[engine.DeployFile]:
    """The partnership's diagrams and forms as they are, or with rapid_review as it was before issue 18."""
    found = [engine.DeployFile(p.name, p.read_bytes()) for p in sorted(BPMN.glob("*.bpmn"))
             if not (old and p.name == "rapid_review.bpmn")]
    found += [engine.DeployFile(f"forms/{p.name}", p.read_bytes()) for p in sorted((BPMN / "forms").glob("*.json"))]
    if old:
        found += [engine.DeployFile("rapid_review.bpmn", (DATA / "rapid_review_before_issue_18.bpmn").read_bytes()),
                  engine.DeployFile("forms/support_national_review.json",
                                    (DATA / "support_national_review.json").read_bytes())]
    return found


def rapid_review_id(result: engine.DeploymentResult) -> str:
    [found] = [d.definition.id for d in result.definitions if d.definition.key == "rapid_review"]
    return found


def test_a_case_at_the_old_support_task_moves_with_the_generated_plan(db: engine.Database) -> None:
    old = rapid_review_id(engine.deploy(db, files=files(old=True), actor=OWNER))
    case = engine.start_instance(db, actor=BU, definition_id=old, business_key="NB-NR-1", variables={
        "case_reference": "NB-NR-1", "decision": "lcspr", "panel_reasons": ["Themes of national importance"],
        "agencies": ["northbridge-police"]})
    engine.modify_instance(db, actor=OWNER, instance_id=case.id, reason="a case waiting at the old task", instructions=[
        engine.Modification("cancel", activity_id="record_sin"),
        engine.Modification("startBeforeActivity", activity_id="support_national_review")])
    [waiting] = engine.get_instance(db, instance_id=case.id).user_tasks
    assert (waiting.activity_id, waiting.form_key) == ("support_national_review", "support_national_review")

    new = rapid_review_id(engine.deploy(db, files=files(old=False), actor=OWNER))
    assert new != old
    plan = engine.generate_migration_plan(db, source_definition_id=old, target_definition_id=new)
    assert ("support_national_review", "support_national_review") in {
        (i.source_activity_id, i.target_activity_id) for i in plan.instructions}
    assert engine.migrate_instances(db, plan=plan, actor=OWNER).moved == [case.id]

    [moved] = engine.get_instance(db, instance_id=case.id).user_tasks
    assert moved.id == waiting.id and moved.form_key == "record_review_lead"
    engine.complete_user_task(db, actor=BU, task_id=moved.id, variables={"review_lead": {
        "body": "national_panel", "name": "Child Safeguarding Practice Review Panel",
        "contact": {"name": "National reviewer", "email": "national.reviewer@panel.example"}}})
    after = engine.get_instance(db, instance_id=case.id)
    assert [t.activity_id for t in after.user_tasks] == ["record_lead_body_contact"]
    assert after.definition_id == new
