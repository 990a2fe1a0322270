"""Text work for answer verification: an answer's sentences, a quote found in a chunk whatever its spacing and
case, and where a span of a masked chunk lies in the document's extracted text."""

from __future__ import annotations

import re
from dataclasses import dataclass

# A sentence ends at . ! or ? (closing quotes and brackets kept with it) followed by white space, or at a
# line break. Abbreviations ("e.g. this") split too: a citation anchored by its offsets does not care, and
# one anchored by its quote finds the piece that holds the quote.
_SENTENCE_END = re.compile(r"""[.!?]+["')\]]*(?=\s)|\n""")
# What masking writes in place of a value: `<PERSON>`, `<PERSON_3f9a1c2b>`, `[REDACTED]`
# (retrieval.pii.masker). Its length says nothing of the value's, so offsets past it cannot be counted.
_PLACEHOLDER = re.compile(r"<[A-Z][A-Z0-9_]*>|\[REDACTED\]")


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int


def sentences(text: str) -> list[Span]:
    """The sentences of `text` as spans, leading and trailing white space left out; pieces without a letter
    or digit (a lone bullet, a stray full stop) are not sentences."""
    spans: list[Span] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        _add(text, start, match.end(), spans)
        start = match.end()
    _add(text, start, len(text), spans)
    return spans


def _add(text: str, start: int, end: int, spans: list[Span]) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if not any(ch.isalnum() for ch in stripped):
        return
    left = start + (len(piece) - len(piece.lstrip()))
    spans.append(Span(left, left + len(stripped)))


def _normalized(text: str) -> tuple[str, list[int]]:
    """`text` lower-cased with every run of white space made one space (and none at the ends), and for each
    character of the result the index in `text` it came from."""
    out: list[str] = []
    origin: list[int] = []
    pending_space = -1
    for index, char in enumerate(text):
        if char.isspace():
            if out and pending_space < 0:
                pending_space = index
            continue
        if pending_space >= 0:
            out.append(" ")
            origin.append(pending_space)
            pending_space = -1
        lowered = char.lower()  # may be longer than one character (İ): each part points at its source
        out.append(lowered)
        origin.extend([index] * len(lowered))
    return "".join(out), origin


def find_quote(quote: str, text: str) -> Span | None:
    """Where `quote` occurs in `text` ignoring case and how white space is laid out; the first occurrence,
    as a span of `text`. None if it does not occur (or holds nothing but white space)."""
    needle, _ = _normalized(quote)
    if not needle:
        return None
    haystack, origin = _normalized(text)
    at = haystack.find(needle)
    if at < 0:
        return None
    last = origin[at + len(needle) - 1]
    return Span(origin[at], last + 1)


def document_span(masked: str, span: Span, start_char: int, end_char: int) -> Span | None:
    """Where `span` of a masked chunk lies in the document's extracted text, or None when that cannot be
    known.

    The chunk was `extracted[start_char:end_char]` before masking, and masking only replaced values by
    placeholders. Text before the first placeholder therefore sits at the same distance from `start_char`,
    and text after the last one at the same distance from `end_char`; between placeholders the values'
    lengths are unknown, and the offsets with them.
    """
    placeholders = [Span(m.start(), m.end()) for m in _PLACEHOLDER.finditer(masked)]
    tail = len(masked)

    def locate(position: int) -> int | None:
        if not placeholders or position <= placeholders[0].start:
            return start_char + position
        if position >= placeholders[-1].end:
            return end_char - (tail - position)
        return None

    begin, finish = locate(span.start), locate(span.end)
    if begin is None or finish is None or not start_char <= begin <= finish <= end_char:
        return None
    return Span(begin, finish)
