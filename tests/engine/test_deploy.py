"""Deploying diagrams: versions, unchanged re-deploys, and refusals that write nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import engine
from tests.conftest import BPMN, Deployer, table_counts


def test_first_deployment_is_version_one(deploy: Deployer) -> None:
    result = deploy("one_user_task.bpmn")
    [d] = result.definitions
    assert (d.definition.key, d.definition.version, d.created) == ("one_user_task", 1, True)
    assert d.definition.name == "One user task"


def test_byte_identical_xml_makes_no_new_version(db: engine.Database, deploy: Deployer) -> None:
    deploy("one_user_task.bpmn")
    again = deploy("one_user_task.bpmn")
    assert [(d.definition.version, d.created) for d in again.definitions] == [(1, False)]
    assert engine.list_definitions(db).count == 1


def test_changed_xml_of_the_same_process_is_a_new_version(db: engine.Database, actor: engine.Actor,
                                                          deploy: Deployer) -> None:
    deploy("one_user_task.bpmn")
    changed = (BPMN / "one_user_task.bpmn").read_bytes().replace(b"Review the case", b"Review the case again")
    result = engine.deploy(db, files=[engine.DeployFile("one_user_task.bpmn", changed)], actor=actor)
    assert [(d.definition.id, d.created) for d in result.definitions] == [("one_user_task:2", True)]
    assert engine.latest_definition(db, key="one_user_task").version == 2


@pytest.mark.parametrize(("content", "expected"), [
    (b"<bpmn:definitions", "not well-formed XML"),
    (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>\n'
     b"<lolz>&lol2;</lolz>", "DOCTYPE"),
    (b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">\n'
     b'<bpmn:process id="p" isExecutable="true">\n<bpmn:bogus/>\n</bpmn:process></bpmn:definitions>',
     "not valid BPMN 2.0"),
    (b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">'
     b'<bpmn:process id="p" isExecutable="false"/></bpmn:definitions>', "no executable process"),
])
def test_bad_diagrams_are_refused_with_file_and_reason(db: engine.Database, actor: engine.Actor,
                                                       content: bytes, expected: str) -> None:
    before = table_counts(db)
    with pytest.raises(engine.DeploymentError) as raised:
        engine.deploy(db, files=[engine.DeployFile("bad.bpmn", content)], actor=actor)
    assert expected in raised.value.message
    assert raised.value.file == "bad.bpmn"
    assert table_counts(db) == before


def test_invalid_bpmn_names_the_line(db: engine.Database, actor: engine.Actor) -> None:
    content = (b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" '
               b'targetNamespace="x">\n<bpmn:process id="p" isExecutable="true">\n<bpmn:bogus/>\n'
               b"</bpmn:process></bpmn:definitions>")
    with pytest.raises(engine.DeploymentError) as raised:
        engine.deploy(db, files=[engine.DeployFile("bad.bpmn", content)], actor=actor)
    assert raised.value.line == 3
    assert "bpmn:bogus" in raised.value.message


def test_a_service_task_without_topic_fails_naming_the_task(db: engine.Database, deploy: Deployer) -> None:
    with pytest.raises(engine.DeploymentError) as raised:
        deploy("service_without_topic.bpmn")
    assert "submit_to_panel" in raised.value.message
    assert "topic" in raised.value.message
    assert engine.list_definitions(db).count == 0


def test_one_bad_file_deploys_nothing_of_the_batch(db: engine.Database, actor: engine.Actor) -> None:
    good = engine.DeployFile("one_user_task.bpmn", (BPMN / "one_user_task.bpmn").read_bytes())
    bad = engine.DeployFile("service_without_topic.bpmn", (BPMN / "service_without_topic.bpmn").read_bytes())
    with pytest.raises(engine.DeploymentError):
        engine.deploy(db, files=[good, bad], actor=actor)
    assert engine.list_definitions(db).count == 0


def test_a_user_task_form_must_be_deployed_with_it(db: engine.Database, deploy: Deployer) -> None:
    with pytest.raises(engine.DeploymentError) as raised:
        deploy("form_task.bpmn")
    assert "decision" in raised.value.message and raised.value.element_id == "decide"
    deploy("form_task.bpmn", "forms/decision.json")
    assert engine.latest_definition(db, key="form_task").version == 1


def test_a_form_that_is_not_json_schema_is_refused(db: engine.Database, actor: engine.Actor) -> None:
    files = [engine.DeployFile("form_task.bpmn", (BPMN / "form_task.bpmn").read_bytes()),
             engine.DeployFile("forms/decision.json", b'{"type": 12}')]
    with pytest.raises(engine.DeploymentError) as raised:
        engine.deploy(db, files=files, actor=actor)
    assert raised.value.file == "forms/decision.json"


def test_scripts_that_reach_for_internals_are_refused_at_deployment(deploy: Deployer) -> None:
    with pytest.raises(engine.DeploymentError) as raised:
        deploy("evil_script.bpmn")
    assert raised.value.element_id == "evil"


def test_a_call_activity_needs_its_called_process(db: engine.Database, deploy: Deployer) -> None:
    with pytest.raises(engine.DeploymentError) as raised:
        deploy("parent_calls_child.bpmn")
    assert "child_process" in raised.value.message
    deploy("child_process.bpmn")
    deploy("parent_calls_child.bpmn")
    started = engine.start_instance(db, actor=engine.Actor.system("bu"), definition_key="parent_calls_child")
    assert [t.activity_id for t in started.user_tasks] == ["child_task"]
    assert started.user_tasks[0].candidate_groups == ["agency-leads"]


def _calling(process_id: str, called: str) -> engine.DeployFile:
    """A process `process_id` whose only step calls `called`."""
    xml = (BPMN / "parent_calls_child.bpmn").read_bytes()
    xml = xml.replace(b'"parent_calls_child"', f'"{process_id}"'.encode())
    xml = xml.replace(b'calledElement="child_process"', f'calledElement="{called}"'.encode())
    return engine.DeployFile(f"{process_id}.bpmn", xml.replace(b'id="defs_parent"', f'id="defs_{process_id}"'.encode()))


def _child_task(db: engine.Database, key: str) -> list[str]:
    started = engine.start_instance(db, actor=engine.Actor.system("bu"), definition_key=key)
    return [t.activity_id for t in started.user_tasks]


def test_a_restarted_server_runs_a_call_to_a_process_of_the_same_deployment(
        actor: engine.Actor, deploy: Deployer, reopen: Callable[[], engine.Database]) -> None:
    deploy("child_process.bpmn", "parent_calls_child.bpmn")
    assert _child_task(reopen(), "parent_calls_child") == ["child_task"]


def test_a_restarted_server_runs_a_call_whose_called_process_it_has_already_loaded(
        deploy: Deployer, reopen: Callable[[], engine.Database]) -> None:
    deploy("child_process.bpmn")
    deploy("parent_calls_child.bpmn")
    restarted = reopen()
    assert _child_task(restarted, "child_process") == ["child_task"]        # loads the child first
    assert _child_task(restarted, "parent_calls_child") == ["child_task"]


def test_a_restarted_server_runs_calls_two_levels_deep(
        db: engine.Database, actor: engine.Actor, deploy: Deployer, reopen: Callable[[], engine.Database]) -> None:
    deploy("child_process.bpmn")
    deploy("parent_calls_child.bpmn")
    engine.deploy(db, files=[_calling("grandparent", "parent_calls_child")], actor=actor)
    assert _child_task(reopen(), "grandparent") == ["child_task"]


def test_a_call_is_pinned_to_the_called_version_deployed_with_it(
        db: engine.Database, actor: engine.Actor, deploy: Deployer, reopen: Callable[[], engine.Database]) -> None:
    deploy("child_process.bpmn", "parent_calls_child.bpmn")
    changed = (BPMN / "child_process.bpmn").read_bytes().replace(b'"child_task"', b'"child_task_v2"')
    engine.deploy(db, files=[engine.DeployFile("child_process.bpmn", changed)], actor=actor)
    assert _child_task(reopen(), "parent_calls_child") == ["child_task"]


def test_a_caller_deployed_with_a_changed_called_process_is_a_new_version_bound_to_it(
        db: engine.Database, actor: engine.Actor, deploy: Deployer, reopen: Callable[[], engine.Database]) -> None:
    deploy("child_process.bpmn", "parent_calls_child.bpmn")
    changed = (BPMN / "child_process.bpmn").read_bytes().replace(b'"child_task"', b'"child_task_v2"')
    again = engine.deploy(db, actor=actor, files=[engine.DeployFile("child_process.bpmn", changed),
                                                  engine.DeployFile("parent_calls_child.bpmn",
                                                                    (BPMN / "parent_calls_child.bpmn").read_bytes())])
    assert sorted((d.definition.id, d.created) for d in again.definitions) == [
        ("child_process:2", True), ("parent_calls_child:2", True)]
    assert _child_task(db, "parent_calls_child") == ["child_task_v2"]
    assert _child_task(reopen(), "parent_calls_child") == ["child_task_v2"]
    unchanged = deploy("child_process.bpmn", "parent_calls_child.bpmn")     # the first files again: new versions
    assert sorted(d.definition.version for d in unchanged.definitions) == [3, 3]


def test_a_restarted_server_runs_a_call_to_a_process_of_the_same_file(
        actor: engine.Actor, db: engine.Database, reopen: Callable[[], engine.Database]) -> None:
    parent = (BPMN / "parent_calls_child.bpmn").read_text()
    child = (BPMN / "child_process.bpmn").read_text()
    child_process = child[child.index("<bpmn:process"):child.index("</bpmn:process>") + len("</bpmn:process>")]
    for element in ("start", "end", "f1", "f2"):                       # ids are unique across a file
        child_process = child_process.replace(f'"{element}"', f'"child_{element}"')
    both = parent.replace("</bpmn:definitions>", child_process + "\n</bpmn:definitions>")
    engine.deploy(db, files=[engine.DeployFile("both.bpmn", both.encode())], actor=actor)
    assert _child_task(reopen(), "parent_calls_child") == ["child_task"]
