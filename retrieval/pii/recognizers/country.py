"""Finds country names (LOCATION): "Tunisia", "United Kingdom", "FINLAND", "Cyprus (Greek)".

Country names are a closed list (`country_names.COUNTRY_NAMES`), so a list beats the spaCy model, which
calls an unknown country a person as often as a place. Matched case-sensitively as written or in capitals,
on word boundaries, longest name first ("South Africa" before "Africa" could match). A parenthesised
qualifier after the name belongs to it ("Cyprus (Greek)"). Scored above the spaCy recognizer, so that the
list wins where the model disagrees.
"""

from __future__ import annotations

import regex
from presidio_analyzer import Pattern, PatternRecognizer

from retrieval.pii.recognizers._fragments import FLAGS
from retrieval.pii.recognizers.country_names import COUNTRY_NAMES


def country_alternation() -> str:
    """The names as one regex alternation, each also in capitals, longest first."""
    names = {name for country in COUNTRY_NAMES for name in (country, country.upper())}
    return "(?:" + "|".join(regex.escape(name) for name in sorted(names, key=len, reverse=True)) + ")"


class CountryRecognizer(PatternRecognizer):
    """LOCATION for the name of a country or territory."""

    CONTEXT: list[str] = []

    def __init__(self, supported_language: str = "en", supported_entity: str = "LOCATION") -> None:
        pattern = rf"(?<![\p{{L}}\p{{N}}-]){country_alternation()}(?:[ ]\(\p{{L}}+\))?(?![\p{{L}}\p{{N}}-])"
        super().__init__(
            supported_entity=supported_entity,
            patterns=[Pattern("country name", pattern, 0.9)],
            context=self.CONTEXT,
            supported_language=supported_language,
            global_regex_flags=FLAGS,
        )
