"""Finds ages (AGE): "a 79 year old", "79-year-old", "42 yo", "42 y.o.", "42 years of age",
"at the age of 61", "aged 45", "age: 42", "my age is 42", "John Smith, 42, of Leeds", "applicant Ann Lee, 35,
SSN ...", "He just turned 50",
"I'm 42.", an infant's "a 6-month-old", "3 weeks old", and the same phrases with the number in words
("a forty-two-year-old", "aged ninety-one", "at the age of sixty three", "turned thirty").

Only an exact age is one: "in her sixties" or "a man in his forties" says less than a birth year would, and
is left, as the labelled data leaves it. The span is the number (in digits or words) alone.

A number is an age only in an age phrase, so the phrase is part of the pattern (lookbehind or lookahead),
and the span is the number alone. "turned" is followed by a number in other senses too ("turned 180
degrees", "turned 3 pages"), so after "turned" the number must end the clause or be followed by "years".
After "I'm", "I am", "he/she is" a number is an age only when it ends the clause or "years" follows ("I'm
42.", not "I am 5 minutes away"). Numbers above 130 are not ages.
"""

from __future__ import annotations

from presidio_analyzer import Pattern

from retrieval.pii.recognizers._base import FlaggedPatternRecognizer

_UNITS = (
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
)
_TEENS = (
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
)
_TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_WORD_VALUES = {
    **{word: value for value, word in enumerate(_UNITS, 1)},
    **{word: value for value, word in enumerate(_TEENS, 10)},
    **{word: value * 10 for value, word in enumerate(_TENS, 2)},
}
# A number from one to ninety-nine in words, in any case: "forty-two", "Sixty three", "nineteen"; "a
# hundred" and more are left (rare as ages, and "a hundred years old" is usually a building's).
_IN_WORDS = (
    rf"(?i:(?:{'|'.join(_TENS)})(?:[ -](?:{'|'.join(_UNITS)}))?|{'|'.join(_TEENS)}|{'|'.join(_UNITS)})"
    r"(?![\p{L}-](?!year|month|week))"
)
# A number in digits or in words; the lookahead (a digit or the first letter of a number word) is checked
# before any lookbehind, so that the cue is looked for only where a number can start.
_NUMBER = rf"(?:\d{{1,3}}|{_IN_WORDS})"
_NUMBER_START = r"(?=\d|(?i:[otfsen]))"


class AgeRecognizer(FlaggedPatternRecognizer):
    """AGE: the number in an age phrase."""

    ENTITY = "AGE"
    PATTERNS = [
        Pattern(
            "N years old",
            rf"\b{_NUMBER}(?=[ -]?(?i:years?|yrs?|months?|weeks?)[ -](?i:old)\b|"
            r"[ ]?(?i:y/o|yo)\b|[ ]?(?i:y\.o\.)|"
            r"[ ](?i:years?|yrs?)[ ](?i:of[ ]age)\b)",
            0.85,
        ),
        Pattern(
            "age phrase",
            rf"{_NUMBER_START}"
            r"(?<=\b(?i:aged|age|ages|age[ ]of|at[ ]the[ ]age[ ]of|age:|age[ ]is|age[ ]was|"
            r"years[ ]of[ ]age:?)[ ]*:?[ ]*)"
            rf"{_NUMBER}\b"
            r"(?![.,]\d|[ ]*(?:%|percent|degrees|kg|cm|km|m\b|minutes|hours|days|weeks|months))",
            0.85,
        ),
        Pattern(
            "turned N",
            rf"{_NUMBER_START}"
            r"(?<=\b(?i:turned|turns|turning)[ ]+)"
            rf"{_NUMBER}\b"
            r"(?=[ ]*(?:[.!?;,]|$|(?i:years?|yrs?)\b|(?i:this|last|next|in|on)\b))",
            0.7,
        ),
        Pattern(
            "I am N",
            rf"{_NUMBER_START}"
            r"(?<=\b(?i:i'm|i[ ]am|i’m|he[ ]is|she[ ]is|he's|she's|he’s|she’s)[ ]+)"
            rf"{_NUMBER}\b"
            r"(?=[ ]*(?:[.!?;,]|$|(?i:years?|yrs?)\b"
            r"(?![ ]+(?i:ago|later|before|after|since|older|younger|of[ ]experience))))",
            0.7,
        ),
        # The news and form style: "John Smith, 42, of Leeds", "applicant Maria Lopez, 35, SSN ...",
        # "Édgar Giménez, twenty-six, ...": a number between commas after two capitalised words (a full
        # name), the sentence going on with a word, not another number (a list of figures).
        Pattern(
            "age after a name",
            rf"{_NUMBER_START}(?<=\b\p{{Lu}}[\p{{L}}\p{{M}}'’-]+[ ]\p{{Lu}}[\p{{L}}\p{{M}}'’-]+,[ ])"
            rf"(?:[1-9]\d?|{_IN_WORDS})(?=,[ ]+[^\W\d_])",
            0.7,
        ),
        # "Witness statement by Ann Lee (77):", "Dependants: Toni (15) and Isaac (sixteen)": a number in
        # brackets right after a capitalised word.
        Pattern(
            "age in brackets after a name",
            rf"{_NUMBER_START}(?<=\b\p{{Lu}}[\p{{L}}\p{{M}}'’-]+[ ]\()(?:[1-9]?\d|{_IN_WORDS})"
            r"(?=\)[ ]*(?:[:,;.]|and\b|$))",
            0.65,
        ),
    ]

    def invalidate_result(self, pattern_text: str) -> bool:
        return _value(pattern_text) > 130


def _value(number: str) -> int:
    """The number in digits or in words ("forty-two" → 42)."""
    if number.isdigit():
        return int(number)
    return sum(_WORD_VALUES[word] for word in number.lower().replace("-", " ").split())
