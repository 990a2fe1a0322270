"""`VectorStore.optimize`: after a bulk load the index is built, and searches answer as before.

`OptimizeContract` runs on every store (bound in test_stores.py); the HNSW test is qdrant-edge's own.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest

from retrieval.domain import ChunkPoint
from retrieval.protocols import VectorStore
from retrieval.vectorstore import EdgeVectorStore
from tests.retrieval.vectorstore.contract_fixture import DIM, PART, ids, point, random_points

pytestmark = pytest.mark.integration


def test_edge_optimize_builds_the_hnsw_index_and_filtered_search_still_finds_neighbours(
    tmp_path: Path,
) -> None:
    # Above the engine's indexing threshold (10,000 KiB of vectors: ~6,700 of 384 floats), so optimizing
    # builds a graph; below it a segment stays plain and exact.
    dim, n = 384, 8000
    rng = np.random.default_rng(3)
    # Clustered, as embeddings of texts on a few topics are (uniform random vectors in 384 dimensions are
    # the worst case of any graph index, and no corpus looks like them).
    centres = rng.normal(size=(40, dim))
    vectors = (centres[rng.integers(0, 40, n)] + rng.normal(scale=0.7, size=(n, dim))).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    corpora = [f"c{i % 20}" for i in range(n)]
    points = [
        ChunkPoint(str(uuid.UUID(int=i + 1)), tuple(vectors[i].tolist()), {"corpus_id": corpora[i]})
        for i in range(n)
    ]
    store = EdgeVectorStore(tmp_path)
    try:
        store.ensure_partition(PART, dim)
        store.upsert(PART, points)
        shard = store._shards[PART]
        assert shard.info().indexed_vectors_count == 0
        assert store.optimize(PART) is True
        info = shard.info()
        assert info.points_count == n and info.indexed_vectors_count == n
        # Filtered to 18 of 20 corpora (7,200 points, above the engine's full-scan threshold, so the graph
        # is searched): the answers are the exact ones, or nearly.
        allowed = {f"c{i}" for i in range(18)}
        mask = np.array([c in allowed for c in corpora])
        found = 0
        for query in vectors[rng.choice(n, 20, replace=False)]:
            scores = np.where(mask, vectors @ query, -np.inf)
            exact = {str(uuid.UUID(int=int(i) + 1)) for i in np.argsort(-scores)[:10]}
            hits = store.search(PART, query.tolist(), corpus_ids=sorted(allowed), limit=10)
            assert all(hit.payload["corpus_id"] in allowed for hit in hits)
            found += len(ids(hits) & exact)
        assert found / 200 >= 0.9
        store.upsert(PART, [point("c1", vectors[0].tolist())])  # still writable after optimizing
    finally:
        store.close()


class OptimizeContract:
    """Optimizing a partition keeps every point and every answer."""

    def test_optimize_keeps_every_point_and_every_answer(self, store: VectorStore) -> None:
        rng = np.random.default_rng(7)
        store.ensure_partition(PART, DIM)
        store.upsert(PART, random_points(rng, ["c1", "c2"], 300))
        query = rng.normal(size=DIM).tolist()
        before = store.search(PART, query, corpus_ids=["c1"], limit=10)
        assert isinstance(store.optimize(PART), bool)
        assert store.count(PART) == 300
        after = store.search(PART, query, corpus_ids=["c1"], limit=10)
        assert [hit.chunk_id for hit in after] == [hit.chunk_id for hit in before]
        assert store.optimize(PART) is False  # nothing left to do

    def test_optimize_of_a_missing_partition_does_nothing(self, store: VectorStore) -> None:
        assert store.optimize("eu.nothing") is False
        with pytest.raises(ValueError):
            store.optimize("../escape")
