"""The small interfaces behind which the pluggable parts sit: vector store, embedder, PII masker."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from retrieval.domain import ChunkPoint, VectorHit


@runtime_checkable
class VectorStore(Protocol):
    """One Qdrant deployment (embedded shards or a server) holding one collection per partition.

    Every method raises `retrieval.errors.BackendUnavailable` when the store cannot be reached or used.
    """

    def ensure_partition(self, partition: str, dimension: int) -> None:
        """Create the partition (with payload indexes on the filter fields) if it does not exist yet."""

    def upsert(self, partition: str, points: Sequence[ChunkPoint]) -> None:
        """Write points (idempotent by chunk id); durable when the call returns."""

    def delete(self, partition: str, *, corpus_id: str, document_id: str | None = None) -> None:
        """Remove every point of a corpus, or of one document of it. A missing partition is not an error."""

    def search(
        self, partition: str, vector: Sequence[float], *, corpus_ids: Sequence[str], limit: int
    ) -> list[VectorHit]:
        """Nearest points whose `corpus_id` is in `corpus_ids`; a missing partition gives no hits.

        An empty `corpus_ids` gives no hits: the filter is never dropped.
        """

    def count(self, partition: str, *, corpus_ids: Sequence[str] | None = None) -> int:
        """Points in the partition, optionally only those of some corpora."""

    def partitions(self) -> list[str]:
        """Names of the partitions that exist."""

    def close(self) -> None:
        """Release files or connections."""


@runtime_checkable
class Embedder(Protocol):
    """Turns text into unit-length dense vectors."""

    @property
    def model_name(self) -> str: ...

    @property
    def weights_sha256(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order."""

    def embed_query(self, text: str) -> list[float]: ...


@dataclass(frozen=True, slots=True)
class MaskedSpan:
    """A PII span found in the original text and the replacement written in its place."""

    entity_type: str
    start: int
    end: int
    replacement: str


@dataclass(frozen=True, slots=True)
class MaskedText:
    text: str
    spans: tuple[MaskedSpan, ...]


@runtime_checkable
class PiiMasker(Protocol):
    """Finds personal data in text and replaces it; the original value never leaves the call."""

    def mask(self, text: str) -> MaskedText: ...

    def mask_batch(self, texts: Sequence[str]) -> list[MaskedText]:
        """`mask` for many texts at once (batched NLP), in order."""
