"""One command = one transaction: racing completions, and instances that never block each other."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
import sqlalchemy as sa

import engine
from engine.store.tables import instance
from tests.conftest import Deployer


def race(n: int, fn) -> list[object]:  # type: ignore[no-untyped-def]
    """Run fn from n threads released at the same moment; collect results or errors."""
    barrier = threading.Barrier(n)
    results: list[object] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = fn(i)
        except Exception as exc:  # noqa: BLE001 - the race's losers are the point
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def crg_member(i: int) -> engine.Actor:
    return engine.Actor(f"user-{i}", frozenset({"case-review-group"}))


def test_eight_threads_completing_one_task_exactly_one_wins(db: engine.Database, deploy: Deployer,
                                                            actor: engine.Actor) -> None:
    deploy("one_user_task.bpmn")
    for _ in range(5):
        started = engine.start_instance(db, actor=actor, definition_key="one_user_task")
        task_id = started.user_tasks[0].id
        results = race(8, lambda i, task_id=task_id: engine.complete_user_task(
            db, actor=crg_member(i), task_id=task_id, variables={"approved": i % 2 == 0}))
        outcomes = Counter(type(r).__name__ for r in results)
        assert outcomes == {"InstanceInfo": 1, "TaskNotOpen": 7}
        final = engine.get_instance(db, instance_id=started.id)
        assert final.status == "completed" and final.version == 2
        kinds = [e.kind for e in engine.instance_history(db, instance_id=started.id)]
        assert kinds.count("task_completed") == 1 and kinds.count("instance_completed") == 1


def test_racing_claims_leave_one_assignee(db: engine.Database, deploy: Deployer, actor: engine.Actor) -> None:
    deploy("one_user_task.bpmn")
    task_id = engine.start_instance(db, actor=actor, definition_key="one_user_task").user_tasks[0].id
    results = race(6, lambda i: engine.claim_user_task(db, actor=crg_member(i), task_id=task_id))
    winners = [r for r in results if isinstance(r, engine.UserTaskInfo)]
    assert len(winners) == 1
    assert all(isinstance(r, engine.TaskClaimedByOther) for r in results if r not in winners)
    assert engine.get_user_task(db, task_id=task_id).assignee == winners[0].assignee


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)   # SQLite has one writer at a time by design
def test_different_instances_do_not_block_each_other_on_postgresql(db: engine.Database, deploy: Deployer,
                                                                   actor: engine.Actor) -> None:
    deploy("one_user_task.bpmn")
    a = engine.start_instance(db, actor=actor, definition_key="one_user_task")
    b = engine.start_instance(db, actor=actor, definition_key="one_user_task")
    holding, release = threading.Event(), threading.Event()

    def hold_a() -> None:                       # another transaction keeps instance A's row locked
        with db.engine.begin() as conn:
            conn.execute(sa.select(instance.c.id).where(instance.c.id == a.id).with_for_update())
            holding.set()
            release.wait(timeout=30)

    holder = threading.Thread(target=hold_a)
    holder.start()
    assert holding.wait(timeout=10)
    try:
        done = engine.complete_user_task(db, actor=actor, task_id=b.user_tasks[0].id, variables={"approved": True})
        assert done.status == "completed"            # B went through while A stayed locked
        blocked = threading.Thread(target=lambda: engine.complete_user_task(
            db, actor=actor, task_id=a.user_tasks[0].id, variables={"approved": True}))
        blocked.start()
        time.sleep(0.3)
        assert blocked.is_alive()                    # A's command waits for A's lock …
    finally:
        release.set()
        holder.join(timeout=10)
    blocked.join(timeout=10)
    assert engine.get_instance(db, instance_id=a.id).status == "completed"   # … and then goes through


def test_audit_entries_chain_in_fast_mode_from_several_threads(db: engine.Database) -> None:
    """The default audit durability (commits that need not wait for the disk) writes a sound chain."""
    assert db.audit_fast
    race(6, lambda i: [engine.append_audit(db, actor=f"user-{i}", action="GET /x", target=f"/x/{n}", status=200)
                       for n in range(5)])
    result = engine.verify_audit(db)
    assert result.ok and result.checked == 30
