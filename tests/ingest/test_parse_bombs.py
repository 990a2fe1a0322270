"""Decompression and expansion bombs fail their own document with a reason, within a per-document budget;
a document that needs more memory or CPU than its parser process may use fails alone, and the next one is
parsed by a fresh process."""

from __future__ import annotations

import resource

import pytest

from ingest.formats.budget import ParseLimits
from ingest.parse_worker import ParseFailure, parse_isolated
from ingest.parsing import ParsedDocument, parse_bytes
from retrieval.errors import ParseError
from tests.ingest import hostile_files

MAX_BYTES = 50 * 1024 * 1024


def parse(data: bytes, suffix: str, limits: ParseLimits | None = None) -> ParsedDocument:
    return parse_bytes(data, suffix=suffix, stem="hostile", max_bytes=MAX_BYTES, limits=limits)


@pytest.mark.unit
def test_an_odt_space_run_is_clamped() -> None:
    # 2 billion spaces in a few hundred bytes: the run is clamped, the text around it kept.
    text = parse(hostile_files.odt_space_bomb(2_000_000_000), ".odt").text
    assert "Before the gap." in text and "After the gap." in text
    assert len(text) < 2000


@pytest.mark.unit
def test_many_odt_space_runs_exceed_the_character_budget() -> None:
    with pytest.raises(ParseError, match="more than 1000000 characters"):
        parse(hostile_files.odt_space_bomb(10**9, runs=5000), ".odt", ParseLimits(max_characters=1_000_000))


@pytest.mark.unit
def test_an_xlsx_dimension_pads_nothing() -> None:
    # Padded to the claimed "A1:XFD1048576", each of the 5,000 rows would be 16,384 cells (82 million, tens
    # of seconds of CPU for a 40 kB file; and a row far down would add a million such rows).
    data = hostile_files.xlsx_with_dimension("A1:XFD1048576", rows=5000)
    text = parse(data, ".xlsx", ParseLimits(max_cells=20_000)).text
    assert text.startswith("Quarter | Revenue\n2 | 20\n") and text.endswith("5000 | 50000")


@pytest.mark.unit
def test_a_row_far_down_a_sheet_exceeds_the_row_budget() -> None:
    with pytest.raises(ParseError, match="more than 10000 rows"):
        parse(hostile_files.xlsx_with_row_gap(200_000), ".xlsx", ParseLimits(max_rows=10_000))


@pytest.mark.unit
def test_wide_rows_exceed_the_cell_budget() -> None:
    with pytest.raises(ParseError, match="more than 1000000 cells"):
        parse(hostile_files.xlsx_with_wide_rows(100), ".xlsx", ParseLimits(max_cells=1_000_000))


@pytest.mark.unit
def test_an_epub_spine_naming_one_chapter_many_times_reads_it_once() -> None:
    text = parse(hostile_files.epub_with_repeated_spine(500, "The only chapter."), ".epub").text
    assert text.count("The only chapter.") == 1


@pytest.mark.unit
def test_zip_parts_are_checked_before_python_docx_reads_them() -> None:
    # One part over the per-part cap (declared size), and parts over the document's budget together.
    with pytest.raises(ParseError, match="a part unpacks to more than"):
        parse(hostile_files.docx_with_zero_parts(1, 300 * 1024 * 1024), ".docx")
    bomb = hostile_files.docx_with_zero_parts(3, 4 * 1024 * 1024)
    with pytest.raises(ParseError, match="parts unpack to more than 8388608 bytes in all"):
        parse(bomb, ".docx", ParseLimits(max_uncompressed_bytes=8 * 1024 * 1024))
    assert parse(bomb, ".docx").text == "The quarterly report is attached."


@pytest.mark.unit
def test_pdf_streams_inflate_within_the_budget() -> None:
    bomb = hostile_files.pdf_with_flate_bomb(64 * 1024 * 1024)
    assert len(bomb) < 200_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ParseError, match="more than 8388608 bytes unpacked"):
        parse(bomb, ".pdf", ParseLimits(max_uncompressed_bytes=8 * 1024 * 1024))
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 48 * 1024, f"peak RSS grew by {grown_kib} KiB"
    assert parse(hostile_files.pdf_with_flate_bomb(1000, "Quarterly"), ".pdf").text == "Quarterly"


@pytest.mark.integration
def test_a_document_over_the_process_limits_fails_alone_and_the_parser_is_replaced() -> None:
    # A budget loose enough to let the document through to the process limits: 1 s of CPU. 5,000 rows of
    # 16,384 cells take several seconds.
    loose = ParseLimits(max_rows=10**9, max_cells=10**9, cpu_seconds=1, timeout_seconds=120)
    heavy = hostile_files.xlsx_with_wide_rows(5000)
    answer = parse_isolated(heavy, suffix=".xlsx", stem="heavy", max_bytes=MAX_BYTES, limits=loose)
    assert isinstance(answer, ParseFailure)
    assert answer.reason.startswith("parsing was stopped") and "1 s of CPU" in answer.reason
    after = parse_isolated(b"A short note.\n", suffix=".txt", stem="note", max_bytes=MAX_BYTES, limits=loose)
    assert isinstance(after, ParsedDocument) and after.text == "A short note."

    # A wall-time limit below what the document takes: the process is killed and replaced.
    slow = ParseLimits(max_rows=10**9, max_cells=10**9, timeout_seconds=0.5)
    answer = parse_isolated(heavy, suffix=".xlsx", stem="heavy", max_bytes=MAX_BYTES, limits=slow)
    assert isinstance(answer, ParseFailure) and "longer than 0.5 s" in answer.reason
    after = parse_isolated(b"Another note.\n", suffix=".txt", stem="note", max_bytes=MAX_BYTES, limits=slow)
    assert isinstance(after, ParsedDocument) and after.text == "Another note."
