"""Finds ages (AGE): "a 79 year old", "79-year-old", "42 yo", "42 y.o.", "42 years of age",
"at the age of 61", "aged 45", "He just turned 50", and an infant's "a 6-month-old", "3 weeks old".

A number is an age only in an age phrase, so the phrase is part of the pattern (lookbehind or lookahead),
and the span is the number alone. "turned" is followed by a number in other senses too ("turned 180
degrees", "turned 3 pages"), so after "turned" the number must end the clause or be followed by "years".
Numbers above 130 are not ages.
"""

from __future__ import annotations

from presidio_analyzer import Pattern, PatternRecognizer

from retrieval.pii.recognizers._fragments import FLAGS


class AgeRecognizer(PatternRecognizer):
    """AGE: the number in an age phrase."""

    PATTERNS = [
        Pattern(
            "N years old",
            r"\b\d{1,3}(?=[ -]?(?i:years?|yrs?|months?|weeks?)[ -](?i:old)\b|"
            r"[ ]?(?i:y/o|yo)\b|[ ]?(?i:y\.o\.)|"
            r"[ ](?i:years?|yrs?)[ ](?i:of[ ]age)\b)",
            0.85,
        ),
        Pattern(
            "age phrase",
            r"(?=\d)(?<=\b(?i:aged|age|ages|age[ ]of|at[ ]the[ ]age[ ]of|age:|years[ ]of[ ]age:?)[ ]*:?[ ]*)"
            r"\d{1,3}\b"
            r"(?![.,]\d|[ ]*(?:%|percent|degrees|kg|cm|km|m\b|minutes|hours|days|weeks|months))",
            0.85,
        ),
        Pattern(
            "turned N",
            r"(?=\d)(?<=\b(?i:turned|turns|turning)[ ]+)\d{1,3}\b"
            r"(?=[ ]*(?:[.!?;,]|$|(?i:years?|yrs?)\b|(?i:this|last|next|in|on)\b))",
            0.7,
        ),
    ]
    CONTEXT: list[str] = []

    def __init__(self, supported_language: str = "en", supported_entity: str = "AGE") -> None:
        super().__init__(
            supported_entity=supported_entity,
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
            global_regex_flags=FLAGS,
        )

    def invalidate_result(self, pattern_text: str) -> bool:
        return int(pattern_text) > 130
