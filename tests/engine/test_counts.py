"""Counts: on PostgreSQL the planner's estimate above queries.reads.ESTIMATE_ABOVE rows; on SQLite exact,
but for a viewer who sees widely, whose count over as many is sampled; either said by `count_exact`.
Pages are index-ordered with the id as tie-break, the same rows at any offset."""

from __future__ import annotations

import pytest

import engine
from engine.queries import reads
from tests.conftest import statements_run

DIAGRAM = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:process id="counted" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="work" name="Work"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work"/>
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""


def test_counts_say_whether_they_are_estimates(db: engine.Database, monkeypatch: pytest.MonkeyPatch) -> None:
    actor = engine.Actor.system("bu")
    engine.deploy(db, files=[engine.DeployFile("counted.bpmn", DIAGRAM)], actor=actor)
    started = [engine.start_instance(db, actor=actor, definition_key="counted", business_key=f"K-{n % 3}").id
               for n in range(12)]
    exact = engine.list_instances(db, limit=5)
    assert (exact.count, exact.count_exact) == (12, True)
    monkeypatch.setattr(reads, "ESTIMATE_ABOVE", -1)      # every count is "large"
    page = engine.list_instances(db, limit=5)
    tasks = engine.list_user_tasks(db, limit=5)
    if db.dialect.name == "postgresql":
        assert not page.count_exact and not tasks.count_exact and page.count >= 0
    else:
        assert (page.count, page.count_exact, tasks.count, tasks.count_exact) == (12, True, 12, True)
    by_key = [i.id for off in range(0, 12, 5)
              for i in engine.list_instances(db, sort_by="businessKey", descending=False, limit=5, offset=off).data]
    assert sorted(by_key) == sorted(started) and len(set(by_key)) == 12   # ties broken by id: no row twice


def test_someone_who_sees_most_cases_gets_the_same_pages_and_a_sampled_count(
        db: engine.Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """Above visibility.WIDE cases worked on or shared, a page probes each case it meets instead of
    gathering every visible id first; on SQLite, above ESTIMATE_ABOVE cases, the count is the cases
    matching times the share of a sample of them (the first in id order) the viewer may see."""
    from engine.queries import visibility

    system = engine.Actor.system("bu")
    member = engine.Actor("crg-chair", groups=frozenset({"case-review-group"}))
    engine.deploy(db, files=[engine.DeployFile("counted.bpmn", DIAGRAM)], actor=system)
    worked = [engine.start_instance(db, actor=member, definition_key="counted").id for _ in range(14)]
    others = [engine.start_instance(db, actor=system, definition_key="counted").id for _ in range(10)]
    engine.share_case(db, actor=system, instance_id=others[0], group="case-review-group")
    visible = set(worked) | {others[0]}

    def pages(**filters: object) -> list[str]:
        return [i.id for off in range(0, 30, 4)
                for i in engine.list_instances(db, viewer=member, limit=4, offset=off, with_count=False,
                                               **filters).data]   # type: ignore[arg-type]

    gathered = pages()
    with db.read() as conn:
        assert not visibility.sees_widely(conn, member)
        monkeypatch.setattr(visibility, "WIDE", 5)
        assert visibility.sees_widely(conn, member)
        assert not visibility.sees_widely(conn, system)        # sees every case: nothing to probe
    assert set(gathered) == visible and len(gathered) == len(visible)
    assert pages() == gathered
    assert pages(status="active") == gathered
    assert pages(status="completed") == []

    exact = engine.list_instances(db, viewer=member, limit=3)
    assert (exact.count, exact.count_exact) == (len(visible), True)
    if db.dialect.name != "sqlite":
        return                                                 # PostgreSQL's planner estimates (above)
    monkeypatch.setattr(reads, "ESTIMATE_ABOVE", 20)
    monkeypatch.setattr(reads, "SAMPLE", 8)
    sample = sorted(worked + others)[:8]
    estimated = engine.list_instances(db, viewer=member, limit=3)
    assert not estimated.count_exact
    assert estimated.count == round(24 * len(visible & set(sample)) / 8)
    assert [i.id for i in estimated.data] == gathered[:3]
    only_counted = engine.list_instances(db, viewer=member, limit=0)
    assert (only_counted.count, only_counted.count_exact) == (estimated.count, False)


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)        # PostgreSQL's choice depends on its statistics
def test_a_count_by_status_and_process_reads_one_index_alone(db: engine.Database) -> None:
    """The dashboard's "open cases of this process" is counted from an index, without looking up each
    case's row (on a page cache that does not hold the file, 10,000 look-ups took 2.8 s)."""
    actor = engine.Actor.system("bu")
    engine.deploy(db, files=[engine.DeployFile("counted.bpmn", DIAGRAM)], actor=actor)
    for _ in range(3):
        engine.start_instance(db, actor=actor, definition_key="counted")
    with statements_run(db, lambda s: s.lstrip().upper().startswith("SELECT COUNT")) as statements:
        page = engine.list_instances(db, definition_key="counted", status="active", limit=1)
        keys = engine.list_instances(db, definition_keys=["counted", "other"], status="active", limit=1)
    assert (page.count, page.count_exact, keys.count) == (3, True, 3)
    assert len(statements) == 2
    with db.engine.connect() as conn:
        for statement, parameters in statements:
            plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters))
            assert "COVERING INDEX ix_instance_status_definition_key" in plan, plan
