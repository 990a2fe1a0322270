"""What every format route shares: the element a route returns, and tables written one row per line."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from unstructured.documents.elements import Element as UnstructuredElement

__all__ = [
    "CELL_SEPARATOR",
    "NO_LANGUAGE_DETECTION",
    "TABLE",
    "TITLE",
    "Element",
    "Partitioner",
    "from_unstructured",
    "table_element",
    "table_rows_from_html",
]

TITLE = "Title"
TABLE = "Table"

# Between the cells of one table row. Rows go on separate lines, so that a table can be chunked on row
# boundaries and each chunk of it reads as whole rows.
CELL_SEPARATOR = " | "

# unstructured's "no language detection": its detected languages would only be thrown away, and detecting
# costs time on every element (and logs "No features in text." for each textless one).
NO_LANGUAGE_DETECTION = [""]


@dataclass(frozen=True, slots=True)
class Element:
    """The little that govrag keeps of a document element: its text, its kind, its page (or slide, sheet)."""

    text: str
    category: str
    page: int | None


# Raw bytes in, elements out; a route raises ParseError for a reason it can name and lets library errors
# propagate to parse_file, which names them without quoting the document.
Partitioner = Callable[[bytes], list[Element]]


def from_unstructured(elements: Iterable[UnstructuredElement], page: int | None = None) -> list[Element]:
    """Keep text, category and page of unstructured's elements; a table's text becomes one row per line."""
    kept: list[Element] = []
    for element in elements:
        text = element.text
        if element.category == TABLE:
            # unstructured flattens a table's text to one line; its HTML rendering keeps the rows.
            rows = table_rows_from_html(element.metadata.text_as_html or "")
            if rows:
                text = "\n".join(rows)
        number = page if page is not None else element.metadata.page_number
        kept.append(Element(text, element.category, number))
    return kept


def table_element(rows: Iterable[Sequence[object]], page: int | None = None) -> Element | None:
    """A Table element from rows of cell values; blank cells and blank rows are left out."""
    lines = [line for line in (_row_line(_cell_text(cell) for cell in row) for row in rows) if line]
    return Element("\n".join(lines), TABLE, page) if lines else None


def table_rows_from_html(html: str) -> list[str]:
    """The rows of the outermost table in `html`, each as its cells' text joined by CELL_SEPARATOR."""
    if "<tr" not in html:
        return []
    from lxml import etree
    from lxml import html as lxml_html

    try:
        root = lxml_html.fragment_fromstring(html, create_parent="div")
    except (etree.ParserError, ValueError):
        return []
    table = root.find(".//table")
    if table is None:
        return []
    # Only this table's own rows: a nested table's rows stay inside the cell that holds them.
    rows = table.xpath("./tr | ./thead/tr | ./tbody/tr | ./tfoot/tr")
    lines = (_row_line(_cell_text(cell.text_content()) for cell in row.xpath("./td | ./th")) for row in rows)
    return [line for line in lines if line]


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 3.0 from a spreadsheet cell reads as 3, as the sheet shows it
    # One line per row: whitespace inside a cell (line breaks included) is collapsed.
    return " ".join(str(value).split())


def _row_line(cells: Iterable[str]) -> str:
    return CELL_SEPARATOR.join(cell for cell in cells if cell)
