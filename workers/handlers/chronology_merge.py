"""Merge the agencies' chronologies into one integrated multi-agency chronology for the reviewer.

Each agency uploads its chronology as a CSV file (UTF-8, comma-separated, a header row):

    date,event,source
    2024-03-01,Home visit by the health visitor,HV record 1234
    04/03/2024 14:30,Referral to children's social care,Referral form

* `date` (required): YYYY-MM-DD or DD/MM/YYYY, optionally with a time (HH:MM); "3 March 2024" too.
* `event` (required): what happened — the contact, the action or decision.
* `source` (optional): the record it comes from.
* `time` (optional): HH:MM, when the date has none.

Header names are read in any case and with spaces trimmed ("Date", "EVENT "); other columns are
ignored; blank rows are skipped. A file that cannot be read — a missing column, a date not
understood, an empty event, a row longer than the header — is an incident naming the agency and the
line, so the business unit can ask for a corrected file.

The merge is sorted by date and time (events without a time first on their day), then by agency in
the order of the case's agencies, then in each file's order; every line names its agency. It is
added to the case as CSV (`integrated_chronology_csv`) and HTML (`integrated_chronology_html`).

Expects: case_reference, imrs (by agency, each with chronology_document_id).
Returns: integrated_chronology_id (the CSV), integrated_chronology_html_id.
"""

from __future__ import annotations

import csv
import html
import io
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from workers.runtime import Complete, ExternalTask, Incident
from workers.services import Services, digest, html_page, services_for

TOPIC = "chronology-merge"
LOCK = timedelta(minutes=5)

COLUMNS = {
    "date": ("date", "date/time", "date and time", "datetime", "when"),
    "event": ("event", "event or contact", "description", "what happened", "details"),
    "source": ("source", "source record", "record", "reference"),
    "time": ("time",),
}
_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%d %B %Y", "%d %b %Y", "%d/%m/%y")
_TIME_FORMATS = ("%H:%M", "%H:%M:%S", "%H.%M")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Input:
    case_reference: str
    imrs: dict[str, Any]


@dataclass(frozen=True)
class Entry:
    day: date
    at: time | None
    agency: str
    event: str
    source: str
    order: tuple[int, int]        # (agency position, line): keeps each file's order among equals

    def sort_key(self) -> tuple[date, bool, time, tuple[int, int]]:
        return self.day, self.at is not None, self.at or time(0), self.order


def handle(task: ExternalTask[Input], services: Services | None) -> Complete:
    s = services_for(services)
    entries: list[Entry] = []
    for position, (agency, imr) in enumerate(task.input.imrs.items()):
        document_id = chronology_document_id(imr)
        if not document_id:
            raise Incident(f"the IMR of {agency} has no chronology_document_id")
        content, content_type = s.documents.read(task.id, document_id)
        if content_type not in ("text/csv", "text/plain", "application/csv", ""):
            raise Incident(f"the chronology of {agency} (document {document_id}) is {content_type}, not CSV; "
                           "ask the agency to upload it as a CSV file with columns date, event, source")
        entries += parse_chronology(agency, content, position)
        task.extend_lock()
    entries.sort(key=Entry.sort_key)
    case = task.input.case_reference
    stem = f"integrated-chronology-{digest(task.activity_instance_id)}"
    csv_id = s.documents.add(task.id, filename=f"{stem}.csv", content=to_csv(entries).encode("utf-8"),
                             content_type="text/csv", kind="integrated_chronology_csv")
    html_id = s.documents.add(task.id, filename=f"{stem}.html", content=to_html(entries, case, s.directory.name)
                              .encode("utf-8"), content_type="text/html", kind="integrated_chronology_html")
    task.logger.info("chronologies merged: %d entries from %d agencies", len(entries), len(task.input.imrs),
                     extra={"document_id": csv_id})
    return Complete(integrated_chronology_id=csv_id, integrated_chronology_html_id=html_id)


def chronology_document_id(imr: Any) -> str | None:
    """The chronology's document id from an IMR return (`{"chronology_document_id": …}`, or the form's
    `{"imr": {…}}`)."""
    if isinstance(imr, dict) and isinstance(imr.get("imr"), dict):
        imr = imr["imr"]
    value = imr.get("chronology_document_id") if isinstance(imr, dict) else None
    return str(value) if value else None


def parse_chronology(agency: str, content: bytes, position: int = 0) -> list[Entry]:
    """The entries of one agency's chronology CSV.

    Raises: Incident naming the agency and the line of the first problem (never the line's content).
    """
    def bad(line: int, problem: str) -> Incident:
        return Incident(f"the chronology of {agency}, line {line}: {problem}; ask the agency for a corrected CSV "
                        "(columns date, event, source)")

    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise bad(1, "not UTF-8 text (save it as 'CSV UTF-8')") from None
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ("\t" if first.count("\t") > first.count(",") else ",")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise bad(1, "the file is empty")
        names = [" ".join(h.split()).casefold() for h in header]
        where = {column: next((names.index(a) for a in aliases if a in names), None)
                 for column, aliases in COLUMNS.items()}
        if missing := [c for c in ("date", "event") if where[c] is None]:
            raise bad(1, f"no {' or '.join(missing)} column in the header")
        entries = []
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > len(header) and any(cell.strip() for cell in row[len(header):]):
                raise bad(line, f"{len(row)} fields but the header has {len(header)} (a comma inside an unquoted "
                                "field?)")

            def cell(column: str, row: list[str] = row) -> str:
                index = where[column]
                return row[index].strip() if index is not None and index < len(row) else ""

            parsed = parse_when(cell("date"), cell("time"))
            if parsed is None:
                raise bad(line, "the date is not understood (use YYYY-MM-DD or DD/MM/YYYY, optionally with HH:MM)")
            if not cell("event"):
                raise bad(line, "the event is empty")
            entries.append(Entry(day=parsed[0], at=parsed[1], agency=agency, event=" ".join(cell("event").split()),
                                 source=" ".join(cell("source").split()), order=(position, line)))
    except csv.Error:
        raise bad(reader.line_num or 1, "not valid CSV (an unclosed quote?)") from None
    return entries


def parse_when(day_text: str, time_text: str = "") -> tuple[date, time | None] | None:
    """(date, time or None) from a date cell (perhaps with a time) and an optional time cell."""
    text = " ".join(re.sub(r"(?<=\d)T(?=\d)", " ", day_text).split())
    match = re.fullmatch(r"(.+?)\s+(\d{1,2}[:.]\d{2}(?::\d{2})?)", text)
    if match and not time_text:
        text, time_text = match.group(1), match.group(2)
    day = next((d for d in (_try(text, f) for f in _DATE_FORMATS) if d is not None), None)
    if day is None:
        return None
    if not time_text:
        return day.date(), None
    at = next((t for t in (_try(time_text.strip(), f) for f in _TIME_FORMATS) if t is not None), None)
    return (day.date(), at.time()) if at is not None else None


def _try(text: str, fmt: str) -> datetime | None:
    try:
        return datetime.strptime(text, fmt)
    except ValueError:
        return None


def _safe(cell: str) -> str:
    """A cell a spreadsheet will not run as a formula."""
    return f"'{cell}" if cell.startswith(_FORMULA) else cell


def to_csv(entries: list[Entry]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["date", "time", "agency", "event", "source"])
    for e in entries:
        writer.writerow([e.day.isoformat(), e.at.strftime("%H:%M") if e.at else "", _safe(e.agency), _safe(e.event),
                         _safe(e.source)])
    return out.getvalue()


def to_html(entries: list[Entry], case_reference: str, partnership: str) -> str:
    rows = "\n".join(
        f"<tr><td>{e.day.isoformat()}</td><td>{e.at.strftime('%H:%M') if e.at else ''}</td>"
        f"<td>{html.escape(e.agency)}</td><td>{html.escape(e.event)}</td><td>{html.escape(e.source)}</td></tr>"
        for e in entries)
    body = (f"<h1>Integrated multi-agency chronology: case {html.escape(case_reference)}</h1>\n"
            f"<p>{len(entries)} entries, sorted by date. Confidential: for the review only.</p>\n"
            "<table>\n<thead><tr><th>Date</th><th>Time</th><th>Agency</th><th>Event</th><th>Source</th></tr></thead>\n"
            f"<tbody>\n{rows}\n</tbody>\n</table>")
    return html_page(title=f"Integrated chronology: case {case_reference}", body=body, partnership=partnership)
