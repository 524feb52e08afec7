"""Property-based requests from the service's own OpenAPI document (issue 11): schemathesis
generates requests for every operation in `/openapi.json` — valid ones, and ones that break the
schema — and sends them, signed in as an administrator (who may call every route), over real HTTP
to the real app on a database holding real cases. Whatever it sends, the answer is never a
server error: bad input is a 4xx.

The number of examples per operation is bounded (EXAMPLES) so that this runs in CI in well under
a minute; run it with `REVIEWFLOW_FUZZ_EXAMPLES=500` to look harder.
"""

from __future__ import annotations

import os
from typing import Any

import hypothesis
import hypothesis.errors
import pytest
import schemathesis

import engine
from tests.conftest import Server, bearer
from tests.security.conftest import Deployer, start

EXAMPLES = int(os.environ.get("REVIEWFLOW_FUZZ_EXAMPLES", "12"))
LONG_POLL_MS = 100          # fetchAndLock may hold a request for 30 minutes: bounded, not skipped


@pytest.fixture
def api_schema(db: engine.Database, server: Server, keys: dict[str, str], deploy_http: Deployer,
               as_: Any) -> schemathesis.BaseSchema:
    """The live schema, read as the administrator; cases waiting at a user task, an external task
    and a message, so that lists and filters have rows to work on."""
    deploy_http("awaits_message.bpmn", "agency_returns.bpmn", "two_topics.bpmn", "forms/agency_return.json")
    alice = as_(keys["alice"])
    start(alice, "awaits_message", business_key="SIN-2026-300", child_name="Fuzz-Child")
    start(alice, "agency_returns", agencies=["police", "icb"], child_age=9)
    start(alice, "two_topics")
    return schemathesis.openapi.from_url(f"{server.url}/openapi.json", headers=bearer(keys["admin"]), timeout=30)


def bounded(case: schemathesis.Case) -> schemathesis.Case:
    """fetchAndLock may hold a request for up to 30 minutes (asyncResponseTimeout): bound it."""
    if case.path.endswith("/fetchAndLock") and isinstance(case.body, dict):
        timeout = case.body.get("asyncResponseTimeout")
        if isinstance(timeout, int) and not isinstance(timeout, bool) and timeout > LONG_POLL_MS:
            case.body["asyncResponseTimeout"] = LONG_POLL_MS
    return case


def test_no_request_the_schema_allows_or_forbids_is_answered_with_a_server_error(
        api_schema: schemathesis.BaseSchema, server: Server, keys: dict[str, str]) -> None:
    # schemathesis's pytest integration (from_fixture) does not run under pytest 9: each operation
    # is driven here with its own Hypothesis test instead, valid requests and invalid ones.
    operations = [result.ok() for result in api_schema.get_all_operations()]
    paths = server.app.openapi()["paths"]
    server_errors: list[str] = []
    for operation in operations:
        declared = paths[operation.path][operation.method.lower()]
        modes = [schemathesis.GenerationMode.POSITIVE]
        if declared.get("requestBody") or any(p["in"] == "query" for p in declared.get("parameters", [])):
            # invalid requests: only where there is a body or a query to get wrong (a path parameter
            # is a string in the URL, whatever it holds — there is no invalid one to send)
            modes.append(schemathesis.GenerationMode.NEGATIVE)
        for mode in modes:

            @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
            @hypothesis.settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                                 suppress_health_check=list(hypothesis.HealthCheck),
                                 phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate])
            def send(case: schemathesis.Case) -> None:
                response = bounded(case).call(base_url=server.url, headers=bearer(keys["admin"]), timeout=30)
                if response.status_code >= 500:
                    server_errors.append(f"{case.method} {case.formatted_path} {response.status_code}: "
                                         f"{case.as_curl_command()}\n    -> {response.text[:300]}")

            try:
                send()
            except hypothesis.errors.Unsatisfiable:
                if mode is schemathesis.GenerationMode.POSITIVE:
                    raise
                # every part of the request is open-ended (e.g. a body of any JSON): nothing invalid to send
    assert len(operations) >= 60
    assert server_errors == [], "\n".join(server_errors)
