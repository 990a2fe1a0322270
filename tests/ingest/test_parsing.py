"""parse_file on small files of every supported format, written at test time, and on the shared sample."""

from __future__ import annotations

import json
import zipfile
from email.message import EmailMessage
from pathlib import Path

import pytest

from ingest.chunking import Chunker, default_tokenizer_file
from ingest.parsing import SUPPORTED_SUFFIXES, ParsedDocument, parse_file
from retrieval.errors import IngestionError, ParseError, UnsupportedFormat
from tests.netguard import run_guarded

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
@pytest.mark.parametrize("name", ["sheet.xlsx", "notes.rtf", "README"])
def test_unsupported_suffix(tmp_path: Path, name: str) -> None:
    with pytest.raises(UnsupportedFormat, match=r"^unsupported format"):
        parse_file(write(tmp_path, name, "some text"), max_bytes=MAX_BYTES)


@pytest.mark.unit
def test_supported_suffixes() -> None:
    assert {".txt", ".md", ".html", ".htm", ".pdf", ".docx", ".eml"} == SUPPORTED_SUFFIXES


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
    assert result.stdout.count("OK ") == 7, result.stdout
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
