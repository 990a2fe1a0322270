"""govrag's presidio recognizers (one per module) and the list of them that the masker registers.

Each module's docstring says what it finds and why its regex is shaped so. Their cue words are part of the
patterns (lookbehinds), not presidio context words: a pattern that needs its cue should not fire without it,
and presidio's context pass scans the text's tokens once per finding, a third of the analysis time on text
dense with personal data. So none of them declares context words. Besides these, the masker keeps
presidio's predefined English recognizers (less the URL one) and adds presidio's national-id recognizers for
the EU countries where they are precise (a check digit or letter, or a distinctive shape): see
`national_id_recognizers`.
"""

from __future__ import annotations

from presidio_analyzer import EntityRecognizer

from retrieval.pii.recognizers.age import AgeRecognizer
from retrieval.pii.recognizers.capitals_name import CapitalsNameRecognizer
from retrieval.pii.recognizers.card_number import CardNumberRecognizer
from retrieval.pii.recognizers.country import CountryRecognizer
from retrieval.pii.recognizers.date_of_birth import DateOfBirthRecognizer
from retrieval.pii.recognizers.name_cue import NameCueRecognizer
from retrieval.pii.recognizers.name_shape import NameShapeRecognizer
from retrieval.pii.recognizers.national_phone import NationalPhoneRecognizer
from retrieval.pii.recognizers.phone import InternationalPhoneRecognizer
from retrieval.pii.recognizers.place_cue import PlaceCueRecognizer
from retrieval.pii.recognizers.place_postcode import PlacePostcodeRecognizer
from retrieval.pii.recognizers.postal_code import PostalCodeRecognizer
from retrieval.pii.recognizers.street_address import StreetAddressRecognizer
from retrieval.pii.recognizers.titled_name import TitledNameRecognizer

__all__ = [
    "AgeRecognizer",
    "CapitalsNameRecognizer",
    "CardNumberRecognizer",
    "CountryRecognizer",
    "DateOfBirthRecognizer",
    "InternationalPhoneRecognizer",
    "NameCueRecognizer",
    "NameShapeRecognizer",
    "NationalPhoneRecognizer",
    "PlaceCueRecognizer",
    "PlacePostcodeRecognizer",
    "PostalCodeRecognizer",
    "StreetAddressRecognizer",
    "TitledNameRecognizer",
    "custom_recognizers",
    "national_id_recognizers",
]


def custom_recognizers(language: str = "en") -> list[EntityRecognizer]:
    """One instance of each of govrag's recognizers."""
    return [
        AgeRecognizer(supported_language=language),
        CapitalsNameRecognizer(supported_language=language),
        CardNumberRecognizer(supported_language=language),
        CountryRecognizer(supported_language=language),
        DateOfBirthRecognizer(supported_language=language),
        InternationalPhoneRecognizer(supported_language=language),
        NationalPhoneRecognizer(supported_language=language),
        NameCueRecognizer(supported_language=language),
        NameShapeRecognizer(supported_language=language),
        PlaceCueRecognizer(supported_language=language),
        PlacePostcodeRecognizer(supported_language=language),
        PostalCodeRecognizer(supported_language=language),
        StreetAddressRecognizer(supported_language=language),
        TitledNameRecognizer(supported_language=language),
    ]


def national_id_recognizers(language: str = "en") -> list[EntityRecognizer]:
    """presidio's recognizers for EU national ids, registered for English text (presidio files them under
    the country's language): UK National Insurance number (distinctive letter-digit shape), Spanish NIF and
    NIE and Italian codice fiscale (check letter), German identity card number (check digit). Left out: the
    German tax id (eleven digits with a check digit that one phone number in ten passes)."""
    from presidio_analyzer.predefined_recognizers import (
        DeIdCardRecognizer,
        EsNieRecognizer,
        EsNifRecognizer,
        ItFiscalCodeRecognizer,
        UkNinoRecognizer,
    )

    return [
        UkNinoRecognizer(supported_language=language),
        EsNifRecognizer(supported_language=language),
        EsNieRecognizer(supported_language=language),
        ItFiscalCodeRecognizer(supported_language=language),
        DeIdCardRecognizer(supported_language=language),
    ]
