"""Finds dates of birth (DATE_OF_BIRTH): "born on 12 March 1984", "DOB: 1984-03-12", "date of birth 03/12/84".

Dates are kept in general (a date is rarely personal data), but a date of birth identifies. Only a date after
a birth cue counts (lookbehind: "born", "DOB", "date of birth", "birthday", "geboren", "né(e) le"); the date
itself may be numeric (day, month and year in any order with `/`, `.` or `-`; ISO), written out ("12 March
1984", "March 12, 1984", English month names and their abbreviations), or a year alone after "born in".
"""

from __future__ import annotations

from presidio_analyzer import Pattern

from retrieval.pii.recognizers._base import FlaggedPatternRecognizer

_MONTH = (
    r"(?i:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DATE = (
    rf"(?:\d{{4}}-\d{{1,2}}-\d{{1,2}}|\d{{1,2}}[./-]\d{{1,2}}[./-](?:\d{{4}}|\d{{2}})|"
    rf"\d{{1,2}}(?:st|nd|rd|th)?[ ]+(?:of[ ]+)?{_MONTH},?[ ]+\d{{4}}|"
    rf"{_MONTH}[ ]+\d{{1,2}}(?:st|nd|rd|th)?,?[ ]+\d{{4}})"
)
_CUE = (
    r"(?:born(?:[ ]on)?|b\.|dob|d\.o\.b\.?|date[ ]of[ ]birth|birth[ ]?date|birthday(?:[ ]is)?|"
    r"geboren(?:[ ]am)?|"
    r"geb\.|née?[ ]le|fecha[ ]de[ ]nacimiento|data[ ]di[ ]nascita)"
)


class DateOfBirthRecognizer(FlaggedPatternRecognizer):
    """DATE_OF_BIRTH: a date after a birth cue."""

    ENTITY = "DATE_OF_BIRTH"
    PATTERNS = [
        # The cue is matched and then dropped from the span (`\K`): a lookbehind for it was tried at every
        # letter and digit of the text, the most expensive pattern of all on text dense with personal data.
        Pattern("date after birth cue", rf"\b(?i:{_CUE})[ ]*[:\-]?[ ]*\K{_DATE}\b", 0.85),
        Pattern("year after born in", r"(?=\d)(?<=\b(?i:born[ ]in)[ ]+)(?:19|20)\d{2}\b", 0.65),
    ]
