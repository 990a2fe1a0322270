"""Probes of the real masker for surface forms the dev templates have few of (issue #20): each form masked
where it is personal data, and left where it is not."""

from __future__ import annotations

import pytest

from retrieval.pii.masker import PresidioMasker, load_masker
from retrieval.pii.not_personal import is_common_word, is_plural_noun

pytestmark = [pytest.mark.slow, pytest.mark.integration]


@pytest.fixture(scope="module")
def masker() -> PresidioMasker:
    return load_masker()


def _masked(masker: PresidioMasker, text: str) -> list[tuple[str, str]]:
    return [(span.entity_type, text[span.start : span.end]) for span in masker.mask(text).spans]


# (text, entity type, value): the value must be masked as that type.
MASKED = [
    # People found firms and are established as favourites: still people.
    ("Maria Oyelaran founded the firm in 2015.", "PERSON", "Maria Oyelaran"),
    ("Brightwell was founded by Maria Oyelaran in 2015.", "PERSON", "Maria Oyelaran"),
    ("Tom Brandt was established as the favourite early on.", "PERSON", "Tom Brandt"),
    # Postal codes next to a town or region, no cue word.
    ("Our office is in Boulder, Colorado 80302 and we love it.", "POSTAL_CODE", "80302"),
    ("Moved from Austin, Texas 78701 to Denver last year", "POSTAL_CODE", "78701"),
    ("She moved to Leeds LS1 4AP last spring.", "POSTAL_CODE", "LS1 4AP"),
    ("Oslo 0150, Norway", "POSTAL_CODE", "0150"),
    ("Meet me at 75008 Paris.", "POSTAL_CODE", "75008"),
    # Ages in words and more age forms.
    ("She is a forty-two year old teacher.", "AGE", "forty-two"),
    ("My grandmother, aged ninety-one, lives alone.", "AGE", "ninety-one"),
    ("A thirty-five-year-old man was arrested.", "AGE", "thirty-five"),
    ("Patient: 42 y/o male, chest pain.", "AGE", "42"),
    ("a 42yo woman", "AGE", "42"),
    ("Age: 42", "AGE", "42"),
    ("I'm 42.", "AGE", "42"),
    ("My age is 42.", "AGE", "42"),
    ("John Smith, 42, of Leeds, was arrested.", "AGE", "42"),
    # Phone numbers with international prefixes, trunk notation and extensions.
    ("Reach her on 00 44 20 7946 0958.", "PHONE_NUMBER", "00 44 20 7946 0958"),
    ("Call 1-800-555-0199 now.", "PHONE_NUMBER", "1-800-555-0199"),
    ("Office: +44 (0)20 7946 0958.", "PHONE_NUMBER", "+44 (0)20 7946 0958"),
    ("my number is (212) 555-0147 extension 42", "PHONE_NUMBER", "(212) 555-0147 extension 42"),
    ("Call me at +1 (415) 555-0132 ext. 123 today.", "PHONE_NUMBER", "+1 (415) 555-0132 ext. 123"),
    ("Desk: 212-555-0147 x123", "PHONE_NUMBER", "212-555-0147 x123"),
    # Names that are also English words stay names.
    ("Dexter lives on Ziegelgasse 19 street.", "PERSON", "Dexter"),
    ("Mr. Frank Young signed the lease.", "PERSON", "Frank Young"),
    ("Please send the signed form to Margit Okonkwo before Friday.", "PERSON", "Margit Okonkwo"),
    ("my name is maria garcia", "PERSON", "maria garcia"),
    # Names in lists and CSV rows: the model reads each line and field by itself.
    ("Invited:\n• Teodora Vulić\n• Björn Aaltonen (+1)\n• Priya Raman", "PERSON", "Teodora Vulić"),
    ("Invited:\n• Teodora Vulić\n• Björn Aaltonen (+1)\n• Priya Raman", "PERSON", "Björn Aaltonen"),
    ("Invited:\n• Teodora Vulić\n• Björn Aaltonen (+1)\n• Priya Raman", "PERSON", "Priya Raman"),
    (
        "id,name,email\n7,Oksana Melnyk,om@example.org\n8,Kwame Asante,ka@example.org",
        "PERSON",
        "Oksana Melnyk",
    ),
    # Ten digits that pass the NHS check digit, written as a phone number, in a text that says nothing of the
    # NHS (9434765919 is a valid NHS number).
    ("You can reach the desk on 943-476-5919.", "PHONE_NUMBER", "943-476-5919"),
    # Names in a text typed without capitals.
    ("has anyone seen the new printer? ask tomas, he says it is broken", "PERSON", "tomas"),
    ("ok so priya wants the report by friday", "PERSON", "priya"),
]

# (text, value): the value must not be masked at all.
NOT_MASKED = [
    # What only a body is said to be: a firm, not a person.
    ("Verdafero is the brainchild of two engineers from Oslo.", "Verdafero"),
    ("Kivoteq, a small Berlin start-up, was founded in 2015.", "Kivoteq"),
    ("Lumora is headquartered in Leeds.", "Lumora"),
    ("Energetic and driven salesperson. Awarded Salesperson of the Month three times.", "Awarded"),
    ("Energetic and driven salesperson. Awarded Salesperson of the Month three times.", "Salesperson"),
    ("Kristiana Valberg, the Cinematographer, said it was withdrawn.", "Cinematographer"),
    ("my father retired at the age of 45", "father"),
    ("I've shared files with you https://FightListings.se/", "https://FightListings.se/"),
    ("I used to work for Transparagov as a dairy scientist.", "Transparagov"),
    ("Totals for Boulder, Colorado 2019", "2019"),
    ("Orders: Texas 20000 units, Ohio 15000 units.", "20000"),
    ("We sold it to 25000 Customers.", "25000"),
    ("Call Anna, Room 20304 tomorrow.", "20304"),
    ("She is in her sixties.", "sixties"),
    ("It took forty years to build.", "forty"),
    ("I am 5 minutes away.", "5"),
    ("Order 0012345678 shipped.", "0012345678"),
    ("Rooms 4, 12, and 15 are free.", "12"),
    # Identifiers and dates are no names, job titles name posts, and firms say what they are.
    ("Your order #V7001482 has been shipped to Anna.", "V7001482"),
    ("We are pleased to offer you the position of Compliance Officer.", "Compliance Officer"),
    ("Please welcome our new Staff Accountant, who starts on Monday.", "Staff Accountant"),
    ("The deal with Lindgren Property Management closed.", "Lindgren Property Management"),
    ("Invoices go to Kowalczyk SRL by the end of May.", "Kowalczyk SRL"),
    ("The parcel went back to Arnesen og Sønner on Monday.", "Arnesen"),
    ("Decision deferred to 26 Feb 2022.", "26 Feb 2022"),
    # Verbs and adjectives stay in lower case in a text typed without capitals: no names.
    ("has anyone seen the new printer? ask tomas, he says it is broken", "broken"),
    ("has anyone seen the new printer? ask tomas, he says it is broken", "ask"),
    ("ok so priya wants the report by friday", "wants"),
]


@pytest.mark.parametrize(("text", "entity", "value"), MASKED, ids=[case[0][:40] for case in MASKED])
def test_form_is_masked(masker: PresidioMasker, text: str, entity: str, value: str) -> None:
    assert (entity, value) in _masked(masker, text)


@pytest.mark.parametrize(
    ("text", "value"), NOT_MASKED, ids=[f"{case[0][:30]}:{case[1]}" for case in NOT_MASKED]
)
def test_lookalike_is_not_masked(masker: PresidioMasker, text: str, value: str) -> None:
    start = text.index(value)
    end = start + len(value)
    spans = masker.mask(text).spans
    assert not any(span.start < end and start < span.end for span in spans), _masked(masker, text)


@pytest.mark.parametrize(
    ("word", "common"),
    [
        ("Salesperson", True),
        ("Awarded", True),
        ("Energetic", True),
        ("Monday", True),
        ("October", True),
        ("June", False),  # a month, and a given name: kept masked
        ("April", False),
        ("Dexter", False),  # an adjective, and a name
        ("Randy", False),
        ("Smith", False),  # a noun, and a name
        ("Sue", False),  # a verb, too short to judge
        ("Kowalski", False),
    ],
)
def test_common_words_are_told_from_names(word: str, common: bool) -> None:
    assert is_common_word(word) is common


def test_plural_nouns_are_told_from_place_names() -> None:
    assert is_plural_noun("Customers") and is_plural_noun("Copies")
    assert not is_plural_noun("Paris") and not is_plural_noun("Wales")
