"""Finds PERSON names that follow an honorific: "Mr. Rangel", "Dr Cindy Holinka", "ms. Quinzia", "Frau Weber".

The spaCy model misses many names it has not seen (most names outside English), but a name after "Mr." or
"Dr." is a name whatever its origin. The honorific itself stays in the text: it says little about the person
and keeps the sentence readable ("Mr. <PERSON> flew to ..."). Why the regex is shaped so:

- the honorific is matched in any case and by a lookbehind, so the span is the name alone;
- the name is one to four capitalised words (initials and particles allowed, also first: "Herr van der
  Berg"; see `_fragments.NAME`); a single lower-case word that is not a common word is accepted after a
  dotted honorific ("mr. elliott"), which is how people type;
- address words never join the name ("Dr. Cindy Holinka Apt. 117" stops before "Apt").

Scores 0.9 (0.65 lower-case), above the spaCy recognizer's 0.6, so that this reading wins where the model
calls the name a place. The price of a cue-only rule: "Dr. Pepper" is a name here.
"""

from __future__ import annotations

from presidio_analyzer import Pattern

from retrieval.pii.recognizers._base import FlaggedPatternRecognizer
from retrieval.pii.recognizers._fragments import COMMON_WORDS, LOWER_WORD, NAME, PARTICLE

# English, German, French, Spanish, Italian and Dutch forms of address used before a surname.
HONORIFIC = (
    r"(?:mr|mrs|ms|mx|miss|dr|prof|professor|sir|dame|lady|lord|madam|madame|mme|mlle|herr|frau|señor|señora|"
    r"sr|sra|srta|signor|signora|sig|sig\.ra|dhr|mevr|rev|hon)"
)


class TitledNameRecognizer(FlaggedPatternRecognizer):
    """PERSON after an honorific."""

    ENTITY = "PERSON"
    PATTERNS = [
        Pattern(
            "name after honorific",
            rf"(?=\p{{L}})(?<=\b(?i:{HONORIFIC})\.?[ ]+)(?:{PARTICLE}[ ]+){{0,2}}{NAME}",
            0.9,
        ),
        Pattern(
            "lower-case name after dotted honorific",
            rf"(?=\p{{Ll}})(?<=\b(?i:mr|mrs|ms|dr|prof)\.[ ]+)(?!{COMMON_WORDS}\b){LOWER_WORD}"
            rf"(?=[ ]+\p{{Ll}}|[ ]*[.,!?;:]|$)",
            0.65,
        ),
    ]
