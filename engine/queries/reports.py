"""The timeliness report: per reporting year, how many milestones were met on time, late, or are
overdue, with the reasons recorded for delay — computed from the cases' history and variables,
for the cases the viewer may see. The sections are declared in the milestones file."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson
import sqlalchemy as sa

from engine import clock
from engine.queries.casework import COMPLETIONS, completed_task_data
from engine.queries.milestones import Milestones, ReportRule, WorkingDays, as_date, day_of, evaluate_milestones
from engine.queries.visibility import instance_clause
from engine.results import Actor
from engine.store.database import Database
from engine.store.rows import aware
from engine.store.tables import history_event, instance

OUTCOMES = ("on_time", "late", "overdue", "not_yet_due")


@dataclass(frozen=True)
class CaseFacts:
    id: str
    definition_key: str
    business_key: str | None
    status: str
    variables: dict[str, Any]
    completed: dict[str, datetime]


@dataclass(frozen=True)
class TimelinessItem:
    instance_id: str
    business_key: str | None
    label: str | None                  # items: which one (e.g. the action's text)
    due_on: date
    done_on: date | None
    outcome: str                       # on_time | late | overdue | not_yet_due
    reasons: list[str]
    reason_text: str | None


@dataclass(frozen=True)
class TimelinessSection:
    id: str
    label: str
    basis: str | None
    counts: dict[str, int]             # outcome -> number
    reasons: dict[str, int]            # reason -> number of late or overdue items giving it
    items: list[TimelinessItem]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def decided(self) -> int:
        """Items whose outcome is known: met on time, met late, or overdue."""
        return self.counts["on_time"] + self.counts["late"] + self.counts["overdue"]


@dataclass(frozen=True)
class TimelinessReport:
    year: int
    label: str
    starts_on: date
    ends_on: date
    generated_at: datetime
    sections: list[TimelinessSection]


def case_facts(db: Database, *, variables: Sequence[str], activities: Sequence[str],
               viewer: Actor | None = None, include_cancelled: bool = False) -> list[CaseFacts]:
    """Every case the viewer may see (active and completed; cancelled on request), with the named
    variables and when each named activity first completed."""
    names = [n for n in dict.fromkeys(variables) if n]
    where = [] if include_cancelled else [instance.c.status != "cancelled"]
    if viewer is not None:
        where.append(instance_clause(viewer))
    columns: list[Any] = [instance.c.id, instance.c.definition_key, instance.c.business_key, instance.c.status]
    columns += [instance.c.variables[n].label(f"v{i}") for i, n in enumerate(names)]
    ids = sa.select(instance.c.id).where(*where).scalar_subquery()
    with db.read() as conn:
        rows = conn.execute(sa.select(*columns).where(*where)).all()
        completed: dict[str, dict[str, datetime]] = {}
        if activities and rows:
            for r in conn.execute(sa.select(history_event.c.instance_id, history_event.c.activity_id,
                                            sa.func.min(history_event.c.at))
                                  .where(history_event.c.activity_id.in_(sorted(set(activities))),
                                         history_event.c.kind.in_(COMPLETIONS), history_event.c.instance_id.in_(ids))
                                  .group_by(history_event.c.instance_id, history_event.c.activity_id)):
                completed.setdefault(r[0], {})[r[1]] = aware(r[2])
    return [CaseFacts(r.id, r.definition_key, r.business_key, r.status,
                      {n: r[4 + i] for i, n in enumerate(names) if r[4 + i] is not None}, completed.get(r.id, {}))
            for r in rows]


def timeliness_report(db: Database, *, milestones: Milestones, year: int, viewer: Actor | None = None,
                      today: date | None = None) -> TimelinessReport:
    """The report for one reporting year (named by the calendar year it starts in)."""
    today = today or day_of(clock.now())
    starts_on, ends_on = milestones.year_bounds(year)
    days = WorkingDays(starts_on, years=3)
    facts = case_facts(db, variables=milestones.variables(), activities=milestones.activities(), viewer=viewer)
    sections = []
    for rule in milestones.reports:
        if rule.milestone is not None:
            items = _milestone_items(milestones, rule, facts, year, today, days)
        elif rule.items and rule.item_due:
            items = _list_items(db, milestones, rule, facts, year, today)
        else:
            continue
        counts = Counter(i.outcome for i in items)
        reasons = Counter(r for i in items if i.outcome in ("late", "overdue") for r in i.reasons)
        basis = milestones.get(rule.milestone).basis if rule.milestone else None
        sections.append(TimelinessSection(rule.id, rule.label, basis, {o: counts.get(o, 0) for o in OUTCOMES},
                                          dict(sorted(reasons.items())), sorted(items, key=lambda i: i.due_on)))
    return TimelinessReport(year, milestones.year_label(year), starts_on, ends_on, clock.now(), sections)


def _outcome(due_on: date, done_on: date | None, today: date) -> str:
    if done_on is not None:
        return "on_time" if done_on <= due_on else "late"
    return "overdue" if due_on < today else "not_yet_due"


def _reasons(rule: ReportRule, variables: dict[str, Any]) -> tuple[list[str], str | None]:
    reasons: list[str] = []
    for name in rule.reasons:
        value = variables.get(name)
        reasons += [str(v) for v in value] if isinstance(value, list) else ([str(value)] if value else [])
    text = variables.get(rule.reason_text) if rule.reason_text else None
    return reasons, str(text) if text else None


def _milestone_items(milestones: Milestones, rule: ReportRule, facts: list[CaseFacts], year: int, today: date,
                     days: WorkingDays) -> list[TimelinessItem]:
    items = []
    for case in facts:
        for status in evaluate_milestones(milestones, variables=case.variables, completed=case.completed, today=today,
                               days=days):
            if status.rule.id != rule.milestone or status.due_on is None:
                continue
            when = status.done_on if status.done else status.due_on
            if when is None or milestones.year_of(when) != year:
                continue
            outcome = _outcome(status.due_on, status.done_on if status.done else None, today)
            reasons, text = _reasons(rule, case.variables) if outcome in ("late", "overdue") else ([], None)
            items.append(TimelinessItem(case.id, case.business_key, None, status.due_on,
                                        status.done_on if status.done else None, outcome, reasons, text))
    return items


def _list_items(db: Database, milestones: Milestones, rule: ReportRule, facts: list[CaseFacts], year: int,
                today: date) -> list[TimelinessItem]:
    """Items of a list variable (e.g. actions), each with its own due date, closed when a task of
    `closed_by.activity` completed with the item and a true flag."""
    due: list[tuple[CaseFacts, dict[str, Any], date]] = []
    for case in facts:
        entries = case.variables.get(rule.items or "")
        for entry in entries if isinstance(entries, list) else []:
            day = as_date(entry.get(rule.item_due)) if isinstance(entry, dict) else None
            if day is not None and milestones.year_of(day) == year:
                due.append((case, entry, day))
    closed: dict[tuple[str, str], date] = {}
    by = rule.closed_by or {}
    if due and by.get("activity"):
        records = completed_task_data(db, instance_ids={c.id for c, _, _ in due}, activity_id=by["activity"],
                                      names=[by["item"], by["answer"]])
        for record in records:
            answer = record.data.get(by["answer"])
            if isinstance(answer, dict) and answer.get(by["flag"]) is True:
                key = (record.instance_id, _entry_key(record.data.get(by["item"])))
                closed.setdefault(key, day_of(record.completed_at))
    items = []
    for case, entry, day in due:
        done_on = closed.get((case.id, _entry_key(entry)))
        label = entry.get(rule.item_label) if rule.item_label else None
        items.append(TimelinessItem(case.id, case.business_key, str(label) if label else None, day, done_on,
                                    _outcome(day, done_on, today), [], None))
    return items


def _entry_key(entry: Any) -> str:
    return orjson.dumps(entry, option=orjson.OPT_SORT_KEYS).decode()
