"""Attacks through a diagram's XML: entities smuggled past the DOCTYPE filter in another encoding.

The filter looked for `<!DOCTYPE` in the raw bytes, so the same declaration in UTF-16 passed it, and
libxml2 then expanded the internal entity into attribute values (a process name, a candidate group).
Every diagram is now decoded under its declared or detected encoding before the check.
"""

from __future__ import annotations

import httpx
import pytest

import engine
from tests.conftest import table_counts

DIAGRAM = """<?xml version="1.0" encoding="{declared}"?>
{doctype}<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="defs" targetNamespace="http://reviewflow.example/test">
  <bpmn:process id="entity_attack" name="{name}" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="review" name="Review" camunda:candidateGroups="{group}"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review"/>
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""
DOCTYPE = ('<!DOCTYPE bpmn:definitions [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
           '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>\n')

# (codec for the bytes, encoding declared in the XML declaration)
ENCODINGS = [("utf-16", "UTF-16"),          # with a byte-order mark, as most editors write it
             ("utf-16-le", "UTF-16"),       # no byte-order mark: detected from "<?" itself
             ("utf-16-be", "UTF-16"),
             ("utf-32", "UTF-32"),
             ("utf-8-sig", "UTF-8")]        # a UTF-8 byte-order mark in front of the declaration


def attack(codec: str, declared: str) -> bytes:
    return DIAGRAM.format(declared=declared, doctype=DOCTYPE, name="&c;", group="&c;").encode(codec)


@pytest.mark.parametrize(("codec", "declared"), ENCODINGS)
def test_an_entity_in_any_encoding_is_refused_before_parsing(db: engine.Database, actor: engine.Actor,
                                                             codec: str, declared: str) -> None:
    before = table_counts(db)
    with pytest.raises(engine.DeploymentError) as raised:
        engine.deploy(db, files=[engine.DeployFile("attack.bpmn", attack(codec, declared))], actor=actor)
    assert "DOCTYPE" in raised.value.message
    assert raised.value.file == "attack.bpmn"
    assert table_counts(db) == before


@pytest.mark.parametrize(("codec", "declared"), ENCODINGS[:2])
def test_both_deploy_routes_refuse_the_utf16_entity(db: engine.Database, client: httpx.Client,
                                                    codec: str, declared: str) -> None:
    before = table_counts(db)
    native = client.post("/api/v1/deployments", files=[("files", ("attack.bpmn", attack(codec, declared)))])
    assert native.status_code == 400
    assert native.json()["error"]["code"] == "deployment_invalid"
    camunda = client.post("/engine-rest/deployment/create", data={"deployment-name": "attack"},
                          files=[("attack.bpmn", ("attack.bpmn", attack(codec, declared)))])
    assert camunda.status_code == 400
    assert "aaaaaaaaaa" not in native.text + camunda.text
    assert table_counts(db) == before


def test_an_encoding_the_declaration_does_not_match_is_refused(db: engine.Database, actor: engine.Actor) -> None:
    """UTF-16 bytes that declare UTF-8 cannot be read as the declaration says: refused, not guessed."""
    content = DIAGRAM.format(declared="UTF-8", doctype="", name="x", group="g").encode("utf-16-le")
    with pytest.raises(engine.DeploymentError):
        engine.deploy(db, files=[engine.DeployFile("odd.bpmn", content)], actor=actor)
    assert engine.list_definitions(db).count == 0


def test_a_plain_utf16_diagram_still_deploys_and_runs(db: engine.Database, actor: engine.Actor) -> None:
    content = DIAGRAM.format(declared="UTF-16", doctype="", name="Revue — ŵ", group="case-review-group")
    engine.deploy(db, files=[engine.DeployFile("utf16.bpmn", content.encode("utf-16"))], actor=actor)
    assert engine.latest_definition(db, key="entity_attack").name == "Revue — ŵ"
    started = engine.start_instance(db, actor=actor, definition_key="entity_attack")
    assert [(t.activity_id, t.candidate_groups) for t in started.user_tasks] == [("review", ["case-review-group"])]
