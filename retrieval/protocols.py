"""The small interfaces behind which the pluggable parts sit: vector store, embedders, PII masker."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from retrieval.domain import ChunkPoint, Fusion, SearchMode, SparseVector, VectorHit


@runtime_checkable
class VectorStore(Protocol):
    """One Qdrant deployment (embedded shards or a server) holding one collection per partition.

    Every method raises `retrieval.errors.BackendUnavailable` when the store cannot be reached or used (on the
    embedded store also after `close`), and `ValueError` for a partition name that is not lower-case
    `region.sensitivity` whenever it gets as far as using it. Points carry their provenance in the payload:
    `corpus_id`, `document_id`, `document_version` (int) and `embedding_weights_sha256` are indexed and
    filtered on.
    """

    def ensure_partition(self, partition: str, dimension: int) -> None:
        """Create the partition (dense vectors of `dimension`, BM25 sparse vectors with the IDF modifier, and
        payload indexes on the filter fields) if it does not exist yet.

        Also adds any payload index an existing partition lacks (one created before an index was added).
        Raises `ValueError` for a dimension below 1; an existing partition keeps its dimension.
        """

    def upsert(self, partition: str, points: Sequence[ChunkPoint]) -> None:
        """Write points (idempotent by chunk id); durable when the call returns.

        A point's `sparse` vector is stored beside its dense one; a partition created without sparse vectors
        (before hybrid search) stores the dense vector only.

        Raises `ValueError` for a chunk id that is not a canonical lower-case UUID (before anything is
        written), `BackendUnavailable` when the partition does not exist. A vector whose dimension is not the
        partition's is refused: `BackendUnavailable` on qdrant-edge and a server, `ValueError` in
        qdrant-client's local mode.
        """

    def delete(
        self,
        partition: str,
        *,
        corpus_id: str,
        document_id: str | None = None,
        version: int | None = None,
        except_version: int | None = None,
    ) -> None:
        """Remove every point of a corpus, or of one document of it. A missing partition is not an error.

        `version=N` removes only the points whose `document_version` is N; `except_version=N` only those
        whose `document_version` is not N (points without one included). Either works with or without a
        `document_id`. Together they swap a document's versions: delete `version=new` (what a crashed
        earlier attempt left), upsert the new version, delete `except_version=new`.

        Raises `ValueError` when both `version` and `except_version` are given, `TypeError` when either is
        not an int.
        """

    def optimize(self, partition: str) -> bool:
        """Index what bulk writes left unindexed (build the HNSW graph, merge small segments); True if
        anything changed. Called after an ingestion job; a missing partition is not an error (False).

        Blocks until done on the embedded store, where nothing is indexed otherwise (an unindexed segment is
        searched exactly, which is slow at size). A server optimizes in the background by itself: there it
        only returns False.
        """

    def search(
        self,
        partition: str,
        vector: Sequence[float],
        *,
        corpus_ids: Sequence[str],
        limit: int,
        weights_sha256: str | None = None,
        groups: Sequence[str] | None = None,
        mode: SearchMode = SearchMode.dense,
        sparse: SparseVector | None = None,
        candidates: int | None = None,
        with_vectors: bool = False,
        explain: bool = False,
        fusion: Fusion = Fusion.dbsf,
    ) -> list[VectorHit]:
        """Best points whose `corpus_id` is in `corpus_ids`, best first; a missing partition gives no hits.

        `mode` dense ranks by cosine similarity to `vector`; sparse by BM25 (the dot product of the query's
        `sparse` vector with the point's, each query term weighted by its IDF over the partition), returning
        only points sharing a term with the query; hybrid fuses the dense and the sparse ranking, each of
        `max(limit, candidates)` points, as `fusion` says: `dbsf`, distribution-based score fusion (score:
        the sum over the rankings of the point's score there, mapped from that ranking's mean ± 3 standard
        deviations onto 0 to 1), or `rrf`, reciprocal rank fusion (score: the sum of 1 / (60 + rank)). A
        partition created without sparse vectors answers sparse and hybrid searches as dense ones.

        An empty `corpus_ids` (or `limit` 0) gives no hits without querying: the filter is never dropped, and
        it applies to every ranking a hybrid search fuses. With `weights_sha256`, only points whose
        `embedding_weights_sha256` equals it are returned, so a query vector is never compared with vectors
        of another embedding model. With `groups`, only points without a document ACL (`acl_groups` absent,
        null or empty) and points whose `acl_groups` names one of `groups` are returned (`groups=[]`: only
        points without an ACL); None applies no document-level filter. `with_vectors` fills each hit's
        `vector` with its dense vector. `explain` fills each hit's `ranks`: its rank and score in the dense
        and the sparse ranking, and for hybrid its fused rank (the hits are those of the same search without
        it, up to the order of exactly equal scores).

        Raises `TypeError` when `corpus_ids` or `groups` is a string, `ValueError` for a negative `limit`, a
        `candidates` below 1, a sparse or hybrid search without `sparse`, or an unknown `fusion`.
        """

    def scroll(
        self, partition: str, *, corpus_id: str, document_id: str | None = None, page_size: int = 256
    ) -> Iterator[VectorHit]:
        """Every point of a corpus (or of one of its documents) with its payload; score 0.0.

        Pages through the engine `page_size` points at a time, in ascending point id order (for the UUID
        chunk ids: the order of their canonical strings). A point present for the whole iteration comes
        exactly once; one written or deleted meanwhile may or may not. A missing partition gives nothing.

        Raises `ValueError` for a `page_size` below 1 at the call; `BackendUnavailable` while iterating.
        """

    def count(self, partition: str, *, corpus_ids: Sequence[str] | None = None) -> int:
        """Points in the partition, optionally only those of some corpora; a missing partition has none.

        Raises `TypeError` when `corpus_ids` is a string.
        """

    def partitions(self) -> list[str]:
        """Names of the partitions that exist, sorted."""

    def close(self) -> None:
        """Release files or connections (flushing shards first); calling it again does nothing."""


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


@runtime_checkable
class SparseEncoder(Protocol):
    """Turns text into sparse keyword vectors (BM25 term weights; the store supplies the IDF)."""

    def encode_documents(self, texts: Sequence[str]) -> list[SparseVector]:
        """One vector per text, in order, weighted by term frequency and length."""

    def encode_query(self, text: str) -> SparseVector:
        """Each distinct term of the query, weight 1."""


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
