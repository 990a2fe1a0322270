"""Search settings: a grant of a few corpora is searched corpus by corpus and merged, and the merge answers
exactly as one search over the grant does (dense, hybrid, with document ACLs), on both stores; the embedded
store's graph-search settings are checked when it is built.

Why the split exists (a filter to a few topical corpora cuts the HNSW graph apart: recall@10 0.07 at 250k
points) is measured by `bench/search_scale.py`, not here: it needs a graph of hundreds of thousands of points.
Here the shard is small and searched exactly, so both ways must return the same chunks in the same order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from qdrant_client import QdrantClient

from retrieval.domain import ChunkPoint, SearchMode, SparseVector
from retrieval.protocols import VectorStore
from retrieval.vectorstore import EdgeVectorStore, QdrantServerVectorStore
from retrieval.vectorstore.common import SPLIT_MAX_CORPORA
from tests.retrieval.vectorstore.contract_fixture import DIM, MODEL_A, MODEL_B, PART, point

pytestmark = pytest.mark.integration

CORPORA = [f"c{i}" for i in range(12)]


def _points(rng: np.random.Generator, n: int) -> list[ChunkPoint]:
    made = []
    for i in range(n):
        corpus = CORPORA[i % len(CORPORA)]
        extra = {"acl_groups": [["hr"], ["eng"], ["hr", "eng"]][i % 3]} if i % 4 == 0 else {}
        base = point(
            corpus, rng.normal(size=DIM).tolist(), weights=MODEL_B if i % 9 == 0 else MODEL_A, **extra
        )
        terms = sorted({int(t) for t in rng.choice(40, size=4, replace=False)})
        sparse = SparseVector(tuple(terms), tuple(float(v) for v in rng.uniform(0.2, 2.0, size=len(terms))))
        made.append(ChunkPoint(base.chunk_id, base.vector, base.payload, sparse))
    return made


def _answers(store: VectorStore, queries: list[tuple[list[float], SparseVector]]) -> list[list[object]]:
    answers: list[list[object]] = []
    for corpora in (CORPORA[:2], CORPORA[3:6], CORPORA[:SPLIT_MAX_CORPORA], CORPORA):
        for groups in (None, ["hr"], []):
            for mode in (SearchMode.dense, SearchMode.hybrid):
                for vector, sparse in queries:
                    hits = store.search(
                        PART,
                        vector,
                        corpus_ids=corpora,
                        limit=7,
                        weights_sha256=MODEL_A,
                        groups=groups,
                        mode=mode,
                        sparse=sparse,
                        candidates=20,
                    )
                    for hit in hits:
                        assert hit.payload["corpus_id"] in corpora
                        assert hit.payload["embedding_weights_sha256"] == MODEL_A
                        acl = hit.payload.get("acl_groups")
                        assert groups is None or not acl or set(acl) & set(groups)
                    # Equal scores (common under RRF) come in either order, and which of those tied at the
                    # cut are kept is the engine's choice: the scores, and the chunks above the last score.
                    scores = [round(hit.score, 5) for hit in hits]
                    above = sorted(
                        hit.chunk_id for hit in hits if scores and round(hit.score, 5) > scores[-1]
                    )
                    answers.append([scores, above])
    return answers


@pytest.mark.parametrize("backend", ["edge", "server"])
def test_a_grant_searched_corpus_by_corpus_answers_as_one_search_does(tmp_path: Path, backend: str) -> None:
    rng = np.random.default_rng(5)
    points = _points(rng, 600)
    queries = [
        (rng.normal(size=DIM).tolist(), SparseVector((1, 5, 9), (1.0, 0.5, 0.8))),
        (rng.normal(size=DIM).tolist(), SparseVector((2, 30), (1.0, 1.0))),
    ]
    client = QdrantClient(":memory:")

    def answers(split_max_corpora: int, *, load: bool) -> list[list[object]]:
        # One store at a time: an embedded shard has one owner.
        store: VectorStore = (
            EdgeVectorStore(tmp_path, split_max_corpora=split_max_corpora)
            if backend == "edge"
            else QdrantServerVectorStore(client, split_max_corpora=split_max_corpora)
        )
        try:
            if load:
                store.ensure_partition(PART, DIM)
                store.upsert(PART, points)
            return _answers(store, queries)
        finally:
            if backend == "edge":
                store.close()  # the server store's close would close the shared client

    split = answers(SPLIT_MAX_CORPORA, load=True)
    single = answers(0, load=False)
    assert len(split) == 4 * 3 * 2 * 2
    assert all(scores for scores, _ in split) and any(len(scores) == 7 for scores, _ in split)
    assert split == single
    client.close()


@pytest.mark.parametrize(
    "settings",
    [
        {"acorn_max_selectivity": 0.0},
        {"acorn_max_selectivity": 1.5},
        {"hnsw_ef": 0},
        {"split_max_corpora": -1},
    ],
)
def test_bad_search_settings_are_refused(tmp_path: Path, settings: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        EdgeVectorStore(tmp_path, **settings)  # type: ignore[arg-type]
