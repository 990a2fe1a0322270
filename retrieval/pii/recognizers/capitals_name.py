"""Finds PERSON names written in capitals on a line of their own or after a field label: the name heading a
CV ("LUPE ECHEVARRÍA"), a card's "Cardholder: SIMONETTA DOVARA", a manifest's "PASSENGER: DASGUPTA,
JAGRATI / AGE 72".

The spaCy model reads words in capitals as acronyms and finds no name there, and the name patterns look for
capitalised words. A text all in capitals is analysed in a case-restored copy (`retrieval.pii.analyzer`);
this is for capitals inside a text that has lower case too. Two or three words in capitals (a comma after
the first for "SURNAME, GIVEN"), the whole line or the whole field, up to a "/" or "|" that starts the
next field. Headings have the same shape ("PATIENT INTAKE", "RETURN LABEL"), so a match where every word is
an English word of the spaCy model's word lists is not a name; a match with a function word ("WITHOUT
PREJUDICE"), a sentence word, a month or a country in it is not either. The lists hold some names too
("JOHN"), which is why one word outside them is enough.

Scored just above the spaCy model's findings: the layout is evidence the model does not have.
"""

from __future__ import annotations

import regex
from presidio_analyzer import Pattern

from retrieval.pii.not_personal import in_word_lists
from retrieval.pii.recognizers._base import FlaggedPatternRecognizer
from retrieval.pii.recognizers._fragments import NOT_A_NAME
from retrieval.pii.recognizers.country import country_alternation

__all__ = ["CapitalsNameRecognizer"]

_WORD = r"\p{Lu}[\p{Lu}\p{M}'’-]*\p{Lu}"
_NOT_A_NAME = regex.compile(rf"(?i:{NOT_A_NAME})|{country_alternation()}")
_WORDS = regex.compile(r"[\p{L}\p{M}'’-]+")


class CapitalsNameRecognizer(FlaggedPatternRecognizer):
    """PERSON: a name in capitals that is a line, or a field after its label, by itself."""

    ENTITY = "PERSON"
    PATTERNS = [
        Pattern(
            "name in capitals",
            rf"(?=\p{{Lu}})(?<=^[ \t]*(?:\p{{L}}[\p{{L}} ]{{0,29}}:[ \t]*)?){_WORD}(?:,?[ ]{_WORD}){{1,2}}"
            r"(?=[ \t]*(?:$|[/|]))",
            0.65,
        )
    ]

    def invalidate_result(self, pattern_text: str) -> bool:
        from spacy.lang.en.stop_words import STOP_WORDS

        words = _WORDS.findall(pattern_text)
        if any(_NOT_A_NAME.fullmatch(word) or word.lower() in STOP_WORDS for word in words):
            return True
        return all(in_word_lists(word) for word in words)
