"""Chunker: token-bounded chunks whose offsets are exact and which never cross a page."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.chunking import Chunker, TextChunk, _locate, default_tokenizer_file
from ingest.parsing import ParsedDocument, Section, parse_file

CHUNK_SIZE = 48
OVERLAP = 8
# The splitter sums the token counts of its pieces; the joined text can tokenize a token or two longer.
TOLERANCE = 4


@pytest.fixture(scope="module")
def chunker() -> Chunker:
    return Chunker(chunk_size=CHUNK_SIZE, chunk_overlap=OVERLAP, tokenizer_file=default_tokenizer_file())


def paged_document(pages: list[list[str]]) -> ParsedDocument:
    """A document as parse_file builds one: element texts joined by blank lines, one section each."""
    parts: list[str] = []
    sections: list[Section] = []
    offset = 0
    for number, paragraphs in enumerate(pages, start=1):
        for paragraph in paragraphs:
            if parts:
                parts.append("\n\n")
                offset += 2
            parts.append(paragraph)
            sections.append(Section(offset, offset + len(paragraph), number, "NarrativeText"))
            offset += len(paragraph)
    return ParsedDocument(text="".join(parts), title="t", sections=tuple(sections), content_sha256="0" * 64)


def sentences(topic: str, count: int) -> str:
    return " ".join(
        f"Sentence {i} of the {topic} section explains one more governance rule." for i in range(count)
    )


def assert_chunks_valid(document: ParsedDocument, chunks: list[TextChunk], chunker: Chunker) -> None:
    assert [chunk.ordinal for chunk in chunks] == list(range(len(chunks)))
    previous_start = -1
    for chunk in chunks:
        assert document.text[chunk.start_char : chunk.end_char] == chunk.text
        assert chunk.text.strip() == chunk.text and chunk.text
        assert chunk.start_char > previous_start
        previous_start = chunk.start_char
        assert chunker.count_tokens(chunk.text) <= chunker.chunk_size + TOLERANCE
        overlapping = [s for s in document.sections if s.start < chunk.end_char and chunk.start_char < s.end]
        assert {s.page for s in overlapping} == {chunk.page}, chunk


def assert_covers_all_text(document: ParsedDocument, chunks: list[TextChunk]) -> None:
    covered = [False] * len(document.text)
    for chunk in chunks:
        covered[chunk.start_char : chunk.end_char] = [True] * (chunk.end_char - chunk.start_char)
    missing = [i for i, char in enumerate(document.text) if not char.isspace() and not covered[i]]
    assert not missing


@pytest.mark.integration
def test_chunks_fit_the_size_and_never_cross_a_page(chunker: Chunker) -> None:
    document = paged_document(
        [
            ["Introduction", sentences("first", 9)],
            [sentences("second", 3), "A short closing line on page two."],
            [sentences("third", 14)],
        ]
    )
    chunks = chunker.chunk(document)

    assert_chunks_valid(document, chunks, chunker)
    assert_covers_all_text(document, chunks)
    assert {chunk.page for chunk in chunks} == {1, 2, 3}
    assert len(chunks) > 3
    assert chunks == chunker.chunk(document)


@pytest.mark.integration
def test_repeated_paragraphs_get_their_own_offsets(chunker: Chunker) -> None:
    # The same paragraph three times: each occurrence must be found where it is, not at the first copy.
    paragraph = sentences("repeated", 4)
    document = paged_document([[paragraph, paragraph, paragraph]])
    document = ParsedDocument(
        text=document.text,
        title=document.title,
        sections=tuple(Section(s.start, s.end, None, s.category) for s in document.sections),
        content_sha256=document.content_sha256,
    )
    chunks = chunker.chunk(document)

    assert_chunks_valid(document, chunks, chunker)
    assert_covers_all_text(document, chunks)
    assert chunks[-1].end_char == len(document.text)


@pytest.mark.integration
def test_chunks_of_a_parsed_file(tmp_path: Path, chunker: Chunker) -> None:
    path = tmp_path / "policy.md"
    path.write_text(
        "# Retention\n\n" + sentences("retention", 10) + "\n\n## Access\n\n" + sentences("access", 10) + "\n",
        encoding="utf-8",
    )
    document = parse_file(path, max_bytes=1_000_000)
    chunks = chunker.chunk(document)

    assert len(chunks) > 2
    assert_chunks_valid(document, chunks, chunker)
    assert_covers_all_text(document, chunks)
    assert all(chunk.page is None for chunk in chunks)
    assert chunks == chunker.chunk(parse_file(path, max_bytes=1_000_000))


@pytest.mark.integration
def test_long_unbroken_text_is_still_split_within_the_limit(chunker: Chunker) -> None:
    # No sentence or paragraph boundary: the splitter falls back to words.
    document = paged_document([[" ".join(f"word{i}" for i in range(400))]])
    chunks = chunker.chunk(document)

    assert len(chunks) > 1
    assert_chunks_valid(document, chunks, chunker)
    assert_covers_all_text(document, chunks)


@pytest.mark.integration
def test_counts_tokens_without_the_tokenizer_files_padding(chunker: Chunker) -> None:
    # tokenizer.json pads to 128; a count that ignored that would give 128 here.
    assert chunker.count_tokens("hello world") == 2
    assert chunker.count_tokens(" ".join(["governance"] * 300)) == 300


@pytest.mark.unit
def test_locate_aligns_a_piece_whose_whitespace_the_splitter_dropped() -> None:
    text = "Alpha beta.\n\n  Gamma delta. Epsilon zeta."
    pieces = ["Alpha beta.", "beta.Gamma delta.", "Epsilon zeta."]

    spans = list(_locate(pieces, text))

    assert [text[start:end] for start, end in spans] == [
        "Alpha beta.",
        "beta.\n\n  Gamma delta.",
        "Epsilon zeta.",
    ]


@pytest.mark.unit
def test_locate_skips_blank_pieces_and_prefers_the_occurrence_past_the_previous_one() -> None:
    text = "same words. same words."
    spans = list(_locate(["same words. same words.", "   ", "same words."], text))

    assert spans == [(0, 23), (12, 23)]


@pytest.mark.unit
def test_rejects_overlap_not_below_size() -> None:
    with pytest.raises(ValueError, match="chunk_overlap"):
        Chunker(chunk_size=32, chunk_overlap=32, tokenizer_file=default_tokenizer_file())


def structured_document(sections: list[tuple[str, str, int | None]]) -> ParsedDocument:
    """A document as parse_file builds one from (text, category, page) elements."""
    parts: list[str] = []
    built: list[Section] = []
    offset = 0
    for text, category, page in sections:
        if parts:
            parts.append("\n\n")
            offset += 2
        parts.append(text)
        built.append(Section(offset, offset + len(text), page, category))
        offset += len(text)
    return ParsedDocument(text="".join(parts), title="t", sections=tuple(built), content_sha256="0" * 64)


def chunk_texts(chunks: list[TextChunk]) -> list[str]:
    return [chunk.text for chunk in chunks]


@pytest.mark.integration
def test_a_heading_starts_a_new_chunk_when_its_section_does_not_fit(chunker: Chunker) -> None:
    # Each section alone fits in a chunk, two together do not: each chunk is one whole section.
    document = structured_document(
        [
            ("Retention", "Title", None),
            (sentences("retention", 2), "NarrativeText", None),
            ("Access", "Title", None),
            (sentences("access", 2), "NarrativeText", None),
        ]
    )
    chunks = chunker.chunk(document)

    assert chunk_texts(chunks) == [
        "Retention\n\n" + sentences("retention", 2),
        "Access\n\n" + sentences("access", 2),
    ]
    assert_chunks_valid(document, chunks, chunker)


@pytest.mark.integration
def test_small_sections_on_one_page_share_a_chunk(chunker: Chunker) -> None:
    document = structured_document(
        [
            ("Retention", "Title", 1),
            ("Kept seven years.", "NarrativeText", 1),
            ("Access", "Title", 1),
            ("Checked by policy.", "NarrativeText", 1),
            ("Audit", "Title", 2),
            ("Every answer is logged.", "NarrativeText", 2),
        ]
    )
    chunks = chunker.chunk(document)

    assert chunk_texts(chunks) == [
        "Retention\n\nKept seven years.\n\nAccess\n\nChecked by policy.",
        "Audit\n\nEvery answer is logged.",
    ]
    assert [chunk.page for chunk in chunks] == [1, 2]
    assert_chunks_valid(document, chunks, chunker)


def table_text(rows: int) -> str:
    return "\n".join(f"Region {i} | Owner {i} | Retention period {i} years | Reviewed" for i in range(rows))


@pytest.mark.integration
def test_a_table_is_chunked_on_row_boundaries_apart_from_prose(chunker: Chunker) -> None:
    table = table_text(12)
    document = structured_document(
        [
            ("Owners", "Title", 3),
            ("The table lists each region's owner.", "NarrativeText", 3),
            (table, "Table", 3),
            ("The owners review the table yearly.", "NarrativeText", 3),
        ]
    )
    chunks = chunker.chunk(document)
    table_start = document.text.index(table)
    table_chunks = [c for c in chunks if table_start <= c.start_char < table_start + len(table)]

    assert chunk_texts(chunks)[0] == "Owners\n\nThe table lists each region's owner."
    assert chunk_texts(chunks)[-1] == "The owners review the table yearly."
    assert len(table_chunks) > 1
    rows = table.split("\n")
    for chunk in table_chunks:
        assert all(line in rows for line in chunk.text.split("\n")), chunk.text  # whole rows only
    # No overlap, nothing lost: the table's chunks hold every row once, in order.
    assert [line for chunk in table_chunks for line in chunk.text.split("\n")] == rows
    assert_chunks_valid(document, chunks, chunker)
    assert_covers_all_text(document, chunks)


@pytest.mark.integration
def test_a_table_row_longer_than_a_chunk_is_split_within_the_limit(chunker: Chunker) -> None:
    long_row = " | ".join(f"cell{i} value" for i in range(60))
    document = structured_document([("Short | row", "Table", None), (long_row, "Table", None)])
    chunks = chunker.chunk(document)

    assert chunks[0].text == "Short | row"
    assert len(chunks) > 2
    assert_chunks_valid(document, chunks, chunker)
    assert_covers_all_text(document, chunks)


@pytest.mark.integration
def test_chunks_of_a_parsed_slide_deck_follow_slides(tmp_path: Path, chunker: Chunker) -> None:
    from tests.factories import make_pptx

    document = parse_file(make_pptx(tmp_path / "deck.pptx"), max_bytes=1_000_000)
    chunks = chunker.chunk(document)

    assert [chunk.page for chunk in chunks] == [1, 2, 2]
    assert chunks[2].text == "Region | Owner\nNorth | Alice\nSouth | Bob"
    assert_chunks_valid(document, chunks, chunker)
    assert_covers_all_text(document, chunks)
