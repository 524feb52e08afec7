"""Against the real server: the documents client speaks the engine's worker endpoints, and a handler run by
the real Worker completes a real instance's task with the National Panel's receipt."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import engine
from tests.conftest import Deployer, Server
from tests.workers.services.fakes import ENVIRONMENT, FakeNationalPanel, write_directory
from workers.handlers import national_panel_submission
from workers.runtime import EngineClient, HandlerModule, Worker, WorkerSettings
from workers.services import Documents, Services, load_directory

WORKER = engine.Actor.system("worker")

VARIABLES = {"case_reference": "NB-TEST-1", "sin_sent_on": "2026-01-05", "recommendation": "lcspr",
             "decision": "lcspr", "rapid_review_report_id": "doc-rr-1"}


def test_documents_are_listed_read_and_added_through_the_engine(db: engine.Database, deploy: Deployer,
                                                                server: Server, keys: dict[str, str]) -> None:
    deploy("external_task.bpmn")
    started = engine.start_instance(db, actor=engine.Actor.system("bu"), definition_key="external_task",
                                    variables=VARIABLES, business_key="NB-TEST-1")
    [locked] = engine.fetch_and_lock(db, actor=WORKER, worker_id="w", max_tasks=1, topics=[
        engine.TopicRequest(name="national-panel-submission", lock_duration_ms=60_000)]).tasks
    documents = Documents(f"{server.url}/engine-rest", token=keys["worker"])
    try:
        assert documents.list(locked.task.id) == []
        added = documents.add(locked.task.id, filename="chronology-x.csv", content=b"date,event\n2024-01-01,a\n",
                              content_type="text/csv", kind="integrated_chronology_csv")
        again = documents.add(locked.task.id, filename="chronology-x.csv", content=b"date,event\n2024-01-01,a\n",
                              content_type="text/csv", kind="integrated_chronology_csv")
        assert again == added
        [listed] = documents.list(locked.task.id)
        assert (listed.id, listed.kind, listed.filename) == (added, "integrated_chronology_csv", "chronology-x.csv")
        assert documents.read(locked.task.id, added) == (b"date,event\n2024-01-01,a\n", "text/csv")
        assert [d.id for d in engine.list_documents(db, instance_id=started.id)] == [added]
    finally:
        documents.close()


def test_the_worker_completes_a_real_task_with_the_panel_s_receipt(db: engine.Database, deploy: Deployer,
                                                                   server: Server, keys: dict[str, str],
                                                                   tmp_path: Path) -> None:
    deploy("external_task.bpmn")
    started = engine.start_instance(db, actor=engine.Actor.system("bu"), definition_key="external_task",
                                    variables=VARIABLES, business_key="NB-TEST-1")
    panel = FakeNationalPanel()
    panel.start()
    settings = WorkerSettings(engine_url=f"{server.url}/engine-rest", token=keys["worker"], worker_id="w-1",
                              long_poll=timedelta(seconds=1), retry_base=timedelta(milliseconds=50))
    directory = load_directory(write_directory(tmp_path, national_panel_url=panel.submit_url), environ=ENVIRONMENT)
    services = Services.build(directory, engine_url=str(settings.engine_url), token=keys["worker"])
    worker = Worker(EngineClient(settings), [HandlerModule.from_module(national_panel_submission)], settings,
                    services)
    worker.start()
    try:
        deadline = time.monotonic() + 15
        while engine.get_instance(db, instance_id=started.id).status != "completed":
            assert time.monotonic() < deadline, "the task was not completed"
            time.sleep(0.05)
    finally:
        worker.stop()
        services.close()
        panel.stop()
    variables = engine.get_instance(db, instance_id=started.id).variables
    assert variables["panel_receipt_id"] == "NP-00001"
    assert variables["panel_submission"]["via"] == "api" and variables["panel_submission"]["receipt_id"] == "NP-00001"
    [key] = panel.submissions
    assert key.startswith("submit:")
