"""Handlers: checked when defined, mapped to outcomes by `run_handler`, testable without a server."""

from __future__ import annotations

import re
import threading
import types
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

import pytest

from workers.runtime import (
    BpmnError,
    Complete,
    Dropped,
    ExternalTask,
    Failure,
    HandlerDefinitionError,
    HandlerModule,
    Incident,
    Interrupted,
    LockedTask,
    LockLost,
    NoInput,
    ReportBpmnError,
    RetryPolicy,
    Unlock,
    handler,
)
from workers.runtime._outcomes import safe_traceback

SECRET = "Jane Doe"


@dataclass(frozen=True)
class Submission:
    case_ref: str
    decision: Literal["lcspr", "learning_dissemination"]
    decided_on: date
    agencies: list[str] = field(default_factory=list)


def submit(task: ExternalTask[Submission], services: Any) -> Complete:
    return Complete(receipt=f"R-{task.input.case_ref}")


def module(**parts: Any) -> types.ModuleType:
    mod = types.ModuleType("workers.handlers.national_panel_submission")
    for name, value in parts.items():
        setattr(mod, name, value)
    return mod


GOOD = {"TOPIC": "national-panel-submission", "LOCK": timedelta(minutes=2), "Input": Submission,
        "handle": submit}


def test_a_module_with_topic_lock_input_and_handle_is_a_handler() -> None:
    found = HandlerModule.from_module(module(**GOOD))
    assert (found.topic, found.lock, found.input_type) == ("national-panel-submission", timedelta(minutes=2),
                                                           Submission)
    assert found.name == "workers.handlers.national_panel_submission"


@pytest.mark.parametrize(("change", "complaint"), [
    ({"Input": None}, "Input must be a dataclass"),
    ({"Input": dict}, "Input must be a dataclass"),
    ({"LOCK": 120}, "LOCK must be a timedelta"),
    ({"TOPIC": ""}, "TOPIC must be a non-empty str"),
    ({"TOPIC": 7}, "TOPIC must be a non-empty str"),
    ({"handle": "not callable"}, "handle must be callable"),
    ({"handle": lambda task: None}, "handle must take (task, services)"),
])
def test_a_broken_module_is_refused_naming_what_is_wrong(change: dict[str, Any], complaint: str) -> None:
    with pytest.raises(HandlerDefinitionError, match=r"national_panel_submission: .*" + re.escape(complaint)):
        HandlerModule.from_module(module(**{**GOOD, **change}))


def test_a_module_missing_parts_is_refused_naming_them() -> None:
    parts = dict(GOOD)
    del parts["Input"], parts["LOCK"]
    with pytest.raises(HandlerDefinitionError, match="missing LOCK, Input"):
        HandlerModule.from_module(module(**parts))


def test_the_decorator_takes_input_from_the_annotation() -> None:
    @handler(topic="national-panel-submission", lock=timedelta(minutes=2))
    def national_panel_submission(task: ExternalTask[Submission], services: Any) -> Complete:
        return Complete()

    @handler(topic="ping", lock=timedelta(seconds=10))
    def ping(task, services):  # type: ignore[no-untyped-def]
        return None

    assert national_panel_submission.input_type is Submission
    assert ping.input_type is NoInput
    assert national_panel_submission.name.endswith("national_panel_submission")


def test_the_decorator_refuses_an_annotation_it_cannot_read() -> None:
    with pytest.raises(HandlerDefinitionError, match="pass input="):
        @handler(topic="x", lock=timedelta(seconds=10))
        def x(task: NotImportedHere, services: Any) -> None:  # type: ignore[name-defined]  # noqa: F821
            return None


def locked(variables: dict[str, Any] | None = None, retries: int | None = None) -> LockedTask:
    return LockedTask(id="t-1", topic="national-panel-submission", activity_instance_id="act-1",
                      retries=retries, variables=variables or {})


VARIABLES = {"case_ref": "C-1", "decision": "lcspr", "decided_on": "2026-11-25", "unrelated": SECRET}


def test_input_is_parsed_from_variables_and_unknown_ones_are_ignored() -> None:
    found = HandlerModule.from_module(module(**GOOD))
    assert found.parse_input(VARIABLES) == Submission("C-1", "lcspr", date(2026, 11, 25), [])


def test_an_input_that_does_not_fit_is_an_incident_naming_fields_not_values() -> None:
    found = HandlerModule.from_module(module(**GOOD))
    with pytest.raises(Incident) as raised:
        found.parse_input({"decision": SECRET, "decided_on": "2026-11-25"})
    message = raised.value.message
    assert "missing variable 'case_ref'" in message
    assert "variable 'decision'" in message
    assert SECRET not in message


def run(handle: Any, variables: dict[str, Any] | None = None, retries: int | None = None,
        **kwargs: Any) -> Any:
    from workers.runtime import run_handler

    found = HandlerModule(topic="national-panel-submission", lock=timedelta(minutes=2), input_type=NoInput,
                          handle=handle, name="h")
    return run_handler(found, locked(variables, retries), None, policy=RetryPolicy(3, timedelta(seconds=10)),
                       **kwargs)


def test_run_handler_maps_each_way_a_handler_ends_to_an_outcome() -> None:
    def raise_(exc: BaseException) -> Any:
        def handle(task: Any, services: Any) -> None:
            raise exc
        return handle

    assert run(lambda t, s: Complete(a=1)) == Complete(a=1)
    assert run(lambda t, s: {"a": 1}) == Complete(a=1)
    assert run(lambda t, s: None) == Complete()
    rejected = run(raise_(BpmnError("REJECTED", "no", why="late")))
    assert rejected == ReportBpmnError("REJECTED", "no", {"why": "late"})
    incident = run(raise_(Incident("call the panel")))
    assert isinstance(incident, Failure) and (incident.message, incident.retries) == ("call the panel", 0)
    assert isinstance(run(raise_(Interrupted())), Unlock)
    assert isinstance(run(raise_(LockLost("gone", status=400))), Dropped)
    first = run(raise_(TimeoutError(SECRET)))
    assert isinstance(first, Failure)
    assert (first.message, first.retries, first.retry_timeout) == ("TimeoutError", 3, timedelta(seconds=10))
    assert SECRET not in first.details
    later = run(raise_(TimeoutError()), retries=2)
    assert (later.retries, later.retry_timeout) == (1, timedelta(seconds=40))


def test_results_the_engine_cannot_take_become_incidents_naming_the_problem() -> None:
    wrong_type = run(lambda t, s: "done")
    assert isinstance(wrong_type, Failure) and wrong_type.retries == 0
    assert "returned a str" in wrong_type.message
    unsendable = run(lambda t, s: Complete(report=b"%PDF"))
    assert isinstance(unsendable, Failure) and unsendable.retries == 0
    assert "'report'" in unsendable.message and "bytes" in unsendable.message
    bad_bpmn_variable = run(lambda t, s: (_ for _ in ()).throw(BpmnError("E", doc=object())))
    assert isinstance(bad_bpmn_variable, Failure) and bad_bpmn_variable.retries == 0


def test_a_handler_can_be_tested_without_a_server() -> None:
    beats: list[timedelta] = []
    stop = threading.Event()
    task = ExternalTask(Submission("C-1", "lcspr", date(2026, 11, 25)), locked(), lock=timedelta(minutes=2),
                        heartbeat=beats.append, shutdown=stop)
    assert submit(task, None) == Complete(receipt="R-C-1")
    task.extend_lock()
    task.extend_lock(timedelta(seconds=5))
    assert beats == [timedelta(minutes=2), timedelta(seconds=5)]
    task.stop_if_shutting_down()
    stop.set()
    assert task.shutting_down
    with pytest.raises(Interrupted):
        task.stop_if_shutting_down()
    assert SECRET not in repr(task) and "C-1" not in repr(task)


def test_outcomes_do_not_show_their_values() -> None:
    assert SECRET not in repr(Complete(name=SECRET))


def test_safe_traceback_keeps_frames_and_types_but_no_messages() -> None:
    def inner(name: str) -> None:
        raise KeyError(name)

    def outer(name: str) -> None:
        try:
            inner(name)
        except KeyError as exc:
            raise ValueError(f"no record for {name}") from exc

    with pytest.raises(ValueError) as raised:
        outer(SECRET)
    text = safe_traceback(raised.value)
    assert SECRET not in text
    assert "in inner" in text and "in outer" in text
    assert "KeyError" in text and text.rstrip().endswith("ValueError")
    assert "direct cause" in text
