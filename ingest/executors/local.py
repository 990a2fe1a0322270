"""The executor protocol, and the default executor: this process's overlapping stages (ingest/processing)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

from ingest.processing import DocumentProcessor, Processed, WorkItem
from retrieval.domain import MaskingProfile
from retrieval.protocols import PiiMasker


class DocumentExecutor(Protocol):
    """Computes the chunks, masked texts and vectors of documents; the pipeline writes them."""

    def process(self, items: Iterable[WorkItem], profile: MaskingProfile) -> Iterator[Processed]:
        """One `Processed` per item, in input order, masked with `profile`'s masker. Never raises for a bad
        document. Raises `IngestionError` when the work cannot be done at all (an unreachable cluster).
        Closing the iterator early stops the work that is still in flight."""
        ...

    def close(self) -> None:
        """Release what the executor started (threads, a local cluster). A second call does nothing."""
        ...


class LocalExecutor:
    """`GOVRAG_INGEST__EXECUTOR=local`: this process's `DocumentProcessor`, its threads and helpers."""

    def __init__(
        self,
        processor: DocumentProcessor,
        masker_for: Callable[[MaskingProfile], PiiMasker] | None = None,
    ) -> None:
        """`masker_for` gives a corpus's masker; without it, the processor's own masks every corpus."""
        self._processor = processor
        self._masker_for = masker_for

    def process(self, items: Iterable[WorkItem], profile: MaskingProfile) -> Iterator[Processed]:
        masker = self._masker_for(profile) if self._masker_for is not None else None
        return self._processor.process(items, masker=masker)

    def close(self) -> None:
        return None
