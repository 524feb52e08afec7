"""Read each agency's chronology as it comes in, then merge them all into one integrated multi-agency
chronology for the reviewer and the panel.

Agencies send their chronology the way the National Panel's templates are written: an Excel workbook
(.xlsx), a table in a Word document (.docx), or a CSV file. The header row (found in the first 20
rows of the first sheet or table that has one) is mapped onto one model of seven columns, whatever
the agency calls them — see COLUMNS:

    date · time · agency · source · event · significance · analysis

`date` and `event` are required; the others may be absent. Dates may be real Excel dates, or text:
YYYY-MM-DD, DD/MM/YYYY, "3 March 2024", optionally with a time (HH:MM). Blank rows are skipped;
other columns are ignored. Every text column is kept whole.

The service task's `step` property says which step this is:

* `check` — one agency's chronology, when it is submitted (`agency`, `imr`, and
  `corrected_chronology_document_id` after a resubmission). A file that cannot be read, lacks the
  required columns or has a date it cannot understand is sent back to the agency with BPMN error
  CHRONOLOGY_UNREADABLE and `chronology_problem`: a message naming the sheet or table, the row and
  the column of each problem (never the cell's content). Returns `imr` (with the chronology that
  was read), `chronology_entries` and `chronology_problem` (null).
* `merge` (the default) — every agency's chronology (`imrs`), sorted by date and time (events
  without a time first on their day), then agency in the case's order, then each file's order.
  Stored as an Excel workbook (the merged sheet, then one sheet per agency: frozen header, filters,
  real dates), as CSV and as HTML. If an agency's chronology cannot be read here (a case started on
  an older diagram that had no check), the others are still merged and stored — nothing already
  merged is lost — and an incident names the agency, the row and the column.

Expects: case_reference, imrs (merge); agency, imr (check).
Returns: integrated_chronology_id (the workbook), integrated_chronology_csv_id,
integrated_chronology_html_id (merge); imr, chronology_entries, chronology_problem (check).
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from workers.runtime import BpmnError, Complete, ExternalTask, Incident
from workers.services import (
    XLSX,
    DocumentUnreadable,
    Grid,
    Services,
    defuse,
    digest,
    html_page,
    iter_nonblank,
    read_grids,
    services_for,
    workbook,
)

TOPIC = "chronology-merge"
LOCK = timedelta(minutes=5)

CHRONOLOGY_UNREADABLE = "CHRONOLOGY_UNREADABLE"
STEPS = ("check", "merge")
FIELDS = ("date", "time", "agency", "source", "event", "significance", "analysis")
REQUIRED = ("date", "event")
COLUMNS: dict[str, tuple[str, ...]] = {
    "date": ("date", "date of event", "event date", "date of contact", "date of incident", "date/time",
             "date and time", "datetime", "when"),
    "time": ("time", "time of event", "time of contact"),
    "agency": ("agency", "organisation", "organization", "service", "agency/service", "agency or service",
               "team", "agency/team"),
    "source": ("source", "source record", "source of information", "information source", "record", "reference",
               "record reference", "source document", "where recorded"),
    "event": ("event", "event or contact", "event/contact", "contact/event", "description", "description of event",
              "description of contact/event", "details", "details of event", "event details", "what happened",
              "summary", "contact"),
    "significance": ("significance", "significance of event", "significance of the event", "why significant",
                     "why is this significant", "why is this significant?", "relevance", "significance/relevance",
                     "impact on the child", "impact on child"),
    "analysis": ("analysis", "agency analysis", "analysis of practice", "analysis/comment", "analysis/comments",
                 "comment", "comments", "comments/analysis", "reflection", "practice analysis"),
}
TITLES = {"date": "Date", "time": "Time", "agency": "Agency", "source": "Source", "event": "Event",
          "significance": "Significance", "analysis": "Analysis"}
_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%d %B %Y", "%d %b %Y", "%d/%m/%y", "%d %B %y",
                 "%A %d %B %Y", "%a %d %b %Y")
_TIME_FORMATS = ("%H:%M", "%H:%M:%S", "%H.%M", "%H%M")
_HEADER_ROWS = 20
_SHOWN_PROBLEMS = 10


@dataclass(frozen=True)
class Input:
    case_reference: str | None = None
    imrs: dict[str, Any] = field(default_factory=dict)
    agency: str | None = None
    imr: dict[str, Any] | None = None
    corrected_chronology_document_id: str | None = None


@dataclass(frozen=True)
class Entry:
    day: date
    at: time | None
    agency: str                   # the agency column, else the agency that sent the chronology
    source: str
    event: str
    significance: str
    analysis: str
    sent_by: str                  # the agency whose chronology it is
    order: tuple[int, int]        # (agency position, row): keeps each file's order among equals

    def sort_key(self) -> tuple[date, bool, time, tuple[int, int]]:
        return self.day, self.at is not None, self.at or time(0), self.order


class Unreadable(Exception):
    """An agency's chronology cannot be read; `problems` name where (never what the cells say)."""

    def __init__(self, agency: str, problems: list[str]) -> None:
        shown = problems[:_SHOWN_PROBLEMS]
        more = f"; and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        super().__init__(f"the chronology of {agency}: {'; '.join(shown)}{more}")
        self.problems = problems


def handle(task: ExternalTask[Input], services: Services | None) -> Complete:
    s = services_for(services)
    step = task.extension_properties.get("step", "merge")
    if step not in STEPS:
        raise Incident(f"service task {task.activity_id}: property step must be one of {', '.join(STEPS)}, "
                       f"not {step!r}")
    return check(task, s) if step == "check" else merge(task, s)


def check(task: ExternalTask[Input], s: Services) -> Complete:
    """One agency's chronology, when it comes in: readable and complete, or back to the agency."""
    agency, imr = task.input.agency, task.input.imr
    if not agency or not isinstance(imr, dict):
        raise Incident(f"service task {task.activity_id} needs agency and imr (the agency's return)")
    document_id = task.input.corrected_chronology_document_id or chronology_document_id(imr)
    if not document_id:
        raise BpmnError(CHRONOLOGY_UNREADABLE, f"the IMR of {agency} names no chronology",
                        chronology_problem=f"the return of {agency} names no chronology: upload it and give its "
                                           "reference")
    try:
        entries = read_chronology(s, task.id, agency, document_id)
    except Unreadable as problem:
        task.logger.info("chronology sent back to the agency", extra={"document_id": document_id,
                                                                       "problems": len(problem.problems)})
        raise BpmnError(CHRONOLOGY_UNREADABLE, str(problem), chronology_problem=str(problem)) from None
    task.logger.info("chronology read: %d entries", len(entries), extra={"document_id": document_id})
    nested = isinstance(imr.get("imr"), dict)
    inner = dict(imr["imr"] if nested else imr, chronology_document_id=document_id)
    return Complete(imr={**imr, "imr": inner} if nested else inner, chronology_entries=len(entries),
                    chronology_problem=None)


def merge(task: ExternalTask[Input], s: Services) -> Complete:
    """Every agency's chronology into one; what can be read is merged and kept even when one cannot."""
    entries: list[Entry] = []
    problems: list[str] = []
    agencies: list[str] = []
    for position, (agency, imr) in enumerate(task.input.imrs.items()):
        document_id = chronology_document_id(imr)
        try:
            if not document_id:
                raise Unreadable(agency, ["the IMR names no chronology (chronology_document_id)"])
            entries += read_chronology(s, task.id, agency, document_id, position)
            agencies.append(agency)
        except Unreadable as problem:
            problems.append(str(problem))
        task.extend_lock()
    entries.sort(key=Entry.sort_key)
    case = task.input.case_reference or task.business_key or ""
    stem = f"integrated-chronology-{digest(task.activity_instance_id)}" + ("-partial" if problems else "")
    title = f"Integrated chronology: case {case}"
    book_id = s.documents.add(task.id, filename=f"{stem}.xlsx", content=to_workbook(entries, agencies, title),
                              content_type=XLSX, kind="integrated_chronology")
    csv_id = s.documents.add(task.id, filename=f"{stem}.csv", content=to_csv(entries).encode("utf-8"),
                             content_type="text/csv", kind="integrated_chronology_csv")
    html_id = s.documents.add(task.id, filename=f"{stem}.html", kind="integrated_chronology_html",
                              content=to_html(entries, case, s.directory.name, problems).encode("utf-8"),
                              content_type="text/html")
    if problems:
        raise Incident(f"{'; '.join(problems)}. The {len(entries)} entries of the other agencies are merged and kept "
                       f"(document {book_id}); ask for a corrected chronology, record it in the agency's imr, and "
                       "retry this task")
    task.logger.info("chronologies merged: %d entries from %d agencies", len(entries), len(task.input.imrs),
                     extra={"document_id": book_id})
    return Complete(integrated_chronology_id=book_id, integrated_chronology_csv_id=csv_id,
                    integrated_chronology_html_id=html_id)


def chronology_document_id(imr: Any) -> str | None:
    """The chronology's document id from an IMR return (`{"chronology_document_id": …}`, or the form's
    `{"imr": {…}}`)."""
    if isinstance(imr, dict) and isinstance(imr.get("imr"), dict):
        imr = imr["imr"]
    value = imr.get("chronology_document_id") if isinstance(imr, dict) else None
    return str(value) if value else None


def read_chronology(s: Services, task_id: str, agency: str, document_id: str, position: int = 0) -> list[Entry]:
    """The entries of one agency's chronology (document `document_id`).

    Raises: Unreadable naming every problem's place; DocumentUnreadable (an Incident) when the case has
    no such document.
    """
    content, content_type = s.documents.read(task_id, document_id)
    try:
        grids = read_grids(content, content_type, what="the file")
    except DocumentUnreadable as exc:                  # the file's type or shape: the agency can fix it
        raise Unreadable(agency, [str(exc)]) from None
    return parse_chronology(agency, grids, position)


def _header_name(text: Any) -> str:
    name = re.sub(r"\(.*?\)", " ", str(text or ""))          # "Date (dd/mm/yyyy)"
    name = name.replace("&", " and ").replace(" / ", "/").strip().rstrip(":*").strip()
    return " ".join(name.split()).casefold()


def _header(grid: Grid) -> tuple[int, dict[str, int]] | None:
    """(the header row's position in grid.rows, {field: column index}) when one of the first rows
    names the required columns."""
    for position, (_, values) in enumerate(grid.rows[:_HEADER_ROWS]):
        names = [_header_name(v) for v in values]
        where: dict[str, int] = {}
        for name_field, aliases in COLUMNS.items():
            index = next((names.index(a) for a in aliases if a in names), None)
            if index is not None and index not in where.values():
                where[name_field] = index
        if all(f in where for f in REQUIRED):
            return position, where
    return None


def parse_chronology(agency: str, grids: list[Grid], position: int = 0) -> list[Entry]:
    """The entries of the first sheet or table with a recognisable header (and of the tables after it
    with the same header: a Word table continued after a page break).

    Raises: Unreadable naming the place of every problem.
    """
    found = [(g, h) for g in grids if (h := _header(g)) is not None]
    if not found:
        what = "sheet or table" if len(grids) != 1 or grids[0].label else "file"
        raise Unreadable(agency, [f"no {what} has a header row with a date column and an event column (the "
                                  f"column names accepted are listed in the chronology guidance: "
                                  f"{', '.join(repr(a) for a in COLUMNS['date'][:3])}, … and "
                                  f"{', '.join(repr(a) for a in COLUMNS['event'][:3])}, …)"])
    first, (_, columns) = found[0]
    tables = [first] + [g for g, (_, c) in found[1:] if c == columns and g.label.startswith("table")]
    entries: list[Entry] = []
    problems: list[str] = []
    for grid in tables:
        header_at, where = _header(grid) or (0, {})
        width = len(grid.rows[header_at][1])
        for row, values in iter_nonblank(Grid(grid.label, grid.rows[header_at + 1:], grid.letters)):
            def cell(name: str, values: tuple[Any, ...] = values, where: dict[str, int] = where) -> Any:
                index = where.get(name)
                return values[index] if index is not None and index < len(values) else None

            if len(values) > width and any(v is not None and str(v).strip() for v in values[width:]):
                problems.append(f"{grid.where(row)}: {len(values)} fields but the header has {width} (a comma "
                                "inside an unquoted field?)")
                continue
            when = parse_when(cell("date"), cell("time"))
            if when is None:
                problems.append(f"{grid.where(row, where['date'])} (the date): not understood — use a date, "
                                "or YYYY-MM-DD or DD/MM/YYYY, optionally with HH:MM")
                continue
            event = _text(cell("event"))
            if not event:
                problems.append(f"{grid.where(row, where['event'])} (the event): empty")
                continue
            entries.append(Entry(day=when[0], at=when[1], agency=_text(cell("agency")) or agency,
                                 source=_text(cell("source")), event=event, significance=_text(cell("significance")),
                                 analysis=_text(cell("analysis")), sent_by=agency, order=(position, len(entries))))
    if problems:
        raise Unreadable(agency, problems)
    return entries


def _text(value: Any) -> str:
    """A cell as text: paragraphs kept, spaces in each tidied."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    lines = [" ".join(line.split()) for line in str(value).splitlines()]
    return "\n".join(line for line in lines if line)


def parse_when(day: Any, at: Any = None) -> tuple[date, time | None] | None:
    """(date, time or None) from a date cell (a date, a date and time, or text) and an optional time cell."""
    clock = _time(at)
    if at not in (None, "") and clock is None:
        return None
    if isinstance(day, datetime):
        own = day.time() if day.time() != time(0) else None
        return day.date(), clock or own
    if isinstance(day, date):
        return day, clock
    if isinstance(day, int | float) and not isinstance(day, bool) and 20_000 < day < 80_000:  # an unformatted date
        from openpyxl.utils.datetime import from_excel
        moment = from_excel(day)
        return (moment.date(), clock) if isinstance(moment, datetime) else None
    text = " ".join(re.sub(r"(?<=\d)T(?=\d)", " ", str(day or "")).split())
    match = re.fullmatch(r"(.+?)\s+(\d{1,2}[:.]\d{2}(?::\d{2})?)", text)
    if match and clock is None:
        text, clock = match.group(1), _time(match.group(2))
    parsed = next((d for d in (_try(text, f) for f in _DATE_FORMATS) if d is not None), None)
    return (parsed.date(), clock) if parsed is not None else None


def _time(value: Any) -> time | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.time().replace(microsecond=0)
    if isinstance(value, time):
        return value.replace(microsecond=0)
    if isinstance(value, float) and 0 <= value < 1:         # a time cell not formatted as a time
        minutes = round(value * 24 * 60)
        return time(minutes // 60, minutes % 60)
    parsed = next((t for t in (_try(str(value).strip(), f) for f in _TIME_FORMATS) if t is not None), None)
    return parsed.time() if parsed is not None else None


def _try(text: str, fmt: str) -> datetime | None:
    try:
        return datetime.strptime(text, fmt)
    except ValueError:
        return None


# -- out -----------------------------------------------------------------------------------------


def _values(e: Entry) -> list[Any]:
    return [e.day, e.at, e.agency, e.source, e.event, e.significance, e.analysis]


def to_workbook(entries: list[Entry], agencies: list[str], title: str) -> bytes:
    """The merged sheet first, then one sheet per agency (in the case's order)."""
    header = [TITLES[f] for f in FIELDS]
    sheets = [("Integrated chronology", header, [_values(e) for e in entries])]
    sheets += [(agency, header, [_values(e) for e in entries if e.sent_by == agency]) for agency in agencies]
    return workbook(sheets, title=title, widths=(12, 8, 22, 22, 60, 40, 40))


def to_csv(entries: list[Entry]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(FIELDS)
    for e in entries:
        writer.writerow([e.day.isoformat(), e.at.strftime("%H:%M") if e.at else "",
                         *(defuse(v) for v in (e.agency, e.source, e.event, e.significance, e.analysis))])
    return out.getvalue()


def to_html(entries: list[Entry], case_reference: str, partnership: str, problems: Sequence[str] = ()) -> str:
    def cell(text: str) -> str:
        return "<br>".join(html.escape(line) for line in text.splitlines())

    rows = "\n".join(
        f"<tr><td>{e.day.isoformat()}</td><td>{e.at.strftime('%H:%M') if e.at else ''}</td><td>{cell(e.agency)}</td>"
        f"<td>{cell(e.source)}</td><td>{cell(e.event)}</td><td>{cell(e.significance)}</td><td>{cell(e.analysis)}</td>"
        "</tr>" for e in entries)
    missing = "".join(f"<p><strong>Not yet merged:</strong> {html.escape(p)}</p>\n" for p in problems)
    body = (f"<h1>Integrated multi-agency chronology: case {html.escape(case_reference)}</h1>\n"
            f"<p>{len(entries)} entries, sorted by date. Confidential: for the review only.</p>\n{missing}"
            "<table>\n<thead><tr>" + "".join(f"<th>{TITLES[f]}</th>" for f in FIELDS) + "</tr></thead>\n"
            f"<tbody>\n{rows}\n</tbody>\n</table>")
    return html_page(title=f"Integrated chronology: case {case_reference}", body=body, partnership=partnership)

