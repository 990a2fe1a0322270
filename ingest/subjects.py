"""What a processed document's text names, handed to the subject index (`retrieval.subjects`) as it is
written: the values of the PERSON and EMAIL_ADDRESS spans masking replaced, read from the chunk texts they
were found in. The values go no further than the index's digests."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from ingest.chunking import TextChunk
from retrieval.protocols import MaskedText
from retrieval.subjects import KINDS, SubjectIndex


def mentions(chunks: Sequence[TextChunk], masked: Sequence[MaskedText]) -> Iterator[tuple[str, str]]:
    """(entity type, value) of every indexed span, from the unmasked chunk text the span's offsets index."""
    for chunk, result in zip(chunks, masked, strict=True):
        for span in result.spans:
            if span.entity_type in KINDS:
                yield span.entity_type, chunk.text[span.start : span.end]


def record(
    index: SubjectIndex | None, document_id: str, chunks: Sequence[TextChunk], masked: Sequence[MaskedText]
) -> None:
    """Replace what the document is recorded to mention (nothing to do without an index)."""
    if index is not None:
        index.replace(document_id, mentions(chunks, masked))
