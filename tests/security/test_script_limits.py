"""Attacks on the service through a diagram's code (issue 11, finding 5).

* A script doing C-level work (`sum(range(4 * 10**8))`) ran past the time limit — for 11 s — while
  the event loop, health checks and the embedded workers waited, and the incident said it had been
  stopped after 2 s.
* `'a' * 10**10` tried to take 10 GB.
* The same in a gateway condition.

Each is stopped within the limit in a sandbox process, becomes an incident on its task, and the
service answers meanwhile. (Timer cycles below the minimum interval are refused at deployment:
tests/security/test_timer_limits.py.)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest

import engine
from tests.conftest import Server, bearer
from tests.engine.test_sandbox import diagram

LIMIT = 0.5



@pytest.fixture(autouse=True)
def short_limit() -> Iterator[None]:
    engine.configure_sandbox(time_limit=LIMIT)
    yield
    engine.configure_sandbox()


def deploy(db: engine.Database, pid: str, script: str = "x = 1", condition: str = "x == 2") -> None:
    engine.deploy(db, files=[diagram(script, condition, pid)], actor=engine.Actor.system("po"))


@pytest.mark.parametrize(("script", "condition", "failing", "says"), [
    ("x = sum(range(4 * 10**8))", "x == 2", "script", "TimeLimitExceeded"),
    ("x = 'a' * 10**10", "x == 2", "script", "MemoryError"),
    ("x = 1", "sum(range(10**10)) > 0", "gw", "TimeLimitExceeded"),
    ("x = 1", "len('a' * 10**10) > 0", "gw", "MemoryError"),
])
def test_runaway_code_is_stopped_and_becomes_an_incident(db: engine.Database, script: str, condition: str,
                                                         failing: str, says: str) -> None:
    deploy(db, "runaway", script, condition)
    started = engine.start_instance(db, actor=engine.Actor.system("bu"), definition_key="runaway")
    [incident] = started.incidents
    assert incident.activity_id == failing and says in incident.message
    assert started.status == "active"
    again = engine.start_instance(db, actor=engine.Actor.system("bu"), definition_key="runaway")
    assert len(again.incidents) == 1                          # the sandbox recovered: the next case runs too


def test_the_service_answers_while_a_script_runs_away(db: engine.Database, server: Server,
                                                       keys: dict[str, str]) -> None:
    deploy(db, "runaway", "x = sum(range(4 * 10**8))")
    order: list[str] = []
    with httpx.Client(base_url=server.url, timeout=30, headers=bearer(keys["alice"])) as c:
        def start() -> None:
            c.post("/api/v1/instances", json={"definition_key": "runaway"}).raise_for_status()
            order.append("start answered")

        runner = threading.Thread(target=start)
        runner.start()
        time.sleep(0.1)                                       # the script is running now
        assert c.get("/api/v1/health").status_code == 200
        order.append("health answered")
        runner.join(timeout=30)
    assert order == ["health answered", "start answered"]


def test_cheap_conditions_and_the_calendar_run_in_process_and_still_work(db: engine.Database) -> None:
    deploy(db, "ordinary", "deadline = working_days_after(sin_sent_on, 15)\nx = max([1, 2]) + len(agencies)",
           "x == 4 and deadline > '2027'")
    done = engine.start_instance(db, actor=engine.Actor.system("bu"), definition_key="ordinary",
                                 variables={"sin_sent_on": "2026-12-18", "agencies": ["police", "icb"]})
    assert done.status == "completed"
    assert engine.get_instance(db, instance_id=done.id).variables["deadline"] == "2027-01-13T09:00:00+00:00"
    assert engine.bpmn.script_engine.is_plainly_cheap("x == 4 and deadline > '2027'")
    assert engine.bpmn.script_engine.is_plainly_cheap("working_days_after(sin_sent_on, 15)")
    for heavy in ("sum(range(10**10)) > 0", "'a' * 10**10", "x ** 99999", "[y for y in x]", "f'{x:>999999999}'",
                  "'%0999999999d' % 1", "open('x')"):
        assert not engine.bpmn.script_engine.is_plainly_cheap(heavy)
