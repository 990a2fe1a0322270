"""Named entities found line by line and cell by cell: the spaCy model run on each segment of a text that
lines, table cells, list bullets or CSV commas divide, instead of on the whole run of it.

The small model reads a token through a window of its neighbours, so in text laid out in lines and cells
(a guest list, a table, a CSV row, a signature, a form) the words of the next cell change what it makes
of a name: "• Mayte Campos\\n• Nadežda Vares" gives no person, "Cheers,\\nMartin\\n\\nSent from my phone"
gives the organisation "Martin Sent", and "101,Khrystyna Stets,stetsk@klotz.com" gives the number
"101,Khrystyna". Each segment alone gives the names. Prose loses nothing that matters: a segment ends only
where a line does, and the model's window reaches four tokens either side, so only words at a line's end
are read with less context, and an entity never ran across a line break in the first place.

Where a text has no separator the model runs on it as before. Segment boundaries are tokens: a token of
white space holding a line break, a cell or bullet mark, or a comma that touches a word on both sides with
no space (a CSV field), which the tokenizer is told to split off (`split_csv_commas`).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import regex

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

__all__ = ["SEGMENTED_NER", "segmented_ner", "split_csv_commas"]

SEGMENTED_NER = "govrag_segmented_ner"
# A line break or tab, a cell or bullet mark, or a comma with no space on either side (a CSV field).
_SEPARATOR = regex.compile(r"[\n\t|•·▪◦‣●■¦]|(?<=\S),(?=\S)")


def split_csv_commas(nlp: Language) -> None:
    """Let the tokenizer split a comma between a digit and a letter ("101,Khrystyna", "com,40"); spaCy
    already splits one between two letters, and one between two digits ("1,000") stays a number."""
    import re

    from spacy.tokenizer import Tokenizer

    tokenizer = nlp.tokenizer
    if not isinstance(tokenizer, Tokenizer) or tokenizer.infix_finditer is None:
        raise TypeError("the spaCy pipeline has no rule-based tokenizer to extend")
    # The model's own infix pattern, with two alternatives added: every other split stays as it was.
    pattern = tokenizer.infix_finditer.__self__.pattern
    added = r"(?<=[0-9]),(?=[^\W\d_])|(?<=[^\W\d_]),(?=[0-9])"
    tokenizer.infix_finditer = re.compile(f"{pattern}|{added}").finditer


def _segments(doc: Doc) -> list[tuple[int, int]]:
    """Token ranges between separators, each holding something other than white space. Found on the text
    with one regex and mapped to tokens by their offsets: a loop over the tokens in Python costs more than
    the model's pass over them."""
    from spacy.attrs import IDX

    text = doc.text
    cuts: list[int] = []
    if _SEPARATOR.search(text) is None:
        return [(0, len(doc))] if text.strip() else []
    starts = doc.to_array([IDX]).ravel().tolist()
    for match in _SEPARATOR.finditer(text):
        index = bisect.bisect_right(starts, match.start()) - 1
        token = doc[index]
        # The mark must be a token of its own ("|", a CSV comma split off by `split_csv_commas`), or white
        # space holding the line break; a mark inside a word ("a|b" kept whole) separates nothing.
        separates = token.is_space or (len(token) == 1 and token.text == match.group())
        if separates and (not cuts or cuts[-1] != index):
            cuts.append(index)
    ranges: list[tuple[int, int]] = []
    previous = 0
    for cut in [*cuts, len(doc)]:
        if cut > previous:
            first, last = doc[previous], doc[cut - 1]
            if text[first.idx : last.idx + len(last)].strip():
                ranges.append((previous, cut))
        previous = cut + 1
    return ranges


def _parts(doc: Doc, spans: list[tuple[int, int]]) -> list[Doc]:
    """A new doc per segment, of the segment's words and spaces. `Span.as_doc` would copy the whole doc's
    arrays for each segment (quadratic in a text of many short lines); nothing before the model has set
    anything on the tokens but their text, so the words are all a segment doc needs."""
    from spacy.attrs import ORTH, SPACY
    from spacy.tokens import Doc as SpacyDoc

    columns = doc.to_array([ORTH, SPACY])
    strings = doc.vocab.strings
    return [
        SpacyDoc(
            doc.vocab,
            words=[strings[int(orth)] for orth in columns[start:end, 0]],
            spaces=[bool(space) for space in columns[start:end, 1]],
        )
        for start, end in spans
    ]


class _SegmentedNer:
    """Runs the model's `ner` component on each segment of a doc and sets the doc's entities from theirs."""

    def __init__(self, ner: Any) -> None:
        self._ner = ner

    def __call__(self, doc: Doc) -> Doc:
        return self._recognise([doc])[0]

    def pipe(self, docs: Iterable[Doc], batch_size: int = 64) -> Iterator[Doc]:
        """The docs with their entities. The segments of a batch of docs go through the model together,
        as whole docs would: one pass per doc (or per segment) costs the model's overhead each time."""
        batch: list[Doc] = []
        for doc in docs:
            batch.append(doc)
            if len(batch) == batch_size:
                yield from self._recognise(batch)
                batch = []
        if batch:
            yield from self._recognise(batch)

    def _recognise(self, docs: list[Doc]) -> list[Doc]:
        from spacy.tokens import Span

        ranges = [_segments(doc) for doc in docs]
        parts = [
            part
            for doc, spans in zip(docs, ranges, strict=True)
            for part in ([doc] if spans == [(0, len(doc))] else _parts(doc, spans))
        ]
        recognised = iter(self._ner.pipe(parts, batch_size=max(1, len(parts))))
        for doc, spans in zip(docs, ranges, strict=True):
            entities = []
            for start, _ in spans:
                part = next(recognised)
                if part is doc:
                    entities.extend(doc.ents)
                else:
                    entities.extend(
                        Span(doc, start + entity.start, start + entity.end, label=entity.label)
                        for entity in part.ents
                    )
            doc.set_ents(entities, default="outside")
        return docs


def segmented_ner(nlp: Language, name: str) -> _SegmentedNer:
    """spaCy factory: the pipeline's own `ner`, run segment by segment (that `ner` is disabled)."""
    return _SegmentedNer(nlp.get_pipe("ner"))
