"""The pathway end to end over HTTP: both paths, the real workers, and real HTTP servers on 127.0.0.1
playing the National Panel and the partnership website."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.demo import CHILD, Demo
from tests.workers.services.fakes import TOKEN, FakeNationalPanel, FakeWebsite


@pytest.fixture
def outside(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    panel, website = FakeNationalPanel().start(), FakeWebsite().start()
    monkeypatch.setenv("NORTHBRIDGE_NATIONAL_PANEL_TOKEN", TOKEN)
    monkeypatch.setenv("NORTHBRIDGE_WEBSITE_TOKEN", TOKEN)
    monkeypatch.setenv("REVIEWFLOW_WORKER_RETRY_BASE", "0.2")
    yield panel, website
    panel.stop()
    website.stop()


def test_both_paths_with_the_workers_the_national_panel_and_the_website(tmp_path: Path, outside) -> None:  # type: ignore[no-untyped-def]
    panel, website = outside
    panel.lose_next_response()                 # the first Rapid Review is stored but its answer lost: a retry
    demo = Demo(national_panel_url=panel.submit_url, website_url=website.pages_url, root=tmp_path / "demo",
                out=lambda *a: None)
    demo.start()
    try:
        lcspr = demo.run_case("lcspr", "NB-E2E-LCSPR")
        learning = demo.run_case("learning_dissemination", "NB-E2E-LD")
    finally:
        demo.stop()

    assert lcspr["case"]["status"] == "completed" and learning["case"]["status"] == "completed"
    # four submissions (two Rapid Reviews, the version to be published and its link), each once, though
    # one was sent twice; with an endpoint no portal task is needed and the receipt is kept
    assert len(panel.submissions) == 4
    posts = [r for r in panel.requests if r.method == "POST"]
    assert len(posts) == 5 and len({r.headers["idempotency-key"] for r in posts}) == 4
    receipts = {s["receipt_id"] for s in panel.submissions.values()}
    assert lcspr["case"]["variables"]["rapid_review_submission"]["receipt_id"] in receipts
    assert lcspr["case"]["variables"]["rapid_review_submission"]["via"] == "api"
    done = {c["activity_id"] for c in lcspr["completed"]}
    assert "submit_through_portal" not in done
    # a person checked anonymisation and the legal position before anything was published
    kinds = [(e["kind"], e["activity_id"]) for e in lcspr["history"]]
    assert kinds.index(("task_completed", "check_anonymisation")) < kinds.index(("external_task_completed",
                                                                                "publish_report"))
    assert len(website.publications) == 2                # the final report and the 7-minute briefing
    assert all(CHILD not in json.dumps(p) for p in website.publications.values())
    assert lcspr["case"]["variables"]["published_url"].startswith("https://www.northbridgescp.example/")
    # what each path must and must not have
    lcspr_docs = {d["kind"] for d in lcspr["documents"]}
    assert {"imr", "chronology", "integrated_chronology_html", "commissioning_letter"} <= lcspr_docs
    learning_docs = {d["kind"] for d in learning["documents"]}
    assert "seven_minute_briefing_html" in learning_docs and not {"imr", "chronology"} & learning_docs
    learning_tasks = {e["activity_id"] for e in learning["history"] if e["kind"] == "task_completed"}
    assert "submit_imr" not in learning_tasks and "review_briefing" in learning_tasks
