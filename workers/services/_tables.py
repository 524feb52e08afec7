"""Tables as agencies send them — Excel workbooks (openpyxl), tables in Word documents (python-docx) and
CSV files — read into rows with the row and column a person would name (`row 7, column B`), and
workbooks written back (openpyxl) with a frozen header, filters and real dates.

Nothing here knows what the columns mean: the handler that reads a table finds its header and maps it.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from workers.services._errors import DocumentUnreadable

__all__ = ["CSV", "Grid", "defuse", "iter_nonblank", "read_grids", "workbook"]

CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_CSV_TYPES = (CSV, "text/plain", "application/csv")
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")     # characters a worksheet cannot hold
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Grid:
    """One sheet or table: its rows as (row number a person would give, cell values)."""

    label: str                                   # "sheet 2", "table 1", "" (a CSV file has one)
    rows: tuple[tuple[int, tuple[Any, ...]], ...]
    letters: bool = False                        # columns named A, B, … (a worksheet) or 1, 2, …

    def column(self, index: int) -> str:
        """The name a person would give the column at 0-based `index`."""
        if self.letters:
            from openpyxl.utils import get_column_letter
            return get_column_letter(index + 1)
        return str(index + 1)

    def where(self, row: int, index: int | None = None) -> str:
        """"sheet 2, row 7, column B" (no cell content)."""
        parts = [self.label] if self.label else []
        parts.append(f"row {row}")
        if index is not None:
            parts.append(f"column {self.column(index)}")
        return ", ".join(parts)


def read_grids(content: bytes, content_type: str, *, what: str) -> list[Grid]:
    """The sheets of a workbook, the tables of a Word document, or the one table of a CSV file.

    Raises: DocumentUnreadable naming `what` and what to do when the file cannot be read as its type.
    """
    if content_type == XLSX:
        return _workbook_grids(content, what)
    if content_type == DOCX:
        return _word_grids(content, what)
    if content_type in _CSV_TYPES:
        return [_csv_grid(content, what)]
    raise DocumentUnreadable(f"{what} is {content_type or 'of an unknown type'}: upload an Excel workbook (.xlsx), "
                             "a Word document (.docx) with the chronology as a table, or a CSV file")


def _workbook_grids(content: bytes, what: str) -> list[Grid]:
    import openpyxl

    if content.startswith(b"\xd0\xcf\x11\xe0"):
        raise DocumentUnreadable(f"{what} is password-protected or an old .xls workbook: save it from Excel as "
                                 "an Excel Workbook (.xlsx) without a password")
    try:
        book = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as exc:
        raise DocumentUnreadable(f"{what} cannot be read as an Excel workbook (.xlsx) ({type(exc).__name__}): "
                                 "open it in Excel, save it as an Excel Workbook and upload it again") from exc
    except Exception as exc:                             # lxml's XMLSyntaxError and the like
        raise DocumentUnreadable(f"{what} cannot be read as an Excel workbook (.xlsx) ({type(exc).__name__}): "
                                 "open it in Excel, save it as an Excel Workbook and upload it again") from exc
    try:
        grids = []
        for n, sheet in enumerate(book.worksheets, 1):
            if getattr(sheet, "sheet_state", "visible") != "visible":
                continue
            rows = tuple((r, tuple(values)) for r, values in enumerate(sheet.iter_rows(values_only=True), 1))
            grids.append(Grid(f"sheet {n}", rows, letters=True))
        return grids
    except Exception as exc:                             # a part that is not well-formed, read lazily
        raise DocumentUnreadable(f"{what} cannot be read as an Excel workbook (.xlsx) ({type(exc).__name__}): "
                                 "open it in Excel, save it as an Excel Workbook and upload it again") from exc
    finally:
        book.close()


def _word_grids(content: bytes, what: str) -> list[Grid]:
    import docx

    try:
        document = docx.Document(io.BytesIO(content))
    except Exception as exc:                             # python-docx's, zipfile's and lxml's errors
        raise DocumentUnreadable(f"{what} cannot be read as a Word document (.docx) ({type(exc).__name__}): "
                                 "open it in Word, save it as a Word Document and upload it again") from exc
    grids = []
    for n, table in enumerate(document.tables, 1):
        rows = []
        for r, row in enumerate(table.rows, 1):
            cells, last = [], None
            for cell in row.cells:                       # a merged cell appears once per grid column
                cells.append("" if cell._tc is last else "\n".join(p.text for p in cell.paragraphs))
                last = cell._tc
            rows.append((r, tuple(cells)))
        grids.append(Grid(f"table {n}", tuple(rows)))
    return grids


def _csv_grid(content: bytes, what: str) -> Grid:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DocumentUnreadable(f"{what} is not UTF-8 text: save it as 'CSV UTF-8'") from None
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ("\t" if first.count("\t") > first.count(",") else ",")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows = []
    try:
        for values in reader:
            rows.append((reader.line_num, tuple(values)))
    except csv.Error:
        raise DocumentUnreadable(f"{what}, row {reader.line_num or 1}: not valid CSV (an unclosed quote?)") from None
    return Grid("", tuple(rows))


# -- writing -------------------------------------------------------------------------------------


def _cell_text(value: str) -> str:
    return _ILLEGAL.sub("", value)


def workbook(sheets: Sequence[tuple[str, Sequence[str], Sequence[Sequence[Any]]]], *, title: str,
             widths: Sequence[int] = ()) -> bytes:
    """An .xlsx with one sheet per (name, header, rows): header in bold and frozen, an auto-filter over
    the table, dates and times as real dates and times, text as text (never run as a formula).
    Written in openpyxl's write-only mode: memory and time grow with the rows, no more."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font

    book = Workbook(write_only=True)
    used: set[str] = set()
    bold, top, wrap = Font(bold=True), Alignment(vertical="top"), Alignment(wrap_text=True, vertical="top")
    for name, header, rows in sheets:
        sheet = book.create_sheet(_sheet_name(name, used))
        sheet.freeze_panes = "A2"
        sheet.auto_filter.ref = f"A1:{_letter(max(len(header), 1) - 1)}{len(rows) + 1}"
        for index, width in enumerate(widths):
            sheet.column_dimensions[_letter(index)].width = width

        def cell(value: Any, sheet: Any = sheet) -> Any:
            written = WriteOnlyCell(sheet, value=_cell_text(value) if isinstance(value, str) else value)
            if isinstance(value, str):
                written.data_type = "s"                   # "=…" stays text
                written.alignment = wrap
            elif isinstance(value, datetime | date):
                written.number_format, written.alignment = "dd/mm/yyyy", top
            elif isinstance(value, time):
                written.number_format, written.alignment = "hh:mm", top
            return written

        titles = [cell(h) for h in header]
        for title_cell in titles:
            title_cell.font = bold
        sheet.append(titles)
        for values in rows:
            sheet.append([cell(v) for v in values])
    book.properties.title = title
    book.properties.creator = "Reviewflow"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _letter(index: int) -> str:
    from openpyxl.utils import get_column_letter
    return get_column_letter(index + 1)


def _sheet_name(name: str, used: set[str]) -> str:
    """A worksheet name Excel accepts (at most 31 characters, none of []:*?/\\), unique in the book."""
    base = re.sub(r"[\[\]:*?/\\]", " ", name).strip(" '") or "Sheet"
    candidate, n = base[:31], 1
    while candidate.casefold() in used:
        n += 1
        candidate = f"{base[:31 - len(str(n)) - 1]} {n}"
    used.add(candidate.casefold())
    return candidate


def defuse(cell: str) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    return f"'{cell}" if cell.startswith(_FORMULA) else cell


def iter_nonblank(grid: Grid) -> Iterator[tuple[int, tuple[Any, ...]]]:
    for row, values in grid.rows:
        if any(v is not None and str(v).strip() for v in values):
            yield row, values
