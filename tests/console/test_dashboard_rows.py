"""The dashboard keeps each case's row between visits (api.console.pages.DashboardRows) and works a row
out again exactly when what it shows can have changed: the case moved on, was migrated or closed, an
incident opened, the day turned, the milestones file was reloaded. A row kept for one person is never
shown to another who may not see the case."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

import engine
from api.cli import deploy_directory
from api.console.pages import DashboardRows, case_rows
from timekeeping.calendar import UK

ROOT = Path(__file__).resolve().parents[2]
BU = engine.Actor("bu-officer", frozenset({"business-unit", "case-review-group"}), sees_all_cases=True)
CRG = engine.Actor("crg-chair", frozenset({"case-review-group"}))
WORKER = engine.Actor.system("worker")


@pytest.fixture
def m(db: engine.Database) -> engine.Milestones:
    deploy_directory(db, ROOT / "bpmn")
    return engine.load_milestones(ROOT / "bpmn" / "milestones.toml")


def notify(db: engine.Database, case: engine.InstanceInfo, sent: date) -> None:
    engine.complete_user_task(db, actor=BU, task_id=case.user_tasks[0].id, variables={
        "case_reference": f"CR-{case.business_key}", "became_aware_on": (sent - timedelta(days=1)).isoformat(),
        "sin_sent_on": sent.isoformat(), "incident_type": "serious_harm", "agencies": ["Police"],
        "confidential_names": ["Child A"], "child_looked_after": False})


def fresh(db: engine.Database, viewer: engine.Actor, m: engine.Milestones, day: date) -> list[object]:
    """The rows as worked out from nothing, to compare the kept ones with."""
    cases = engine.open_cases(db, viewer=viewer, variables=m.milestone_variables(statutory_only=True),
                              completed_activities=m.activities(statutory_only=True))
    return list(case_rows(cases, m, day))


def test_kept_rows_follow_every_change_to_the_cases(db: engine.Database, m: engine.Milestones) -> None:
    today = engine.clock.now().astimezone(UK).date()
    kept = DashboardRows()
    cases = [engine.start_instance(db, actor=BU, definition_key="rapid_review", business_key=f"SIN-{n}")
             for n in range(4)]
    engine.share_case(db, actor=BU, instance_id=cases[0].id, group="case-review-group")
    first = kept.rows(db, viewer=BU, m=m, day=today)
    assert first == fresh(db, BU, m, today) and len(first) == 4
    assert {r.stage for r in first} == {"Record the serious incident notification"}

    # a case moves on: its row changes, the others are the very rows kept
    notify(db, cases[1], today - timedelta(days=3))
    second = kept.rows(db, viewer=BU, m=m, day=today)
    assert second == fresh(db, BU, m, today)
    moved = next(r for r in second if r.id == cases[1].id)
    assert moved.stage != "Record the serious incident notification" and moved.deadline is not None
    unchanged = {r.id: r for r in first if r.id != cases[1].id}
    assert all(r is unchanged[r.id] for r in second if r.id != cases[1].id)

    # an incident opens with no change to the case: counted on the kept row
    task = engine.fetch_and_lock(db, actor=WORKER, worker_id="w", max_tasks=1,
                                 topics=[engine.TopicRequest("information-request", 60_000)]).tasks[0].task
    engine.handle_failure(db, task_id=task.id, worker_id="w", actor=WORKER, error_message="mail down",
                          error_details=None, retries=0, retry_timeout_ms=0)
    assert next(r for r in kept.rows(db, viewer=BU, m=m, day=today) if r.id == cases[1].id).incidents == 1

    # a new case appears, a cancelled one leaves
    added = engine.start_instance(db, actor=BU, definition_key="rapid_review", business_key="SIN-new")
    engine.cancel_instance(db, actor=BU, instance_id=cases[3].id, reason="opened twice")
    third = kept.rows(db, viewer=BU, m=m, day=today)
    assert third == fresh(db, BU, m, today)
    assert {r.id for r in third} == {cases[0].id, cases[1].id, cases[2].id, added.id}

    # the rows kept for the business unit are not the Case Review Group's to see
    assert [r.id for r in kept.rows(db, viewer=CRG, m=m, day=today)] == [cases[0].id]

    # another day: the working days left are counted again
    later = today + timedelta(days=30)
    assert kept.rows(db, viewer=BU, m=m, day=later) == fresh(db, BU, m, later)
    assert next(r for r in kept.rows(db, viewer=BU, m=m, day=later) if r.id == cases[1].id).rag == "red"
