"""Finds phone numbers in international and European formats (PHONE_NUMBER) that presidio's recognizer misses.

presidio's PhoneRecognizer (replaced by `national_phone`) parses numbers with `phonenumbers` for a handful
of regions and finds US-style numbers well; numbers written the European way ("0699 868 88 55",
"(37) 788-063", "9469 9966") or with a foreign country code ("+46 (0)157 548 89") it mostly misses. Digit
groups alone are too common (dates, amounts, ids), so a number here needs either

- a leading "+" and a country code, which is a phone number whatever follows, or
- the international prefix "00" and a country code ("00 44 20 7946 0958"), where the number is a valid
  one once "00" is read as "+" (`phonenumbers`), or
- a phone cue right before it (lookbehind: "Phone:", "Mobile:", "call me on", "Fax", "tel.", "dial",
  "text me on", "my registered"), or a
  "-Office"/"-Fax" label right after it, as in contact blocks;

or the North American shape ("(212) 555-0147", "212-555-0147", "212.555.0147", with the long-distance
"1-" too: "1-800-555-0199"), which nothing else has;
and in all cases 6 to 15 digits in groups of 1 to 5, as the ITU allows (E.164), with an optional
extension ("x769", "ext. 12", ", extension 42"), which is part of the span. Groups are separated by a
space, dot or dash, once each.
"""

from __future__ import annotations

import phonenumbers
import regex
from presidio_analyzer import Pattern

from retrieval.pii.recognizers._base import FlaggedPatternRecognizer

# An extension after the number: "x769", "ext. 12", ", extension 42".
_EXTENSION_PART = r"(?:,?[ ]?(?i:x|ext\.?|extension)[ ]?\d{1,5})"
_GROUPS = (
    r"(?:\(\d{1,5}\)|\d{1,5})(?:[ .-]?(?:\(0\)|\(\d{1,5}\)))?(?:[ .-]?\d{1,5}){1,6}"
    rf"{_EXTENSION_PART}?"
)
_CUE = (
    r"(?:phone|telephone|tel|mobile|mob|cell|cellphone|fax|desk|landline|whatsapp|"
    r"call[ ]me(?:[ ](?:on|at))?|call[ ]us(?:[ ](?:on|at))?|reach[ ]me(?:[ ](?:on|at))?|"
    r"(?:answering|available)[ ]at|phone[ ]number(?:[ ]is)?|number[ ]to[ ]call|"
    # Chat and form wording for a number given without the word "phone" ("text me on", "dial", "my
    # registered 0699 868 88 55", "SMS").
    r"text[ ]me(?:[ ](?:on|at))?|dial|sms|registered(?:[ ](?:mobile|number|no))?|contact[ ](?:number|no)|"
    # "call (21) 97202-7595", "can be reached on ...", "Direct line 338639966".
    r"call(?:[ ](?:on|at))?|reached(?:[ ](?:on|at))?|(?:direct|phone|hot|help)[ ]?line)"
)
_EXTENSION = regex.compile(r"(?i:x|ext)")


class InternationalPhoneRecognizer(FlaggedPatternRecognizer):
    """PHONE_NUMBER with a country code, or after a phone cue."""

    ENTITY = "PHONE_NUMBER"
    PATTERNS = [
        Pattern("country code", rf"(?<![\w+])\+\d{{1,3}}[ .-]?{_GROUPS}(?!\d)", 0.7),
        # "(+358) 632939430": the country code in brackets.
        Pattern("country code in brackets", rf"(?<![\w+])\(\+\d{{1,3}}\)[ .-]?{_GROUPS}(?!\d)", 0.7),
        # "00 44 20 7946 0958", "0049 30 1234567": the international prefix dialled outside North America
        # instead of "+"; checked for a possible number once the "00" is read as "+" (`invalidate_result`).
        Pattern(
            "international prefix 00", rf"(?<![\w+.,/-])00[ ]?[1-9]\d{{0,2}}[ .-]?{_GROUPS}(?![\d-])", 0.7
        ),
        Pattern(
            "after phone cue",
            rf"(?=[\d+(])(?<=\b(?i:{_CUE})\.?[ ]*[:#]?[ \t]*\n?[ \t]*)\+?{_GROUPS}(?![\d-])",
            0.75,
        ),
        # The North American shapes are distinctive enough without a cue: "(212) 555-0147", "212-555-0147",
        # "212.555.0147", in brackets too: "(Ann Lee ((212) 555-0147))". presidio's recognizer finds them
        # only when the area code is assigned.
        Pattern(
            "North American shape",
            r"(?:(?<![\w+(.-])|(?<=\()(?=\())"
            r"(?:1[ .-])?(?:\(\d{3}\)[ ]?\d{3}-|\d{3}-\d{3}-|\d{3}\.\d{3}\.)\d{4}"
            rf"{_EXTENSION_PART}?(?![\w-])",
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

    def invalidate_result(self, pattern_text: str) -> bool:
        main = _EXTENSION.split(pattern_text)[0]
        digits = "".join(ch for ch in main if ch.isdigit())
        if pattern_text.startswith("00"):
            return not _valid_international(digits[2:])
        return not 6 <= len(digits) <= 15


def _valid_international(digits: str) -> bool:
    """Whether a number dialled with "00" is a valid number once read as "+" and its digits."""
    try:
        number = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_valid_number(number))
