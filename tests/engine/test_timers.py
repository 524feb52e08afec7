"""Timers on a moved clock: statutory deadlines in working days, calendar months, cycles, and
timers that fire once however many servers look."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

import engine
import timekeeping
from tests.conftest import Deployer, table_counts

WORKER = engine.Actor.system("worker")


@pytest.fixture
def frozen() -> Iterator[engine.clock.__class__]:
    yield engine.clock
    engine.clock.reset()


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def kinds(db: engine.Database, instance_id: str) -> list[str]:
    return [e.kind for e in engine.instance_history(db, instance_id=instance_id)]


def test_fifteen_working_days_from_friday_18_december_2026_skip_christmas_and_new_year() -> None:
    # 25 Dec (Fri), 28 Dec (Boxing Day observed), 1 Jan (Fri) are bank holidays; weekends don't count
    assert timekeeping.working_days_after("2026-12-18", 15) == "2027-01-13T09:00:00+00:00"
    assert timekeeping.working_days_after("2026-12-18", 5) == "2026-12-29T09:00:00+00:00"
    assert timekeeping.working_days_after(date(2026, 12, 24), 1) == "2026-12-29T09:00:00+00:00"


def test_a_partnership_closure_day_moves_local_deadlines_but_never_a_statutory_clock() -> None:
    try:
        timekeeping.configure([date(2026, 12, 29), date(2026, 12, 30)])
        assert timekeeping.local_working_days_after("2026-12-18", 5) == "2026-12-31T09:00:00+00:00"
        assert timekeeping.working_days_after("2026-12-18", 5) == "2026-12-29T09:00:00+00:00"
        assert not timekeeping.is_working_day("2026-12-29") and timekeeping.is_statutory_working_day("2026-12-29")
    finally:
        timekeeping.configure([])


def test_a_statutory_clock_counts_back_from_a_date() -> None:
    # the copy to the National Panel 7 working days before a publication on Wednesday 13 January 2027
    assert timekeeping.working_days_after("2027-01-13", -7) == "2027-01-04T09:00:00+00:00"


def test_calendar_months_clamp_to_the_month_end() -> None:
    assert timekeeping.calendar_months_after("2026-08-31", 6) == "2027-02-28T09:00:00+00:00"
    assert timekeeping.calendar_months_after("2027-08-31", 6) == "2028-02-29T09:00:00+00:00"   # leap year
    assert timekeeping.calendar_months_after("2026-01-15", 6) == "2026-07-15T09:00:00+01:00"   # BST


def test_the_rapid_review_clock_reminds_then_escalates_on_the_right_working_days(
        db: engine.Database, deploy: Deployer, frozen: engine.clock.__class__) -> None:
    deploy("submission_deadline.bpmn")
    frozen.freeze(at(2026, 12, 18, 11))
    started = engine.start_instance(db, actor=engine.Actor.system("bu"), definition_key="submission_deadline",
                                    variables={"sin_sent_on": "2026-12-18"})
    assert started.next_timer_at == at(2027, 1, 6, 9)               # reminder: 10 working days
    [submission] = started.external_tasks

    frozen.freeze(at(2027, 1, 6, 8, 59))
    assert engine.fire_due_timers(db) == []
    frozen.freeze(at(2027, 1, 6, 9, 1))
    assert engine.fire_due_timers(db) == [started.id]
    reminded = engine.get_instance(db, instance_id=started.id)
    assert sorted(t.topic for t in reminded.external_tasks) == ["national-panel-submission", "notification"]
    assert reminded.next_timer_at == at(2027, 1, 14, 9)             # breach: the day after the 15th

    locked = engine.fetch_and_lock(db, actor=WORKER, worker_id="late-worker",
                                   topics=[engine.TopicRequest("national-panel-submission", 3_600_000)], max_tasks=1)
    assert [t.task.id for t in locked.tasks] == [submission.id]
    frozen.freeze(at(2027, 1, 14, 9, 1))
    engine.fire_due_timers(db)
    breached = engine.get_instance(db, instance_id=started.id)
    assert [t.activity_id for t in breached.user_tasks] == ["escalate"]
    assert [t.topic for t in breached.external_tasks] == ["notification"]    # the submission was cancelled
    before = table_counts(db)
    with pytest.raises(engine.TaskNotFound):
        engine.complete_external_task(db, actor=WORKER, task_id=submission.id, worker_id="late-worker", variables={})
    assert table_counts(db) == before
    history = engine.instance_history(db, instance_id=started.id)
    fired = [(e.activity_id, e.actor) for e in history if e.kind == "timer_fired"]
    assert fired == [("remind", "system:timer"), ("breach", "system:timer")]
    assert "external_task_cancelled" in [e.kind for e in history]


def test_six_calendar_months_by_function_and_by_p6m(db: engine.Database, deploy: Deployer,
                                                    frozen: engine.clock.__class__) -> None:
    deploy("six_months.bpmn")
    frozen.freeze(at(2026, 8, 31, 9))
    started = engine.start_instance(db, actor=engine.Actor.system("bu"), definition_key="six_months",
                                    variables={"decision_date": "2026-08-31"})
    assert started.next_timer_at == at(2027, 2, 28, 9)
    frozen.freeze(at(2027, 2, 27, 23))
    engine.fire_due_timers(db)
    assert engine.get_instance(db, instance_id=started.id).user_tasks == []
    frozen.freeze(at(2027, 2, 28, 9, 1))
    engine.fire_due_timers(db)
    due = sorted(t.activity_id for t in engine.get_instance(db, instance_id=started.id).user_tasks)
    assert due == ["duration_due", "function_due"]                  # not 3 March, as plain SpiffWorkflow says


def test_a_non_interrupting_cycle_fires_three_times_and_leaves_the_task_open(
        db: engine.Database, deploy: Deployer, frozen: engine.clock.__class__) -> None:
    deploy("cycle_reminder.bpmn")
    frozen.freeze(at(2027, 3, 1, 9))
    started = engine.start_instance(db, actor=engine.Actor.system("lfp"), definition_key="cycle_reminder")
    for _ in range(6):
        frozen.advance(timedelta(days=1, minutes=1))
        engine.fire_due_timers(db)
    after = engine.get_instance(db, instance_id=started.id)
    assert [t.activity_id for t in after.user_tasks] == ["update"]
    assert [t.topic for t in after.external_tasks] == ["notification"] * 3
    assert after.next_timer_at is None
    assert kinds(db, started.id).count("timer_fired") == 3


def test_two_servers_fire_a_due_timer_once(db: engine.Database, deploy: Deployer,
                                           frozen: engine.clock.__class__) -> None:
    deploy("cycle_reminder.bpmn")
    frozen.freeze(at(2027, 3, 1, 9))
    ids = [engine.start_instance(db, actor=engine.Actor.system("lfp"), definition_key="cycle_reminder").id
           for _ in range(10)]
    frozen.advance(timedelta(days=1, minutes=1))
    other = engine.Database(db.url, connect_args=_connect_args(db))      # a second server's own handle
    barrier = threading.Barrier(2)
    fired: list[list[str]] = []

    def serve(handle: engine.Database) -> None:
        barrier.wait()
        fired.append(engine.fire_due_timers(handle))

    threads = [threading.Thread(target=serve, args=(h,)) for h in (db, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    other.dispose()
    assert sorted(fired[0] + fired[1]) == sorted(ids)                  # each instance fired by one of them
    for instance_id in ids:
        assert kinds(db, instance_id).count("timer_fired") == 1
        assert len(engine.get_instance(db, instance_id=instance_id).external_tasks) == 1
    assert engine.fire_due_timers(db) == []                          # the second look finds nothing due


def _connect_args(db: engine.Database) -> dict:
    return {} if db.dialect.name == "sqlite" else {"options": db.engine.url.query.get("options") or _search_path(db)}


def _search_path(db: engine.Database) -> str:
    with db.engine.connect() as conn:
        return f"-csearch_path={conn.exec_driver_sql('SHOW search_path').scalar_one()}"


def test_a_timer_start_cycle_starts_one_instance_per_occurrence(db: engine.Database, deploy: Deployer,
                                                                frozen: engine.clock.__class__) -> None:
    frozen.freeze(at(2027, 1, 1, 9))
    deploy("weekly_review.bpmn")                       # R3/2027-01-04T09:00:00Z/P1W
    assert engine.next_timer_due(db) == at(2027, 1, 4, 9)
    started = []
    for day in (4, 11, 18, 25):
        frozen.freeze(at(2027, 1, day, 9, 1))
        started.append(engine.fire_due_timers(db))
    assert [len(s) for s in started] == [1, 1, 1, 0]
    instances = engine.list_instances(db, definition_key="weekly_review").data
    assert len(instances) == 3
    for i in instances:
        assert [t.activity_id for t in engine.get_instance(db, instance_id=i.id).user_tasks] == ["review_actions"]
        assert engine.instance_history(db, instance_id=i.id)[0].actor == "system:timer"
    assert engine.next_timer_due(db) is None


def test_occurrences_missed_while_down_fire_once(db: engine.Database, deploy: Deployer,
                                                 frozen: engine.clock.__class__) -> None:
    frozen.freeze(at(2027, 1, 1, 9))
    deploy("weekly_review.bpmn")
    frozen.freeze(at(2027, 1, 12, 9))                  # two occurrences passed while nothing ran
    assert len(engine.fire_due_timers(db)) == 1
    assert engine.next_timer_due(db) == at(2027, 1, 18, 9)


def test_a_timer_start_needs_a_plain_iso_expression(db: engine.Database, actor: engine.Actor) -> None:
    from tests.conftest import BPMN
    xml = (BPMN / "weekly_review.bpmn").read_bytes().replace(b"R3/2027-01-04T09:00:00Z/P1W", b"some_variable")
    with pytest.raises(engine.DeploymentError) as raised:
        engine.deploy(db, files=[engine.DeployFile("w.bpmn", xml)], actor=actor)
    assert raised.value.element_id == "every_week"
