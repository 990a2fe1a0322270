"""Finds payment card numbers named as such (CREDIT_CARD): "card 4454794511390933", "cc 5038 0205 3770".

presidio's CreditCardRecognizer (kept) accepts a number only when it has a known issuer prefix and passes
the Luhn check, which is right for numbers alone in a text. A number that the text itself calls a card
number is one even when it fails those checks: a mistyped or a test number still points at an account,
and a leak of it is still a leak. So after a card cue (lookbehind: "card", "cc", "credit card number",
"card no."), 12 to 19 digits, in one run or in groups separated by single spaces or dashes, are taken.
"""

from __future__ import annotations

from presidio_analyzer import Pattern

from retrieval.pii.recognizers._base import FlaggedPatternRecognizer

_CUE = (
    r"(?:(?:credit|debit|payment|bank|visa|mastercard|amex)?[ ]?card|cc|pan)"
    r"(?:[ ]+(?:no\.?|nr\.?|number|num|\#))?(?:[ ]+(?:is|was|ending|:))?"
)


class CardNumberRecognizer(FlaggedPatternRecognizer):
    """CREDIT_CARD: 12 to 19 digits after a card cue."""

    ENTITY = "CREDIT_CARD"
    PATTERNS = [
        Pattern(
            "card number after cue",
            rf"(?=\d)(?<=\b(?i:{_CUE})[ ]*[:#]?[ ]*)\d(?:[ -]?\d){{11,18}}(?![\d-])",
            0.9,
        ),
    ]
