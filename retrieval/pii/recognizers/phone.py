"""Finds phone numbers in international and European formats (PHONE_NUMBER) that presidio's recognizer misses.

presidio's PhoneRecognizer (replaced by `national_phone`) parses numbers with `phonenumbers` for a handful
of regions and finds US-style numbers well; numbers written the European way ("0699 868 88 55",
"(37) 788-063", "9469 9966") or with a foreign country code ("+46 (0)157 548 89") it mostly misses. Digit
groups alone are too common (dates, amounts, ids), so a number here needs either

- a leading "+" and a country code, which is a phone number whatever follows, or
- a phone cue right before it (lookbehind: "Phone:", "Mobile:", "call me on", "Fax", "tel.", "dial",
  "text me on", "my registered"), or a
  "-Office"/"-Fax" label right after it, as in contact blocks;

or the North American shape ("(212) 555-0147", "212-555-0147", "212.555.0147"), which nothing else has;
and in all cases 6 to 15 digits in groups of 1 to 5, as the ITU allows (E.164), with an optional
extension ("x769", "ext. 12"). Groups are separated by a space, dot or dash, once each.
"""

from __future__ import annotations

import regex
from presidio_analyzer import Pattern, PatternRecognizer

from retrieval.pii.recognizers._fragments import FLAGS

_GROUPS = (
    r"(?:\(\d{1,5}\)|\d{1,5})(?:[ .-]?(?:\(0\)|\(\d{1,5}\)))?(?:[ .-]?\d{1,5}){1,6}"
    r"(?:[ ]?(?i:x|ext\.?)[ ]?\d{1,5})?"
)
_CUE = (
    r"(?:phone|telephone|tel|mobile|mob|cell|cellphone|fax|desk|landline|whatsapp|"
    r"call[ ]me(?:[ ](?:on|at))?|call[ ]us(?:[ ](?:on|at))?|reach[ ]me(?:[ ](?:on|at))?|"
    r"(?:answering|available)[ ]at|phone[ ]number(?:[ ]is)?|number[ ]to[ ]call|"
    # Chat and form wording for a number given without the word "phone" ("text me on", "dial", "my
    # registered 0699 868 88 55", "SMS").
    r"text[ ]me(?:[ ](?:on|at))?|dial|sms|registered(?:[ ](?:mobile|number|no))?|contact[ ](?:number|no))"
)
_EXTENSION = regex.compile(r"(?i:x|ext)")


class InternationalPhoneRecognizer(PatternRecognizer):
    """PHONE_NUMBER with a country code, or after a phone cue."""

    PATTERNS = [
        Pattern("country code", rf"(?<![\w+])\+\d{{1,3}}[ .-]?{_GROUPS}(?!\d)", 0.7),
        Pattern(
            "after phone cue",
            rf"(?=[\d+(])(?<=\b(?i:{_CUE})\.?[ ]*[:#]?[ \t]*\n?[ \t]*)\+?{_GROUPS}(?![\d-])",
            0.75,
        ),
        # The North American shapes are distinctive enough without a cue: "(212) 555-0147", "212-555-0147",
        # "212.555.0147". presidio's recognizer finds them only when the area code is assigned.
        Pattern(
            "North American shape",
            r"(?<![\w+(.-])(?:\(\d{3}\)[ ]?\d{3}-|\d{3}-\d{3}-|\d{3}\.\d{3}\.)\d{4}(?![\w-])",
            0.7,
        ),
        # The label is looked for first (a cheap scan) and the number before it then; a lookahead after the
        # number alone made the engine try the digit groups at every digit of the text.
        Pattern(
            "before phone label",
            rf"(?=[\d(][\d() .x-]{{5,40}}?-(?i:office|fax|mobile|home|work)\b)(?<![\w+]){_GROUPS}"
            rf"(?=-(?i:office|fax|mobile|home|work)\b)",
            0.75,
        ),
    ]
    CONTEXT: list[str] = []

    def __init__(self, supported_language: str = "en", supported_entity: str = "PHONE_NUMBER") -> None:
        super().__init__(
            supported_entity=supported_entity,
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
            global_regex_flags=FLAGS,
        )

    def invalidate_result(self, pattern_text: str) -> bool:
        main = _EXTENSION.split(pattern_text)[0]
        return not 6 <= sum(ch.isdigit() for ch in main) <= 15
