"""Analysis of texts into findings (steps 1-3 of `retrieval.pii.masker`): presidio's analyzer over a batch,
case restoration for texts typed without capitals, names propagated, overlapping findings resolved.

`analyse` needs nothing but the texts and the entity settings, so it is also what the helper processes run
(`retrieval.pii.helpers`). Its findings are the same however a batch is split, because each text is
analysed on its own.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

import regex

from retrieval.pii.engine import LANGUAGE, shared_analysis
from retrieval.pii.limits import split_for_analysis
from retrieval.pii.not_personal import drop_not_personal, may_be_a_name
from retrieval.pii.organisations import drop_organisations

if TYPE_CHECKING:
    from presidio_analyzer import RecognizerResult

__all__ = ["Finding", "analyse"]


def _restore_case(text: str) -> str:
    """For a text without capitals: a copy, of the same length, whose words other than function words are
    capitalised ("follow up with patricia desrosiers" → "follow up with Patricia Desrosiers").

    Text typed without capitals (chat messages, queries) hides names from the model and from the name
    patterns. Which words are names is not known, so every word that could be one is capitalised: not an
    English function word (spaCy's stop list), and not a verb, adjective, adverb or inflected form by the
    model's word lists (`not_personal.may_be_a_name`: "says", "tracking", "worth" stay as they are, so the
    model reads a sentence rather than a title). The findings are kept at their offsets in the original. A
    letter whose capital is longer ("ß") stays as it is, so offsets do not move. The words of a street after
    its house number are capitalised whatever they are ("14 crown street", "2 high street"), for the address
    patterns. The price: a name that is also such a word ("mark", "grace") is left in lower case, and in such
    a text the model still takes some nouns for names, which over-masks a query typed without capitals
    rather than letting a name through.
    """
    from spacy.lang.en.stop_words import STOP_WORDS

    pieces: list[str] = []
    previous = ""
    for index, char in enumerate(text):
        upper = char.upper()
        starts_word = char.isalpha() and not previous.isalpha() and previous not in ("'", "’")
        if starts_word and len(upper) == 1:
            word_end = index
            while word_end < len(text) and (text[word_end].isalpha() or text[word_end] in "'’"):
                word_end += 1
            word = text[index:word_end]
            if (
                word not in STOP_WORDS
                and word_end - index > 1
                and (_after_house_number(text, index) or may_be_a_name(word))
            ):
                char = upper
        pieces.append(char)
        previous = text[index]
    return "".join(pieces)


# A house number and up to two words of its street before the word at the end: "14 crown", "7 old mill".
_HOUSE_NUMBER_BEFORE = regex.compile(r"(?<![\d.,:/-])\d{1,5}[a-z]?[ ]+(?:[\p{L}'’]+[ ]+){0,2}$")


def _after_house_number(text: str, index: int) -> bool:
    """Whether the word starting at `index` follows a house number, within the two words after it."""
    return _HOUSE_NUMBER_BEFORE.search(text, max(0, index - 40), index) is not None


def _by_shape_alone(result: RecognizerResult) -> bool:
    from retrieval.pii.recognizers.name_shape import NameShapeRecognizer

    metadata = result.recognition_metadata or {}
    return metadata.get("recognizer_name") == NameShapeRecognizer.__name__


def _needs_case_restored(text: str) -> bool:
    """A text with letters, all of one case: typed without capitals, or shouted (a heading or a file name
    in capitals, "PIERRE DUBOIS.pdf", where every word has a name's shape and the model finds none)."""
    if not any(char.isalpha() for char in text):
        return False
    return not any(char.isupper() for char in text) or not any(char.islower() for char in text)


def _trimmed(results: list[RecognizerResult], text: str) -> list[RecognizerResult]:
    """`results` without white space at their ends (the spaCy model's entities take trailing spaces in
    "Pierre Dubois    "): a masked text keeps its layout, and a span names the value alone."""
    kept = []
    for result in results:
        while result.start < result.end and text[result.start].isspace():
            result.start += 1
        while result.end > result.start and text[result.end - 1].isspace():
            result.end -= 1
        if result.start < result.end:
            kept.append(result)
    return kept


_NHS_CUE = regex.compile(r"(?i)\bnhs\b|health[ ]service")


def _phones_over_nhs_numbers(results: list[RecognizerResult], text: str) -> list[RecognizerResult]:
    """`results` less the UK_NHS findings that are also found as a phone number, where the text does not
    speak of the NHS: ten digits in a phone's groups pass the NHS check digit one time in eleven, so
    without that word "reached on 495-710-0829" is a phone number."""
    phones = {(r.start, r.end) for r in results if r.entity_type == "PHONE_NUMBER"}
    if not phones or _NHS_CUE.search(text):
        return results
    return [r for r in results if r.entity_type != "UK_NHS" or (r.start, r.end) not in phones]


def _lower_same_length(text: str) -> str:
    """`text` in lower case, but for letters whose lower case is longer ("İ"), so that offsets hold."""
    return "".join(low if len(low := char.lower()) == 1 else char for char in text)


def _resolve_overlaps(results: Sequence[RecognizerResult], text: str) -> list[RecognizerResult]:
    """Non-overlapping spans, in text order, that cover everything any finding covered.

    Findings are taken best first: a higher score, then the longer span, then the earlier. A finding that
    overlaps those already taken keeps only its parts outside them, trimmed of spaces and punctuation, and
    only parts with a letter or digit ("Barbara Yudina Apt" as a name and "Apt. 675" as an address give the
    name "Barbara Yudina" and the address), so that a value one recognizer found is not let through because
    another found something else over part of it. The exception: a part next to a taken finding of the same
    type is dropped, because the stronger recognizer of that type has drawn the value's edges (the model's
    "Hannah Schmidt Yesterday" after the introduction pattern's "Hannah Schmidt"), which also keeps a value's
    pseudonym the same wherever it occurs.
    """
    from presidio_analyzer import RecognizerResult

    ranked = sorted(results, key=lambda r: (-r.score, -(r.end - r.start), r.start, r.entity_type))
    # What is taken so far, disjoint, in text order (`starts` and `ends` rise together): a candidate meets
    # only the few taken spans around it, found by bisection, so a long text with thousands of findings
    # costs n log n rather than n².
    kept: list[RecognizerResult] = []
    starts: list[int] = []
    ends: list[int] = []

    def take(result: RecognizerResult) -> None:
        index = bisect.bisect_left(starts, result.start)
        kept.insert(index, result)
        starts.insert(index, result.start)
        ends.insert(index, result.end)

    def extends_own_type(entity_type: str, start: int, end: int) -> bool:
        """Whether a taken span of `entity_type` lies next to `start:end`, with only white space between."""
        index = bisect.bisect_right(ends, start) - 1
        while index >= 0 and not text[kept[index].end : start].strip():
            if kept[index].entity_type == entity_type:
                return True
            index -= 1
        index = bisect.bisect_left(starts, end)
        while index < len(kept) and not text[end : kept[index].start].strip():
            if kept[index].entity_type == entity_type:
                return True
            index += 1
        return False

    for candidate in ranked:
        pieces = [(candidate.start, candidate.end)]
        index = bisect.bisect_right(ends, candidate.start)
        while index < len(kept) and kept[index].start < candidate.end:
            other = kept[index]
            pieces = [
                piece
                for start, end in pieces
                for piece in ((start, min(end, other.start)), (max(start, other.end), end))
                if piece[0] < piece[1]
            ]
            index += 1
        if pieces == [(candidate.start, candidate.end)]:
            take(candidate)
            continue
        for start, end in pieces:
            while start < end and not text[start].isalnum():
                start += 1
            while end > start and not text[end - 1].isalnum():
                end -= 1
            if start == end:
                continue
            if not extends_own_type(candidate.entity_type, start, end):
                take(RecognizerResult(candidate.entity_type, start, end, candidate.score))
    return kept


class Finding(NamedTuple):
    """One value to mask: its type and where it lies in the text (`start`, `end`), with the winning score."""

    entity_type: str
    start: int
    end: int
    score: float


def analyse(
    texts: Sequence[str], entities: Sequence[str], score_threshold: float, batch_size: int
) -> list[list[Finding]]:
    """Steps 1-3 of the module docstring in this process: the findings of each text, in text order.

    Every text must hold something other than white space. Also the function the helper processes run.
    """
    from retrieval.pii.recognizers.name_propagation import propagate_names

    analysis = shared_analysis()
    restored = [_needs_case_restored(text) for text in texts]
    analysed = [
        _restore_case(_lower_same_length(text)) if restore else text
        for text, restore in zip(texts, restored, strict=True)
    ]
    # Long texts are analysed in overlapping pieces (`retrieval.pii.limits`); each piece's findings are
    # moved to the whole text's offsets, and the overlaps resolved over the whole text below.
    pieces = [
        (number, offset, piece)
        for number, text in enumerate(analysed)
        for offset, piece in split_for_analysis(text)
        if piece.strip()
    ]
    with analysis.lock:
        analyses = list(
            analysis.batch_analyzer.analyze_iterator(
                [piece for _, _, piece in pieces],
                language=LANGUAGE,
                batch_size=batch_size,
                entities=list(entities),
                score_threshold=score_threshold,
            )
        )
    found: list[list[RecognizerResult]] = [[] for _ in analysed]
    for (number, offset, _), results in zip(pieces, analyses, strict=True):
        if offset:
            for result in results:
                result.start += offset
                result.end += offset
        found[number].extend(results)
    findings: list[list[Finding]] = []
    for analysed_text, restore, results in zip(analysed, restored, found, strict=True):
        if restore:
            # Capitals put back by `_restore_case` are not evidence of a name: every pair of content words
            # would have a name's shape.
            results = [r for r in results if not _by_shape_alone(r)]
        results = _phones_over_nhs_numbers(_trimmed(results, analysed_text), analysed_text)
        results = drop_not_personal(analysed_text, results, case_restored=restore)
        if "PERSON" in entities:
            results = propagate_names(analysed_text, drop_organisations(analysed_text, results))
        findings.append(
            [
                Finding(r.entity_type, r.start, r.end, r.score)
                for r in _resolve_overlaps(results, analysed_text)
            ]
        )
    return findings
