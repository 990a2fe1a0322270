"""Finds phone numbers written the national way, without a country code or a cue (PHONE_NUMBER):
"020 7946 0958", "01 42 68 53 00", "030 1234567", "0612 345678", "212 555 0147".

presidio's PhoneRecognizer finds these by running the `phonenumbers` matcher over the whole text once per
region, ~1.7 ms per region on a 1,000-character chunk, a tenth of all analysis with four regions. Here one
regex finds the candidates (a trunk "0" and 9 to 11 digits in groups, or the US 3-3-4 shape with spaces), and
only a candidate is parsed, for the regions we serve until one says it is a valid number there. A number that
no region accepts (a reference, an amount) is dropped, as presidio's recognizer would drop it.
"""

from __future__ import annotations

import phonenumbers
from presidio_analyzer import Pattern

from retrieval.pii.recognizers._base import FlaggedPatternRecognizer

__all__ = ["NATIONAL_REGIONS", "NationalPhoneRecognizer"]

# Regions whose national numbers start with a trunk "0" (EU and the UK), and the US for its own shape.
NATIONAL_REGIONS = ("GB", "FR", "DE", "NL", "BE", "IT", "AT", "CH", "IE", "ES", "PT", "SE", "DK", "FI", "PL")


class NationalPhoneRecognizer(FlaggedPatternRecognizer):
    """PHONE_NUMBER in a national format, confirmed by `phonenumbers` for one of the regions we serve."""

    ENTITY = "PHONE_NUMBER"
    PATTERNS = [
        Pattern(
            "trunk zero and groups",
            r"(?<![\w+(.,/-])0\d{1,4}(?:[ ./-]?\(?\d{2,5}\)?){1,4}(?![\w-]|[.,]\d)",
            0.7,
        ),
        Pattern("US groups with spaces", r"(?<![\w+(.,/-])[2-9]\d{2}[ ]\d{3}[ ]\d{4}(?![\w-]|[.,]\d)", 0.7),
    ]

    def validate_result(self, pattern_text: str) -> bool | None:
        """None (keep the pattern's score) for a valid number, False (drop it) otherwise."""
        digits = sum(char.isdigit() for char in pattern_text)
        if not 9 <= digits <= 11:
            return False
        regions = NATIONAL_REGIONS if pattern_text.startswith("0") else ("US",)
        for region in regions:
            try:
                number = phonenumbers.parse(pattern_text, region)
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_valid_number(number):
                return None
        return False
