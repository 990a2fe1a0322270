"""parse_file on small files of every supported format, written at test time, and on the shared sample."""

from __future__ import annotations

import codecs
import json
import shutil
import zipfile
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import pytest

from ingest.chunking import Chunker, default_tokenizer_file
from ingest.parsing import SUPPORTED_SUFFIXES, ParsedDocument, parse_file
from retrieval.errors import IngestionError, ParseError, UnsupportedFormat
from tests.factories import make_pptx
from tests.netguard import run_guarded
from tests.strict import require

MAX_BYTES = 10 * 1024 * 1024


def minimal_pdf(pages: list[list[str]]) -> bytes:
    """A valid PDF with one Helvetica text block per string, far enough apart to be separate paragraphs.

    Written by hand (objects, a correct xref table) so the tests need no PDF-writing library.
    """
    objects: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    }
    kids: list[str] = []
    number = 4
    for lines in pages:
        page_id, content_id = number, number + 1
        number += 2
        kids.append(f"{page_id} 0 R")
        ops = []
        for index, line in enumerate(lines):
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"BT /F1 12 Tf 72 {720 - 60 * index} Td ({escaped}) Tj ET")
        stream = "\n".join(ops).encode("latin-1")
        objects[content_id] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream)
        objects[page_id] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % content_id
        )
    objects[2] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>".encode()

    out = bytearray(b"%PDF-1.4\n")
    offsets: dict[int, int] = {}
    for object_id in sorted(objects):
        offsets[object_id] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (object_id, objects[object_id])
    xref_at = len(out)
    size = max(objects) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for object_id in range(1, size):
        out += b"%010d 00000 n \n" % offsets[object_id]
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref_at)
    return bytes(out)


def write(tmp_path: Path, name: str, content: bytes | str) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def assert_sections_exact(document: ParsedDocument) -> None:
    assert document.sections
    previous_end = 0
    for section in document.sections:
        piece = document.text[section.start : section.end]
        assert piece.strip(), section
        assert section.start >= previous_end
        previous_end = section.end
    assert len(document.content_sha256) == 64


def _docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_heading("Quarterly Governance Review", level=1)
    document.add_paragraph("The retention policy applies to every regional archive without exception.")
    document.add_paragraph("Second paragraph about the audit trail and its reviewers.")
    document.save(str(path))
    return path


def _eml(path: Path, *, html: bool, attachment: bool = False) -> Path:
    message = EmailMessage()
    message["From"] = "Alice <alice@example.com>"
    message["To"] = "bob@example.com"
    message["Subject"] = "Data retention"
    message.set_content("The retention schedule was approved by the steward on Monday.\n")
    if html:
        message.add_alternative(
            "<html><body><p>The retention schedule was approved by the steward on Monday.</p>"
            "<p>HTML alternative body.</p></body></html>",
            subtype="html",
        )
    if attachment:
        message.add_attachment(b"ATTACHMENT-ONLY-TEXT", maintype="text", subtype="plain", filename="a.txt")
    path.write_bytes(bytes(message))
    return path


@pytest.mark.integration
@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        (
            "notes.txt",
            "Governance Notes\n\nThe steward approved the corpus after a review of its sources.\n",
            ["Governance Notes", "The steward approved the corpus after a review of its sources."],
        ),
        (
            "readme.md",
            "# Retrieval Policy\n\nEvery query is checked against the policy before search.\n\n"
            "- first rule\n- second rule\n",
            ["Retrieval Policy", "Every query is checked against the policy before search.", "first rule"],
        ),
        (
            "page.html",
            "<html><head><title>t</title></head><body><h1>Audit Log</h1>"
            "<p>Each answer has one provenance record written before it is returned.</p></body></html>",
            ["Audit Log", "Each answer has one provenance record written before it is returned."],
        ),
        (
            "page.htm",
            "<html><body><h1>Regions</h1><p>Data stays in the region it was registered in.</p></body></html>",
            ["Regions", "Data stays in the region it was registered in."],
        ),
    ],
)
def test_text_formats_give_their_text(tmp_path: Path, name: str, content: str, expected: list[str]) -> None:
    document = parse_file(write(tmp_path, name, content), max_bytes=MAX_BYTES)

    for fragment in expected:
        assert fragment in document.text
    assert_sections_exact(document)
    assert all(section.page is None for section in document.sections)
    assert document.title == expected[0]


@pytest.mark.integration
def test_docx_gives_its_text_and_heading_as_title(tmp_path: Path) -> None:
    document = parse_file(_docx(tmp_path / "review.docx"), max_bytes=MAX_BYTES)

    assert document.title == "Quarterly Governance Review"
    assert "regional archive without exception" in document.text
    assert "audit trail" in document.text
    assert document.sections[0].category == "Title"
    assert_sections_exact(document)


@pytest.mark.integration
@pytest.mark.parametrize("html", [False, True])
def test_eml_gives_the_body_without_headers_or_attachments(tmp_path: Path, html: bool) -> None:
    document = parse_file(_eml(tmp_path / "mail.eml", html=html, attachment=True), max_bytes=MAX_BYTES)

    assert "The retention schedule was approved by the steward on Monday." in document.text
    assert ("HTML alternative body." in document.text) is html
    assert "ATTACHMENT-ONLY-TEXT" not in document.text
    assert "alice@example.com" not in document.text
    assert document.title == "mail"  # no Title element in the body: the file stem
    assert_sections_exact(document)


@pytest.mark.integration
def test_pdf_pages_are_numbered(tmp_path: Path) -> None:
    pdf = minimal_pdf(
        [
            ["Annual Report", "The first page describes the scope of the review in detail."],
            ["The second page lists the findings of the auditors."],
            ["The third page closes the report with recommendations."],
        ]
    )
    document = parse_file(write(tmp_path, "report.pdf", pdf), max_bytes=MAX_BYTES)

    assert_sections_exact(document)
    pages = {document.text[s.start : s.end]: s.page for s in document.sections}
    assert pages["Annual Report"] == 1
    assert pages["The first page describes the scope of the review in detail."] == 1
    assert pages["The second page lists the findings of the auditors."] == 2
    assert pages["The third page closes the report with recommendations."] == 3
    assert [s.page for s in document.sections] == sorted(s.page or 0 for s in document.sections)


@pytest.mark.integration
def test_image_only_pdf_is_a_parse_error(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match=r"^no extractable text \(image-only PDF; OCR is not enabled\)$"):
        parse_file(write(tmp_path, "scan.pdf", minimal_pdf([[]])), max_bytes=MAX_BYTES)


@pytest.mark.integration
@pytest.mark.parametrize(
    ("user_password", "permissions", "reason"),
    # -28: every permission bit but "extract text" (and the reserved low bits), as copy protection sets.
    [("secret", None, "encrypted PDF"), ("", -28, "encrypted PDF: text extraction not permitted")],
)
def test_encrypted_pdf_is_a_parse_error(
    tmp_path: Path, user_password: str, permissions: int | None, reason: str
) -> None:
    pypdf = pytest.importorskip("pypdf")
    source = write(tmp_path, "plain.pdf", minimal_pdf([["Confidential board minutes."]]))
    writer = pypdf.PdfWriter(clone_from=str(source))
    if permissions is None:
        writer.encrypt(user_password, "owner", algorithm="RC4-128")
    else:
        writer.encrypt(user_password, "owner", algorithm="RC4-128", permissions_flag=permissions)
    target = tmp_path / "locked.pdf"
    with target.open("wb") as handle:
        writer.write(handle)

    with pytest.raises(ParseError) as caught:
        parse_file(target, max_bytes=MAX_BYTES)
    assert caught.value.detail == reason


@pytest.mark.integration
@pytest.mark.parametrize(
    "content",
    [
        b"%PDF-1.4\nthis is not a pdf body at all\n%%EOF\n",
        minimal_pdf([["Truncated document text that goes on."]])[:150],
    ],
    ids=["garbage", "truncated"],
)
def test_corrupt_pdf_is_a_parse_error_with_a_readable_reason(tmp_path: Path, content: bytes) -> None:
    with pytest.raises(ParseError) as caught:
        parse_file(write(tmp_path, "broken.pdf", content), max_bytes=MAX_BYTES)
    reason = caught.value.detail
    assert reason.startswith(("could not parse .pdf: ", "no extractable text"))
    assert "Truncated document" not in reason
    assert len(reason) < 120


@pytest.mark.integration
def test_corrupt_docx_is_a_parse_error(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match=r"^could not parse \.docx: not a valid zip container$"):
        parse_file(write(tmp_path, "broken.docx", b"PK\x03\x04 not really a zip"), max_bytes=MAX_BYTES)


@pytest.mark.integration
def test_zip_that_is_not_a_docx_is_a_parse_error_from_the_library_error(tmp_path: Path) -> None:
    path = tmp_path / "other.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "private notes")

    with pytest.raises(ParseError, match=r"^could not parse \.docx: a required part is missing$") as caught:
        parse_file(path, max_bytes=MAX_BYTES)
    assert isinstance(caught.value.__cause__, KeyError)


@pytest.mark.unit
def test_empty_file_is_a_parse_error(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match=r"^empty file$"):
        parse_file(write(tmp_path, "empty.txt", b""), max_bytes=MAX_BYTES)


@pytest.mark.unit
def test_oversized_file_is_a_parse_error(tmp_path: Path) -> None:
    path = write(tmp_path, "big.txt", "x" * 101)
    with pytest.raises(ParseError, match=r"^file is 101 bytes; the limit is 100$"):
        parse_file(path, max_bytes=100)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("sheet.xls", "unsupported format .xls"),
        ("archive.zip", "unsupported format .zip"),
        ("README", "unsupported format (no suffix)"),
    ],
)
def test_unsupported_suffix(tmp_path: Path, name: str, reason: str) -> None:
    with pytest.raises(UnsupportedFormat) as caught:
        parse_file(write(tmp_path, name, "some text"), max_bytes=MAX_BYTES)
    assert caught.value.detail == reason


@pytest.mark.unit
def test_supported_suffixes() -> None:
    assert {
        ".txt", ".md", ".rst", ".org", ".html", ".htm", ".xml", ".pdf", ".docx", ".doc", ".pptx",
        ".xlsx", ".csv", ".eml", ".msg", ".rtf", ".odt", ".epub",
    } == SUPPORTED_SUFFIXES  # fmt: skip


@pytest.mark.integration
def test_whitespace_only_text_is_a_parse_error(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match=r"^no extractable text$"):
        parse_file(write(tmp_path, "blank.txt", " \n\t\n  "), max_bytes=MAX_BYTES)


@pytest.mark.integration
def test_parsing_is_deterministic(tmp_path: Path) -> None:
    path = _docx(tmp_path / "same.docx")
    assert parse_file(path, max_bytes=MAX_BYTES) == parse_file(path, max_bytes=MAX_BYTES)


# The variables configure_offline_runtime sets; the pytest process has them already (an earlier test
# called it), so the guarded subprocess drops them to prove the module sets them up itself.
_OFFLINE_SETUP_VARS = (
    "DO_NOT_TRACK",
    "SCARF_NO_ANALYTICS",
    "HF_HUB_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "HF_HUB_DISABLE_TELEMETRY",
    "TOKENIZERS_PARALLELISM",
    "ANONYMIZED_TELEMETRY",
)


@pytest.mark.integration
@pytest.mark.slow
def test_parsing_and_chunking_every_format_makes_no_network_attempt(tmp_path: Path) -> None:
    sources = tmp_path / "sources"
    sources.mkdir()
    write(sources, "a.txt", "Plain Notes\n\nThe first narrative paragraph of the plain text file.\n")
    write(sources, "b.md", "# Markdown\n\nA paragraph of markdown text with a sentence in it.\n")
    write(sources, "c.html", "<h1>Web</h1><p>A paragraph of HTML text with a sentence in it.</p>")
    write(sources, "d.htm", "<p>Another paragraph of HTML text, with a sentence in it.</p>")
    _docx(sources / "e.docx")
    _eml(sources / "f.eml", html=True)
    write(sources, "g.pdf", minimal_pdf([["A page of PDF text with a sentence in it."], ["Page two."]]))
    write(sources, "h.rst", "Title\n=====\n\nA paragraph of reStructuredText with a sentence in it.\n")
    write(sources, "i.org", "* Title\nA paragraph of Org text with a sentence in it.\n")
    write(sources, "j.xml", "<notes><p>A paragraph of XML text with a sentence in it.</p></notes>")
    write(sources, "k.csv", "Region,Owner\nNorth,Alice\n")
    write(sources, "l.rtf", RTF)
    make_pptx(sources / "m.pptx")
    make_xlsx(sources / "n.xlsx")
    make_odt(sources / "o.odt")
    make_epub(sources / "p.epub")
    _docx(sources / "q.doc")  # a Word 2007+ file under the old suffix: no converter needed
    body = f"""
        import os, sys
        for name in {_OFFLINE_SETUP_VARS!r}:
            os.environ.pop(name, None)
        from pathlib import Path
        from ingest.chunking import Chunker, default_tokenizer_file
        from ingest.parsing import parse_file
        chunker = Chunker(64, 8, default_tokenizer_file())
        for path in sorted(Path({str(sources)!r}).iterdir()):
            chunks = chunker.chunk(parse_file(path, max_bytes=1_000_000))
            print("OK", path.suffix, len(chunks))
    """
    result = run_guarded(body, tmp_path, timeout=300)

    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("OK ") == 17, result.stdout
    assert result.events == [], f"network attempts: {result.events[:5]}"


# Small files of every supported format from the shared sample, chosen to include the awkward ones:
# BOM-marked UTF-16, a legacy code page, repeated paragraphs, page breaks, an email without a body,
# encrypted, image-only and damaged PDFs.
SHARED_SAMPLE = [
    "README.md",
    "codeblock.md",
    "fake-text.txt",
    "fake-text-utf-16.txt",
    "fake-html.html",
    "fake-html-cp1252.html",
    "example-10k-1p.html",
    "category-level.docx",
    "page-breaks.docx",
    "docx-tables.docx",
    "fake-email.eml",
    "eml/mime-no-body.eml",
    "language-docs/eng_spa_mult.md",
    "pdf/fake-memo-with-duplicate-page.pdf",
    "pdf/password.pdf",
    "pdf/loremipsum-flat.pdf",
    "pdf/pdf-bad-color-space.pdf",
]


@pytest.mark.integration
@pytest.mark.shared_data
def test_shared_sample_parses_or_fails_cleanly(shared_data: Path) -> None:
    root = shared_data / "mixed-docs"
    sizes = {entry[0]: entry[2] for entry in json.loads((root / "MANIFEST.json").read_text(encoding="utf-8"))}
    chunker = Chunker(chunk_size=128, chunk_overlap=16, tokenizer_file=default_tokenizer_file())
    parsed: list[str] = []
    failed: dict[str, str] = {}
    for name in SHARED_SAMPLE:
        path = root / name
        if name not in sizes or sizes[name] > 2_000_000 or not path.is_file():
            continue
        assert path.suffix.lower() in SUPPORTED_SUFFIXES
        try:
            document = parse_file(path, max_bytes=MAX_BYTES)
        except IngestionError as exc:
            assert exc.detail.strip(), name
            failed[name] = exc.detail
            continue
        assert_sections_exact(document)
        for chunk in chunker.chunk(document):
            assert document.text[chunk.start_char : chunk.end_char] == chunk.text, name
        parsed.append(name)

    # Each of these fails for a reason in the file; any other failure is a regression (a warning that
    # pytest turned into an error included).
    assert set(failed) <= {
        "eml/mime-no-body.eml",
        "pdf/password.pdf",
        "pdf/loremipsum-flat.pdf",
        "pdf/pdf-bad-color-space.pdf",
    }, failed
    assert len(parsed) >= 10
    assert failed["pdf/password.pdf"] == "encrypted PDF"
    assert failed["pdf/loremipsum-flat.pdf"].startswith("no extractable text")


# -- the formats added for issue 3: tiny files of each, made here -------------------------------------------


def make_docx_with_table_and_page(path: Path) -> Path:
    """A heading, a paragraph, a 3-row table, then a paragraph after a rendered page break."""
    import docx
    from docx.oxml import OxmlElement

    document = docx.Document()
    document.add_heading("Quarterly Governance Review", level=1)
    document.add_paragraph("The retention policy applies to every regional archive without exception.")
    table = document.add_table(rows=3, cols=2)
    for row, cells in enumerate([("Region", "Owner"), ("North", "Alice"), ("South", "Bob")]):
        for column, value in enumerate(cells):
            table.cell(row, column).text = value
    # Word writes w:lastRenderedPageBreak where its layout broke the page; python-docx writes none, and
    # unstructured numbers pages only from these.
    paragraph = document.add_paragraph()
    paragraph.add_run()._r.append(OxmlElement("w:lastRenderedPageBreak"))
    paragraph.add_run("The second page lists the findings of the auditors.")
    document.save(str(path))
    return path


def make_xlsx(path: Path) -> Path:
    """Two sheets; the first holds two tables separated by a blank row."""
    import openpyxl

    workbook = openpyxl.Workbook()
    owners = workbook.active
    assert owners is not None
    owners.title = "Owners"
    for row in [("Region", "Owner"), ("North", "Alice"), ("South", "Bob"), (None, None), ("Total", 2)]:
        owners.append(row)
    budget = workbook.create_sheet("Budget")
    budget.append(["Year", "Amount"])
    budget.append([2024, 1500.0])
    workbook.save(str(path))
    return path


ODT_CONTENT = """<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
    xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
    xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" office:version="1.3">
  <office:body><office:text>
    <text:sequence-decls><text:sequence-decl text:name="Table"/></text:sequence-decls>
    <text:h text:outline-level="1">Records Policy</text:h>
    <text:p>Paper records are scanned<text:s text:c="2"/>and kept<text:tab/>for ten years.</text:p>
    <text:list><text:list-item><text:p>Scan within a week</text:p></text:list-item>
      <text:list-item><text:p>Shred the originals</text:p></text:list-item></text:list>
    <text:section text:name="S1"><text:p>A paragraph inside a section is kept as well.</text:p></text:section>
    <table:table table:name="Owners">
      <table:table-header-rows><table:table-row>
        <table:table-cell><text:p>Region</text:p></table:table-cell>
        <table:table-cell><text:p>Owner</text:p></table:table-cell>
      </table:table-row></table:table-header-rows>
      <table:table-row>
        <table:table-cell><text:p>North</text:p></table:table-cell>
        <table:table-cell><text:p>Alice</text:p></table:table-cell>
      </table:table-row>
    </table:table>
  </office:text></office:body>
</office:document-content>
"""


def make_odt(path: Path, content: str = ODT_CONTENT) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(
            "mimetype", "application/vnd.oasis.opendocument.text", compress_type=zipfile.ZIP_STORED
        )
        archive.writestr("content.xml", content)
    return path


EPUB_CONTAINER = """<?xml version="1.0"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
  <rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles>
</container>
"""

# The spine reads chapter b before chapter a: reading order is the spine's, not the file names'.
EPUB_PACKAGE = """<?xml version="1.0"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">
  <metadata/>
  <manifest>
    <item id="a" href="text/a.xhtml" media-type="application/xhtml+xml"/>
    <item id="b" href="text/b%20one.xhtml" media-type="application/xhtml+xml"/>
    <item id="css" href="style.css" media-type="text/css"/>
  </manifest>
  <spine><itemref idref="b"/><itemref idref="a"/></spine>
</package>
"""


def _xhtml(heading: str, paragraph: str) -> str:
    # &nbsp; is undeclared in XHTML without a DTD: an XML parser would reject it, the HTML parser does not.
    return (
        '<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml"><head><title>t</title>'
        f"</head><body><h1>{heading}</h1><p>{paragraph}&nbsp;</p></body></html>"
    )


def make_epub(path: Path, *, encrypted: bool = False) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        archive.writestr("META-INF/container.xml", EPUB_CONTAINER)
        archive.writestr("OEBPS/content.opf", EPUB_PACKAGE)
        archive.writestr("OEBPS/text/a.xhtml", _xhtml("Chapter Two", "The second chapter follows the first."))
        archive.writestr("OEBPS/text/b one.xhtml", _xhtml("Chapter One", "The first chapter opens the book."))
        archive.writestr("OEBPS/style.css", "h1 { color: black }")
        if encrypted:
            archive.writestr(
                "META-INF/encryption.xml",
                '<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" '
                'xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData><enc:CipherData>'
                '<enc:CipherReference URI="OEBPS/text/a.xhtml"/></enc:CipherData></enc:EncryptedData>'
                "</encryption>",
            )
    return path


RTF = (
    r"{\rtf1\ansi\ansicpg1252\deff0{\fonttbl{\f0 Times New Roman;}}"
    r"\pard\b Retention Notes\b0\par"
    r"\pard The caf\'e9 archive closes at noon on Fridays.\par"
    r"\trowd\cellx3000\cellx6000\pard\intbl Region\cell Owner\cell\row"
    r"\trowd\cellx3000\cellx6000\pard\intbl North\cell Alice\cell\row}"
)

CP1252_PROSE = "Der Preis beträgt 15,50 € und das Café ist geöffnet. L'été était très chaud cette année-là."


def _paragraph_doc(body: str) -> str:
    return f"Governance Notes\n\n{body}\n"


@pytest.mark.integration
@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("bom.txt", _paragraph_doc("The café is open.").encode("utf-16"), "The café is open."),
        ("le.txt", _paragraph_doc("The café is open.").encode("utf-16-le"), "The café is open."),
        ("be.txt", _paragraph_doc("The café is open.").encode("utf-16-be"), "The café is open."),
        ("utf32.txt", _paragraph_doc("The café is open.").encode("utf-32"), "The café is open."),
        ("sig.txt", codecs.BOM_UTF8 + _paragraph_doc("The café is open.").encode(), "The café is open."),
        ("legacy.txt", _paragraph_doc(CP1252_PROSE).encode("cp1252"), CP1252_PROSE),
        ("legacy.md", f"# Governance Notes\n\n{CP1252_PROSE}\n".encode("cp1252"), CP1252_PROSE),
        (
            "legacy.html",
            f"<html><body><h1>Governance Notes</h1><p>{CP1252_PROSE}</p></body></html>".encode("cp1252"),
            CP1252_PROSE,
        ),
        (
            # Declared, and not guessable: a short ISO-8859-7 text reads as plausibly in many code pages.
            "greek.html",
            '<html><head><meta charset="iso-8859-7"></head><body><h1>Governance Notes</h1>'
            "<p>Καλημέρα κόσμε.</p></body></html>".encode("iso-8859-7"),
            "Καλημέρα κόσμε.",
        ),
        (
            "utf16.html",
            "<html><body><h1>Governance Notes</h1><p>The café is open.</p></body></html>".encode("utf-16"),
            "The café is open.",
        ),
        (
            "utf16.xml",
            '<?xml version="1.0" encoding="UTF-16"?><notes><title>Governance Notes</title>'
            "<p>The café is open.</p></notes>".encode("utf-16"),
            "The café is open.",
        ),
    ],
)
def test_text_encodings_are_detected(tmp_path: Path, name: str, content: bytes, expected: str) -> None:
    document = parse_file(write(tmp_path, name, content), max_bytes=MAX_BYTES)

    assert "Governance Notes" in document.text
    assert expected in document.text
    assert_sections_exact(document)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("odd.txt", codecs.BOM_UTF16_LE + "text".encode("utf-16-le") + b"x", "could not decode as UTF-16"),
        ("odd.html", "<p>text</p>".encode("utf-16-le")[:-1], "could not decode as UTF-16"),
        ("binary.txt", bytes(range(256)) * 4, "binary data, not text"),
        ("binary.csv", b"a,b\n\x00\x00\x01,\x00\xff\n", "binary data, not text"),
    ],
)
def test_undecodable_text_is_a_parse_error(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_file(write(tmp_path, name, content), max_bytes=MAX_BYTES)
    assert caught.value.detail == reason


@pytest.mark.integration
@pytest.mark.parametrize(
    ("name", "content"),
    [
        (
            "notes.rst",
            "=================\nGovernance Notes\n=================\n\n.. contents::\n\n"
            "The steward approved the corpus after a review.\n\nAccess Rules\n------------\n\n"
            ".. note:: internal\n\nEvery query is checked against the policy.\n",
        ),
        (
            "notes.org",
            "#+TITLE: ignored keyword\n* Governance Notes\n:PROPERTIES:\n:ID: 42\n:END:\n"
            "The steward approved the corpus after a review.\n** Access Rules\n#+BEGIN_QUOTE\n"
            "Every query is checked against the policy.\n#+END_QUOTE\n",
        ),
    ],
)
def test_light_markup_headings_become_titles(tmp_path: Path, name: str, content: str) -> None:
    document = parse_file(write(tmp_path, name, content), max_bytes=MAX_BYTES)

    texts = {document.text[s.start : s.end]: s.category for s in document.sections}
    assert texts["Governance Notes"] == "Title"
    assert texts["Access Rules"] == "Title"
    assert "The steward approved the corpus after a review." in texts
    assert "Every query is checked against the policy." in texts
    assert document.title == "Governance Notes"
    for markup in ("==", "--", ".. ", "#+", ":PROPERTIES:", ":ID:", "* "):
        assert markup not in document.text
    assert_sections_exact(document)


@pytest.mark.integration
def test_xml_gives_its_leaf_text_and_resolves_no_entities(tmp_path: Path) -> None:
    secret = write(tmp_path, "secret.txt", "TOP-SECRET-CONTENT")
    content = (
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY leak SYSTEM "file://{secret}">]>'
        "<r><record><name>North archive</name><owner>Alice Example</owner></record><x>&leak;</x></r>"
    )
    document = parse_file(write(tmp_path, "records.xml", content), max_bytes=MAX_BYTES)

    assert "North archive" in document.text
    assert "Alice Example" in document.text
    assert "TOP-SECRET-CONTENT" not in document.text
    assert_sections_exact(document)


def _table_rows(document: ParsedDocument) -> list[list[str]]:
    return [document.text[s.start : s.end].split("\n") for s in document.sections if s.category == "Table"]


@pytest.mark.integration
def test_docx_tables_keep_rows_and_rendered_page_breaks_number_pages(tmp_path: Path) -> None:
    document = parse_file(make_docx_with_table_and_page(tmp_path / "review.docx"), max_bytes=MAX_BYTES)

    assert _table_rows(document) == [["Region | Owner", "North | Alice", "South | Bob"]]
    pages = {document.text[s.start : s.end]: s.page for s in document.sections}
    assert pages["Quarterly Governance Review"] == 1
    assert pages["The second page lists the findings of the auditors."] == 2
    assert_sections_exact(document)


@pytest.mark.integration
def test_pptx_pages_are_slides_with_notes_and_table_rows(tmp_path: Path) -> None:
    document = parse_file(make_pptx(tmp_path / "deck.pptx"), max_bytes=MAX_BYTES)

    pages = {document.text[s.start : s.end]: s.page for s in document.sections}
    assert pages["Retention Schedule"] == 1
    assert pages["Records are kept for seven years after closure."] == 1
    assert pages["Mention the audit exception for tax records."] == 1
    assert pages["Owners by Region"] == 2
    assert pages["Region | Owner\nNorth | Alice\nSouth | Bob"] == 2
    assert document.title == "Retention Schedule"
    assert_sections_exact(document)


@pytest.mark.integration
def test_xlsx_sheets_are_pages_and_blank_rows_split_tables(tmp_path: Path) -> None:
    document = parse_file(make_xlsx(tmp_path / "owners.xlsx"), max_bytes=MAX_BYTES)

    sections = [(document.text[s.start : s.end], s.category, s.page) for s in document.sections]
    assert sections == [
        ("Owners", "Title", 1),
        ("Region | Owner\nNorth | Alice\nSouth | Bob", "Table", 1),
        ("Total | 2", "Table", 1),
        ("Budget", "Title", 2),
        ("Year | Amount\n2024 | 1500", "Table", 2),
    ]


@pytest.mark.integration
@pytest.mark.parametrize(
    ("content", "rows"),
    [
        ('Region,Owner\nNorth,"Alice, Jr."\n', ["Region | Owner", "North | Alice, Jr."]),
        ("Region;Owner\nNorth;Alice\nSouth;Bob\n", ["Region | Owner", "North | Alice", "South | Bob"]),
        ("Region\tOwner\nNorth\tAlice\n", ["Region | Owner", "North | Alice"]),
        ("Owners\nAlice\nBob\n", ["Owners", "Alice", "Bob"]),
        ("Région,Propriétaire\nNord,Zoë\n".encode("utf-16"), ["Région | Propriétaire", "Nord | Zoë"]),
        ("Région,Propriétaire\nNord,Zoë\n".encode("cp1252"), ["Région | Propriétaire", "Nord | Zoë"]),
    ],
    ids=["quoted-comma", "semicolon", "tab", "one-column", "utf-16", "cp1252"],
)
def test_csv_is_a_table_of_rows(tmp_path: Path, content: str | bytes, rows: list[str]) -> None:
    document = parse_file(write(tmp_path, "owners.csv", content), max_bytes=MAX_BYTES)

    assert _table_rows(document) == [rows]
    assert document.title == "owners"


@pytest.mark.integration
def test_odt_gives_headings_lists_and_table_rows(tmp_path: Path) -> None:
    document = parse_file(make_odt(tmp_path / "policy.odt"), max_bytes=MAX_BYTES)

    texts = {document.text[s.start : s.end]: s.category for s in document.sections}
    assert texts["Records Policy"] == "Title"
    assert "Paper records are scanned and kept for ten years." in " ".join(document.text.split())
    assert texts["Scan within a week"] == "ListItem"
    assert "A paragraph inside a section is kept as well." in texts
    assert _table_rows(document) == [["Region | Owner", "North | Alice"]]
    assert "Table" not in texts  # the sequence declaration's name is no text
    assert document.title == "Records Policy"


@pytest.mark.integration
def test_epub_reads_the_spine_in_order(tmp_path: Path) -> None:
    document = parse_file(make_epub(tmp_path / "book.epub"), max_bytes=MAX_BYTES)

    first = document.text.index("The first chapter opens the book.")
    second = document.text.index("The second chapter follows the first.")
    assert first < second
    assert document.title == "Chapter One"
    assert "color: black" not in document.text
    assert_sections_exact(document)


@pytest.mark.integration
def test_rtf_gives_paragraphs_and_table_rows(tmp_path: Path) -> None:
    document = parse_file(write(tmp_path, "notes.rtf", RTF), max_bytes=MAX_BYTES)

    texts = [document.text[s.start : s.end] for s in document.sections]
    assert "Retention Notes" in texts
    assert "The café archive closes at noon on Fridays." in texts
    assert any(text.startswith("Region|Owner") for text in texts)
    assert "fonttbl" not in document.text
    assert "Times New Roman" not in document.text


def _plain_message() -> bytes:
    message = EmailMessage()
    message["From"] = "a@example.com"
    message["Subject"] = "Data retention"
    message.set_content("The retention schedule was approved by the steward on Monday.\n")
    return bytes(message)


def _raw_mail(headers: str, body: bytes) -> bytes:
    return headers.replace("\n", "\r\n").encode("ascii") + b"\r\n" + body


@pytest.mark.integration
@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            # A message saved as UTF-16 as a whole, as some Windows tools do.
            _plain_message().decode("ascii").encode("utf-16"),
            "The retention schedule was approved by the steward on Monday.",
        ),
        (
            # 8-bit cp1252 body that declares no charset.
            _raw_mail(
                "From: a@example.com\nSubject: x\nContent-Transfer-Encoding: 8bit\n",
                CP1252_PROSE.encode("cp1252"),
            ),
            CP1252_PROSE,
        ),
        (
            # A wrong declaration: says UTF-8, is cp1252.
            _raw_mail(
                "From: a@example.com\nContent-Type: text/plain; charset=utf-8\n"
                "Content-Transfer-Encoding: 8bit\n",
                CP1252_PROSE.encode("cp1252"),
            ),
            CP1252_PROSE,
        ),
        (
            _raw_mail(
                'From: a@example.com\nContent-Type: multipart/digest; boundary="b"\n',
                b"--b\r\nContent-Type: message/rfc822\r\n\r\n"
                b"Subject: one\r\n\r\nFirst collected message text.\r\n"
                b"--b\r\nContent-Type: message/rfc822\r\n\r\n"
                b"Subject: two\r\n\r\nSecond collected message text.\r\n"
                b"--b--\r\n",
            ),
            "Second collected message text.",
        ),
    ],
    ids=["utf-16", "cp1252-undeclared", "cp1252-declared-utf-8", "digest"],
)
def test_eml_encodings_and_digests(tmp_path: Path, content: bytes, expected: str) -> None:
    document = parse_file(write(tmp_path, "mail.eml", content), max_bytes=MAX_BYTES)

    assert expected in document.text
    assert "a@example.com" not in document.text
    assert_sections_exact(document)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"  \r\n\r\n   \r\n", "empty e-mail"),
        (
            _raw_mail(
                "From: a@example.com\n"
                'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="b"\n',
                b"--b\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n--b\r\n"
                b"Content-Type: application/octet-stream\r\n\r\n-----BEGIN PGP MESSAGE-----\r\n--b--\r\n",
            ),
            "encrypted e-mail",
        ),
        (
            _raw_mail(
                "From: a@example.com\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data\n"
                "Content-Transfer-Encoding: base64\n",
                b"MIAGCSqGSIb3DQEHA6CAMIACAQAxggFAMIIBPAIBADCBpjCBmDELMAkGA1UEBhMC\r\n",
            ),
            "encrypted e-mail",
        ),
        (
            _raw_mail(
                'From: a@example.com\nContent-Type: multipart/mixed; boundary="b"\n',
                b"--b\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=a.png\r\n"
                b"Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--b--\r\n",
            ),
            "e-mail has no text body (attachments are not processed)",
        ),
    ],
    ids=["empty", "pgp", "smime", "attachment-only"],
)
def test_eml_without_readable_body_fails_with_its_reason(tmp_path: Path, content: bytes, reason: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_file(write(tmp_path, "mail.eml", content), max_bytes=MAX_BYTES)
    assert caught.value.detail == reason


@pytest.mark.unit
@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("broken.pptx", b"not a zip at all", "could not parse .pptx: not a valid zip container"),
        ("broken.xlsx", b"PK\x03\x04 truncated", "could not parse .xlsx: not a valid zip container"),
        ("broken.odt", b"plain text", "could not parse .odt: not a valid zip container"),
        ("broken.epub", b"plain text", "could not parse .epub: not a valid zip container"),
        ("broken.doc", b"plain text, not Word", "could not parse .doc: not a Word 97-2003 document"),
        ("broken.rtf", b"plain text, not RTF", "could not parse .rtf: not an RTF document"),
        ("broken.msg", b"plain text, not Outlook", "could not parse .msg: not an Outlook message file"),
        (
            "cut.msg",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"x" * 600,
            "could not parse .msg: damaged Outlook message file",
        ),
        ("broken.xml", b"<a><b></a>", "could not parse .xml: malformed XML"),
        ("broken.csv", b'a,"b\n' + b"x" * 200_000 + b"\n", "could not parse .csv: malformed CSV"),
    ],
)
def test_damaged_files_fail_with_a_readable_reason(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    with pytest.raises(ParseError) as caught:
        parse_file(write(tmp_path, name, content), max_bytes=MAX_BYTES)
    assert caught.value.detail == reason


@pytest.mark.unit
@pytest.mark.parametrize(
    ("name", "make", "reason"),
    [
        (
            "no-content.odt",
            lambda p: _zip(p, {"mimetype": "x"}),
            "could not parse .odt: a required part is missing",
        ),
        (
            "no-container.epub",
            lambda p: _zip(p, {"mimetype": "x"}),
            "could not parse .epub: a required part is missing",
        ),
        ("drm.epub", lambda p: make_epub(p, encrypted=True), "encrypted e-book (DRM)"),
        (
            "locked.odt",
            lambda p: _zip(
                p,
                {
                    "content.xml": "\x00binary ciphertext",
                    "META-INF/manifest.xml": '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:'
                    'opendocument:xmlns:manifest:1.0"><manifest:file-entry manifest:full-path="content.xml">'
                    "<manifest:encryption-data/></manifest:file-entry></manifest:manifest>",
                },
            ),
            "encrypted OpenDocument (password-protected)",
        ),
    ],
)
def test_incomplete_packages_fail_with_a_readable_reason(
    tmp_path: Path, name: str, make: Callable[[Path], Path], reason: str
) -> None:
    with pytest.raises(ParseError) as caught:
        parse_file(make(tmp_path / name), max_bytes=MAX_BYTES)
    assert caught.value.detail == reason


@pytest.mark.integration
@pytest.mark.parametrize(
    ("make", "name", "reason"),
    [
        (_docx, "renamed.pptx", "could not parse .pptx: not a PowerPoint presentation"),
        (_docx, "renamed.xlsx", "could not parse .xlsx: not an Excel workbook"),
        (make_pptx, "renamed.docx", "could not parse .docx: not a Word document"),
    ],
)
def test_office_package_of_another_kind_is_named(
    tmp_path: Path, make: Callable[[Path], Path], name: str, reason: str
) -> None:
    source = make(tmp_path / "source")
    with pytest.raises(ParseError) as caught:
        parse_file(source.rename(tmp_path / name), max_bytes=MAX_BYTES)
    assert caught.value.detail == reason


def _zip(path: Path, members: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return path


@pytest.mark.integration
def test_doc_that_is_really_a_docx_is_read_as_one(tmp_path: Path) -> None:
    document = parse_file(_docx(tmp_path / "renamed.doc"), max_bytes=MAX_BYTES)
    assert document.title == "Quarterly Governance Review"


@pytest.mark.integration
@pytest.mark.shared_data
def test_legacy_doc_without_catdoc_names_the_missing_converter(
    shared_data: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no catdoc on it
    with pytest.raises(ParseError) as caught:
        parse_file(shared_data / "mixed-docs" / "fake.doc", max_bytes=MAX_BYTES)
    assert caught.value.detail == "legacy .doc needs catdoc, which is not installed"


@pytest.mark.integration
@pytest.mark.shared_data
def test_legacy_doc_is_read_with_catdoc(shared_data: Path) -> None:
    require(shutil.which("catdoc"), "catdoc is not installed (apt-get install catdoc)")
    document = parse_file(shared_data / "mixed-docs" / "fake-doc-emphasized-text.doc", max_bytes=MAX_BYTES)

    texts = [document.text[s.start : s.end] for s in document.sections]
    assert "I am a bold italic bold-italic text." in texts
    assert "HYPERLINK" not in document.text
    assert_sections_exact(document)


@pytest.mark.integration
@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("name", "outcome"),
    [
        ("fake-email.msg", "This is a test email to use for unit tests."),
        ("fake-encrypted.msg", ParseError("encrypted e-mail")),
        ("password_protected.xlsx", ParseError("encrypted Office document (password-protected)")),
    ],
)
def test_shared_msg_and_protected_office_files(
    shared_data: Path, name: str, outcome: str | ParseError
) -> None:
    # No library at hand writes Outlook or encrypted Office files, so these come from the shared sample.
    path = shared_data / "mixed-docs" / name
    if isinstance(outcome, ParseError):
        with pytest.raises(ParseError) as caught:
            parse_file(path, max_bytes=MAX_BYTES)
        assert caught.value.detail == outcome.detail
    else:
        assert outcome in parse_file(path, max_bytes=MAX_BYTES).text


@pytest.mark.integration
@pytest.mark.parametrize("name", ["notes.txt", "report.pdf"])
def test_batched_classification_gives_the_same_elements(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    import contextlib

    from ingest.formats import nlp

    paragraphs = [
        "ANNUAL GOVERNANCE REPORT",
        "The steward approved the corpus after a review of its sources.",
        "Retention",
        "Records are kept for seven years. Tax records are kept for ten.",
        "1. Scan the paper records",
        "Owner: Alice Example",
    ]
    if name.endswith(".pdf"):
        path = write(tmp_path, name, minimal_pdf([paragraphs[:3], paragraphs[3:]]))
    else:
        path = write(tmp_path, name, "\n\n".join(paragraphs * 3))
    batched = parse_file(path, max_bytes=MAX_BYTES)

    # Unbatched: every text goes through spaCy on its own, as unstructured does it.
    monkeypatch.setattr(nlp, "batched", lambda texts: contextlib.nullcontext())
    from unstructured.nlp import tokenize

    for cache in (
        tokenize._process_cached,
        tokenize._tokenize_for_cache,
        tokenize.word_tokenize,
        tokenize.pos_tag,
    ):
        cache.cache_clear()
    assert parse_file(path, max_bytes=MAX_BYTES) == batched
    assert {s.category for s in batched.sections} >= {"Title", "NarrativeText"}


@pytest.mark.integration
def test_heuristics_run_the_sentence_recognizer_not_the_parser(tmp_path: Path) -> None:
    """unstructured's title/narrative heuristics need tags and sentence boundaries: the cheap `senter`
    gives the boundaries, so neither the dependency parser nor the entity recognizer runs while parsing."""
    from unstructured.nlp import tokenize

    path = write(tmp_path, "note.txt", "Retention\n\nRecords are kept for seven years. Tax records for ten.")
    parsed = parse_file(path, max_bytes=MAX_BYTES)
    assert [s.category for s in parsed.sections] == ["Title", "NarrativeText"]
    pipeline = tokenize._get_nlp()
    assert set(pipeline.pipe_names) == {"tok2vec", "tagger", "senter"}
    assert tokenize.sent_tokenize("Records are kept for seven years. Tax records for ten.") == [
        "Records are kept for seven years.",
        "Tax records for ten.",
    ]
