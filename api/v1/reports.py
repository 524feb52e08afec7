"""Reports for the partnership's yearly report and the National Panel: timeliness against the
statutory milestones, as JSON or CSV, over the cases the caller may see."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

import engine
from api.deps import ActorDep, DbDep, call
from api.milestones import milestones
from api.security import Need
from api.security import Permission as P

router = APIRouter(prefix="/reports", tags=["reports"])

YearQuery = Annotated[int | None, Query(ge=2000, le=2100, description=(
    "the reporting year, named by the calendar year it starts in (the milestones file says which month "
    "it starts: April for a year 2026/27); default: the current one"))]


class TimelinessItemOut(BaseModel):
    instance_id: str
    business_key: str | None
    label: str | None = Field(description="for list items (actions): which one")
    due_on: date
    done_on: date | None
    outcome: Literal["on_time", "late", "overdue", "not_yet_due"]
    reasons: list[str]
    reason_text: str | None


class TimelinessSectionOut(BaseModel):
    id: str = Field(examples=["rapid_reviews"])
    label: str = Field(examples=["Rapid Reviews sent within 15 working days"])
    basis: str | None
    on_time: int
    late: int
    overdue: int = Field(description="not done, and past due")
    not_yet_due: int
    percent_on_time: float | None = Field(description="on time / (on time + late + overdue); null when none")
    reasons: dict[str, int] = Field(description="reasons recorded for the late and the overdue, counted")
    items: list[TimelinessItemOut]


class TimelinessReportOut(BaseModel):
    year: int
    label: str = Field(examples=["2026/27"])
    starts_on: date
    ends_on: date
    generated_at: datetime
    sections: list[TimelinessSectionOut]

    @classmethod
    def of(cls, r: engine.TimelinessReport) -> TimelinessReportOut:
        return cls(year=r.year, label=r.label, starts_on=r.starts_on, ends_on=r.ends_on, generated_at=r.generated_at,
                   sections=[TimelinessSectionOut(
                       id=s.id, label=s.label, basis=s.basis, **s.counts,
                       percent_on_time=round(100 * s.counts["on_time"] / s.decided, 1) if s.decided else None,
                       reasons=s.reasons,
                       items=[TimelinessItemOut(**vars(i)) for i in s.items]) for s in r.sections])


def this_year(m: engine.Milestones) -> int:
    return m.year_of(engine.clock.now().date())


async def timeliness(request: Request, db: engine.Database, actor: engine.Actor, year: int | None
                     ) -> engine.TimelinessReport:
    m = milestones(request)
    return await call(db, engine.timeliness_report, milestones=m, year=year or this_year(m), viewer=actor)


@router.get("/timeliness", response_model=TimelinessReportOut, dependencies=[Need(P.READ_INSTANCE)])
async def timeliness_report(request: Request, db: DbDep, actor: ActorDep,
                            year: YearQuery = None) -> TimelinessReportOut:
    """Per section of the milestones file (Rapid Reviews within 15 working days, LCSPRs within 6
    months, actions closed on time): how many were met on time, late, or are overdue in the year,
    with the reasons recorded for delay — over the cases you may see, computed from their history."""
    return TimelinessReportOut.of(await timeliness(request, db, actor, year))


def csv_of(report: engine.TimelinessReport, rows: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if rows == "summary":
        writer.writerow(["year", "section", "on_time", "late", "overdue", "not_yet_due", "percent_on_time",
                         "reasons"])
        for s in report.sections:
            percent = f"{100 * s.counts['on_time'] / s.decided:.1f}" if s.decided else ""
            writer.writerow([report.label, s.label, s.counts["on_time"], s.counts["late"], s.counts["overdue"],
                             s.counts["not_yet_due"], percent,
                             "; ".join(f"{k}: {v}" for k, v in s.reasons.items())])
    else:
        writer.writerow(["year", "section", "case", "item", "due_on", "done_on", "outcome", "reasons",
                         "reason_text"])
        for s in report.sections:
            for i in s.items:
                writer.writerow([report.label, s.label, _cell(i.business_key or i.instance_id), _cell(i.label),
                                 i.due_on.isoformat(), i.done_on.isoformat() if i.done_on else "", i.outcome,
                                 _cell("; ".join(i.reasons)), _cell(i.reason_text)])
    return out.getvalue()


def _cell(value: str | None) -> str:
    """Text a spreadsheet must not run as a formula."""
    text = value or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@router.get("/timeliness.csv", dependencies=[Need(P.READ_INSTANCE)],
            responses={200: {"content": {"text/csv": {}}}})
async def timeliness_csv(request: Request, db: DbDep, actor: ActorDep, year: YearQuery = None,
                         rows: Annotated[Literal["summary", "items"], Query(
                             description="summary: one row per section; items: one row per case or action")]
                         = "summary") -> Response:
    """The timeliness report as CSV (UTF-8), for a spreadsheet."""
    report = await timeliness(request, db, actor, year)
    name = f"timeliness-{report.label.replace('/', '-')}-{rows}.csv"
    return Response(csv_of(report, rows), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
