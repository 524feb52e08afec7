"""The handlers run by the real Worker against a fake engine: a lost answer from the National Panel is
retried by the runtime, and the Panel still receives one submission."""

from __future__ import annotations

from tests.workers.conftest import WorkerFactory
from tests.workers.handlers.conftest import ServicesFactory
from tests.workers.runtime.fake_engine import FakeEngine, typed
from tests.workers.services.fakes import FakeNationalPanel
from workers.handlers import discover


def test_a_retried_submission_reaches_the_panel_once(fake_engine: FakeEngine, make_worker: WorkerFactory,
                                                     make_services: ServicesFactory,
                                                     national_panel: FakeNationalPanel) -> None:
    services = make_services(national_panel_url=national_panel.submit_url)
    national_panel.lose_next_response()
    variables = {"case_reference": typed("NB-TEST-1", "String"), "sin_sent_on": typed("2026-01-05", "String"),
                 "recommendation": typed("lcspr", "String"), "decision": typed("lcspr", "String"),
                 "rapid_review_report_id": typed("doc-rr-1", "String")}
    task = fake_engine.add_task("national-panel-submission", variables,
                                extension_properties={"document": "rapid_review"})
    make_worker(discover(), services)
    assert fake_engine.wait_for(lambda: task.state == "completed", timeout=15)
    assert len(fake_engine.calls("failure", task.id)) == 1                  # the first attempt, retried
    assert task.result is not None
    assert task.result["variables"]["panel_receipt_id"]["value"] == "NP-00001"
    assert len(national_panel.requests) == 2
    assert list(national_panel.submissions) == [task.activity_instance_id]
