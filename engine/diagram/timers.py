"""Checking timer expressions as the engine will read them (engine/bpmn/timers.py).

A timer is plain ISO 8601 (`P5D`, `PT12H`, `R/P14D`, `2027-01-04T09:00:00Z`), a statutory clock
(`working_days_after(sin_sent_on, 15)`, `calendar_months_after(decision_date, 6)`, both giving a
moment, so both belong in a timeDate), or any other expression of variables. A repeating timer may not
fire more often than the configured minimum (REVIEWFLOW_MIN_TIMER_CYCLE, one minute by default): a
timer start event firing every millisecond would flood the service with cases.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from engine import clock
from engine.bpmn.timers import is_iso_literal
from engine.diagram.code import check_code
from engine.diagram.model import Timer

DEFAULT_MIN_TIMER_CYCLE = timedelta(minutes=1)
STATUTORY = {"working_days_after": "working days", "calendar_months_after": "calendar months"}
KIND_NAMES = {"timeDate": "a date (timeDate)", "timeDuration": "a duration (timeDuration)",
              "timeCycle": "a cycle (timeCycle)"}
_ISO_LOOKING = re.compile(r"^PT?\d")            # a bare name such as P1X or PT5: ISO 8601 gone wrong


@dataclass(frozen=True)
class TimerProblem:
    severity: str
    code: str
    message: str


def describe(delta: timedelta) -> str:
    """`timedelta(hours=2)` -> "2 hours"; the largest whole unit that fits, seconds otherwise."""
    seconds = delta.total_seconds()
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''}"
    text = f"{seconds:g}"
    return f"{text} second{'s' if seconds != 1 else ''}"


def check_timer(timer: Timer, *, start_event: bool, min_cycle: timedelta) -> list[TimerProblem]:
    """What is wrong with one timer; empty when nothing is."""
    if timer.kind == "":
        return [TimerProblem("error", "timer-missing", "timer has no timeDate, timeDuration or timeCycle")]
    text = (timer.expression or "").strip()
    if not text:
        return [TimerProblem("error", "timer-missing", f"the timer's {timer.kind} is empty")]
    if is_iso_literal(text):
        return _check_literal(timer.kind, text, min_cycle)
    problems = [TimerProblem("error", "timer-expression", f"the timer expression {text!r} {p.message}")
                for p in check_code(text, "eval")]
    if problems:
        return problems
    node = ast.parse(text, mode="eval").body
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        if not is_iso_literal(node.value):
            return [TimerProblem("error", "timer-iso", f"{node.value!r} is not an ISO 8601 date, duration or "
                                                       "cycle")]
        return _check_literal(timer.kind, node.value.strip(), min_cycle)
    if isinstance(node, ast.Name) and _ISO_LOOKING.match(node.id):
        return [TimerProblem("error", "timer-iso", f"{text!r} looks like ISO 8601 but is not valid: e.g. P5D, "
                                                   "PT12H, R/P14D or 2027-01-04T09:00:00Z")]
    if start_event:
        return [TimerProblem("error", "timer-start-expression",
                             f"a timer start event needs a plain ISO 8601 date, duration or cycle, not the "
                             f"expression {text!r}: no case (and so no variable) exists before it fires")]
    found = []
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in STATUTORY:
        name = node.func.id
        if len(node.args) != 2 or node.keywords:
            found.append(TimerProblem("error", "timer-statutory",
                                      f"{name} takes two arguments: a date and a number of {STATUTORY[name]}, "
                                      f"e.g. {name}(decision_date, 6)"))
        elif isinstance(node.args[1], ast.Constant) and (not isinstance(node.args[1].value, int)
                                                         or isinstance(node.args[1].value, bool)):
            found.append(TimerProblem("error", "timer-statutory",
                                      f"{name}'s second argument must be a whole number of {STATUTORY[name]}"))
        if timer.kind != "timeDate":
            found.append(TimerProblem("error", "timer-kind",
                                      f"{name}(…) gives a date and time, so it belongs in a timeDate, not in "
                                      f"{KIND_NAMES.get(timer.kind, timer.kind)}"))
    if timer.kind == "timeCycle" and not found:
        found.append(TimerProblem("warning", "timer-cycle-unchecked",
                                  f"the cycle {text!r} is computed when the timer starts, so its interval cannot "
                                  f"be checked against the minimum of {describe(min_cycle)} before it runs"))
    return found


def _check_literal(kind: str, text: str, min_cycle: timedelta) -> list[TimerProblem]:
    upper = text.upper()
    example = {"timeDate": "2027-01-04T09:00:00Z", "timeDuration": "P5D or PT12H", "timeCycle": "R/P14D or R3/P1D"}
    if kind == "timeCycle" and not upper.startswith("R"):
        return [TimerProblem("error", "timer-kind", f"{text!r} does not repeat: a timeCycle needs a repeating "
                                                    f"interval, e.g. {example[kind]}")]
    if kind == "timeDuration" and not upper.startswith("P"):
        return [TimerProblem("error", "timer-kind", f"{text!r} is not a duration: a timeDuration needs one, e.g. "
                                                    f"{example[kind]}")]
    if kind == "timeDate" and upper.startswith(("P", "R")):
        return [TimerProblem("error", "timer-kind", f"{text!r} is not a date: a timeDate needs a date or "
                                                    f"date-time, e.g. {example[kind]}")]
    try:
        if kind == "timeCycle":
            _cycles, _start, interval = TimerEventDefinition.parse_iso_recurring_interval(text)
        elif kind == "timeDuration":
            parsed = TimerEventDefinition.parse_iso_duration(text)
            interval = TimerEventDefinition.get_timedelta_from_start(parsed, clock.now())
        else:
            interval = None
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except Exception:   # SpiffWorkflow's parsers raise bare Exception, ValueError, AttributeError …
        return [TimerProblem("error", "timer-iso", f"{text!r} is not valid ISO 8601: e.g. {example[kind]}")]
    if interval is not None and interval <= timedelta(0):
        return [TimerProblem("error", "timer-iso", f"{text!r} is a duration of nothing")]
    if kind == "timeCycle" and interval is not None and interval < min_cycle:
        return [TimerProblem("error", "timer-cycle-too-fast",
                             f"{text!r} repeats every {describe(interval)}, more often than the minimum of "
                             f"{describe(min_cycle)} (REVIEWFLOW_MIN_TIMER_CYCLE)")]
    if kind == "timeDate" and moment.tzinfo is None and ("T" in upper or " " in text):
        return [TimerProblem("warning", "timer-no-timezone",
                             f"{text!r} has no time zone, so it is read in the server's local time; add Z or "
                             "an offset such as +01:00")]
    return []
