"""The lists of a group, of a candidate user and of a viewer's need-to-know match a candidate's name
itself alone: no LIKE wildcards (`%`, `_`), no prefixes (`panel` is not `panel-chair`), a task that
names two of the groups asked for listed once, in the same order as the unfiltered list."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

import engine
from engine.queries.visibility import can_see_task
from tests.conftest import statements_run

SYSTEM = engine.Actor.system("bu")

TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="x">
  <bpmn:process id="%(key)s" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:userTask id="first" name="First" camunda:candidateGroups="%(groups)s" camunda:candidateUsers="%(users)s"/>
    <bpmn:userTask id="second" name="Second" camunda:candidateGroups="panel-chair"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="first"/>
    <bpmn:sequenceFlow id="f2" sourceRef="first" targetRef="second"/>
    <bpmn:sequenceFlow id="f3" sourceRef="second" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""


def deploy(db: engine.Database, key: str, groups: str = "", users: str = "") -> str:
    xml = TEMPLATE % {"key": key, "groups": groups, "users": users}
    result = engine.deploy(db, files=[engine.DeployFile(f"{key}.bpmn", xml.encode())], actor=SYSTEM)
    return next(d.definition.id for d in result.definitions if d.definition.key == key)


def ids(page: engine.Page[engine.UserTaskInfo]) -> list[str]:
    assert page.count == len(page.data)
    return [t.id for t in page.data]


def test_lists_by_group_user_and_need_to_know_match_names_exactly(db: engine.Database) -> None:
    tasks = {}
    for key, groups, users in [("panel", "panel", ""), ("chair", "panel-chair", "bob"),
                               ("percent", "50%_off", ""), ("lookalike", "50xyoff", "b_b"),
                               ("both", "panel,50%_off", "bob,bo%"), ("none", "", "")]:
        deploy(db, key, groups=groups, users=users)
        tasks[key] = engine.start_instance(db, actor=SYSTEM, definition_key=key).user_tasks[0].id
    claimed = engine.start_instance(db, actor=SYSTEM, definition_key="none").user_tasks[0].id
    with db.engine.begin() as conn:                 # bob's by assignment alone (no principal to give it to)
        conn.execute(sa.text("UPDATE user_task SET assignee = 'bob' WHERE id = :id"), {"id": claimed})

    def listed(*names: str) -> set[str]:
        return {k for k, v in tasks.items() if v in names}

    by_group = engine.list_user_tasks(db, candidate_group="panel")
    assert listed(*ids(by_group)) == {"panel", "both"}
    assert listed(*ids(engine.list_user_tasks(db, candidate_group="50%_off"))) == {"percent", "both"}
    assert listed(*ids(engine.list_user_tasks(db, candidate_group="50%"))) == set()
    assert listed(*ids(engine.list_user_tasks(db, candidate_group="panel-"))) == set()
    assert listed(*ids(engine.list_user_tasks(db, candidate_groups=["panel", "50%_off"]))) == {
        "panel", "percent", "both"}                                     # "both" once
    assert listed(*ids(engine.list_user_tasks(db, candidate_user="bob"))) == {"chair", "both"}
    assert listed(*ids(engine.list_user_tasks(db, candidate_user="b_b"))) == {"lookalike"}
    assert listed(*ids(engine.list_user_tasks(db, candidate_user="bo%"))) == {"both"}
    assert listed(*ids(engine.list_user_tasks(db, candidate_user="b%"))) == set()

    bob = engine.Actor("bob", frozenset({"panel"}))
    seen = ids(engine.list_user_tasks(db, viewer=bob))
    assert listed(*seen) == {"panel", "chair", "both"} and claimed in seen and len(seen) == 4
    assert ids(engine.list_user_tasks(db, viewer=bob, candidate_group="panel")) == ids(by_group)
    wild = engine.Actor("b%", frozenset({"50%"}))
    assert ids(engine.list_user_tasks(db, viewer=wild)) == []
    odd = engine.Actor("b_b", frozenset({"50%_off"}))
    assert listed(*ids(engine.list_user_tasks(db, viewer=odd))) == {"lookalike", "percent", "both"}
    everyone = ids(engine.list_user_tasks(db, viewer=SYSTEM))
    assert ids(engine.list_user_tasks(db, viewer=bob)) == [t for t in everyone if t in seen]   # the same order

    for task_id in (tasks["both"], tasks["chair"], claimed):
        engine.get_user_task(db, task_id=task_id, viewer=bob)
    instance = engine.get_user_task(db, task_id=tasks["both"]).instance_id
    assert engine.get_instance(db, instance_id=instance, viewer=bob).id == instance
    assert instance in {i.id for i in engine.list_instances(db, viewer=bob).data}
    percent_case = engine.get_user_task(db, task_id=tasks["percent"]).instance_id
    assert percent_case not in {i.id for i in engine.list_instances(db, viewer=bob).data}


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)        # SQLite scans the open tasks
def test_postgresql_reads_a_candidate_s_tasks_through_the_name_indexes(db: engine.Database) -> None:
    """A group's list and count, a candidate user's and a member's need-to-know find their tasks
    through the GIN indexes on the names (store.packed): every statement that reads user_task has a
    plan that never reads the whole table, when the planner is told to avoid that wherever it can
    (the LIKE over the packed names could only be a scan)."""
    deploy(db, "panel", groups="panel", users="bob")
    for _ in range(3):
        engine.start_instance(db, actor=SYSTEM, definition_key="panel")
    with statements_run(db, lambda s: "FROM user_task" in s and not s.startswith("EXPLAIN")) as statements:
        assert engine.list_user_tasks(db, candidate_group="panel").count == 3
        assert engine.list_user_tasks(db, candidate_user="bob").count == 3
        assert engine.list_user_tasks(db, viewer=engine.Actor("carol", frozenset({"panel"}))).count == 3
        lead = engine.Actor("lead", frozenset({"panel"}), organisation="police")    # tasks of none: seen
        assert engine.list_user_tasks(db, viewer=lead).count == 3
    assert len(statements) >= 8                                   # each list's count and page
    with db.engine.connect() as conn:
        conn.exec_driver_sql("SET enable_seqscan = off")
        for statement, parameters in statements:
            plan = "\n".join(conn.exec_driver_sql(f"EXPLAIN {statement}", parameters).scalars())
            assert "Seq Scan on user_task" not in plan, plan
            assert "_names" in plan or "_at_organisation" in plan, plan
        lead_plans = ["\n".join(conn.exec_driver_sql(f"EXPLAIN {s}", p).scalars()) for s, p in statements[-2:]]
        assert all("ix_user_task_candidate_groups_at_organisation" in plan for plan in lead_plans), lead_plans


def test_a_short_list_is_the_same_page_by_page_and_past_its_end_reads_nothing(db: engine.Database) -> None:
    """A list of few tasks is gathered and sorted (reads.FEW_TASKS) rather than walked in order: the
    same tasks in the same order, page by page, as the list of every task; a page past the end is
    empty with the count still given."""
    deploy(db, "panel", groups="panel")
    deploy(db, "other", groups="other")
    for n in range(7):
        engine.start_instance(db, actor=SYSTEM, definition_key="panel" if n % 2 else "other")
    everyone = ids(engine.list_user_tasks(db, viewer=SYSTEM))
    carol = engine.Actor("carol", frozenset({"panel"}))
    mine = engine.list_user_tasks(db, viewer=carol)
    assert mine.count == 3 and ids(mine) == [t for t in everyone if t in ids(mine)]
    paged = [t.id for offset in range(3) for t in engine.list_user_tasks(db, viewer=carol, limit=1, offset=offset).data]
    assert paged == ids(mine)
    past = engine.list_user_tasks(db, viewer=carol, offset=3)
    assert (past.data, past.count, past.count_exact) == ([], 3, True)


def test_an_agency_lead_sees_its_organisation_s_tasks_and_those_of_none(db: engine.Database) -> None:
    """Need-to-know of someone with an organisation, by group (on PostgreSQL through the index of
    each group joined to its task's organisation): their organisation's tasks and tasks of none, of
    their own groups only; by name or assignment the same organisations."""
    deploy(db, "asked", groups="leads", users="pat")
    task = {agency: engine.start_instance(db, actor=SYSTEM, definition_key="asked",
                                          variables={"agency": agency} if agency else {}).user_tasks[0].id
            for agency in ("police", "council", None)}

    def sees(actor: engine.Actor) -> set[str | None]:
        seen = set(ids(engine.list_user_tasks(db, viewer=actor)))
        with db.engine.connect() as conn:
            assert {t for t in task.values() if can_see_task(conn, actor, t)} == seen
        return {agency for agency, t in task.items() if t in seen}

    assert sees(engine.Actor("lead-police", frozenset({"leads"}), organisation="police")) == {"police", None}
    assert sees(engine.Actor("lead-council", frozenset({"leads", "x"}), organisation="council")) == {"council", None}
    assert sees(engine.Actor("lead-probation", frozenset({"leads"}), organisation="probation")) == {None}
    assert sees(engine.Actor("other-police", frozenset({"others"}), organisation="police")) == set()
    assert sees(engine.Actor("pat", frozenset(), organisation="council")) == {"council", None}     # by name
    assert sees(engine.Actor("pat", frozenset())) == {"police", "council", None}
