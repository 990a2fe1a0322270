"""Finds postal codes next to a town or region without a cue word (POSTAL_CODE): "Boulder, Colorado 80302",
"Austin, Texas 78701", "Leeds LS1 4AP", "Oslo 0150, Norway", "10115 Berlin", "75008 Paris".

`postal_code` takes a code after a word that names it, a US state's two-letter code or a street; an address
written in prose often has none of these. What remains is the code's place in the address: it follows the
town (and region) and ends the address, or, the European way, it comes right before the town. A number of
four or five digits in such a place is still often something else, so:

- after a place: the place is one to three capitalised words (the last not a sentence word, a month or a
  label of numbers: "Room", "Version", "Inc", ...), and the code ends the clause: punctuation, the end of
  the line, or a capitalised word (a country) follows. "Texas 20000 units" and "Room 1234" stay;
- after "Town, Region" (a comma between), a five-digit code is taken whatever follows ("Boulder, Colorado
  80302 is where"), and a UK postcode after a place too: both shapes are rare elsewhere;
- before a town: the code starts a line, or follows a comma, a colon or "to", "in", "at", "from"; one to
  three capitalised words follow (not a sentence word or a label) and end the clause (punctuation or the
  end of the line: "10115 Berlin, Germany"; not "6639 Canónigo Valiño 70", a house number and a street);
- a number followed by the plural of an English noun counts things ("sold to 25000 Customers");
- a four-digit number from 1900 to 2099 is taken for a year ("Boulder, Colorado 2019"), and a number with
  a decimal or thousands part, a percent sign or a hyphen after it for something else.

The span is the code alone. Scored 0.8, above the spaCy model (which tags "Colorado 80302" as a place):
the code wins its digits and the place keeps its words.
"""

from __future__ import annotations

import regex
from presidio_analyzer import Pattern, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from retrieval.pii.recognizers._base import FlaggedPatternRecognizer
from retrieval.pii.recognizers._fragments import CAP_WORD, CAP_WORD_BEHIND, NOT_A_NAME
from retrieval.pii.recognizers.postal_code import _UK

# Words that label a number rather than name a place ("Room 1234", "Version 10115", "Acme Inc 12345").
_LABEL = (
    r"(?:Room|Rm|Suite|Ste|Apt|Unit|Box|Flat|Floor|Level|Page|Chapter|Section|Version|Build|Release|Model|"
    r"Order|Invoice|Ref|Case|Ticket|Item|Line|Route|Flight|Gate|Platform|Year|Grade|Step|Table|Figure|Fig|"
    r"Article|Part|Vol|Volume|Issue|No|Nr|Number|Code|ID|PIN|Account|Card|Policy|Claim|Total|Totals|Score|"
    r"Balance|Amount|Price|Series|Type|Class|Size|Batch|Lot|Product|SKU|Serial|Patent|Ext|Inc|Ltd|LLC|"
    r"Corp|GmbH|Co|Windows|Office|Mark|Mk|Phase|Stage|Week|Day|Month|Quarter|Q[1-4]|FY)"
)
# Digits of a postal code: five with a ZIP+4 extension, "123 45" (Sweden, Czechia), or four.
_DIGITS = r"(?:\d{5}(?:-\d{4})?|\d{3}[ ]\d{2}|\d{4})"
_PLACE_WORD_BEHIND = rf"\b(?!(?:{NOT_A_NAME}|{_LABEL})\b){CAP_WORD_BEHIND}"
_PLACE_WORDS_BEHIND = rf"(?:{CAP_WORD_BEHIND}[ ]+){{0,2}}{_PLACE_WORD_BEHIND}"
_PLACE_BEHIND = rf"(?:^|[^\p{{L}}\p{{M}}\d'’-]){_PLACE_WORDS_BEHIND}"
# The end of a clause: punctuation or the end of the line.
_CLAUSE_END = r"(?=[ ]*(?:[,.;:!?)\]]|$))"
# The number ends here: no more digits, no decimal or thousands part, no percent sign or range.
_NOT_A_NUMBER_GOES_ON = r"(?![\d%-]|[.,]\d)"
# What may follow an address's last part: punctuation, the end of the line, or a capitalised word (a
# country).
_END = r"(?=[ ]*(?:[,.;:!?)\]]|$)|[ ]+\p{Lu})"


_NEXT_WORD = regex.compile(r"[ ]+(\p{L}+)")


def _counts_things(text: str, end: int) -> bool:
    """Whether the word after `end` is a regular plural of a noun in the model's English word lists."""
    from retrieval.pii.not_personal import is_plural_noun

    following = _NEXT_WORD.match(text, end, min(len(text), end + 40))
    return following is not None and is_plural_noun(following.group(1))


class PlacePostcodeRecognizer(FlaggedPatternRecognizer):
    """POSTAL_CODE after a town or region, or before a town, where the code ends or opens the address."""

    ENTITY = "POSTAL_CODE"
    PATTERNS = [
        # "Boulder, Colorado 80302": a town, a comma and a region make an address's last line, whatever
        # follows the code.
        Pattern(
            "ZIP code after town and region",
            rf"(?=\d)(?<={_PLACE_BEHIND},[ ]+{_PLACE_WORDS_BEHIND}[ ]+)"
            rf"\d{{5}}(?:-\d{{4}})?{_NOT_A_NUMBER_GOES_ON}",
            0.8,
        ),
        Pattern("UK postcode after a place", rf"(?=[A-Z])(?<={_PLACE_BEHIND},?[ ]+){_UK}\b", 0.8),
        Pattern(
            "code ending an address after a place",
            rf"(?=\d)(?<={_PLACE_BEHIND},?[ ]+){_DIGITS}{_NOT_A_NUMBER_GOES_ON}{_END}",
            0.8,
        ),
        Pattern(
            "code before a town",
            rf"(?=\d)(?:(?<=^[ \t]*)|(?<=[,:][ ]*)|(?<=\b(?i:to|in|at|from)[ ]+))"
            rf"{_DIGITS}{_NOT_A_NUMBER_GOES_ON}"
            rf"(?=[ ]+(?!{NOT_A_NAME}\b|{_LABEL}\b){CAP_WORD}(?:[ ]+{CAP_WORD}){{0,2}}{_CLAUSE_END})",
            0.8,
        ),
    ]

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        """The patterns' findings, less a number followed by the plural of a common noun ("to 25000
        Customers", "12000 Copies"): a count of things, not a postal code and a town."""
        results = super().analyze(text, entities, nlp_artifacts, regex_flags)
        return [r for r in results if not _counts_things(text, r.end)]

    def invalidate_result(self, pattern_text: str) -> bool:
        """A four-digit year (1900-2099) is not a postal code."""
        return len(pattern_text) == 4 and pattern_text.isdigit() and 1900 <= int(pattern_text) <= 2099
