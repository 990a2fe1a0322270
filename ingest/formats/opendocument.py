"""OpenDocument text (.odt): content.xml rewritten as simple HTML, then unstructured's HTML partitioner.

unstructured converts .odt through pandoc, a system binary this project does not depend on. An .odt is
a zip of XML; its headings, paragraphs, lists and tables map one to one onto HTML, so the HTML route
classifies them and keeps table rows, as it does for web pages. A password-protected document fails
with that reason.
"""

from __future__ import annotations

from typing import Any

from ingest.formats.budget import MAX_REPEAT, charge
from ingest.formats.common import Element, Partitioner
from ingest.formats.containers import open_zip, parse_xml, read_member
from ingest.formats.markup import partition_html_text
from retrieval.errors import ParseError

__all__ = ["PARTITIONERS"]

_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"

_HEADING = f"{{{_TEXT}}}h"
_PARAGRAPH = f"{{{_TEXT}}}p"
_LIST = f"{{{_TEXT}}}list"
_TABLE_TABLE = f"{{{_TABLE}}}table"
_TABLE_ROW = f"{{{_TABLE}}}table-row"
_TABLE_CELL = f"{{{_TABLE}}}table-cell"
_SPACES = f"{{{_TEXT}}}s"
_TAB = f"{{{_TEXT}}}tab"
_LINE_BREAK = f"{{{_TEXT}}}line-break"
# Declarations and tracked deletions hold no text of the document as it reads.
_SKIPPED = frozenset({f"{{{_TEXT}}}tracked-changes", f"{{{_TEXT}}}sequence-decls", f"{{{_OFFICE}}}forms"})


def partition_odt(data: bytes) -> list[Element]:
    from lxml import etree
    from lxml.html import builder

    with open_zip(data, ".odt") as archive:
        # A password-protected OpenDocument stays a zip, but its manifest lists how each part is encrypted.
        manifest = "META-INF/manifest.xml"
        if manifest in archive.namelist() and b"encryption-data" in read_member(archive, manifest, ".odt"):
            raise ParseError("encrypted OpenDocument (password-protected)")
        content = parse_xml(read_member(archive, "content.xml", ".odt"))
    body = content.find(f"{{{_OFFICE}}}body/{{{_OFFICE}}}text")
    if body is None:
        return []
    html = builder.HTML(builder.BODY())
    _convert(body, html[0])
    return partition_html_text(etree.tostring(html, encoding="unicode", method="html"))


def _convert(node: Any, out: Any) -> None:
    """Append the HTML for `node`'s children to `out`; containers (sections, frames) are walked through."""
    from lxml.html import builder

    for child in node:
        tag = child.tag
        if tag == _HEADING:
            level = min(max(int(child.get(f"{{{_TEXT}}}outline-level", "1") or 1), 1), 6)
            out.append(getattr(builder, f"H{level}")(_text(child)))
        elif tag == _PARAGRAPH:
            out.append(builder.P(_text(child)))
        elif tag == _LIST:
            # Each item's text as one list entry; a nested list's items become entries of their own.
            items = [_text(p) for p in child.iter(_PARAGRAPH, _HEADING)]
            out.append(builder.UL(*(builder.LI(item) for item in items if item.strip())))
        elif tag == _TABLE_TABLE:
            out.append(_table(child))
        elif tag not in _SKIPPED and isinstance(tag, str):
            _convert(child, out)


def _table(table: Any) -> Any:
    from lxml.html import builder

    rows = []
    # Rows may sit in header-row and row groups; a nested table's rows belong to its cell, not here.
    for row in table.iter(_TABLE_ROW):
        if next(row.iterancestors(_TABLE_TABLE)) is not table:
            continue
        cells = [builder.TD(_text(cell)) for cell in row.iterchildren(_TABLE_CELL)]
        rows.append(builder.TR(*cells))
    return builder.TABLE(*rows)


def _text(element: Any) -> str:
    """The text of a paragraph-like element, with ODF's encoded spaces, tabs and line breaks restored.

    Every piece is charged to the document's character budget as it is added, and a run of spaces is
    clamped to MAX_REPEAT: `<text:s text:c="N"/>` is a few bytes that would otherwise be N characters.
    Nested lists are walked once per enclosing list, so the charge also bounds that repetition.
    """
    parts: list[str] = []

    def add(piece: str) -> None:
        charge("characters", len(piece))
        parts.append(piece)

    def walk(node: Any) -> None:
        if node.text:
            add(node.text)
        for child in node:
            if child.tag == _SPACES:
                add(" " * _repeat(child.get(f"{{{_TEXT}}}c")))
            elif child.tag == _TAB:
                add("\t")
            elif child.tag == _LINE_BREAK:
                add("\n")
            elif isinstance(child.tag, str):
                walk(child)
            if child.tail:
                add(child.tail)

    walk(element)
    return "".join(parts)


def _repeat(value: str | None) -> int:
    try:
        count = int(value or 1)
    except ValueError:
        return 1
    return min(max(count, 1), MAX_REPEAT)


PARTITIONERS: dict[str, Partitioner] = {".odt": partition_odt}
