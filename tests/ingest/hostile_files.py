"""Tiny generators of hostile documents: each a few kB on disk that would unpack, expand or iterate without
bound in a parser that trusted it. Written by the tests that use them, so no hostile file is checked in."""

from __future__ import annotations

import io
import zipfile
import zlib
from email.message import EmailMessage
from pathlib import Path

__all__ = [
    "docx_with_zero_parts",
    "epub_with_repeated_spine",
    "odt",
    "odt_space_bomb",
    "pdf_with_flate_bomb",
    "utf16_eml",
    "xlsx_with_dimension",
    "xlsx_with_row_gap",
    "xlsx_with_wide_rows",
]

_ODT_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
)


def odt(paragraphs_xml: str) -> bytes:
    """An .odt whose body is `paragraphs_xml` (text:p elements)."""
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {_ODT_NS}>'
        f"<office:body><office:text>{paragraphs_xml}</office:text></office:body></office:document-content>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        archive.writestr("content.xml", content)
    return buffer.getvalue()


def odt_space_bomb(count: int = 2_000_000_000, runs: int = 1) -> bytes:
    """`runs` space runs of `count` characters each, a few dozen bytes apiece, around a sentence."""
    spaces = f'<text:s text:c="{count}"/>' * runs
    return odt(f"<text:p>Before the gap.{spaces}After the gap.</text:p>")


def xlsx_with_dimension(ref: str = "A1:XFD1048576", rows: int = 1) -> bytes:
    """A workbook whose sheet claims the dimension `ref`: "Quarter | Revenue", then `rows` - 1 rows of two
    numbers."""
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet["A1"] = "Quarter"
    sheet["B1"] = "Revenue"
    for row in range(2, rows + 1):
        sheet.cell(row=row, column=1, value=row)
        sheet.cell(row=row, column=2, value=row * 10)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return _rewrite_member(
        buffer.getvalue(),
        "xl/worksheets/sheet1.xml",
        lambda xml: _replace_dimension(xml, ref),
    )


def xlsx_with_row_gap(last_row: int = 1_048_576) -> bytes:
    """A workbook with a cell in row 1 and one in row `last_row`: every row between is yielded empty."""
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet["A1"] = "First"
    sheet.cell(row=last_row, column=1, value="Last")
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def xlsx_with_wide_rows(rows: int) -> bytes:
    """A workbook whose rows each hold one cell in the last column: every row is 16,384 cells wide."""
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in range(1, rows + 1):
        sheet.cell(row=row, column=16_384, value=row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _replace_dimension(xml: bytes, ref: str) -> bytes:
    start = xml.index(b"<dimension")
    end = xml.index(b"/>", start) + 2
    return xml[:start] + f'<dimension ref="{ref}"/>'.encode() + xml[end:]


def _rewrite_member(data: bytes, name: str, change: object) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == name:
                content = change(content)  # type: ignore[operator]
            target.writestr(info.filename, content)
    return buffer.getvalue()


def epub_with_repeated_spine(repeats: int, chapter_text: str) -> bytes:
    """An e-book whose spine names its one chapter `repeats` times (through as many manifest ids too)."""
    items = "".join(
        f'<item id="c{n}" href="chapter.xhtml" media-type="application/xhtml+xml"/>' for n in range(repeats)
    )
    spine = "".join(f'<itemref idref="c{n % 2}"/>' for n in range(repeats))
    package = (
        '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
        f"<manifest>{items}</manifest><spine>{spine}</spine></package>"
    )
    container = (
        '<?xml version="1.0"?><container xmlns="urn:oasis:names:tc:opendocument:xmlns:container" '
        'version="1.0"><rootfiles><rootfile full-path="OEBPS/content.opf" '
        'media-type="application/oebps-package+xml"/></rootfiles></container>'
    )
    chapter = f"<html><body><h1>Chapter</h1><p>{chapter_text}</p></body></html>"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mimetype", "application/epub+zip")
        archive.writestr("META-INF/container.xml", container)
        archive.writestr("OEBPS/content.opf", package)
        archive.writestr("OEBPS/chapter.xhtml", chapter)
    return buffer.getvalue()


def docx_with_zero_parts(parts: int, part_bytes: int) -> bytes:
    """A real .docx plus `parts` media parts of `part_bytes` zeros each (a kB or so compressed apiece)."""
    import docx

    document = docx.Document()
    document.add_paragraph("The quarterly report is attached.")
    buffer = io.BytesIO()
    document.save(buffer)
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            target.writestr(info, source.read(info))
        for number in range(parts):
            with target.open(f"word/media/zeros{number}.bin", "w", force_zip64=True) as member:
                block = bytes(1 << 20)
                left = part_bytes
                while left > 0:
                    member.write(block[: min(left, len(block))])
                    left -= len(block)
    return out.getvalue()


def pdf_with_flate_bomb(inflated_bytes: int, text: str = "Hello") -> bytes:
    """A one-page PDF whose page has a second content stream: `inflated_bytes` of spaces, deflated."""
    compressor = zlib.compressobj(9)
    chunks = []
    block = b" " * (1 << 20)
    left = inflated_bytes
    while left > 0:
        chunks.append(compressor.compress(block[: min(left, len(block))]))
        left -= len(block)
    chunks.append(compressor.flush())
    bomb = b"".join(chunks)
    visible = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents [4 0 R 5 0 R] "
        b"/Resources << /Font << /F1 6 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(visible) + visible + b"\nendstream",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(bomb) + bomb + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def utf16_eml(path: Path, sender: str, to: str, body: str) -> None:
    """An e-mail saved as UTF-16 as a whole (with a byte-order mark), as some Windows clients save it."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = "Salaries"
    message.set_content(body)
    path.write_bytes(message.as_string().encode("utf-16"))
