"""Dated milestones of a case, declared in a file the process owners keep beside their diagrams
(bpmn/milestones.toml): when each falls due, whether it has happened, and how a set of cases did.

The engine knows no milestone by name: the file names the variables and activities that hold each
date. Working days skip weekends and bank holidays in England and Wales only (a statutory clock
does not move for the partnership's closure days); months are calendar months.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from engine.errors import Invalid
from timekeeping.calendar import UK, BusinessCalendar, add_months, to_date


@dataclass(frozen=True)
class DueRule:
    variable: str
    unit: str                          # working_days | months | on
    amount: int = 0                    # negative: before the date

    def due_on(self, variables: Mapping[str, Any], days: WorkingDays) -> date | None:
        anchor = as_date(variables.get(self.variable))
        if anchor is None:
            return None
        if self.unit == "months":
            return add_months(anchor, self.amount)
        if self.unit == "working_days":
            return days.add(anchor, self.amount)
        return anchor


@dataclass(frozen=True)
class MilestoneRule:
    id: str
    label: str
    process: str | None = None
    basis: str | None = None
    due: DueRule | None = None
    done_variable: str | None = None
    done_activity: str | None = None
    when: tuple[str, Any] | None = None
    statutory: bool = False
    checkpoint: bool = False
    unless: tuple[str, tuple[Any, ...]] | None = None     # not for a case whose variable has one of these values

    def applies(self, variables: Mapping[str, Any]) -> bool:
        if self.unless is not None and variables.get(self.unless[0]) in self.unless[1]:
            return False
        return self.when is None or variables.get(self.when[0]) == self.when[1]


@dataclass(frozen=True)
class ReportRule:
    id: str
    label: str
    milestone: str | None = None
    reasons: tuple[str, ...] = ()
    reason_text: str | None = None
    items: str | None = None
    item_due: str | None = None
    item_label: str | None = None
    closed_by: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Milestones:
    milestones: tuple[MilestoneRule, ...]
    reports: tuple[ReportRule, ...] = ()
    paths: Mapping[str, str] = field(default_factory=dict)
    amber_within_working_days: int = 5
    report_year_starts: int = 1               # month

    def milestone_variables(self, *, statutory_only: bool = False) -> list[str]:
        """The variables the milestones read (dates and words; not the report's lists)."""
        names: list[str] = []
        for m in self.milestones:
            if m.statutory or not statutory_only:
                names += [n for n in (m.due and m.due.variable, m.done_variable, m.when and m.when[0],
                                      m.unless and m.unless[0]) if n]
        return list(dict.fromkeys(names))

    def variables(self) -> list[str]:
        """Every variable the milestones and the report read."""
        names: list[str] = []
        for m in self.milestones:
            names += [n for n in (m.due and m.due.variable, m.done_variable, m.when and m.when[0],
                                  m.unless and m.unless[0]) if n]
        for r in self.reports:
            names += [*r.reasons, *([r.reason_text] if r.reason_text else []), *([r.items] if r.items else [])]
        return list(dict.fromkeys(names))

    def activities(self, *, statutory_only: bool = False) -> list[str]:
        return list(dict.fromkeys(m.done_activity for m in self.milestones
                                  if m.done_activity and (m.statutory or not statutory_only)))

    def get(self, milestone_id: str) -> MilestoneRule:
        for m in self.milestones:
            if m.id == milestone_id:
                return m
        raise KeyError(milestone_id)

    def year_of(self, day: date) -> int:
        """The reporting year a day falls in, named by the calendar year it starts in."""
        return day.year if day.month >= self.report_year_starts else day.year - 1

    def year_bounds(self, year: int) -> tuple[date, date]:
        start = date(year, self.report_year_starts, 1)
        return start, add_months(start, 12) - timedelta(days=1)

    def year_label(self, year: int) -> str:
        return str(year) if self.report_year_starts == 1 else f"{year}/{(year + 1) % 100:02d}"


def load_milestones(path: Path) -> Milestones:
    """Read a milestones file. Raises: Invalid (naming the file and what is wrong)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise Invalid(f"{path}: {exc}") from exc
    try:
        return parse_milestones(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise Invalid(f"{path}: {exc}") from exc


def parse_milestones(data: Mapping[str, Any]) -> Milestones:
    rules = []
    for raw in data.get("milestone", []):
        due = raw.get("due")
        due_rule = None
        if due is not None:
            if "after" in due and "working_days" in due:
                due_rule = DueRule(due["after"], "working_days", int(due["working_days"]))
            elif "before" in due and "working_days" in due:
                due_rule = DueRule(due["before"], "working_days", -int(due["working_days"]))
            elif "after" in due and "months" in due:
                due_rule = DueRule(due["after"], "months", int(due["months"]))
            elif "on" in due:
                due_rule = DueRule(due["on"], "on")
            else:
                raise ValueError(f"milestone {raw.get('id')}: due must be after/before + working_days, "
                                 "after + months, or on")
        done = raw.get("done") or {}
        when = raw.get("when")
        unless = raw.get("unless")
        if unless is not None and not ("equals" in unless or "in" in unless):
            raise ValueError(f"milestone {raw.get('id')}: unless needs equals or in")
        rules.append(MilestoneRule(
            id=str(raw["id"]), label=str(raw["label"]), process=raw.get("process"), basis=raw.get("basis"),
            due=due_rule, done_variable=done.get("variable"), done_activity=done.get("activity"),
            when=(when["variable"], when["equals"]) if when else None, statutory=bool(raw.get("statutory")),
            checkpoint=bool(raw.get("checkpoint")),
            unless=(unless["variable"], tuple(unless["in"]) if "in" in unless else (unless["equals"],))
            if unless else None))
    ids = [r.id for r in rules]
    if len(ids) != len(set(ids)):
        raise ValueError("milestone ids must be unique")
    reports = []
    for raw in data.get("report", []):
        if raw.get("milestone") is not None and raw["milestone"] not in ids:
            raise ValueError(f"report {raw['id']} names an unknown milestone {raw['milestone']}")
        reports.append(ReportRule(id=str(raw["id"]), label=str(raw["label"]), milestone=raw.get("milestone"),
                                  reasons=tuple(raw.get("reasons", ())), reason_text=raw.get("reason_text"),
                                  items=raw.get("items"), item_due=raw.get("item_due"),
                                  item_label=raw.get("item_label"), closed_by=raw.get("closed_by")))
    settings = data.get("settings", {})
    return Milestones(tuple(rules), tuple(reports), dict(data.get("paths", {})),
                      int(settings.get("amber_within_working_days", 5)), int(settings.get("report_year_starts", 1)))


def as_date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    try:
        return to_date(value)
    except (ValueError, TypeError):
        return None


class WorkingDays:
    """England and Wales working days over a span of years, counted in O(1) from an index built
    once (and kept for the day by `working_days`): fast enough for thousands of deadlines a request."""

    def __init__(self, around: date, years: int = 3, calendar: BusinessCalendar | None = None) -> None:
        self.calendar = calendar or BusinessCalendar()          # bank holidays only: the law's clock
        self.first = date(around.year - years, 1, 1).toordinal()
        self.last = date(around.year + years, 12, 31).toordinal()
        self.days: list[int] = []                               # ordinals of the working days
        self.upto: list[int] = []                               # day - first -> working days up to it
        for ordinal in range(self.first, self.last + 1):
            if self.calendar.is_working_day(date.fromordinal(ordinal)):
                self.days.append(ordinal)
            self.upto.append(len(self.days))

    def _count(self, day: date) -> int | None:
        ordinal = day.toordinal()
        return self.upto[ordinal - self.first] if self.first <= ordinal <= self.last else None

    def add(self, start: date, n: int) -> date:
        """The n-th working day after `start` (negative: before; 0: `start` itself)."""
        counted = self._count(start)
        if n == 0:
            return start
        if counted is not None:
            if n > 0:
                i = counted + n - 1
            else:
                before = counted - (1 if counted and self.days[counted - 1] == start.toordinal() else 0)
                i = before + n
            if 0 <= i < len(self.days):
                return date.fromordinal(self.days[i])
        return self.calendar.add_working_days(start, n)

    def between(self, today: date, due: date) -> int:
        """Working days left from today to `due`: 0 when due today, 1 when due the next working
        day; negative once past (-1 the first working day after)."""
        a, b = self._count(today), self._count(due)
        if a is None or b is None:                              # outside the index: count day by day
            low, high = min(today, due), max(today, due)
            n = sum(self.calendar.is_working_day(low + timedelta(days=k)) for k in range(1, (high - low).days + 1))
            return n if due >= today else -n
        return b - a


_by_day: dict[date, WorkingDays] = {}


def working_days(today: date) -> WorkingDays:
    """The working-day index around `today`, built once a day."""
    found = _by_day.get(today)
    if found is None:
        found = WorkingDays(today)
        _by_day.clear()
        _by_day[today] = found
    return found


@dataclass(frozen=True)
class MilestoneStatus:
    rule: MilestoneRule
    status: str                        # done | late | due | overdue | pending | reached | ahead
    due_on: date | None
    done_on: date | None
    working_days_left: int | None      # not done, due date known

    @property
    def done(self) -> bool:
        return self.status in ("done", "late")

    @property
    def open_deadline(self) -> bool:
        return self.rule.statutory and self.status in ("due", "overdue")


def day_of(moment: datetime) -> date:
    return moment.astimezone(UK).date()


def evaluate_milestones(milestones: Milestones, *, variables: Mapping[str, Any], completed: Mapping[str, datetime],
                        today: date, days: WorkingDays, statutory_only: bool = False) -> list[MilestoneStatus]:
    """Each milestone that applies to a case with these variables and completed activities (only
    the statutory ones, when that is all the caller needs)."""
    out = []
    for rule in milestones.milestones:
        if (statutory_only and not rule.statutory) or not rule.applies(variables):
            continue
        due_on = rule.due.due_on(variables, days) if rule.due else None
        done_on, done = None, False
        if rule.done_variable and variables.get(rule.done_variable) not in (None, ""):
            done, done_on = True, as_date(variables[rule.done_variable])
        if rule.done_activity and rule.done_activity in completed:
            done, done_on = True, done_on or day_of(completed[rule.done_activity])
        left = days.between(today, due_on) if due_on is not None and not done else None
        if rule.checkpoint:
            status = "pending" if due_on is None else "reached" if due_on <= today else "ahead"
            left = None
        elif done:
            status = "late" if due_on is not None and done_on is not None and done_on > due_on else "done"
        elif due_on is None:
            status = "pending"
        else:
            status = "overdue" if due_on < today else "due"
        out.append(MilestoneStatus(rule, status, due_on, done_on, left))
    return out


def next_deadline(statuses: Iterable[MilestoneStatus]) -> MilestoneStatus | None:
    """The earliest statutory deadline not yet met."""
    dated = [(s.due_on, i, s) for i, s in enumerate(statuses) if s.open_deadline and s.due_on is not None]
    return min(dated)[2] if dated else None


def rag(status: MilestoneStatus | None, milestones: Milestones) -> str | None:
    """red: overdue; amber: due within the amber window; green: further off; None: no deadline."""
    if status is None or status.working_days_left is None:
        return None
    if status.status == "overdue":
        return "red"
    return "amber" if status.working_days_left <= milestones.amber_within_working_days else "green"
