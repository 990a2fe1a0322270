"""Sentences, quotes found whatever their spacing and case, and chunk offsets mapped into the document."""

from __future__ import annotations

import pytest

from retrieval.answer_support import calibrated
from retrieval.answer_text import Span, document_span, find_quote, sentences

pytestmark = pytest.mark.unit


def texts(answer: str) -> list[str]:
    return [answer[s.start : s.end] for s in sentences(answer)]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("One. Two!  Three?", ["One.", "Two!", "Three?"]),
        ("Leave lasts 16 weeks (full pay).\nAsk HR", ["Leave lasts 16 weeks (full pay).", "Ask HR"]),
        ('He said "yes." Then left.', ['He said "yes."', "Then left."]),
        ("  . \n - \n", []),
        ("Version 2.5 ships today.", ["Version 2.5 ships today."]),
    ],
)
def test_sentences(answer: str, expected: list[str]) -> None:
    assert texts(answer) == expected


@pytest.mark.parametrize(
    ("quote", "text", "expected"),
    [
        ("sixteen weeks", "Leave lasts Sixteen\n  Weeks at full pay.", (12, 27)),
        ("  LEAVE lasts ", "Leave lasts sixteen weeks.", (0, 11)),
        ("<person> at", "Ask <PERSON> at <EMAIL_ADDRESS>.", (4, 15)),
        ("twelve weeks", "Leave lasts sixteen weeks.", None),
        ("   ", "anything", None),
    ],
)
def test_find_quote(quote: str, text: str, expected: tuple[int, int] | None) -> None:
    found = find_quote(quote, text)
    assert (None if found is None else (found.start, found.end)) == expected


def test_document_offsets_count_from_the_nearer_unmasked_end() -> None:
    original = "Ask Hannah Schmidt about leave. It lasts sixteen weeks."
    masked = "Ask <PERSON> about leave. It lasts sixteen weeks."
    start_char = 100  # the chunk's place in the document's extracted text
    end_char = start_char + len(original)
    document = " " * start_char + original

    ask = find_quote("Ask", masked)
    weeks = find_quote("sixteen weeks", masked)
    assert ask is not None and weeks is not None
    for span in (ask, weeks):
        mapped = document_span(masked, span, start_char, end_char)
        assert mapped is not None
        assert document[mapped.start : mapped.end] == masked[span.start : span.end]

    # Across the placeholder: from the start to the start side, from the end to the end side.
    across = find_quote("Ask <PERSON> about", masked)
    assert across is not None
    mapped = document_span(masked, across, start_char, end_char)
    assert mapped is not None and document[mapped.start : mapped.end] == "Ask Hannah Schmidt about"


def test_document_offsets_between_two_placeholders_are_unknown() -> None:
    masked = "Mail <PERSON> or call <PHONE_NUMBER> today."
    span = find_quote("or call", masked)
    assert span is not None
    assert document_span(masked, span, 0, 60) is None
    assert document_span("no placeholders here", Span(3, 15), 10, 30) == Span(13, 25)


def test_the_calibrated_score_is_a_probability_rising_with_the_cosine() -> None:
    values = [calibrated(c / 10) for c in range(-10, 11)]
    assert all(0.0 < v < 1.0 for v in values)
    assert values == sorted(values) and values[0] < 0.5 < values[-1]
