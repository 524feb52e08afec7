"""The real Camunda clients, unchanged, against our /engine-rest over HTTP."""

from __future__ import annotations

import json

import httpx
import pycamunda.deployment
import pycamunda.processdef
import pycamunda.processinst
import pycamunda.task
import pytest
from camunda.external_task.external_task_worker import ExternalTaskWorker, NoExternalTaskFound

import engine
from tests.conftest import BPMN, Deployer, Server

TOPIC = "national-panel-submission"
CLIENT_CONFIG = {"maxTasks": 1, "lockDuration": 10_000, "asyncResponseTimeout": 300, "sleepSeconds": 0,
                 "retries": 3, "retryTimeout": 0}
WORKER_KEY: dict[str, str] = {}


@pytest.fixture(autouse=True)
def _worker_key(keys: dict[str, str]) -> None:
    WORKER_KEY["secret"] = keys["worker"]


def worker(server: Server, name: str = "py-worker-1") -> ExternalTaskWorker:
    """The unchanged client, authenticating as Camunda clients can: HTTP Basic, the key as password."""
    config = {**CLIENT_CONFIG, "auth_basic": {"username": "worker", "password": WORKER_KEY["secret"]}}
    return ExternalTaskWorker(worker_id=name, base_url=f"{server.url}/engine-rest", config=config)


def run_once(w: ExternalTaskWorker, handler) -> bool:  # type: ignore[no-untyped-def]
    """One fetch-and-execute round of the unchanged client; False when it found nothing."""
    try:
        w.fetch_and_execute(TOPIC, handler)
        return True
    except NoExternalTaskFound:
        return False


def test_the_python_client_completes_with_variables(db: engine.Database, deploy: Deployer, server: Server) -> None:
    deploy("external_task.bpmn")
    started = engine.start_instance(db, actor=engine.Actor.system("bu"), definition_key="external_task",
                                    variables={"case_ref": "SIN-7", "agencies": ["police", "icb"]},
                                    business_key="SIN-7")
    seen = {}

    def handler(task):  # type: ignore[no-untyped-def]
        seen.update(case_ref=task.get_variable("case_ref"), agencies=task.get_variable("agencies"),
                    business_key=task.get_business_key(), document=task.get_extension_property("document"),
                    worker=task.get_worker_id())
        return task.complete({"panel_receipt_id": "NP-1", "accepted": True, "pages": 12,
                              "receipt": {"value": json.dumps({"ref": "NP-1"}), "type": "Json"}})

    assert run_once(worker(server), handler)
    assert seen == {"case_ref": "SIN-7", "agencies": json.dumps(["police", "icb"], separators=(",", ":")),
                    "business_key": "SIN-7", "document": "rapid_review", "worker": "py-worker-1"}
    done = engine.get_instance(db, instance_id=started.id)
    assert done.status == "completed"
    assert {k: done.variables[k] for k in ("panel_receipt_id", "accepted", "pages", "receipt")} == {
        "panel_receipt_id": "NP-1", "accepted": True, "pages": 12, "receipt": {"ref": "NP-1"}}


def test_failures_count_down_to_an_incident_that_put_retries_resolves(db: engine.Database, deploy: Deployer,
                                                                      server: Server) -> None:
    deploy("external_task.bpmn")
    started = engine.start_instance(db, actor=engine.Actor.system("bu"), definition_key="external_task")
    seen_retries = []

    def failing(task):  # type: ignore[no-untyped-def]
        seen_retries.append(task.get_retries() if hasattr(task, "get_retries") else task._context.get("retries"))
        return task.failure("National Panel unreachable", "ConnectError", max_retries=3, retry_timeout=0)

    w = worker(server)
    rounds = 0
    while run_once(w, failing):
        rounds += 1
        assert rounds <= 10
    assert seen_retries == [None, 3, 2, 1]          # max_retries=3 means four executions
    [incident] = engine.get_instance(db, instance_id=started.id).incidents
    assert (incident.type, incident.message) == ("failedExternalTask", "National Panel unreachable")
    task_id = incident.task_id
    with httpx.Client(base_url=f"{server.url}/engine-rest", auth=("worker", WORKER_KEY["secret"])) as http:
        assert http.get(f"/external-task/{task_id}/errorDetails").text == "ConnectError"
        assert http.put(f"/external-task/{task_id}/retries", json={"retries": 1}).status_code == 204
    assert engine.get_instance(db, instance_id=started.id).incidents == []
    assert run_once(w, lambda task: task.complete({"panel_receipt_id": "NP-2"}))
    assert engine.get_instance(db, instance_id=started.id).status == "completed"
    kinds = [e.kind for e in engine.instance_history(db, instance_id=started.id)]
    assert kinds.count("external_task_failed") == 4
    assert kinds.index("incident_opened") < kinds.index("incident_resolved") < kinds.index("external_task_completed")


def test_a_bpmn_error_is_caught_by_the_boundary_event(db: engine.Database, deploy: Deployer, server: Server) -> None:
    deploy("external_task.bpmn")
    started = engine.start_instance(db, actor=engine.Actor.system("bu"), definition_key="external_task")
    assert run_once(worker(server), lambda task: task.bpmn_error("PANEL_REJECTED", "missing chronology",
                                                                 {"rejection_reason": "missing chronology"}))
    after = engine.get_instance(db, instance_id=started.id)
    assert [t.activity_id for t in after.user_tasks] == ["fix"]
    assert after.external_tasks == [] and after.incidents == []
    assert after.variables["rejection_reason"] == "missing chronology"


def test_an_uncaught_bpmn_error_opens_an_incident(db: engine.Database, deploy: Deployer, server: Server) -> None:
    deploy("external_task.bpmn")
    started = engine.start_instance(db, actor=engine.Actor.system("bu"), definition_key="external_task")
    assert run_once(worker(server), lambda task: task.bpmn_error("SOMETHING_ELSE", "not modelled"))
    after = engine.get_instance(db, instance_id=started.id)
    [incident] = after.incidents
    assert incident.type == "unhandledBpmnError" and "SOMETHING_ELSE" in incident.message
    assert after.status == "active" and len(after.external_tasks) == 1
    assert not run_once(worker(server), lambda task: task.complete({}))     # no longer fetchable


def test_pycamunda_deploys_starts_claims_completes_and_reads_variables(db: engine.Database, server: Server,
                                                                      keys: dict[str, str]) -> None:
    url = f"{server.url}/engine-rest"
    alice, mary, john = (("alice", keys["alice"]), ("mary", keys["mary"]), ("bob", keys["bob"]))
    create = pycamunda.deployment.Create(url=url, name="reviewflow-test", enable_duplicate_filtering=True)
    create.add_resource((BPMN / "one_user_task.bpmn").read_bytes())          # bytes: part named resource-0
    create.auth = alice
    deployment = create()
    [definition] = deployment.deployed_process_definitions.values()
    assert (definition.key, definition.version) == ("one_user_task", 1)

    start = pycamunda.processdef.StartInstance(url=url, key="one_user_task", business_key="SIN-42")
    start.add_variable(name="child_age", value=7)
    start.auth = alice
    instance = start()
    assert instance.business_key == "SIN-42"

    listing = pycamunda.task.GetList(url=url, process_instance_business_key="SIN-42",
                                     candidate_group="case-review-group")
    listing.auth = mary
    tasks = listing()
    assert [t.task_definition_key for t in tasks] == ["review"]
    claim = pycamunda.task.Claim(url=url, id_=tasks[0].id_, user_id="mary")
    claim.auth = mary
    claim()
    second = pycamunda.task.Claim(url=url, id_=tasks[0].id_, user_id="bob")
    second.auth = john
    with pytest.raises(pycamunda.PyCamundaException):
        second()                                                             # 500 TaskAlreadyClaimed
    mine = pycamunda.task.GetList(url=url, assignee="mary")
    mine.auth = mary
    assert mine()[0].id_ == tasks[0].id_
    complete = pycamunda.task.Complete(url=url, id_=tasks[0].id_)
    complete.add_variable(name="approved", value=True)
    complete.auth = mary                                                  # the task is mary's
    complete()

    read = pycamunda.processinst.VariablesGetList(url=url, process_instance_id=instance.id_)
    read.auth = mary                                                      # she worked on the case
    variables = read()
    assert variables["child_age"].value == 7 and variables["approved"].value is True
    assert variables["approved"].type_ == "Boolean"
    get = pycamunda.processinst.Get(url=url, id_=instance.id_)
    get.auth = alice
    assert get().id_ == instance.id_

    again = pycamunda.deployment.Create(url=url, name="reviewflow-test", enable_duplicate_filtering=True)
    again.add_resource((BPMN / "one_user_task.bpmn").read_bytes())
    again.auth = alice
    assert not again().deployed_process_definitions                          # identical: no new version

