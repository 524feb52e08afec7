"""The variable index (instance_variable) stays in step with instance.variables through every command,
and filters that read it answer exactly what the condition on the JSON column answered."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

import engine
from engine.queries.filters import OPERATORS, json_clause
from engine.results import VariableFilter
from engine.store.tables import instance, instance_variable
from engine.store.variable_index import PREFIX, index_values
from tests.conftest import BPMN, Deployer

ADMIN = engine.Actor("admin", frozenset({"case-review-group", "business-unit"}), sees_all_cases=True)
LONG = "x" * 10_000                                   # a 10 kB text: far above a btree entry's limit


def index_of(db: engine.Database, instance_id: str) -> dict[str, tuple[Any, ...]]:
    with db.engine.connect() as conn:
        rows = conn.execute(sa.select(instance_variable).where(instance_variable.c.instance_id == instance_id))
        return {r.name: (r.kind, r.text_value, bool(r.text_long),
                         None if r.number_value is None else float(r.number_value)) for r in rows}


def expected(variables: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    found = {}
    for name, value in variables.items():
        v = index_values(value)
        found[name] = (v["kind"], v["text_value"], v["text_long"],
                       None if v["number_value"] is None else float(v["number_value"]))
    return found


def in_step(db: engine.Database, instance_id: str) -> dict[str, Any]:
    """The case's variables, after asserting that its index rows are exactly theirs."""
    with db.engine.connect() as conn:
        variables = conn.execute(sa.select(instance.c.variables).where(instance.c.id == instance_id)).scalar_one()
    assert index_of(db, instance_id) == expected(variables)
    return dict(variables)


def test_the_index_follows_start_completion_repair_and_cancellation(db: engine.Database, deploy: Deployer) -> None:
    deploy("one_user_task.bpmn")
    case = engine.start_instance(db, actor=ADMIN, definition_key="one_user_task", variables={
        "child_age": 7, "ref": "CR-1", "urgent": True, "nothing": None, "agencies": ["police"], "note": LONG})
    assert index_of(db, case.id)["child_age"] == ("number", None, False, 7.0)
    assert index_of(db, case.id)["urgent"] == ("boolean", None, False, 1.0)
    assert index_of(db, case.id)["note"] == ("text", "x" * PREFIX, True, None)
    assert index_of(db, case.id)["agencies"] == ("other", None, False, None)
    in_step(db, case.id)

    engine.set_instance_variable(db, actor=ADMIN, instance_id=case.id, name="child_age", value=8, reason="typo")
    engine.set_instance_variable(db, actor=ADMIN, instance_id=case.id, name="ref", value=LONG + "y", reason="x")
    assert in_step(db, case.id)["child_age"] == 8
    engine.delete_instance_variable(db, actor=ADMIN, instance_id=case.id, name="nothing", reason="not needed")
    assert "nothing" not in index_of(db, case.id)
    in_step(db, case.id)

    engine.complete_user_task(db, actor=ADMIN, task_id=case.user_tasks[0].id,
                              variables={"approved": False, "urgent": "no", "note": "short now"})
    assert engine.get_instance(db, instance_id=case.id).status == "completed"
    assert index_of(db, case.id)["urgent"] == ("text", "no", False, None)
    assert in_step(db, case.id)["approved"] is False

    other = engine.start_instance(db, actor=ADMIN, definition_key="one_user_task", variables={"child_age": 3})
    engine.cancel_instance(db, actor=ADMIN, instance_id=other.id, reason="opened by mistake")
    assert in_step(db, other.id) == {"child_age": 3}           # a cancelled case keeps its variables


def test_a_migrated_case_s_index_gets_the_plan_s_variables(db: engine.Database, deploy: Deployer) -> None:
    v1 = deploy("one_user_task.bpmn").definitions[0].definition.id
    xml = (BPMN / "one_user_task.bpmn").read_bytes().replace(b'name="Review the case"', b'name="Review it"')
    v2 = engine.deploy(db, files=[engine.DeployFile("one_user_task.bpmn", xml)],
                       actor=ADMIN).definitions[0].definition.id
    assert v1 != v2
    case = engine.start_instance(db, actor=ADMIN, definition_id=v1, variables={"child_age": 7})
    plan = engine.generate_migration_plan(db, source_definition_id=v1, target_definition_id=v2,
                                          variables={"migrated": True, "child_age": "seven"})
    assert engine.migrate_instances(db, plan=plan, actor=ADMIN).moved == [case.id]
    assert index_of(db, case.id)["migrated"] == ("boolean", None, False, 1.0)
    assert in_step(db, case.id)["child_age"] == "seven"


def test_a_10_kb_text_is_written_and_found_by_its_whole_value(db: engine.Database, deploy: Deployer) -> None:
    deploy("one_user_task.bpmn")
    cases = {text: engine.start_instance(db, actor=ADMIN, definition_key="one_user_task",
                                         variables={"summary": text}).id
             for text in (LONG, LONG + "y", "x" * PREFIX, "x" * (PREFIX + 1))}

    def found(op: str, value: Any) -> set[str]:
        page = engine.list_instances(db, variables=[VariableFilter("summary", op, value)])
        assert page.count == len(page.data)
        return {i.id for i in page.data}

    assert found("eq", LONG) == {cases[LONG]}
    assert found("eq", LONG + "y") == {cases[LONG + "y"]}
    assert found("eq", "x" * PREFIX) == {cases["x" * PREFIX]}
    assert found("neq", LONG) == set(cases.values()) - {cases[LONG]}
    assert found("like", "%y") == {cases[LONG + "y"]}
    assert found("gt", LONG) == {cases[LONG + "y"]}


VALUES: list[Any] = [7, 7.5, -3, 0, 10**15, True, False, None, "7", "7.5", "true", "abc", "Abc", "", "a" * PREFIX,
                     "a" * (PREFIX + 1), "a" * PREFIX + "b", LONG, LONG + "y", [1, 2], {"k": 1}, "O'Brien", "50%",
                     "a\\b"]
ASKED: list[Any] = ["7", "7.5", "-3", "0", "1000000000000000", "true", "false", "abc", "ABC", "", "a" * PREFIX,
                    "a" * (PREFIX + 1), "a" * PREFIX + "b", LONG, LONG + "y", "x" * PREFIX, None, 7, True, [1, 2],
                    "a%", "%b", "%y", "x%", "ab_", "%", "A%", "O'Brien", "O'%", "50%", "%%", "a\\b", "');--"]


def test_every_operator_and_kind_answers_as_the_json_column_did(db: engine.Database, deploy: Deployer) -> None:
    deploy("one_user_task.bpmn")
    ids = [engine.start_instance(db, actor=ADMIN, definition_key="one_user_task", variables={"v": value}).id
           for value in VALUES]
    ids.append(engine.start_instance(db, actor=ADMIN, definition_key="one_user_task", variables={"w": 1}).id)
    for n in range(0, len(ids), 3):                      # a third complete: their tasks leave the task lists
        task = engine.get_instance(db, instance_id=ids[n]).user_tasks[0]
        engine.complete_user_task(db, actor=ADMIN, task_id=task.id, variables={"approved": True})
    open_ids = {i for i in ids if engine.get_instance(db, instance_id=i).status == "active"}
    for op in OPERATORS:
        for value in ASKED:
            f = VariableFilter("v", op, value)
            with db.engine.connect() as conn:
                before = set(conn.execute(sa.select(instance.c.id).where(json_clause(db.dialect, instance.c.variables,
                                                                                     f))).scalars())
            page = engine.list_instances(db, variables=[f], limit=100)
            assert ({i.id for i in page.data}, page.count) == (before, len(before)), (op, str(value)[:30])
            tasks = engine.list_user_tasks(db, variables=[f], limit=100)
            assert {t.instance_id for t in tasks.data} == before & open_ids, (op, str(value)[:30])


@pytest.mark.parametrize("name", ["n" * 300])
def test_a_name_longer_than_the_index_keeps_is_filtered_on_the_json_column(db: engine.Database, deploy: Deployer,
                                                                         name: str) -> None:
    deploy("one_user_task.bpmn")
    case = engine.start_instance(db, actor=ADMIN, definition_key="one_user_task", variables={name: 1, "a": 2})
    assert set(index_of(db, case.id)) == {"a"}
    assert [i.id for i in engine.list_instances(db, variables=[VariableFilter(name, "eq", "1")]).data] == [case.id]


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)     # the planner's statistics are PostgreSQL's
def test_postgresql_plans_a_common_value_of_one_variable_as_common(db: engine.Database, deploy: Deployer,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Without statistics on name and value together (migration 5d8e1f3a7c94), the planner multiplies
    the share of rows named incident_type by the share of all texts that say death, and expects a few
    cases where a quarter match: then the count walks them all instead of being estimated."""
    from engine.queries import reads

    deploy("one_user_task.bpmn")
    for n in range(160):
        engine.start_instance(db, actor=ADMIN, definition_key="one_user_task", variables={
            "incident_type": "death" if n % 4 == 0 else f"harm-{n}", "agencies_count": 7 if n % 4 == 0 else n + 100,
            **{f"field_{k}": f"value-{n}-{k}" for k in range(11)}, **{f"number_{k}": n * 10 + k for k in range(5)}})
    with db.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE instance_variable")        # what autovacuum does as rows arrive
        conn.exec_driver_sql("ANALYZE instance")
    monkeypatch.setattr(reads, "ESTIMATE_ABOVE", 20)             # 40 match: "large" here
    death = [VariableFilter("incident_type", "eq", "death")]
    page = engine.list_instances(db, variables=death, limit=5)
    assert not page.count_exact and 25 <= page.count <= 60        # planned as common: estimated
    assert len(page.data) == 5
    sevens = engine.list_instances(db, variables=[VariableFilter("agencies_count", "eq", 7)], limit=5)
    assert not sevens.count_exact and 25 <= sevens.count <= 60
    rare = engine.list_instances(db, variables=[VariableFilter("incident_type", "eq", "harm-1")], limit=5)
    assert (rare.count, rare.count_exact) == (1, True)
