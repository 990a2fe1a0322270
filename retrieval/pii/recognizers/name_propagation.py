"""Extends PERSON findings within one text. Not a recognizer: it runs on the recognizers' results.

Three rules, all about the text at hand only:

- a name found once is a name everywhere in the text: every other whole-word occurrence of a word of a
  found name (capitalised, three letters or more, not a sentence word) is a PERSON too ("Faina D. Yefremova
  ... than early Yefremova", "my name is Aantje Mourik but everyone calls me Aantje");
- the members of a list of capitalised words ("Gaetane, Hannah, Anthony and Derek", "Usamov and Bowers")
  are of one kind: when one of them was found as a PERSON, all of them are;
- a capitalised word right next to a found name, one space away, is part of it: the model often finds
  only the surname of a name it does not know ("Emeka [Albuquerque]"), which would leave the first name.

Both leak-proof a text that names a person several times, the second case the model handles worst. Not
spread: a single word that only the statistical model called a name (headings fool it: "# Remote work
policy"), and the members of a list that names a firm ("The Davis, Reynolds and Williamson Orchestra",
"Barnett, Melton and Garcia LLP"). The findings added score 0.88: above the spaCy recognizer (a word known to
be a name here is not a place), below the pattern recognizers for addresses and places.
"""

from __future__ import annotations

from collections.abc import Sequence

import regex
from presidio_analyzer import RecognizerResult

from retrieval.pii.limits import finditer, search
from retrieval.pii.recognizers._fragments import CAP_WORD, NOT_A_NAME

PROPAGATED_SCORE = 0.88
# Findings of one word below this score (the spaCy recognizer's 0.6) are not spread; see `_name_words`.
SPREAD_MIN_SCORE = 0.65
# Findings below this score (a name by its shape alone, `name_shape`) are neither spread nor extended: a
# guess is not evidence about the rest of the text.
EVIDENCE_MIN_SCORE = 0.5
PERSON = "PERSON"

_WORD = regex.compile(r"\p{L}[\p{L}\p{M}'’-]*")
_WORD_GAP = regex.compile(r"\p{L}[ .]+\p{L}")
_SENTENCE_WORD = regex.compile(rf"{NOT_A_NAME}")
# Not from a word that follows a capitalised word and a comma: the list would have matched from that word
# (finditer reaches it first), and starting again at each member of "Ab, Cd, Ef, ..." with no "and" in the
# end would scan the rest of the list each time (quadratic time).
_LIST = regex.compile(
    rf"(?<![\p{{L}}\p{{M}}])(?<!(?<![\p{{L}}\p{{M}}'’-])\p{{Lu}}[\p{{L}}\p{{M}}'’-]*[ ]*,[ ]*)"
    rf"{CAP_WORD}(?:[ ]*,[ ]*{CAP_WORD})*+,?[ ]+(?:and|&)[ ]+{CAP_WORD}(?![\p{{L}}\p{{M}}])"
)


_FIRM_BEFORE = regex.compile(r"\bThe[ ]+$")
# How far back "The" is looked for before a list (it is right before it, a few spaces at most).
_FIRM_BEFORE_REACH = 20
_FIRM_AFTER = regex.compile(
    r"[ ]+(?:Orchestra|Band|Inc|LLC|LLP|Ltd|Limited|GmbH|AG|SA|Group|Partners|Associates|Sons|Brothers|"
    r"Company|Co|Corporation|Corp|Law|Foundation|Institute|Bank|Holdings)\b"
)


def _name_words(text: str, results: Sequence[RecognizerResult]) -> set[str]:
    words: set[str] = set()
    for result in results:
        if result.entity_type != PERSON or result.score < EVIDENCE_MIN_SCORE:
            continue
        # One word that only the statistical model calls a name is not spread: headings fool it ("# Remote
        # work policy"), and every "Remote" in the text would follow.
        if result.score < SPREAD_MIN_SCORE and not search(_WORD_GAP, text, result.start, result.end):
            continue
        for match in finditer(_WORD, text, result.start, result.end):
            word = match.group().removesuffix("'s").removesuffix("’s")
            if len(word) >= 3 and word[0].isupper() and not _SENTENCE_WORD.fullmatch(word):
                words.add(word)
    return words


def _occurrences(text: str, word: str) -> list[int]:
    """Starts of `word` in `text` as a whole word (not inside a longer word)."""
    starts: list[int] = []
    start = text.find(word)
    while start >= 0:
        end = start + len(word)
        if (start == 0 or not text[start - 1].isalpha()) and (end == len(text) or not text[end].isalpha()):
            starts.append(start)
        start = text.find(word, start + 1)
    return starts


class _Coverage:
    """The characters some findings cover, one byte each: whether a span meets any of them costs the span's
    length, not the number of findings (thousands in a long text)."""

    def __init__(self, length: int, results: Sequence[RecognizerResult]) -> None:
        self._covered = bytearray(length)
        for result in results:
            self.mark(result.start, result.end)

    def mark(self, start: int, end: int) -> None:
        self._covered[start:end] = b"\x01" * (end - start)

    def hits(self, start: int, end: int) -> bool:
        return self._covered.find(1, start, end) >= 0


def propagate_names(text: str, results: Sequence[RecognizerResult]) -> list[RecognizerResult]:
    """`results` plus the PERSON findings the two rules add where no PERSON was found yet.

    An added finding may overlap a finding of another type (the caller resolves overlaps by score).
    """
    people = [r for r in results if r.entity_type == PERSON]
    if not people:
        return list(results)
    covered = _Coverage(len(text), people)
    added: list[RecognizerResult] = []
    for word in sorted(_name_words(text, people)):
        for start in _occurrences(text, word):
            if not covered.hits(start, start + len(word)):
                added.append(RecognizerResult(PERSON, start, start + len(word), PROPAGATED_SCORE))
    for listed in finditer(_LIST, text):
        # "The Davis, Reynolds and Williamson Orchestra", "Barnett, Melton and Garcia LLP": a firm's name.
        before = max(0, listed.start() - _FIRM_BEFORE_REACH)
        if search(_FIRM_BEFORE, text, before, listed.start()) or _FIRM_AFTER.match(text, listed.end()):
            continue
        members = [m for m in _WORD.finditer(listed.group()) if m.group() not in ("and",)]
        spans = [(listed.start() + m.start(), listed.start() + m.end()) for m in members]
        if not any(covered.hits(start, end) for start, end in spans):
            continue
        for start, end in spans:
            if not _SENTENCE_WORD.fullmatch(text[start:end]) and not covered.hits(start, end):
                added.append(RecognizerResult(PERSON, start, end, PROPAGATED_SCORE))
    evidence = [person for person in people if person.score >= EVIDENCE_MIN_SCORE]
    taken = _Coverage(len(text), [*evidence, *added])
    for person in evidence:
        if not text[person.start : person.start + 1].isupper():
            continue  # only a capitalised name has capitalised neighbours of its own
        for start, end in _neighbours(text, person.start, person.end):
            if not taken.hits(start, end):
                added.append(RecognizerResult(PERSON, start, end, PROPAGATED_SCORE))
                taken.mark(start, end)
    return [*results, *added]


# A word glued to digits ("LS1", "4AP") is a code, not a name.
_BEFORE = regex.compile(rf"(?<![\p{{L}}\p{{M}}\d'’.-]){CAP_WORD}[ ]$")
_AFTER = regex.compile(rf"[ ]{CAP_WORD}(?![\p{{L}}\p{{M}}\d'’-]|\.\p{{L}})")


def _neighbours(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The capitalised words right before and right after `text[start:end]`, one space away, that are not
    sentence words (`NOT_A_NAME`)."""
    spans: list[tuple[int, int]] = []
    before = _BEFORE.search(text, max(0, start - 40), start)
    if before is not None:
        spans.append((before.start(), before.end() - 1))
    after = _AFTER.match(text, end, min(len(text), end + 40))
    if after is not None:
        spans.append((after.start() + 1, after.end()))
    return [(s, e) for s, e in spans if e - s >= 2 and not _SENTENCE_WORD.fullmatch(text[s:e])]
