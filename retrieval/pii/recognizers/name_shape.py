"""Finds PERSON names by their shape alone: two or three capitalised words inside a sentence that the spaCy
model did not claim as something else ("send the form to Margit Okonkwo before Friday").

The small spaCy model misses a name it has not seen in similar company, and no cue announces it. What is left
is the shape: capitalised words in the middle of a sentence (after a lower-case word), or at its start when a
lower-case word follows ("Lars Papadakis will lead ..."), none of them a sentence word (`NOT_A_NAME`), and
covering no entity the model labelled otherwise: an organisation, a product, a place, a date, a law... ("the
Acme Freight contract" is an organisation to the model, so it stays). A text that is nothing but two to four
such words is a name too: that is how a person is looked up in a search box.

Scores 0.45, below every other recognizer: an address, a place or a name found by the model wins the span.
Not in a sentence or line that capitalises most of its words (a title, a heading). The price is
over-masking of proper nouns the model does not know at all; on the dev set the recall it adds
outweighs the precision it costs (see README, "PII masking").
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import regex
from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from retrieval.pii.limits import finditer
from retrieval.pii.recognizers._fragments import CAP_WORD, FLAGS, INITIAL, NOT_A_NAME
from retrieval.pii.recognizers.street_address import _EN_TYPE, _PREFIX_TYPE, _SUFFIX_TYPE

__all__ = ["NameShapeRecognizer"]

_NAME_WORD = rf"(?!{NOT_A_NAME}\b){CAP_WORD}"
_PAIR = rf"{_NAME_WORD}(?:[ ]+(?:{INITIAL}[ ]+)?{_NAME_WORD}){{1,2}}(?![\p{{L}}\p{{M}}'’-])"
# Each alternative first checks for a capital: a lookbehind tried at every position scans back over a run of
# spaces each time (quadratic in the run's length).
_SHAPES = regex.compile(
    # Inside a sentence: after a lower-case word (or a comma), so a heading's capitals do not count.
    rf"(?=\p{{Lu}})(?<=\b\p{{Ll}}[\p{{Ll}}'’]*,?[ ]+){_PAIR}"
    # At the start of a sentence or line, when a lower-case word follows.
    rf"|(?=\p{{Lu}})(?:(?<=^[ \t]*)|(?<=[.!?][ ]+)){_PAIR}(?=,?[ ]+\p{{Ll}})"
    # A whole text that is a name (a query).
    rf"|\A[ \t]*\K{_NAME_WORD}(?:[ ]+(?:{INITIAL}[ ]+)?{_NAME_WORD}){{1,3}}(?=[ \t]*[?.!]?[ \t]*\Z)",
    FLAGS,
)
# The model's labels that say a span is not a person's name: places, dates, nationalities, languages. Not
# ORG, PRODUCT, WORK_OF_ART, EVENT or LAW: the small model gives those to names it does not know ("send the
# form to Margit Okonkwo" is an ORG to it, "Ottilie Moreira" a WORK_OF_ART); firms are told by their words
# instead (`_NOT_IN_A_NAME`).
_OTHER_LABELS = frozenset({"LANGUAGE", "NORP", "FAC", "GPE", "LOC", "DATE", "TIME"})
# Words that make capitalised words a firm, a place, a street or a heading rather than a person: street types
# (the address recognizer's), company and institution words, compass points, Roman numerals, words in
# capitals ("USS", "BASHALL TOWN": acronyms and shouted headings).
_NOT_IN_A_NAME = regex.compile(
    rf"(?:{_EN_TYPE}|{_PREFIX_TYPE}|\p{{L}}*{_SUFFIX_TYPE}|"
    r"Orchestra|Band|Club|Software|Research|Technologies|Technology|Consulting|Investments?|Incorporated|"
    r"Systems|Solutions|Data|Transit|Lines|Health|Care|Economic|Capital|Partners|Holdings|Media|Labs?|"
    r"Airlines?|Motors|Foods?|Energy|Pharma|Insurance|Hospital|School|College|Museum|Church|Hotel|Airport|"
    r"Station|Council|Ministry|Agency|Authority|Court|Act|Title|Chapter|Section|Northern|Southern|Eastern|"
    r"Western|North|South|East|West|Central|Upper|Lower|Greater|New|Saint|St|Port|Lake|Mount|Fort|"
    # A named day is a holiday ("Labor Day", "Boxing Day"), not a person.
    r"Day|"
    r"[IVXLC]+|\p{Lu}{2,})",
    FLAGS,
)
SCORE = 0.45


_SENTENCE_END = regex.compile(r"[.!?]\s|\n")
# The possessive ending of a word: "Goldberg's", "Evans'" (not "O'Neil", "D'souza").
_POSSESSIVE = regex.compile(r"(?:(?<=\p{L})['’]s|(?<=s)['’])(?![\p{L}\p{M}])")
_WORD = regex.compile(r"\p{L}[\p{L}\p{M}'’-]{3,}")


def _title_case(text: str, start: int, end: int, ends: Sequence[tuple[int, int]]) -> bool:
    """Whether the sentence or line around `text[start:end]` capitalises most of its longer words, as a title
    or a heading does ("Tumor Growth in Human Peripheral Blood"): there capitals say nothing about names.
    `ends`: the spans of `_SENTENCE_END` in `text`, in order (found once per text, not once per match)."""
    before = bisect.bisect_right(ends, start, key=lambda span: span[1]) - 1
    left = ends[before][1] if before >= 0 else 0
    after = bisect.bisect_left(ends, end, key=lambda span: span[0])
    right = ends[after][0] if after < len(ends) else len(text)
    words = [m.group() for m in finditer(_WORD, text, left, right)]
    capitalised = sum(word[0].isupper() for word in words)
    return len(words) >= 4 and capitalised * 3 >= len(words) * 2


class NameShapeRecognizer(EntityRecognizer):
    """PERSON: capitalised words inside a sentence that the model did not label as anything else."""

    def __init__(self, supported_language: str = "en", supported_entity: str = "PERSON") -> None:
        super().__init__(
            supported_entities=[supported_entity],
            supported_language=supported_language,
            name=type(self).__name__,
        )

    def load(self) -> None:  # nothing to load
        return None

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        claimed: list[tuple[int, int]] = []
        doc = nlp_artifacts.tokens if nlp_artifacts is not None else None
        if doc is not None:
            claimed = [(ent.start_char, ent.end_char) for ent in doc.ents if ent.label_ in _OTHER_LABELS]
        results = []
        ends = [match.span() for match in finditer(_SENTENCE_END, text)]
        for match in finditer(_SHAPES, text):
            start, end = match.span()
            # A possessive ends a name: what follows is the thing owned ("Alice Goldberg's Cautionary Tales",
            # "Mark Evans' Garden Shed"). One word before it is no name's shape.
            possessive = _POSSESSIVE.search(text, start, end)
            if possessive is not None:
                end = possessive.start()
            words = text[start:end].split()
            if len(words) < 2:
                continue
            if any(s < end and start < e for s, e in claimed):
                continue
            if _title_case(text, start, end, ends):
                continue
            # A name does not end in an initial ("København K" is a district).
            if len(words[-1]) == 1 or any(_NOT_IN_A_NAME.fullmatch(word) for word in words):
                continue
            results.append(RecognizerResult(self.supported_entities[0], start, end, SCORE))
        return results
