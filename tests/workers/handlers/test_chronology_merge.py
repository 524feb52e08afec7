"""Chronology merge: the agencies' CSV chronologies, leniently read, merged by date with the agency on each
line, stored as CSV and HTML; a malformed file is an incident naming the agency and the line."""

from __future__ import annotations

import csv
import io

import pytest

from tests.workers.handlers.conftest import task_for
from tests.workers.services.fakes import FakeEngineDocuments
from workers.handlers import chronology_merge
from workers.runtime import Incident
from workers.services import Services

POLICE = "date,event,source\n2024-03-04,Domestic abuse call-out,Incident log 77\n2024-01-10,Welfare check,PNC\n"
HEALTH = ("\ufeffDate , EVENT,Source Record\n"                       # a BOM, spaces and capitals in the header
          "04/03/2024 14:30,Missed health visitor appointment,HV notes\n"
          "\n"
          '2024-02-01,"Clinic visit, weight checked",GP record\n')
SCHOOL = "date;event\n2024-03-04 09:15;Absent from school;\n"


def store(docs: FakeEngineDocuments, text: str, name: str) -> str:
    return docs.add(text, filename=name, content_type="text/csv", kind="chronology")


def imrs(docs: FakeEngineDocuments, **files: str) -> dict[str, object]:
    return {agency: {"imr_document_id": "imr", "chronology_document_id": store(docs, text, f"{agency}.csv"),
                     "author": "Author"} for agency, text in files.items()}


def test_chronologies_are_merged_by_date_with_the_agency_on_each_line(
        services: Services, engine_documents: FakeEngineDocuments) -> None:
    variables = {"case_reference": "NB-TEST-1",
                 "imrs": imrs(engine_documents, Police=POLICE, Health=HEALTH, Education=SCHOOL)}
    result = chronology_merge.handle(task_for(chronology_merge, variables), services)
    [merged] = engine_documents.of_kind("integrated_chronology_csv")
    [page] = engine_documents.of_kind("integrated_chronology_html")
    assert result.variables == {"integrated_chronology_id": merged.id, "integrated_chronology_html_id": page.id}
    rows = list(csv.reader(io.StringIO(merged.content.decode())))
    assert rows == [
        ["date", "time", "agency", "event", "source"],
        ["2024-01-10", "", "Police", "Welfare check", "PNC"],
        ["2024-02-01", "", "Health", "Clinic visit, weight checked", "GP record"],
        ["2024-03-04", "", "Police", "Domestic abuse call-out", "Incident log 77"],      # no time: first that day
        ["2024-03-04", "09:15", "Education", "Absent from school", ""],
        ["2024-03-04", "14:30", "Health", "Missed health visitor appointment", "HV notes"],
    ]
    html = page.content.decode()
    assert "<td>Education</td><td>Absent from school</td>" in html
    assert html.index("Welfare check") < html.index("Clinic visit") < html.index("Missed health visitor")


def test_the_form_s_nested_imr_is_read_too(services: Services, engine_documents: FakeEngineDocuments) -> None:
    doc = store(engine_documents, POLICE, "p.csv")
    variables = {"case_reference": "NB-TEST-1", "imrs": {"Police": {"imr": {"chronology_document_id": doc}}}}
    chronology_merge.handle(task_for(chronology_merge, variables), services)
    [merged] = engine_documents.of_kind("integrated_chronology_csv")
    assert merged.content.decode().count("Police") == 2


@pytest.mark.parametrize(("text", "line", "problem"), [
    ("day,what\n2024-01-01,x\n", 1, "no date or event column"),
    ("date,event\n2024-01-01,ok\n31/02/2024,bad day\n", 3, "the date is not understood"),
    ("date,event\n2024-01-01,\n", 2, "the event is empty"),
    ("date,event\n2024-01-01,a,b,c\n", 2, "4 fields but the header has 2"),
    ('date,event\n2024-01-01,"unclosed\n', 2, "not valid CSV"),
])
def test_a_malformed_chronology_is_an_incident_naming_the_agency_and_line(
        services: Services, engine_documents: FakeEngineDocuments, text: str, line: int, problem: str) -> None:
    variables = {"case_reference": "NB-TEST-1", "imrs": imrs(engine_documents, Police=POLICE, Health=text)}
    with pytest.raises(Incident, match=f"the chronology of Health, line {line}: {problem}") as raised:
        chronology_merge.handle(task_for(chronology_merge, variables), services)
    assert "bad day" not in str(raised.value)                       # the line's content is not repeated
    assert engine_documents.of_kind("integrated_chronology_csv") == []


def test_a_chronology_that_is_not_csv_is_an_incident(services: Services,
                                                    engine_documents: FakeEngineDocuments) -> None:
    doc = engine_documents.add(b"%PDF-1.7", filename="c.pdf", content_type="application/pdf", kind="chronology")
    variables = {"case_reference": "NB-TEST-1", "imrs": {"Police": {"chronology_document_id": doc}}}
    with pytest.raises(Incident, match="the chronology of Police .* is application/pdf, not CSV"):
        chronology_merge.handle(task_for(chronology_merge, variables), services)


def test_a_missing_document_is_an_incident(services: Services) -> None:
    variables = {"case_reference": "NB-TEST-1", "imrs": {"Police": {"chronology_document_id": "nope"}}}
    with pytest.raises(Incident, match="document nope is not among this case's documents"):
        chronology_merge.handle(task_for(chronology_merge, variables), services)


def test_formulas_are_defused_in_the_merged_csv(services: Services, engine_documents: FakeEngineDocuments) -> None:
    variables = {"case_reference": "NB-TEST-1",
                 "imrs": imrs(engine_documents, Police="date,event\n2024-01-01,=HYPERLINK(\"x\")\n")}
    chronology_merge.handle(task_for(chronology_merge, variables), services)
    [merged] = engine_documents.of_kind("integrated_chronology_csv")
    assert "'=HYPERLINK" in merged.content.decode()


def test_a_retried_merge_stores_each_document_once(services: Services,
                                                  engine_documents: FakeEngineDocuments) -> None:
    variables = {"case_reference": "NB-TEST-1", "imrs": imrs(engine_documents, Police=POLICE)}
    first = chronology_merge.handle(task_for(chronology_merge, variables), services)
    again = chronology_merge.handle(task_for(chronology_merge, variables), services)
    assert again == first
    assert len(engine_documents.uploads()) == 2


def test_dates_are_read_leniently() -> None:
    from datetime import date, time
    parse = chronology_merge.parse_when
    assert parse("2024-03-04") == (date(2024, 3, 4), None)
    assert parse("04/03/2024") == (date(2024, 3, 4), None)
    assert parse("4 March 2024") == (date(2024, 3, 4), None)
    assert parse("2024-03-04T10:30") == (date(2024, 3, 4), time(10, 30))
    assert parse("04/03/2024", "10.30") == (date(2024, 3, 4), time(10, 30))
    assert parse("March 2024") is None
