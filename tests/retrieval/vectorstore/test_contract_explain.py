"""The vector-store contract for explained searches: `search(..., explain=True)` gives the same hits,
each with its rank and score in the dense and the sparse ranking and, for hybrid, its fused rank.

`ExplainContract` is a mixin, bound to each store in test_stores.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval.domain import Fusion, HitRanks, SearchMode, SparseVector, VectorHit
from retrieval.protocols import VectorStore
from retrieval.vectorstore.common import RRF_K
from tests.retrieval.vectorstore.contract_fixture import (
    CONTRACT_HEALTH_CHECKS,
    DIM,
    PART,
    Backend,
    create_dense_only_partition,
    fresh_corpora,
    point,
    unit,
)
from tests.retrieval.vectorstore.test_contract_hybrid import fused_scores, sv, with_sparse

pytestmark = pytest.mark.integration


def _world(store: VectorStore, corpus: str = "c1") -> dict[str, str]:
    """Dense ranking for unit(0): a, b, c, d. Sparse ranking for t1: d, c, b (a has no keyword)."""
    store.ensure_partition(PART, DIM)
    points = {
        "a": with_sparse(point(corpus, unit(0), title="a"), sv(t9=1.0)),
        "b": with_sparse(point(corpus, unit(0, (1, 0.3)), title="b"), sv(t1=0.2)),
        "c": with_sparse(point(corpus, unit(0, (1, 1.0)), title="c"), sv(t1=0.6)),
        "d": with_sparse(point(corpus, unit(1), title="d"), sv(t1=1.0)),
    }
    store.upsert(PART, list(points.values()))
    return {name: p.chunk_id for name, p in points.items()}


def _search(store: VectorStore, mode: SearchMode, explain: bool, **options: object) -> list[VectorHit]:
    arguments: dict[str, object] = {"corpus_ids": ["c1"], "limit": 4, "sparse": sv(t1=1.0), **options}
    return store.search(PART, unit(0), mode=mode, explain=explain, **arguments)  # type: ignore[arg-type]


def _same_hits(explained: list[VectorHit], plain: list[VectorHit]) -> None:
    """The same scores, best first, and the same hits but for those tied with the last one: reciprocal rank
    sums tie often (ranks 1 and 2 score as 2 and 1), and the engine leaves the order of ties open. The
    engines sum in float32, the explained fusion in float64: the scores agree to about 1e-6."""
    assert [h.score for h in explained] == pytest.approx([h.score for h in plain], rel=1e-5, abs=1e-6)
    by_id = {h.chunk_id: h for h in plain}
    for hit in explained:
        if hit.chunk_id in by_id:
            assert hit.score == pytest.approx(by_id[hit.chunk_id].score, rel=1e-5, abs=1e-6)
            assert hit.payload == by_id[hit.chunk_id].payload
    if plain:
        cut = plain[-1].score
        assert {h.chunk_id for h in plain if h.score > cut + 1e-5 * max(1.0, cut)} <= {
            h.chunk_id for h in explained
        }


class ExplainContract:
    """Explained searches: the same answer, and where each hit stood in each ranking."""

    def test_dense_hits_carry_their_dense_rank_and_score(self, store: VectorStore) -> None:
        _world(store)
        hits = _search(store, SearchMode.dense, explain=True)
        _same_hits(hits, _search(store, SearchMode.dense, explain=False))
        assert [h.ranks for h in hits] == [
            HitRanks(dense_rank=rank, dense_score=h.score) for rank, h in enumerate(hits, start=1)
        ]
        assert hits[0].ranks is not None and hits[0].ranks.dense_score == pytest.approx(1.0, abs=1e-5)

    def test_sparse_hits_carry_their_sparse_rank_and_score(self, store: VectorStore) -> None:
        chunk = _world(store)
        hits = _search(store, SearchMode.sparse, explain=True)
        _same_hits(hits, _search(store, SearchMode.sparse, explain=False))
        assert [h.chunk_id for h in hits] == [chunk["d"], chunk["c"], chunk["b"]]
        assert [h.ranks for h in hits] == [
            HitRanks(sparse_rank=rank, sparse_score=h.score) for rank, h in enumerate(hits, start=1)
        ]

    @pytest.mark.parametrize("fusion", list(Fusion))
    def test_hybrid_hits_carry_both_rankings_and_the_fused_rank(
        self, store: VectorStore, fusion: Fusion
    ) -> None:
        chunk = _world(store)
        hits = _search(store, SearchMode.hybrid, explain=True, fusion=fusion)
        _same_hits(hits, _search(store, SearchMode.hybrid, explain=False, fusion=fusion))
        sparse = {h.chunk_id: h.score for h in _search(store, SearchMode.sparse, explain=False)}
        dense = {h.chunk_id: h.score for h in _search(store, SearchMode.dense, explain=False)}
        expected_ranks = {"a": (1, None), "b": (2, 3), "c": (3, 2), "d": (4, 1)}
        legs = [sorted(ranking.items(), key=lambda pair: -pair[1]) for ranking in (dense, sparse)]
        expected_scores = fused_scores(fusion, legs)
        label = "dbsf" if fusion is Fusion.dbsf else f"rrf(k={RRF_K})"
        for fused_rank, hit in enumerate(hits, start=1):
            name = next(n for n, cid in chunk.items() if cid == hit.chunk_id)
            dense_rank, sparse_rank = expected_ranks[name]
            assert hit.ranks is not None
            assert (hit.ranks.dense_rank, hit.ranks.sparse_rank) == (dense_rank, sparse_rank)
            assert hit.ranks.dense_score == pytest.approx(dense[hit.chunk_id], abs=1e-6)
            assert hit.ranks.sparse_score == (
                None if sparse_rank is None else pytest.approx(sparse[hit.chunk_id], abs=1e-6)
            )
            assert (hit.ranks.fused_rank, hit.ranks.fusion) == (fused_rank, label)
            assert hit.score == pytest.approx(expected_scores[hit.chunk_id], abs=1e-6)

    def test_a_hybrid_hit_found_by_one_ranking_has_no_rank_in_the_other(self, store: VectorStore) -> None:
        chunk = _world(store)
        # Three candidates per ranking: the dense a, b, c and the sparse d, c, b.
        hits = _search(store, SearchMode.hybrid, explain=True, candidates=2, limit=3)
        expected = {chunk["a"]: (1, None), chunk["b"]: (2, 3), chunk["c"]: (3, 2), chunk["d"]: (None, 1)}
        assert len(hits) == 3
        assert {chunk["b"], chunk["c"]} <= {h.chunk_id for h in hits}
        for hit in hits:
            assert hit.ranks is not None
            assert (hit.ranks.dense_rank, hit.ranks.sparse_rank) == expected[hit.chunk_id]

    @pytest.mark.parametrize("fusion", list(Fusion))
    def test_explained_hybrid_over_a_split_grant_with_vectors(
        self, store: VectorStore, fusion: Fusion
    ) -> None:
        corpora = fresh_corpora(3)
        store.ensure_partition(PART, DIM)
        rng = np.random.default_rng(7)
        store.upsert(
            PART,
            [
                with_sparse(point(str(rng.choice(corpora)), rng.normal(size=DIM).tolist()), sv(t1=float(i)))
                for i in range(1, 13)
            ],
        )
        options = {
            "corpus_ids": corpora[:2],
            "limit": 5,
            "candidates": 8,
            "with_vectors": True,
            "fusion": fusion,
        }
        explained = _search(store, SearchMode.hybrid, True, **options)
        _same_hits(explained, _search(store, SearchMode.hybrid, False, **options))
        assert all(h.vector is not None and h.ranks is not None for h in explained)
        assert all(h.payload["corpus_id"] in corpora[:2] for h in explained)

    def test_without_explain_no_hit_has_ranks(self, store: VectorStore) -> None:
        _world(store)
        for mode in SearchMode:
            assert all(h.ranks is None for h in _search(store, mode, explain=False))

    def test_a_dense_only_partition_explains_hybrid_as_dense(self, backend: Backend) -> None:
        store = backend.open()
        create_dense_only_partition(backend, store, PART)
        store.upsert(PART, [point("c1", unit(0)), point("c1", unit(1))])
        hits = _search(store, SearchMode.hybrid, explain=True)
        assert [h.ranks for h in hits] == [
            HitRanks(dense_rank=rank, dense_score=h.score) for rank, h in enumerate(hits, start=1)
        ]

    @settings(max_examples=15, deadline=None, suppress_health_check=CONTRACT_HEALTH_CHECKS)
    @given(
        seed=st.integers(min_value=0, max_value=2**32 - 1),
        n_points=st.integers(min_value=0, max_value=25),
        limit=st.integers(min_value=1, max_value=8),
        candidates=st.integers(min_value=1, max_value=12),
        granted=st.integers(min_value=1, max_value=3),
        mode=st.sampled_from(list(SearchMode)),
        fusion=st.sampled_from(list(Fusion)),
    )
    def test_explaining_never_changes_the_answer(
        self,
        store: VectorStore,
        seed: int,
        n_points: int,
        limit: int,
        candidates: int,
        granted: int,
        mode: SearchMode,
        fusion: Fusion,
    ) -> None:
        rng = np.random.default_rng(seed)
        corpora = fresh_corpora(3)
        store.ensure_partition(PART, DIM)
        store.upsert(
            PART,
            [
                with_sparse(point(str(rng.choice(corpora)), rng.normal(size=DIM).tolist()), _sparse(rng))
                for _ in range(n_points)
            ],
        )
        query = rng.normal(size=DIM).tolist()
        options = {
            "corpus_ids": corpora[:granted],
            "limit": limit,
            "candidates": candidates,
            "mode": mode,
            "sparse": sv(t1=1.0, t2=0.5),
            "fusion": fusion,
        }
        explained = store.search(PART, query, explain=True, **options)  # type: ignore[arg-type]
        plain = store.search(PART, query, **options)  # type: ignore[arg-type]
        _same_hits(explained, plain)
        for rank, hit in enumerate(explained, start=1):
            assert hit.ranks is not None
            if mode is SearchMode.hybrid:
                assert hit.ranks.fused_rank == rank
                assert hit.ranks.fusion == ("dbsf" if fusion is Fusion.dbsf else f"rrf(k={RRF_K})")
                assert hit.ranks.dense_rank is not None or hit.ranks.sparse_rank is not None
            else:
                assert hit.ranks.fused_rank is None


def _sparse(rng: np.random.Generator) -> SparseVector:
    terms = sorted({int(t) for t in rng.integers(0, 5, size=int(rng.integers(0, 4)))})
    return SparseVector(tuple(terms), tuple(float(rng.uniform(0.1, 2.0)) for _ in terms))
