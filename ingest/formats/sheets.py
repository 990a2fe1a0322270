"""Spreadsheets: .xlsx through openpyxl and .csv through the standard library, as Table elements.

unstructured's spreadsheet routes need pandas; these need only openpyxl (pure Python). A table's text
is one line per row, cells joined by " | ". A blank row ends a table, so the separate tables of one
sheet stay separate. In a workbook of several sheets each sheet's name comes first as a Title, and the
page of its elements is the sheet's number, so that no chunk spans two sheets.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence

from ingest.formats.budget import charge
from ingest.formats.common import TITLE, Element, Partitioner, table_element
from ingest.formats.containers import check_ooxml
from ingest.formats.encoding import decode_text
from retrieval.errors import ParseError

__all__ = ["PARTITIONERS"]

# Enough of a CSV file to tell its delimiter; the sniffer's cost grows with the sample.
_SNIFF_SAMPLE = 8192
_DELIMITERS = ",;\t|"


def partition_xlsx(data: bytes) -> list[Element]:
    import openpyxl

    check_ooxml(data, ".xlsx", ("spreadsheetml", "ms-excel"), "an Excel workbook")
    # read_only streams the rows instead of building every cell object; data_only reads the values
    # Excel last computed instead of the formulas.
    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        sheets = workbook.worksheets
        elements: list[Element] = []
        for number, sheet in enumerate(sheets, start=1):
            charge("pages", 1)
            # The sheet's `<dimension>` is whatever the file claims: "A1:XFD1048576" would pad every row
            # to 16,384 cells and add a million empty rows. Without it, rows are as wide as their cells.
            sheet.reset_dimensions()
            tables = list(_tables(sheet.iter_rows(values_only=True), page=number))
            if tables and len(sheets) > 1:
                elements.append(Element(sheet.title, TITLE, number))
            elements.extend(tables)
        return elements
    finally:
        workbook.close()


def partition_csv(data: bytes) -> list[Element]:
    text = decode_text(data)
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), _dialect(text)))
    except csv.Error as exc:
        raise ParseError("could not parse .csv: malformed CSV") from exc
    return list(_tables(rows, page=None))


def _dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    sample = text[:_SNIFF_SAMPLE]
    if len(text) > _SNIFF_SAMPLE and "\n" in sample:
        sample = sample[: sample.rindex("\n")]  # whole lines only: a cut line skews the count
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS)
    except csv.Error:
        return csv.excel  # one column, or too few lines to tell: plain commas


def _tables(rows: Iterable[Sequence[object]], page: int | None) -> Iterator[Element]:
    block: list[Sequence[object]] = []
    for row in rows:
        # Charged as they stream: a row number far down the sheet still yields every empty row before it.
        charge("rows", 1)
        charge("cells", len(row))
        if any(cell is not None and str(cell).strip() for cell in row):
            block.append(row)
            continue
        if block:
            table = table_element(block, page)
            if table is not None:
                yield table
            block = []
    table = table_element(block, page)
    if table is not None:
        yield table


PARTITIONERS: dict[str, Partitioner] = {
    ".xlsx": partition_xlsx,
    ".csv": partition_csv,
}
