"""PERSON findings that are plainly not people's names: dropped before names are propagated.

The small spaCy model takes a capitalised word it does not know for a name, whatever the word: a job title
("the Cinematographer said"), a verb or adjective at the start of a line ("Awarded Salesperson of the
Month", "Energetic and driven ..."), a weekday or a month. Such a finding is dropped when every word in it
is one of

- a calendar word (a weekday, or a month that is not also a given name);
- an English word of six letters or more that no name is, by the spaCy model's lemmatizer index (the
  WordNet word lists it ships, lower-case words by part of speech):
  - an adjective or adverb (not a noun) of a derivational form: -ic, -ive, -ous, -ful, -less, -able, -al,
    -ary, -ish, -ly, ... ("Energetic", "Retired"); a plain adjective may be a name ("Dexter", "Randy");
  - a verb's -ed, -en or -ing form whose stem is a verb there and which is not a noun ("Awarded",
    "Driven");
  - a noun ending in a suffix that names do not take: -person, -grapher, -ologist, -ician, -ist, -ment,
    -ness, -tion, -ity, -ship, -ism, ... ("Salesperson", "Cinematographer", "Department").

Other nouns are kept: the WordNet noun list holds "smith", "baker", "john" and "paris" too, so being a noun
says nothing about a capitalised word; words under six letters are kept ("Sue" and "Rob" are verbs). A name
after an honorific, an introduction or a form of address ("Mr. Frank Young", "my name is ...", "Dear
...") is always kept; one found after a verb that usually has a person for subject ("God gave") is judged.
A finding that holds a web address ("://", "www.") is not a name either. In a text typed
without capitals, which the analyser capitalises before the model reads it (`retrieval.pii.analyzer`),
LOCATION findings of the model are judged the same way, and a form of address or kinship is no cue ("my
father retired": every word was capitalised).

No lists of names or places: only the model's own English word lists and the closed set of calendar words.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import regex

from retrieval.errors import ConfigurationError

if TYPE_CHECKING:
    from presidio_analyzer import RecognizerResult

__all__ = [
    "drop_not_personal",
    "in_word_lists",
    "is_common_word",
    "is_plural_noun",
    "load_word_lists",
    "may_be_a_name",
]

# Findings of the honorific recognizer rest on a cue that says a person is meant; so do the name-cue
# recognizer's introductions and forms of address (scored 0.75 and more) and its lower-case names (only an
# introduction takes one). Its weaker cues, a verb whose subject is usually a person ("God gave"), are not.
_TITLED = "TitledNameRecognizer"
_NAME_CUE = "NameCueRecognizer"
_STRONG_CUE = 0.75
_INTRODUCTION = 0.85
# LOCATION findings of the model (the patterns' places come with a cue).
_MODEL = "SpacyRecognizer"

# Months that are also given names ("April", "May", "June", "August") are left out: a finding of one of them
# alone may be a person, and a name let through is a leak where a month masked is only a lost word.
_CALENDAR = frozenset(
    {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january", "february"}
    | {"march", "july", "september", "october", "november", "december"}
)
_NOUN_SUFFIXES = (
    "person",
    "people",
    "grapher",
    "ologist",
    "ician",
    "ist",
    "ment",
    "ness",
    "tion",
    "sion",
    "ity",
    "ship",
    "ism",
    "ance",
    "ence",
    "ology",
    "ography",
)
# The head nouns of job titles that no one is named ("Compliance Officer", "Staff Accountant", "Product
# Owner"): a finding that ends in one names a post, not its holder. Surnames that are also job words
# ("Taylor", "Baker", "Miller", "Clerk") are not in it.
_ROLE_HEADS = frozenset(
    {"officer", "owner", "engineer", "accountant", "supervisor", "manager", "director", "practitioner"}
    | {"adjuster", "designer", "copywriter", "analyst", "assistant", "consultant", "coordinator"}
    | {"administrator", "specialist", "technician", "developer", "architect", "representative"}
    | {"executive", "president", "secretary", "controller", "auditor", "adviser", "advisor", "planner"}
    | {"recruiter", "receptionist", "paralegal", "intern", "trainee", "associate", "lead", "strategist"}
    | {"scientist", "researcher", "editor", "underwriter", "investigator", "inspector", "surveyor"}
)
# Adjectives and adverbs are judged by their suffix too: "Dexter", "Randy" and "Noble" are adjectives.
_ADJECTIVE_SUFFIXES = (
    "ic",
    "ical",
    "ive",
    "ous",
    "ful",
    "less",
    "able",
    "ible",
    "al",
    "ary",
    "ish",
    "ed",
    "ing",
    "ly",
)
# Shorter words are left alone: "Sue" and "Rob" are verbs.
_SHORTEST = 6
# A web address inside a finding: a name has none ("https://FightListings.se/").
_ADDRESS_SHAPE = regex.compile(r"://|\bwww\.")
_WORD = regex.compile(r"[\p{L}\p{M}'’-]+")
# A name has no digits. The model's "person" with a number after one to three capitalised words is a street
# and its number ("Ringgränd 511", "Bema 374"); any other one with digits is an identifier or a date at
# the edge of a name ("Order ORD-W2320162"), cut off, or a run of garbage.
_DIGIT = regex.compile(r"\d")
_NUMBERED_STREET = regex.compile(r"(?:\p{Lu}[\p{L}\p{M}'’-]*[ ]+){1,3}\d{1,5}[A-Za-z]?(?:/\d{1,4})?")
_PIECE = regex.compile(r"\S+")


def load_word_lists() -> None:
    """Read the word lists now (once a process); `ConfigurationError` where the model has none."""
    _word_lists()


@cache
def _word_lists() -> dict[str, frozenset[str]]:
    """The lemmatizer's WordNet index of the packaged model: lower-case words by part of speech."""
    from spacy.lookups import Lookups

    from retrieval.pii.engine import SPACY_MODEL

    package = Path(importlib.import_module(SPACY_MODEL).__file__ or "").parent
    folders = sorted(package.glob("*/lemmatizer/lookups"))
    if not folders:
        raise ConfigurationError(f"spaCy model package {SPACY_MODEL!r} has no lemmatizer word lists")
    index = Lookups().from_disk(folders[0]).get_table("lemma_index")
    return {pos: frozenset(index.get(pos, ())) for pos in ("noun", "verb", "adj", "adv")}


def _participle_of_verb(word: str, verbs: frozenset[str]) -> bool:
    """ "awarded" → "award", "driven" → "drive", "moving" → "move": a verb's -ed, -en or -ing form."""
    for suffix, replacements in (("ed", ("", "e")), ("en", ("", "e")), ("ing", ("", "e"))):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            stem = word[: -len(suffix)]
            if any(stem + extra in verbs for extra in replacements):
                return True
            if len(stem) > 2 and stem[-1] == stem[-2] and stem[:-1] in verbs:  # "planned" → "plan"
                return True
    return False


def is_common_word(word: str) -> bool:
    """Whether `word` (any case) is a calendar word or an English word that no name is (module docstring)."""
    lower = word.lower().replace("’", "'")
    if lower in _CALENDAR:
        return True
    if len(lower) < _SHORTEST:
        return False
    lists = _word_lists()
    if lower in lists["noun"]:
        return lower.endswith(_NOUN_SUFFIXES)
    if (lower in lists["adj"] or lower in lists["adv"]) and lower.endswith(_ADJECTIVE_SUFFIXES):
        return True
    return _participle_of_verb(lower, lists["verb"])


def may_be_a_name(word: str) -> bool:
    """Whether `word` (any case) could be a name by the model's word lists: it is not in them, or only as
    a noun ("lucas", "paris" and "john" are there as nouns), and it is no inflected form of a listed word
    ("says", "killers"), nor a verb's -ing or -ed form ("meeting", "tracking": nouns too). Verbs,
    adjectives and adverbs ("mark", "grace", "brown") are not: the lists cannot tell those names from the
    words. A plural that is a listed noun itself stays a possible name ("williams", "roberts")."""
    lower = word.lower().replace("’", "'")
    lists = _word_lists()
    if any(lower in lists[pos] for pos in ("verb", "adj", "adv")):
        return False
    if _participle_of_verb(lower, lists["verb"]) and not lower.endswith("en"):
        return False
    for suffix, endings in (("ies", ("y",)), ("es", ("",)), ("s", ("",))):
        if lower.endswith(suffix) and len(lower) > len(suffix) + 2 and lower not in lists["noun"]:
            stem = lower[: -len(suffix)]
            if any(stem + ending in words for ending in endings for words in lists.values()):
                return False
    return True


def in_word_lists(word: str) -> bool:
    """Whether `word` (any case), or the singular of it, is in the model's English word lists under any
    part of speech; they hold some names and places too ("john", "paris")."""
    lower = word.lower().replace("’", "'")
    lists = _word_lists()
    return any(lower in words for words in lists.values()) or is_plural_noun(lower)


def is_plural_noun(word: str) -> bool:
    """Whether `word` (any case) is the regular plural of a noun in the word lists and not a word there
    itself ("Customers", "Copies"; not "Paris", "Wales")."""
    lower = word.lower()
    nouns = _word_lists()["noun"]
    if lower in nouns or not lower.endswith("s"):
        return False
    if lower.endswith("ies") and lower[:-3] + "y" in nouns:
        return True
    return lower[:-1] in nouns or (lower.endswith("es") and lower[:-2] in nouns)


def _recognizer(result: RecognizerResult) -> str | None:
    metadata = result.recognition_metadata or {}
    name = metadata.get("recognizer_name")
    return name if isinstance(name, str) else None


def _cued(text: str, result: RecognizerResult, case_restored: bool) -> bool:
    """Whether a cue says the finding is a person's. In a text whose capitals were put back by the analyser,
    a form of address or kinship ("my father Retired") is no evidence: it only takes capitalised words, and
    every word there is; an introduction ("my name is ...") takes lower-case names and still counts."""
    name = _recognizer(result)
    if name == _TITLED:
        return True
    threshold = _INTRODUCTION if case_restored else _STRONG_CUE
    return name == _NAME_CUE and (result.score >= threshold or text[result.start].islower())


def _without_digits(text: str, result: RecognizerResult) -> bool:
    """Mend a PERSON finding with digits in place (see `_NUMBERED_STREET`); False: drop it."""
    if _NUMBERED_STREET.fullmatch(text, result.start, result.end):
        result.entity_type = "STREET_ADDRESS"
        return True
    pieces = [(m.start(), m.end()) for m in _PIECE.finditer(text, result.start, result.end)]
    while pieces and _DIGIT.search(text, *pieces[0]):
        pieces.pop(0)
    while pieces and _DIGIT.search(text, *pieces[-1]):
        pieces.pop()
    if not pieces or any(_DIGIT.search(text, start, end) for start, end in pieces):
        return False
    result.start, result.end = pieces[0][0], pieces[-1][1]
    return True


def drop_not_personal(
    text: str, results: Sequence[RecognizerResult], *, case_restored: bool = False
) -> list[RecognizerResult]:
    """`results` less the PERSON findings (and, in a text whose case was restored, the model's LOCATION
    findings) made only of words that no name is (see the module docstring)."""
    kept = []
    for result in results:
        if (
            result.entity_type == "PERSON"
            and _DIGIT.search(text, result.start, result.end)
            and not _without_digits(text, result)
        ):
            continue
        judged = (result.entity_type == "PERSON" and not _cued(text, result, case_restored)) or (
            case_restored and result.entity_type == "LOCATION" and _recognizer(result) == _MODEL
        )
        if judged:
            if _ADDRESS_SHAPE.search(text, result.start, result.end):
                continue
            words = _WORD.findall(text, result.start, result.end)
            if words and all(is_common_word(word) for word in words):
                continue
            if result.entity_type == "PERSON" and words and words[-1].lower() in _ROLE_HEADS:
                continue
        kept.append(result)
    return kept
