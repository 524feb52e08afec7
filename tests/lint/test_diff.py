"""Versions side by side: the engine's comparison, GET /api/v1/definitions/{id}/diff and `reviewflow diff`."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

import engine
from api.cli import main
from tests.conftest import BPMN, Server, bearer
from tests.lint.test_cli import Done

DIFF = BPMN / "lint" / "diff"
ROOT = Path(__file__).parents[2]


def version(n: int) -> list[engine.DeployFile]:
    folder = DIFF / f"v{n}"
    return [engine.DeployFile("review_pathway.bpmn", (folder / "review_pathway.bpmn").read_bytes()),
            engine.DeployFile("forms/decision.json", (folder / "forms" / "decision.json").read_bytes())]


@pytest.fixture
def two_versions(db: engine.Database, actor: engine.Actor) -> engine.Database:
    engine.deploy(db, files=version(1), actor=actor)
    engine.deploy(db, files=version(2), actor=actor)
    return db


def ids(items: tuple) -> list[str]:
    return [i.id for i in items]


def changes(section: engine.Section, item_id: str) -> dict[str, tuple[str | None, str | None]]:
    [item] = [c for c in section.changed if c.id == item_id]
    return {c.field: (c.before, c.after) for c in item.changes}


def test_the_diff_lists_what_was_added_removed_and_changed(two_versions: engine.Database) -> None:
    diff = engine.definition_diff(two_versions, definition_id="review_pathway:2", against_id="review_pathway:1")
    assert (diff.base.id, diff.target.id, diff.identical) == ("review_pathway:1", "review_pathway:2", False)
    assert ids(diff.activities.added) == ["second_opinion"]
    assert ids(diff.activities.removed) == ["old_step"]
    assert ids(diff.activities.changed) == ["chase", "notify", "review"]
    assert changes(diff.activities, "review") == {
        "name": ("Review the case", "Review the case and decide"),
        "candidate groups": ("case-review-group", "case-review-group, business-unit")}
    assert (ids(diff.flows.added), ids(diff.flows.removed)) == (["f_second"], ["f2"])
    assert changes(diff.flows, "f_approved") == {
        "condition": ("approved == True", 'approved == True and risk != "high"'),
        "to": ("submit", "second_opinion")}
    assert changes(diff.timers, "chase")["timeDuration"] == ("P5D", None)
    assert changes(diff.timers, "chase")["timeDate"] == (None, "working_days_after(referred_on, 5)")
    assert (ids(diff.topics.added), ids(diff.topics.removed)) == (["reminder"], ["notification"])
    assert changes(diff.forms, "decision") == {
        "field notes": ('{"type":"string"}', '{"maxLength":2000,"type":"string"}'),
        "field risk": (None, '{"enum":["low","medium","high"]}'),
        "required": ("approved", "approved, risk")}


def test_a_version_against_itself_is_identical(two_versions: engine.Database) -> None:
    diff = engine.definition_diff(two_versions, definition_id="review_pathway:2", against_id="review_pathway:2")
    assert diff.identical


def test_the_reverse_diff_swaps_added_and_removed(two_versions: engine.Database) -> None:
    diff = engine.definition_diff(two_versions, definition_id="review_pathway:1", against_id="review_pathway:2")
    assert (ids(diff.activities.added), ids(diff.activities.removed)) == (["old_step"], ["second_opinion"])


def test_an_unknown_version_is_not_found(two_versions: engine.Database) -> None:
    with pytest.raises(engine.DefinitionNotFound):
        engine.definition_diff(two_versions, definition_id="review_pathway:9", against_id="review_pathway:1")


def test_a_file_not_deployed_yet_can_be_compared_with_a_deployed_version(db: engine.Database,
                                                                        actor: engine.Actor) -> None:
    engine.deploy(db, files=version(1), actor=actor)
    diff = engine.diff_versions(db, key="review_pathway", base=1, target=version(2))
    assert (diff.target.version, ids(diff.activities.added)) == (None, ["second_opinion"])
    assert ids(diff.forms.changed) == ["decision"]


def test_the_diff_route_for_a_process_owner(two_versions: engine.Database, server: Server) -> None:
    engine.create_principal(two_versions, principal_id="owner", roles=["process-owner"])
    key = engine.issue_key(two_versions, principal_id="owner").secret
    with httpx.Client(base_url=server.url, headers=bearer(key), timeout=10) as c:
        answer = c.get("/api/v1/definitions/review_pathway:2/diff", params={"against": "review_pathway:1"})
        assert answer.status_code == 200
        body = answer.json()
        assert (body["definition"]["version"], body["against"]["version"], body["identical"]) == (2, 1, False)
        assert [a["id"] for a in body["activities"]["added"]] == ["second_opinion"]
        assert body["activities"]["added"][0]["details"]["form"] == "decision"
        assert [t["id"] for t in body["topics"]["removed"]] == ["notification"]
        review = next(i for i in body["activities"]["changed"] if i["id"] == "review")
        renamed = {"field": "name", "before": "Review the case", "after": "Review the case and decide"}
        assert renamed in review["changes"]
        missing = c.get("/api/v1/definitions/review_pathway:2/diff", params={"against": "review_pathway:7"})
        assert (missing.status_code, missing.json()["error"]["code"]) == (404, "definition_not_found")
        assert c.get("/api/v1/definitions/review_pathway:2/diff").status_code == 400     # against is required
        schema = c.get("/openapi.json").json()["paths"]["/api/v1/definitions/{definition_id}/diff"]["get"]
        assert schema["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
            "DefinitionDiffOut")


def test_reviewflow_diff_between_two_deployed_versions_and_against_a_file(
        tmp_path: Path, actor: engine.Actor, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'rf.db'}"
    db = engine.Database(url)
    engine.upgrade(db)
    engine.deploy(db, files=version(1), actor=actor)
    engine.deploy(db, files=version(2), actor=actor)
    db.dispose()
    monkeypatch.setenv("REVIEWFLOW_DATABASE_URL", url)

    def cli(*args: str) -> Done:
        status = main(list(args))
        out = capsys.readouterr()
        return Done(status, out.out, out.err)

    text = cli("diff", "review_pathway", "1", "2")
    assert text.returncode == 1, text.stderr                         # they differ, as diff(1) says
    assert "review_pathway: version 1 → version 2" in text.stdout
    assert "  + userTask second_opinion \"Get a second opinion\"" in text.stdout
    assert "      candidate groups: case-review-group → case-review-group, business-unit" in text.stdout
    as_json = json.loads(cli("diff", "review_pathway", "1", "2", "--format", "json").stdout)
    assert [t["id"] for t in as_json["topics"]["added"]] == ["reminder"]
    same = cli("diff", "review_pathway", "2", str(DIFF / "v2" / "review_pathway.bpmn"))
    assert same.returncode == 0 and "no differences" in same.stdout
    assert cli("diff", "review_pathway", "1", "5").returncode == 2


def test_a_deployed_pathway_compared_with_its_own_files_is_identical(db: engine.Database) -> None:
    """rapid_review keeps the forms of the processes it calls; only its own are compared."""
    from api.cli import deploy_directory
    deploy_directory(db, ROOT / "bpmn")
    files = [engine.DeployFile(str(p), p.read_bytes())
             for p in [ROOT / "bpmn" / "rapid_review.bpmn", *sorted((ROOT / "bpmn" / "forms").glob("*.json"))]]
    assert engine.diff_versions(db, key="rapid_review", base=1, target=files).identical
