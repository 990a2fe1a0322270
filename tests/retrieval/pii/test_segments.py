"""Where the spaCy model's text is cut into segments (`retrieval.pii.segments`): lines, table cells, list
bullets and CSV fields; never inside a sentence, a number or a word."""

from __future__ import annotations

import pytest

from retrieval.pii.engine import shared_analysis

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def _segments_of(text: str) -> list[str]:
    from retrieval.pii.segments import _segments

    nlp = shared_analysis().analyzer.nlp_engine.nlp["en"]  # type: ignore[index]
    doc = nlp.make_doc(text)
    return [doc[start:end].text for start, end in _segments(doc)]


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        (
            "Please call Ann Lee, then Bo Li, about the 1,000 units.",
            ["Please call Ann Lee, then Bo Li, about the 1,000 units."],
        ),
        ("Cheers,\nAnn\n\nSent from my phone", ["Cheers,", "Ann", "Sent from my phone"]),
        ("Name | City\nAnn Lee | Oslo", ["Name", "City", "Ann Lee", "Oslo"]),
        ("• Ann Lee\n• Bo Li (+1)", ["Ann Lee", "Bo Li (+1)"]),
        ("7,Ann Lee,ann@example.org,42", ["7", "Ann Lee", "ann@example.org", "42"]),
        ("a|b and 3,5 stay", ["a|b and 3,5 stay"]),
        ("   \n\n  ", []),
    ],
)
def test_segments(text: str, segments: list[str]) -> None:
    assert [segment.strip() for segment in _segments_of(text)] == segments


def test_entities_keep_their_offsets_in_the_whole_text() -> None:
    nlp = shared_analysis().analyzer.nlp_engine.nlp["en"]  # type: ignore[index]
    text = "Guests:\n• Teodora Vulić\n• Björn Aaltonen (+1)\n• Priya Raman"
    doc = nlp(text)
    people = [(entity.text, entity.start_char) for entity in doc.ents if entity.label_ == "PERSON"]
    assert people == [(name, text.index(name)) for name in ("Teodora Vulić", "Björn Aaltonen", "Priya Raman")]
