"""/engine-rest lists and counts filter in the database: pages are right at any size, and a count
answers for the same filters as its list."""

from __future__ import annotations

import httpx
import pytest

import engine
from tests.conftest import Deployer, Server, bearer

N = 250


@pytest.fixture
def many(db: engine.Database, deploy: Deployer) -> list[engine.InstanceInfo]:
    deploy("one_user_task.bpmn")
    bu = engine.Actor.system("bu")
    return [engine.start_instance(db, actor=bu, definition_key="one_user_task", business_key=f"SIN-{i:03d}",
                                  variables={"n": i, "kind": "odd" if i % 2 else "even", "urgent": i % 10 == 0,
                                             "agency": f"agency-{i % 3}"})
            for i in range(N)]


def pages(c: httpx.Client, path: str, size: int, **params: str) -> list[dict]:
    found, first = [], 0
    while True:
        page = c.get(path, params={**params, "firstResult": first, "maxResults": size})
        assert page.status_code == 200, page.text
        found += page.json()
        if len(page.json()) < size:
            return found
        first += size


def test_250_instances_page_through_a_variable_filter_each_once_with_a_matching_count(
        many: list[engine.InstanceInfo], server: Server, keys: dict[str, str]) -> None:
    with httpx.Client(base_url=f"{server.url}/engine-rest", timeout=30, headers=bearer(keys["alice"])) as c:
        everything = pages(c, "/process-instance", 40)
        assert len(everything) == N and len({i["id"] for i in everything}) == N
        assert c.get("/process-instance/count").json() == {"count": N}

        odd = pages(c, "/process-instance", 30, variables="kind_eq_odd")
        expected = {i.id for i in many if i.variables["n"] % 2}
        assert [i["id"] for i in odd].count(odd[0]["id"]) == 1
        assert {i["id"] for i in odd} == expected and len(odd) == len(expected) == 125
        assert c.get("/process-instance/count", params={"variables": "kind_eq_odd"}).json() == {"count": 125}


@pytest.mark.parametrize(("variables", "matches"), [
    ("n_gt_240", lambda v: v["n"] > 240),
    ("n_lteq_3", lambda v: v["n"] <= 3),
    ("n_gteq_100,n_lt_110", lambda v: 100 <= v["n"] < 110),
    ("urgent_eq_true", lambda v: v["urgent"]),
    ("urgent_neq_true", lambda v: not v["urgent"]),
    ("kind_neq_odd", lambda v: v["kind"] != "odd"),
    ("agency_like_agency-1", lambda v: v["agency"] == "agency-1"),
    ("agency_like_%-2", lambda v: v["agency"].endswith("-2")),
    ("kind_gt_f", lambda v: v["kind"] > "f"),
    ("missing_eq_1", lambda v: False),
])
def test_every_camunda_operator_filters_in_the_query(many: list[engine.InstanceInfo], server: Server,
                                                     keys: dict[str, str], variables: str, matches) -> None:
    expected = {i.id for i in many if matches(i.variables)}
    with httpx.Client(base_url=f"{server.url}/engine-rest", timeout=30, headers=bearer(keys["alice"])) as c:
        listed = pages(c, "/process-instance", 100, variables=variables)
        assert {i["id"] for i in listed} == expected
        assert c.get("/process-instance/count", params={"variables": variables}).json()["count"] == len(expected)


def test_tasks_definitions_and_business_keys_filter_and_count_alike(many: list[engine.InstanceInfo], server: Server,
                                                                    keys: dict[str, str]) -> None:
    with httpx.Client(base_url=f"{server.url}/engine-rest", timeout=30, headers=bearer(keys["alice"])) as c:
        urgent = pages(c, "/task", 7, processVariables="urgent_eq_true")
        assert len(urgent) == 25 and c.get("/task/count", params={"processVariables": "urgent_eq_true"}).json() == {
            "count": 25}
        assert {t["processInstanceId"] for t in urgent} == {i.id for i in many if i.variables["urgent"]}
        like = c.get("/process-instance", params={"businessKeyLike": "SIN-01%"}).json()
        assert sorted(i["businessKey"] for i in like) == [f"SIN-{i:03d}" for i in range(10, 20)]
        ids = ",".join(i.id for i in many[:3])
        assert {i["id"] for i in c.get("/process-instance", params={"processInstanceIds": ids}).json()} == {
            i.id for i in many[:3]}
        by_key = c.get("/process-instance", params={"sortBy": "businessKey", "sortOrder": "asc",
                                                    "maxResults": 3}).json()
        assert [i["businessKey"] for i in by_key] == ["SIN-000", "SIN-001", "SIN-002"]
        assert c.get("/process-definition/count", params={"key": "one_user_task"}).json() == {"count": 1}


@pytest.mark.parametrize("params", [{"variables": "n_between_3"}, {"variables": "1bad_eq_3"},
                                    {"sortBy": "nonsense"}, {"maxResults": "100000"}, {"firstResult": str(2**63)}])
def test_a_bad_query_is_a_400_not_a_500(server: Server, keys: dict[str, str], params: dict[str, str]) -> None:
    with httpx.Client(base_url=f"{server.url}/engine-rest", timeout=30, headers=bearer(keys["alice"])) as c:
        response = c.get("/process-instance", params=params)
    assert response.status_code == 400 and response.json()["type"] == "InvalidRequestException"


def test_the_openapi_document_describes_the_camunda_shapes(server: Server) -> None:
    spec = server.app.openapi()
    listing = spec["paths"]["/engine-rest/process-instance"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"processInstanceIds", "businessKey", "variables",
                                                          "firstResult", "maxResults", "sortBy"}
    schema = listing["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["items"]["$ref"].endswith("/ProcessInstanceDto")
    assert "LockedExternalTaskDto" in spec["components"]["schemas"]
    assert spec["paths"]["/engine-rest/task/count"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"]["$ref"].endswith("/CountResultDto")
