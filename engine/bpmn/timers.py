"""Timers as process owners write them, on the engine's clock.

* Plain ISO 8601 needs no Python quoting: `P6M`, `PT15M`, `R3/P1D`, `2027-01-04T09:00:00Z`. At
  parse time such expressions become string literals; anything else stays an expression
  (`working_days_after(sin_sent_on, 15)`).
* `P<n>M`/`P<n>Y` durations count calendar months (31 August + P6M = 28 February), where
  SpiffWorkflow would add the lengths of the next months.
* SpiffWorkflow's timers read `datetime.now(timezone.utc)`; engine.bpmn.compat points its timer
  module at the engine clock (and at `calendar_timedelta`), so tests move time instead of sleeping.
"""

from __future__ import annotations

import re
from datetime import datetime as _datetime
from datetime import timedelta
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimerEventDefinition,
)

from engine import clock
from timekeeping.calendar import add_months

_ISO = re.compile(
    r"""^(
        R\d*/.+                                            # cycles: R3/PT1H, R/P1M, R/2027-01-04T09:00Z/P1W
      | P(?=\d|T\d)(\d+(\.\d+)?Y)?(\d+(\.\d+)?M)?(\d+(\.\d+)?W)?(\d+(\.\d+)?D)?
          (T(?=\d)(\d+(\.\d+)?H)?(\d+(\.\d+)?M)?(\d+(\.\d+)?S)?)?   # durations
      | \d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?   # dates and date-times
    )$""", re.VERBOSE | re.IGNORECASE)


def is_iso_literal(expression: str) -> bool:
    return bool(_ISO.match(expression.strip()))


def calendar_timedelta(parsed_duration: dict[str, Any], start: _datetime | None = None) -> timedelta:
    """How long an ISO 8601 duration lasts from `start` (default now), months and years counted
    as calendar months."""
    start = start or clock.now()
    parsed = dict(parsed_duration)
    months = parsed.pop("months", 0) + 12 * parsed.pop("years", 0)
    whole = int(months)
    shifted = start
    if whole:
        day = add_months(start.date(), whole)
        shifted = start.replace(year=day.year, month=day.month, day=day.day)
    fraction = months - whole
    extra_days = parsed.pop("days", 0) + fraction * 30
    return (shifted - start) + timedelta(days=extra_days, **parsed)


def first_firing(event: TimerEventDefinition, now: _datetime) -> tuple[_datetime, float | None, int | None]:
    """A timer start event's schedule: (first due moment, seconds between firings, cycles left —
    -1 for no end; None when it fires once). Only plain ISO 8601 can be scheduled before any
    instance (and so any variable) exists.

    Raises: ValueError.
    """
    import ast  # noqa: PLC0415
    try:
        text = ast.literal_eval(event.expression)
    except (ValueError, SyntaxError):
        text = None
    if not isinstance(text, str):
        raise ValueError("a timer start event needs a plain ISO 8601 date, duration or cycle, "
                         f"not the expression {event.expression!r}")
    if isinstance(event, CycleTimerEventDefinition):
        cycles, start, duration = TimerEventDefinition.parse_iso_recurring_interval(text)
        return start, duration.total_seconds(), cycles
    if isinstance(event, DurationTimerEventDefinition):
        parsed = TimerEventDefinition.parse_iso_duration(text)
        return now + TimerEventDefinition.get_timedelta_from_start(parsed, now), None, None
    return TimerEventDefinition.get_datetime(text), None, None


_LONG_AGO = "2000-01-01T00:00:00+00:00"


def force_timer_start(wf: Any, activity_id: str) -> None:
    """Make a new instance's timer start event fire now, exactly once: the schedule lives in the
    timer_start table, each firing is its own instance (as in Camunda).

    Raises: ValueError when the process has no such start event.
    """
    from engine.bpmn.starts import enter_at  # noqa: PLC0415

    def due_now(task: Any) -> None:          # before the event is first evaluated: the schedule is never read
        cycle = isinstance(task.task_spec.event_definition, CycleTimerEventDefinition)
        task.internal_data["event_value"] = ({"cycles": 1, "next": _LONG_AGO, "duration": 1.0} if cycle
                                             else _LONG_AGO)

    enter_at(wf, activity_id, prepare=due_now)
    wf.refresh_timers()
    wf.do_engine_steps()
    wf.refresh_timers()                      # a spent cycle lets its start event complete


def quote_literals(specs: list[Any]) -> None:
    """Make plain ISO 8601 timer expressions string literals, in every spec of a definition."""
    for spec in specs:
        for task_spec in spec.task_specs.values():
            definition = getattr(task_spec, "event_definition", None)
            for ev in getattr(definition, "event_definitions", None) or [definition]:
                if isinstance(ev, TimerEventDefinition) and isinstance(ev.expression, str) \
                        and is_iso_literal(ev.expression):
                    ev.expression = repr(ev.expression.strip())


