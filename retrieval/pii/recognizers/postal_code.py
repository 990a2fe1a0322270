"""Finds postal codes (POSTAL_CODE): "ZIP: 3520", "my zip code is 90010-170", "postcode SW1A 1AA".

A bare number of four or five digits is a postal code as often as a price or a year, so numeric codes are
taken only after a word that names them (a lookbehind: "zip", "postal code", "PLZ", "CAP", "code postal"),
in the formats of the regions we serve: 3-5 digits with an optional extension ("1234-567", "394 13") or
letters ("7412 SL"). UK postcodes ("SW1A 1AA") have a shape of their own and are taken without a cue, at a
lower score. A US ZIP code is taken without a cue after a state's two-letter USPS code in capitals (", CO
80202", "DPO AE 09498"), the way every US address ends it; a capitalised pair before five digits is rare
elsewhere, and the closed list of USPS codes (states, territories, military) keeps "ID 12345" or "NO 12345"
out only where they are not states, so those two are left out. Canadian codes ("M5V 3L9": letter, digit,
letter, space, digit, letter, digit, from Canada Post's letters) are a shape nothing else has and are taken
without a cue. A postal code inside a full address is the address recognizer's.
"""

from __future__ import annotations

from presidio_analyzer import Pattern

from retrieval.pii.recognizers._base import FlaggedPatternRecognizer

_CUE = (
    r"(?:zip|zip[ ]?code|zipcode|postal[ ]?code|postcode|post[ ]?code|plz|postleitzahl|cap|code[ ]postal|"
    r"c[oó]digo[ ]postal|postnummer|postinumero|irányítószám|kod[ ]pocztowy)"
)
_NUMERIC = r"\d{3,5}(?:[- ]\d{2,4})?(?:[ ]?\p{Lu}{2})?"
_UK = (
    r"(?:GIR[ ]?0AA|[A-PR-UWYZ][0-9][A-HJKPSTUW0-9]?[ ]?[0-9][ABD-HJLNP-UW-Z]{2}|"
    r"[A-PR-UWYZ][A-HK-Y][0-9][ABEHMNPRVWXY0-9]?[ ]?[0-9][ABD-HJLNP-UW-Z]{2})"
)
# Canada Post: no D, F, I, O, Q, U anywhere, no W or Z first; the space is required, so that an id of six
# alternating characters ("A1B2C3") stays.
_CANADA = r"[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z][ ]\d[ABCEGHJ-NPRSTV-Z]\d"

# USPS state, territory and military codes, less ID and NO-like words that label numbers ("ID 12345").
_US_STATE = (
    r"(?:AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|"
    r"NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|PR|GU|VI|AS|MP|AA|AE|AP)"
)


class PostalCodeRecognizer(FlaggedPatternRecognizer):
    """POSTAL_CODE after a word that names it, UK and Canadian postcodes, US ZIP codes after a state code."""

    ENTITY = "POSTAL_CODE"
    PATTERNS = [
        Pattern(
            "postal code after its name",
            rf"(?=[\dA-Z])(?<=\b(?i:{_CUE})(?:[ ]+(?i:is|was|of|no\.?|number))?[ ]*[:#]?[ ]*)"
            rf"(?:{_UK}|{_NUMERIC})\b",
            0.9,
        ),
        Pattern("UK postcode", rf"\b{_UK}\b", 0.5),
        Pattern(
            "US ZIP after state",
            rf"(?=\d)(?<=(?:^|[,\s])(?-i:{_US_STATE})[ ]{{1,2}})\d{{5}}(?:-\d{{4}})?(?![\d-])",
            0.65,
        ),
        Pattern("Canadian postal code", rf"(?<![\w-]){_CANADA}(?![\w-])", 0.65),
    ]
