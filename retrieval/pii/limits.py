"""Bounds on what one analysis costs: how much text it sees, and how long any one pattern may run.

A reader's query and a document's chunk reach the same patterns, so a text that makes a pattern backtrack
would let one request take seconds of CPU. The patterns are written to run in time linear in the text
(possessive words, a capital checked before any lookbehind: see `recognizers/_fragments.py`); these
bounds hold even where one is not:

- `split_for_analysis`: a text longer than `MAX_ANALYSED_CHARS` is analysed in pieces cut at white space,
  consecutive pieces sharing `OVERLAP_CHARS`, so that a value across a cut is whole in one of them (a
  tokenizer keeps a long "word" as one token, so a chunk may hold hundreds of KB in one piece of text);
- `PATTERN_TIMEOUT_S` on every regular-expression scan, presidio's included (`bound_pattern_recognizers`).
  A scan that runs past it raises `MaskingTimeout`, which fails closed: presidio would skip the pattern
  and let what it finds through, so its `TimeoutError` never reaches presidio.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import regex

from retrieval.errors import MaskingTimeout

if TYPE_CHECKING:
    from presidio_analyzer import RecognizerRegistry

__all__ = [
    "MAX_ANALYSED_CHARS",
    "OVERLAP_CHARS",
    "PATTERN_TIMEOUT_S",
    "bound_pattern_recognizers",
    "finditer",
    "split_for_analysis",
]

# About two chunks of prose: the model's context and every pattern's reach (a contact block's five lines,
# an address) fit well inside, and the longest value we mask (a street address over two lines) fits in the
# overlap many times over.
MAX_ANALYSED_CHARS = 3000
OVERLAP_CHARS = 200
# A linear pattern scans a piece of MAX_ANALYSED_CHARS in well under 10 ms; a whole second is a pattern
# gone wrong, or a machine so loaded that failing the text is the safe answer anyway.
PATTERN_TIMEOUT_S = 1.0

_TIMED_OUT = "a PII pattern ran past its time limit; the text could not be masked"


def split_for_analysis(text: str) -> list[tuple[int, str]]:
    """`(offset, piece)` pairs covering `text`: one piece for a text of at most MAX_ANALYSED_CHARS, else
    pieces of at most that length cut at white space where there is some, each starting OVERLAP_CHARS
    (or more, to a white space) before the previous one ended."""
    if len(text) <= MAX_ANALYSED_CHARS:
        return [(0, text)]
    pieces: list[tuple[int, str]] = []
    start = 0
    while True:
        end = start + MAX_ANALYSED_CHARS
        if end >= len(text):
            pieces.append((start, text[start:]))
            return pieces
        # Cut after the last white space in the piece's second half; a piece without any is cut hard.
        cut = max(text.rfind(" ", start + MAX_ANALYSED_CHARS // 2, end), text.rfind("\n", start, end))
        if cut <= start + MAX_ANALYSED_CHARS // 2:
            cut = end
        pieces.append((start, text[start:cut]))
        next_start = cut - OVERLAP_CHARS
        # Start the next piece at a word's start where the overlap has white space.
        space = text.rfind(" ", start + 1, next_start)
        if space > next_start - OVERLAP_CHARS:
            next_start = space + 1
        start = max(next_start, start + 1)


def finditer(
    pattern: regex.Pattern[str], text: str, pos: int = 0, endpos: int | None = None
) -> Iterator[regex.Match[str]]:
    """`pattern.finditer` within PATTERN_TIMEOUT_S; `MaskingTimeout` past it."""
    try:
        yield from pattern.finditer(
            text, pos, len(text) if endpos is None else endpos, timeout=PATTERN_TIMEOUT_S
        )
    except TimeoutError:
        raise MaskingTimeout(_TIMED_OUT) from None


def search(pattern: regex.Pattern[str], text: str, pos: int = 0, endpos: int | None = None) -> Any:
    """`pattern.search` within PATTERN_TIMEOUT_S; `MaskingTimeout` past it."""
    try:
        return pattern.search(text, pos, len(text) if endpos is None else endpos, timeout=PATTERN_TIMEOUT_S)
    except TimeoutError:
        raise MaskingTimeout(_TIMED_OUT) from None


class _BoundedPattern:
    """A compiled pattern whose `finditer` (all presidio's `PatternRecognizer` calls) has our time limit
    and raises `MaskingTimeout`, which presidio does not catch, instead of `TimeoutError`, which it does."""

    def __init__(self, compiled: regex.Pattern[str]) -> None:
        self._compiled = compiled

    def finditer(self, text: str, timeout: float | None = None) -> Iterator[regex.Match[str]]:
        return finditer(self._compiled, text)


def bound_pattern_recognizers(registry: RecognizerRegistry) -> None:
    """Give every pattern of every `PatternRecognizer` in `registry` the time limit, compiled now.

    presidio compiles a pattern on first use unless one compiled with the recognizer's flags is there, and
    passes its own timeout (60 s by default, and a timeout skips the pattern: fails open)."""
    from presidio_analyzer import Pattern, PatternRecognizer

    for recognizer in registry.recognizers:
        if not isinstance(recognizer, PatternRecognizer):
            continue
        flags = recognizer.global_regex_flags
        patterns: list[Pattern] = recognizer.patterns  # type: ignore[has-type]  # presidio's own annotation
        for pattern in patterns:
            # presidio annotates both as None: they are filled in on first use, as here.
            pattern.compiled_regex = _BoundedPattern(regex.compile(pattern.regex, flags=flags))  # type: ignore[assignment]
            pattern.compiled_with_flags = flags  # type: ignore[assignment]
