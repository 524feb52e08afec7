"""Chronologies: Excel, Word-table and CSV files read onto one seven-column model, checked when each agency
submits (a problem goes back to the agency naming the row and column), merged by date into a workbook
(merged sheet plus one per agency, frozen header, filters, real dates), CSV and HTML — and what can be
read is kept even when one agency's file cannot."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time
from typing import Any

import docx
import openpyxl
import pytest

from tests.workers.handlers.conftest import task_for
from tests.workers.services.fakes import FakeEngineDocuments
from workers.handlers import chronology_merge
from workers.runtime import BpmnError, Incident
from workers.services import DOCX, XLSX, Services

CSV_POLICE = ("date,time,event,source,significance,analysis\n"
              "2024-03-04,,Domestic abuse call-out,Incident log 77,First DA report,Referral made same day\n"
              "2024-01-10,,Welfare check,PNC,,\n")
COLUMNS = ["date", "time", "agency", "source", "event", "significance", "analysis"]


def health_workbook(*, bad_date_row: bool = False, without_event: bool = False) -> bytes:
    """The way a health agency fills in a chronology template: a title, a blank row, then the header."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Chronology"
    sheet.append(["Northbridge ICB: chronology for the LCSPR"])
    sheet.append([])
    sheet.append(["Date of event", "Time", "Source of information",
                  "Event" if not without_event else "Notes", "Significance", "Agency analysis"])
    sheet.append([datetime(2024, 3, 4), time(14, 30), "HV notes", "Missed health visitor appointment",
                  "Third missed contact", "Not followed up: no escalation route"])
    sheet.append([date(2024, 2, 1), None, "GP record", "Clinic visit, weight checked", None, "Good practice"])
    sheet.append([None, None, None, None, None, None])                      # a blank row
    sheet.append(["31/02/2024" if bad_date_row else "2024-02-20", "09:00", "GP record",
                  "=HYPERLINK(\"x\")", None, None])
    sheet.cell(sheet.max_row, 4).data_type = "s"                            # text that looks like a formula
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def school_word() -> bytes:
    """A Word chronology: a table, continued after a page break in a second table with the same header."""
    document = docx.Document()
    document.add_heading("Northbridge Academy: chronology", 1)
    header = ["Date", "Event / contact", "Source", "Why is this significant?", "Analysis / comments"]
    for rows in ([["04/03/2024 09:15", "Absent from school", "Register", "Pattern of absence", "Called home"]],
                 [["5 March 2024", "Returned; bruise seen", "DSL log", "Possible injury", "Referred to CSC"]]):
        table = document.add_table(rows=1 + len(rows), cols=len(header))
        for c, title in enumerate(header):
            table.cell(0, c).text = title
        for r, row in enumerate(rows, 1):
            for c, value in enumerate(row):
                table.cell(r, c).text = value
        table.cell(1, 4).add_paragraph("Second paragraph of analysis")
        document.add_page_break()
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def store(docs: FakeEngineDocuments, content: bytes | str, name: str, content_type: str) -> str:
    return docs.add(content, filename=name, content_type=content_type, kind="chronology")


def imrs(docs: FakeEngineDocuments, **files: tuple[bytes | str, str]) -> dict[str, object]:
    return {agency: {"imr_document_id": "imr", "author": "Author",
                     "chronology_document_id": store(docs, content, f"{agency}.x", kind)}
            for agency, (content, kind) in files.items()}


def three(docs: FakeEngineDocuments, health: bytes | None = None) -> dict[str, object]:
    return imrs(docs, Police=(CSV_POLICE, "text/csv"), Health=(health or health_workbook(), XLSX),
                Education=(school_word(), DOCX))


def merge(services: Services, values: dict[str, Any], activity: str = "merge_chronologies:1") -> Any:
    return chronology_merge.handle(task_for(chronology_merge, values, activity_instance_id=activity), services)


def check(services: Services, agency: str, imr: dict[str, Any], **more: Any) -> Any:
    task = task_for(chronology_merge, {"agency": agency, "imr": imr, **more}, properties={"step": "check"},
                    activity_instance_id="check_chronology:1")
    return chronology_merge.handle(task, services)


def test_excel_word_and_csv_chronologies_merge_keeping_all_seven_columns(
        services: Services, engine_documents: FakeEngineDocuments) -> None:
    result = merge(services, {"case_reference": "NB-TEST-1", "imrs": three(engine_documents)})
    [book] = engine_documents.of_kind("integrated_chronology")
    [merged] = engine_documents.of_kind("integrated_chronology_csv")
    [page] = engine_documents.of_kind("integrated_chronology_html")
    assert result.variables == {"integrated_chronology_id": book.id, "integrated_chronology_csv_id": merged.id,
                                "integrated_chronology_html_id": page.id}
    rows = list(csv.reader(io.StringIO(merged.content.decode())))
    assert rows == [
        COLUMNS,
        ["2024-01-10", "", "Police", "PNC", "Welfare check", "", ""],
        ["2024-02-01", "", "Health", "GP record", "Clinic visit, weight checked", "", "Good practice"],
        ["2024-02-20", "09:00", "Health", "GP record", "'=HYPERLINK(\"x\")", "", ""],     # defused
        ["2024-03-04", "", "Police", "Incident log 77", "Domestic abuse call-out", "First DA report",
         "Referral made same day"],                                                     # no time: first that day
        ["2024-03-04", "09:15", "Education", "Register", "Absent from school", "Pattern of absence",
         "Called home\nSecond paragraph of analysis"],
        ["2024-03-04", "14:30", "Health", "HV notes", "Missed health visitor appointment", "Third missed contact",
         "Not followed up: no escalation route"],
        ["2024-03-05", "", "Education", "DSL log", "Returned; bruise seen", "Possible injury",
         "Referred to CSC\nSecond paragraph of analysis"],
    ]
    html = page.content.decode()
    assert "<th>Significance</th><th>Analysis</th>" in html and "<td>Third missed contact</td>" in html
    assert html.index("Welfare check") < html.index("Clinic visit") < html.index("Missed health visitor")


def test_the_merged_workbook_has_a_sheet_per_agency_frozen_headers_filters_and_real_dates(
        services: Services, engine_documents: FakeEngineDocuments) -> None:
    merge(services, {"case_reference": "NB-TEST-1", "imrs": three(engine_documents)})
    [stored] = engine_documents.of_kind("integrated_chronology")
    assert stored.content_type == XLSX and stored.filename.endswith(".xlsx")
    book = openpyxl.load_workbook(io.BytesIO(stored.content))
    assert book.sheetnames == ["Integrated chronology", "Police", "Health", "Education"]
    counts = {}
    for sheet in book.worksheets:
        assert [c.value for c in sheet[1]] == ["Date", "Time", "Agency", "Source", "Event", "Significance",
                                               "Analysis"]
        assert all(c.font.bold for c in sheet[1])
        assert sheet.freeze_panes == "A2"
        assert sheet.auto_filter.ref == f"A1:G{sheet.max_row}"
        counts[sheet.title] = sheet.max_row - 1
        for row in sheet.iter_rows(min_row=2):
            assert isinstance(row[0].value, datetime) and row[0].number_format == "dd/mm/yyyy"
            assert row[1].value is None or isinstance(row[1].value, time)
    assert counts == {"Integrated chronology": 7, "Police": 2, "Health": 3, "Education": 2}
    merged = book["Integrated chronology"]
    assert merged["A2"].value == datetime(2024, 1, 10) and merged["C2"].value == "Police"
    formula = next(r for r in merged.iter_rows(min_row=2) if r[3].value == "GP record" and r[1].value)
    assert formula[4].value == '=HYPERLINK("x")' and formula[4].data_type == "s"     # text, never a formula
    assert merged["G6"].value == "Called home\nSecond paragraph of analysis"


def test_a_chronology_is_read_when_it_is_submitted(services: Services, engine_documents: FakeEngineDocuments) -> None:
    imr = {"imr": {"imr_document_id": "i", "chronology_document_id": store(engine_documents, health_workbook(),
                                                                            "h.xlsx", XLSX)}}
    result = check(services, "Health", imr)
    assert result.variables == {"imr": imr, "chronology_entries": 3, "chronology_problem": None}


@pytest.mark.parametrize(("content", "problem"), [
    (health_workbook(bad_date_row=True), "the chronology of Health: sheet 1, row 7, column A (the date): not "
                                         "understood"),
    (health_workbook(without_event=True), "the chronology of Health: no sheet or table has a header row with a date "
                                          "column and an event column"),
    (b"PK\x03\x04 not really a workbook", "the chronology of Health: the file cannot be read as an Excel workbook"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 encrypted", "the file is password-protected or an old .xls workbook"),
])
def test_a_broken_workbook_goes_back_to_the_agency_naming_the_row_and_column(
        services: Services, engine_documents: FakeEngineDocuments, content: bytes, problem: str) -> None:
    imr = {"chronology_document_id": store(engine_documents, content, "h.xlsx", XLSX)}
    with pytest.raises(BpmnError) as raised:
        check(services, "Health", imr)
    assert raised.value.code == "CHRONOLOGY_UNREADABLE"
    assert problem in raised.value.variables["chronology_problem"]
    assert "31/02/2024" not in str(raised.value) and "HYPERLINK" not in str(raised.value)   # never the content


def test_a_resubmitted_chronology_is_read_in_place_of_the_first(services: Services,
                                                              engine_documents: FakeEngineDocuments) -> None:
    broken = store(engine_documents, health_workbook(bad_date_row=True), "h.xlsx", XLSX)
    corrected = store(engine_documents, health_workbook(), "h2.xlsx", XLSX)
    imr = {"imr_document_id": "i", "chronology_document_id": broken}
    with pytest.raises(BpmnError):
        check(services, "Health", imr)
    result = check(services, "Health", imr, corrected_chronology_document_id=corrected)
    assert result.variables["imr"] == {"imr_document_id": "i", "chronology_document_id": corrected}


@pytest.mark.parametrize(("text", "place", "problem"), [
    ("day,what\n2024-01-01,x\n", "no file has a header row", ""),
    ("date,event\n2024-01-01,ok\n31/02/2024,bad day\n", "row 3, column 1 (the date)", "not understood"),
    ("date,event\n2024-01-01,\n", "row 2, column 2 (the event)", "empty"),
    ("date,event\n2024-01-01,a,b,c\n", "row 2", "4 fields but the header has 2"),
    ('date,event\n2024-01-01,"unclosed\n', "row 2", "not valid CSV"),
])
def test_a_broken_csv_is_named_by_row_and_column_too(services: Services, engine_documents: FakeEngineDocuments,
                                                     text: str, place: str, problem: str) -> None:
    with pytest.raises(BpmnError) as raised:
        check(services, "Police", {"chronology_document_id": store(engine_documents, text, "p.csv", "text/csv")})
    assert place in str(raised.value) and problem in str(raised.value)
    assert "bad day" not in str(raised.value)


def test_one_agency_s_broken_workbook_loses_nothing_already_merged(
        services: Services, engine_documents: FakeEngineDocuments) -> None:
    values = {"case_reference": "NB-TEST-1", "imrs": three(engine_documents, health_workbook(bad_date_row=True))}
    with pytest.raises(Incident) as raised:
        merge(services, values)
    assert "the chronology of Health: sheet 1, row 7, column A (the date)" in str(raised.value)
    [book] = engine_documents.of_kind("integrated_chronology")
    assert f"document {book.id}" in str(raised.value) and "4 entries of the other agencies" in str(raised.value)
    kept = openpyxl.load_workbook(io.BytesIO(book.content))
    assert kept.sheetnames == ["Integrated chronology", "Police", "Education"]
    assert [r[2] for r in kept["Integrated chronology"].iter_rows(min_row=2, values_only=True)] == [
        "Police", "Police", "Education", "Education"]
    assert "Not yet merged:</strong> the chronology of Health" in (
        engine_documents.of_kind("integrated_chronology_html")[0].content.decode())


def test_a_chronology_of_another_type_goes_back_to_the_agency(services: Services,
                                                             engine_documents: FakeEngineDocuments) -> None:
    doc = engine_documents.add(b"%PDF-1.7", filename="c.pdf", content_type="application/pdf", kind="chronology")
    with pytest.raises(BpmnError, match=r"application/pdf: upload an Excel workbook \(.xlsx\), a Word document"):
        check(services, "Police", {"chronology_document_id": doc})


def test_a_missing_document_is_an_incident(services: Services) -> None:
    with pytest.raises(Incident, match="document nope is not among this case's documents"):
        merge(services, {"case_reference": "NB-TEST-1", "imrs": {"Police": {"chronology_document_id": "nope"}}})


def test_a_retried_merge_stores_each_document_once(services: Services,
                                                  engine_documents: FakeEngineDocuments) -> None:
    values = {"case_reference": "NB-TEST-1", "imrs": imrs(engine_documents, Police=(CSV_POLICE, "text/csv"))}
    first = merge(services, values)
    again = merge(services, values)
    assert again == first
    assert len(engine_documents.uploads()) == 3


def test_an_unknown_step_is_an_incident(services: Services) -> None:
    task = task_for(chronology_merge, {"imrs": {}}, properties={"step": "shuffle"})
    with pytest.raises(Incident, match="property step must be one of check, merge"):
        chronology_merge.handle(task, services)


def test_dates_and_times_are_read_leniently() -> None:
    parse = chronology_merge.parse_when
    assert parse("2024-03-04") == (date(2024, 3, 4), None)
    assert parse("04/03/2024") == (date(2024, 3, 4), None)
    assert parse("4 March 2024") == (date(2024, 3, 4), None)
    assert parse("2024-03-04T10:30") == (date(2024, 3, 4), time(10, 30))
    assert parse("04/03/2024", "10.30") == (date(2024, 3, 4), time(10, 30))
    assert parse(datetime(2024, 3, 4, 10, 30)) == (date(2024, 3, 4), time(10, 30))
    assert parse(datetime(2024, 3, 4)) == (date(2024, 3, 4), None)
    assert parse(45355) == (date(2024, 3, 4), None)                          # an Excel date serial
    assert parse(date(2024, 3, 4), 0.4375) == (date(2024, 3, 4), time(10, 30))   # an unformatted time cell
    assert parse("March 2024") is None and parse("04/03/2024", "half ten") is None
