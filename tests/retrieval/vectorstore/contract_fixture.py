"""What the vector-store contract tests share: a store opener per implementation, points, and checks."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck
from qdrant_client import QdrantClient, models
from qdrant_edge import Distance, EdgeConfig, EdgeShard, EdgeVectorParams

from retrieval.domain import ChunkPoint, VectorHit, chunk_id_for, document_id_for
from retrieval.protocols import VectorStore
from retrieval.vectorstore import EdgeVectorStore, QdrantServerVectorStore, RegionalVectorStore
from retrieval.vectorstore.common import DENSE_VECTOR
from retrieval.vectorstore.diskguard import DiskSpaceGuard

DIM = 8
PART = "eu.internal"
# Two embedding models' weights, as the ingestion pipeline writes them into `embedding_weights_sha256`.
MODEL_A = "a" * 64
MODEL_B = "b" * 64
_ordinals = itertools.count()
# The health checks the contract's property tests turn off. Each example makes its own corpora
# (`fresh_corpora`) or its own store, so sharing a test's store across examples changes no answer; and each
# binding of a mixin is another executor of the same method, with a store of its own.
CONTRACT_HEALTH_CHECKS = (HealthCheck.function_scoped_fixture, HealthCheck.differing_executors)


# How a binding of the contract (test_stores.py) builds the store under test.
EDGE = "edge"  # an EdgeVectorStore
SERVER = "server"  # a QdrantServerVectorStore on qdrant-client's local mode: no Qdrant server installs here
GUARDED = "guarded"  # the edge store behind a DiskSpaceGuard, as the factory builds the embedded store
# A RegionalVectorStore as production composes one: the guarded edge store by default, and the region "eu"
# (that of PART) on a server store of its own; partitions of other regions ("us.", "eu-west.") stay local.
REGIONAL = "regional"
KINDS = (EDGE, SERVER, GUARDED, REGIONAL)


@dataclass
class Backend:
    """Opens stores of one kind on one location, so a test can close one and open another."""

    kind: str
    location: Path
    opened: list[VectorStore] = field(default_factory=list)
    clients: dict[int, QdrantClient] = field(default_factory=dict)

    def open(self, *, persistent: bool = False) -> VectorStore:
        store: VectorStore
        if self.kind == EDGE:
            store = EdgeVectorStore(self.location / "qdrant")
        elif self.kind == SERVER:
            store = self._server("local", persistent=persistent)
        elif self.kind == GUARDED:
            store = self._guarded("qdrant")
        elif self.kind == REGIONAL:
            store = RegionalVectorStore(
                self._guarded("qdrant"), {"eu": self._server("local-eu", persistent=persistent)}
            )
        else:
            raise ValueError(f"unknown store kind {self.kind!r}")
        self.opened.append(store)
        return store

    def sibling(self, name: str) -> Backend:
        """A backend of the same kind on a location of its own."""
        return Backend(self.kind, self.location / name)

    def engine(self, store: VectorStore, partition: str) -> VectorStore:
        """The bare store that holds `partition` behind `store`'s wrappers."""
        while True:
            if isinstance(store, RegionalVectorStore):
                store = store.store_for(partition)
            elif isinstance(store, DiskSpaceGuard):
                store = store.inner
            else:
                return store

    def close_all(self) -> None:
        for store in self.opened:
            store.close()

    def _server(self, where: str, *, persistent: bool) -> QdrantServerVectorStore:
        client = QdrantClient(path=str(self.location / where)) if persistent else QdrantClient(":memory:")
        store = QdrantServerVectorStore(client, collection_prefix="test_")
        self.clients[id(store)] = client
        return store

    def _guarded(self, where: str) -> DiskSpaceGuard:
        # One byte: the guard checks the free space on every write but never refuses one here.
        return DiskSpaceGuard(EdgeVectorStore(self.location / where), self.location, min_free_bytes=1)


def create_dense_only_partition(backend: Backend, store: VectorStore, partition: str) -> None:
    """A partition as the stores created them before sparse vectors: the dense vector only."""
    engine = backend.engine(store, partition)
    if isinstance(engine, EdgeVectorStore):
        shard = EdgeShard.create(
            str(engine.root / partition),
            EdgeConfig(vectors={DENSE_VECTOR: EdgeVectorParams(size=DIM, distance=Distance.Cosine)}),
        )
        shard.close()
    else:
        assert isinstance(engine, QdrantServerVectorStore)
        backend.clients[id(engine)].create_collection(
            engine.collection_name(partition),
            vectors_config={DENSE_VECTOR: models.VectorParams(size=DIM, distance=models.Distance.COSINE)},
        )


def fresh_corpora(n: int) -> list[str]:
    """`n` corpus ids no earlier call gave: a hypothesis example's own corpora in a shared partition."""
    example = next(_ordinals)
    return [f"x{example}-corpus-{i}" for i in range(n)]


def point(
    corpus_id: str,
    vector: Sequence[float],
    *,
    document: str = "a.md",
    document_version: int | None = None,
    weights: str | None = None,
    ordinal: int | None = None,
    **extra: Any,
) -> ChunkPoint:
    """A chunk point; `document_version` and `weights` go into the payload only when given."""
    document_id = document_id_for(corpus_id, document)
    payload: dict[str, Any] = {"corpus_id": corpus_id, "document_id": document_id, **extra}
    if document_version is not None:
        payload["document_version"] = document_version
    if weights is not None:
        payload["embedding_weights_sha256"] = weights
    chunk_id = chunk_id_for(
        document_id, document_version or 1, next(_ordinals) if ordinal is None else ordinal
    )
    return ChunkPoint(chunk_id, tuple(vector), payload)


def unit(index: int, *others: tuple[int, float]) -> list[float]:
    vector = [0.0] * DIM
    vector[index] = 1.0
    for i, value in others:
        vector[i] = value
    return vector


def random_points(rng: np.random.Generator, corpora: Sequence[str], n: int) -> list[ChunkPoint]:
    return [point(str(rng.choice(corpora)), rng.normal(size=DIM).tolist()) for _ in range(n)]


def ids(hits: Sequence[VectorHit]) -> set[str]:
    return {hit.chunk_id for hit in hits}


def assert_exact_top_k(
    hits: Sequence[VectorHit], candidates: Sequence[ChunkPoint], query: np.ndarray, limit: int
) -> None:
    """`hits` are the `limit` candidates nearest to `query` by cosine, best first, with their scores."""
    scores = [hit.score for hit in hits]
    assert scores == sorted(scores, reverse=True)
    assert len(hits) == min(limit, len(candidates))
    if not candidates:
        return
    matrix = np.array([p.vector for p in candidates])
    cosine = matrix @ query / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(query))
    exact = {p.chunk_id: float(s) for p, s in zip(candidates, cosine, strict=True)}
    kth_score = sorted(exact.values(), reverse=True)[len(hits) - 1]
    # The exact top-k by id set, up to ties at the boundary (the engines score in float32).
    tolerance = 1e-5
    assert {cid for cid, s in exact.items() if s > kth_score + tolerance} <= ids(hits)
    assert ids(hits) <= {cid for cid, s in exact.items() if s >= kth_score - tolerance}
    for hit in hits:
        assert hit.score == pytest.approx(exact[hit.chunk_id], abs=1e-5)
