"""The vector-store contract for keyword and hybrid search: BM25 sparse vectors with IDF, both fusions
(distribution-based score fusion, reciprocal rank fusion), the grant filter on every ranking, and partitions
made before sparse vectors existed.

The mixin `HybridContract` runs on every store (bound in test_stores.py). Sparse vectors are
written by hand here, so every expected score can be computed from the BM25 formula; the encoder that makes
them from text has its own tests (tests/retrieval/test_sparse.py).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval.domain import ChunkPoint, Fusion, SearchMode, SparseVector, VectorHit
from retrieval.protocols import VectorStore
from retrieval.vectorstore.common import RRF_K
from tests.retrieval.vectorstore.contract_fixture import (
    CONTRACT_HEALTH_CHECKS,
    DIM,
    MODEL_A,
    MODEL_B,
    PART,
    Backend,
    create_dense_only_partition,
    fresh_corpora,
    ids,
    point,
    unit,
)

pytestmark = pytest.mark.integration

_examples = itertools.count()


def sv(**terms: float) -> SparseVector:
    """A sparse vector from term names t<N>: `sv(t3=0.5, t7=1.0)` has indices 3 and 7."""
    pairs = sorted((int(name[1:]), value) for name, value in terms.items())
    return SparseVector(tuple(i for i, _ in pairs), tuple(v for _, v in pairs))


def with_sparse(p: ChunkPoint, sparse: SparseVector) -> ChunkPoint:
    return ChunkPoint(p.chunk_id, p.vector, p.payload, sparse)


def idf(document_frequency: int, population: int) -> float:
    # Qdrant's IDF modifier (as in Lucene's BM25): ln(1 + (N - df + 0.5) / (df + 0.5)).
    return math.log(1 + (population - document_frequency + 0.5) / (document_frequency + 0.5))


def bm25(query: SparseVector, document: SparseVector, frequencies: dict[int, int], population: int) -> float:
    weights = dict(zip(document.indices, document.values, strict=True))
    return sum(idf(frequencies[t], population) * weights[t] for t in query.indices if t in weights)


def document_frequencies(points: Sequence[ChunkPoint]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for p in points:
        assert p.sparse is not None
        for term in p.sparse.indices:
            counts[term] = counts.get(term, 0) + 1
    return counts


def hybrid(store: VectorStore, *args: object, **kwargs: object) -> list[VectorHit]:
    return store.search(*args, mode=SearchMode.hybrid, **kwargs)  # type: ignore[arg-type]


def fused_scores(fusion: Fusion, legs: Sequence[Sequence[tuple[str, float]]]) -> dict[str, float]:
    """What each point of `legs` (rankings of (id, score), best first) scores fused, as the engines fuse:
    rrf, the sum of 1 / (k + rank), ranks from 0; dbsf, the sum of its scores, each mapped linearly from
    [mean - 3 std, mean + 3 std] of its leg's scores (sample std) onto [0, 1]; a leg of one point, or of
    equal scores, gives 0.5."""
    fused: dict[str, float] = {}
    for leg in legs:
        if fusion is Fusion.rrf:
            added = [1 / (RRF_K + rank) for rank in range(len(leg))]
        else:
            values = np.array([score for _, score in leg], dtype=float)
            spread = values.std(ddof=1) if len(values) > 1 else 0.0
            if spread == 0:
                added = [0.5] * len(leg)
            else:
                low, high = values.mean() - 3 * spread, values.mean() + 3 * spread
                added = ((values - low) / (high - low)).tolist()
        for (point_id, _), value in zip(leg, added, strict=True):
            fused[point_id] = fused.get(point_id, 0.0) + value
    return fused


# -- sparse --------------------------------------------------------------------------------------------------


# -- hybrid --------------------------------------------------------------------------------------------------


# -- partitions created before sparse vectors ----------------------------------------------------------------


# -- property: whatever the mode, the grant holds and the ranking is the exact one ---------------------------


def _random_sparse(rng: np.random.Generator, vocabulary: int) -> SparseVector:
    terms = sorted(set(rng.integers(0, vocabulary, size=int(rng.integers(0, 5))).tolist()))
    return SparseVector(tuple(terms), tuple(float(rng.uniform(0.1, 2.0)) for _ in terms))


def _ranking(scores: dict[str, float]) -> list[str]:
    return sorted(scores, key=lambda cid: -scores[cid])


def _check_every_mode(
    store: VectorStore,
    seed: int,
    n_points: int,
    n_corpora: int,
    allowed_mask: list[bool],
    limit: int,
    candidates: int,
    mode: SearchMode,
    fusion: Fusion,
) -> None:
    rng = np.random.default_rng(seed)
    corpora = fresh_corpora(n_corpora)
    allowed = [c for c, on in zip(corpora, allowed_mask, strict=False) if on]
    vocabulary = 6
    points = [
        with_sparse(
            point(str(rng.choice(corpora)), rng.normal(size=DIM).tolist()), _random_sparse(rng, vocabulary)
        )
        for _ in range(n_points)
    ]
    store.ensure_partition(PART, DIM)
    store.upsert(PART, points)
    query_vector = rng.normal(size=DIM)
    query_terms = sorted(set(rng.integers(0, vocabulary, size=2).tolist()))
    query = SparseVector(tuple(query_terms), (1.0,) * len(query_terms))

    hits = store.search(
        PART,
        query_vector.tolist(),
        corpus_ids=allowed,
        limit=limit,
        mode=mode,
        sparse=query,
        candidates=candidates,
        fusion=fusion,
    )

    granted = [p for p in points if p.payload["corpus_id"] in allowed]
    assert all(h.payload["corpus_id"] in allowed for h in hits)
    # The expected scores: cosine; BM25 with IDF over every point of the partition that has keywords.
    matrix = np.array([p.vector for p in granted]).reshape(len(granted), DIM)
    cosine = (
        matrix @ query_vector / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(query_vector))
        if granted
        else np.array([])
    )
    dense = {p.chunk_id: float(s) for p, s in zip(granted, cosine, strict=True)}
    with_keywords = [p for p in points if p.sparse is not None and p.sparse.indices]
    frequencies = document_frequencies(with_keywords)
    sparse = {
        p.chunk_id: score
        for p in granted
        if (score := bm25(query, p.sparse, frequencies, len(with_keywords))) > 0  # type: ignore[arg-type]
    }
    if mode is SearchMode.dense:
        expected = dense
    elif mode is SearchMode.sparse:
        expected = sparse
    else:
        stage = max(limit, candidates)
        legs = [[(cid, scores[cid]) for cid in _ranking(scores)[:stage]] for scores in (dense, sparse)]
        expected = fused_scores(fusion, legs)

    assert len(hits) == min(limit, len(expected))
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    for hit in hits:
        assert hit.score == pytest.approx(expected[hit.chunk_id], rel=1e-4, abs=1e-6)
    if hits:
        # The exact top-k, up to ties at the boundary (the engines score in float32, and in hybrid mode
        # near-ties at the edge of a prefetch may fall either way).
        boundary = hits[-1].score
        tolerance = 1e-4 if mode is SearchMode.hybrid else 1e-5
        assert {cid for cid, s in expected.items() if s > boundary + tolerance * max(1.0, boundary)} <= ids(
            hits
        )


class HybridContract:
    """Keyword and hybrid search, and partitions made before sparse vectors."""

    def test_sparse_search_scores_bm25_with_idf_over_the_partition(self, store: VectorStore) -> None:
        store.ensure_partition(PART, DIM)
        points = [
            with_sparse(point("c1", unit(0), title="both"), sv(t1=1.0, t2=0.5)),
            with_sparse(point("c1", unit(1), title="rare"), sv(t2=1.2)),
            with_sparse(point("c1", unit(2), title="common"), sv(t1=1.4, t3=0.9)),
            with_sparse(point("c1", unit(3), title="none"), sv(t3=1.0, t4=1.0)),
        ]
        store.upsert(PART, points)
        query = sv(t1=1.0, t2=1.0)

        hits = store.search(PART, unit(7), corpus_ids=["c1"], limit=10, mode=SearchMode.sparse, sparse=query)

        frequencies = document_frequencies(points)
        expected = {p.chunk_id: bm25(query, p.sparse, frequencies, len(points)) for p in points}  # type: ignore[arg-type]
        # Only points that share a term with the query, best first, scored by BM25 (both 1.04, common 0.97,
        # rare 0.83: idf(t1) = idf(t2) = ln 2).
        assert [h.payload["title"] for h in hits] == ["both", "common", "rare"]
        for hit in hits:
            assert hit.score == pytest.approx(expected[hit.chunk_id], rel=1e-4)
        assert hits[0].payload == points[0].payload
        assert all(h.partition == PART for h in hits)

    def test_sparse_search_applies_the_grant_and_the_model_filter(self, store: VectorStore) -> None:
        store.ensure_partition(PART, DIM)
        mine = with_sparse(point("mine", unit(0), weights=MODEL_A), sv(t1=0.1))
        theirs = with_sparse(point("theirs", unit(0), weights=MODEL_A), sv(t1=5.0))
        other_model = with_sparse(point("mine", unit(0), weights=MODEL_B), sv(t1=5.0))
        store.upsert(PART, [mine, theirs, other_model])

        hits = store.search(
            PART,
            unit(0),
            corpus_ids=["mine"],
            limit=10,
            weights_sha256=MODEL_A,
            mode=SearchMode.sparse,
            sparse=sv(t1=1.0),
        )

        assert ids(hits) == {mine.chunk_id}

    def test_points_without_a_sparse_vector_are_found_by_dense_search_only(self, store: VectorStore) -> None:
        store.ensure_partition(PART, DIM)
        plain = point("c1", unit(0))
        keyword = with_sparse(point("c1", unit(1)), sv(t1=1.0))
        stop_words_only = with_sparse(point("c1", unit(2)), SparseVector((), ()))
        store.upsert(PART, [plain, keyword, stop_words_only])

        sparse_hits = store.search(
            PART, unit(0), corpus_ids=["c1"], limit=10, mode="sparse", sparse=sv(t1=1.0)
        )
        dense_hits = store.search(PART, unit(0), corpus_ids=["c1"], limit=10)

        assert ids(sparse_hits) == {keyword.chunk_id}
        assert ids(dense_hits) == {plain.chunk_id, keyword.chunk_id, stop_words_only.chunk_id}

    def test_a_query_without_keywords_matches_nothing_by_keyword(self, store: VectorStore) -> None:
        store.ensure_partition(PART, DIM)
        near, far = (
            with_sparse(point("c1", unit(0)), sv(t1=1.0)),
            with_sparse(point("c1", unit(1)), sv(t2=1.0)),
        )
        store.upsert(PART, [near, far])
        empty = SparseVector((), ())

        assert store.search(PART, unit(0), corpus_ids=["c1"], limit=5, mode="sparse", sparse=empty) == []
        # Hybrid then fuses the dense ranking alone (cosines 1 and 0).
        dense = [(near.chunk_id, 1.0), (far.chunk_id, 0.0)]
        for fusion in Fusion:
            fused = hybrid(store, PART, unit(0), corpus_ids=["c1"], limit=5, sparse=empty, fusion=fusion)
            assert [h.chunk_id for h in fused] == [near.chunk_id, far.chunk_id]
            expected = fused_scores(fusion, [dense])
            assert [h.score for h in fused] == pytest.approx([expected[cid] for cid, _ in dense], abs=1e-6)

    def test_hybrid_fuses_the_dense_and_the_sparse_ranking_by_reciprocal_rank(
        self, store: VectorStore
    ) -> None:
        store.ensure_partition(PART, DIM)
        # Dense ranking for unit(0): a, b, c, d. Sparse ranking for t1: d, c, b (a has no keyword).
        a = with_sparse(point("c1", unit(0), title="a"), sv(t9=1.0))
        b = with_sparse(point("c1", unit(0, (1, 0.3)), title="b"), sv(t1=0.2))
        c = with_sparse(point("c1", unit(0, (1, 1.0)), title="c"), sv(t1=0.6))
        d = with_sparse(point("c1", unit(1), title="d"), sv(t1=1.0))
        store.upsert(PART, [a, b, c, d])

        hits = hybrid(store, PART, unit(0), corpus_ids=["c1"], limit=4, sparse=sv(t1=1.0), fusion=Fusion.rrf)

        def rrf(*ranks: int) -> float:  # ranks counted from 0, as Qdrant does
            return sum(1 / (RRF_K + r) for r in ranks)

        expected = {"a": rrf(0), "b": rrf(1, 2), "c": rrf(2, 1), "d": rrf(3, 0)}
        assert {h.payload["title"]: h.score for h in hits} == pytest.approx(expected)
        scores = [h.score for h in hits]
        assert scores == sorted(scores, reverse=True)
        assert hits[0].payload["title"] in {"b", "c", "d"} and hits[-1].payload["title"] == "a"

    def test_hybrid_fuses_the_dense_and_the_sparse_scores_by_their_distributions(
        self, store: VectorStore
    ) -> None:
        store.ensure_partition(PART, DIM)
        # Dense ranking for unit(0): a, b, c, d. Sparse ranking for t1: d, c, b (a has no keyword).
        points = {
            "a": with_sparse(point("c1", unit(0), title="a"), sv(t9=1.0)),
            "b": with_sparse(point("c1", unit(0, (1, 0.3)), title="b"), sv(t1=0.2)),
            "c": with_sparse(point("c1", unit(0, (1, 1.0)), title="c"), sv(t1=0.6)),
            "d": with_sparse(point("c1", unit(1), title="d"), sv(t1=1.0)),
        }
        store.upsert(PART, list(points.values()))
        query = sv(t1=1.0)

        hits = hybrid(store, PART, unit(0), corpus_ids=["c1"], limit=4, sparse=query)  # dbsf: the default

        query_vector = np.array(unit(0))
        dense = sorted(
            (
                (name, float(np.dot(p.vector, query_vector) / np.linalg.norm(p.vector)))
                for name, p in points.items()
            ),
            key=lambda pair: -pair[1],
        )
        frequencies = document_frequencies(list(points.values()))
        sparse = [
            (name, bm25(query, points[name].sparse, frequencies, len(points)))  # type: ignore[arg-type]
            for name in "dcb"
        ]
        expected = fused_scores(Fusion.dbsf, [dense, sparse])
        assert {h.payload["title"]: h.score for h in hits} == pytest.approx(expected, abs=1e-5)
        # Scores, not ranks: c (cosine 0.71, BM25 second) leads; a (first by cosine, no keyword) is last,
        # where reciprocal ranks put d first and tie b with c.
        assert [h.payload["title"] for h in hits] == sorted(expected, key=lambda name: -expected[name])
        assert [h.payload["title"] for h in hits] == ["c", "b", "d", "a"]

    def test_hybrid_applies_the_grant_to_every_ranking(self, store: VectorStore) -> None:
        store.ensure_partition(PART, DIM)
        # The foreign corpus holds the best match by both rankings; a grant of "mine" must never see it, even
        # with room to spare in `limit` and `candidates`.
        theirs = [with_sparse(point("theirs", unit(0)), sv(t1=9.0)) for _ in range(3)]
        mine = with_sparse(point("mine", unit(1)), sv(t2=1.0))
        store.upsert(PART, [*theirs, mine])

        hits = hybrid(store, PART, unit(0), corpus_ids=["mine"], limit=10, candidates=50, sparse=sv(t1=1.0))

        assert ids(hits) == {mine.chunk_id}
        assert hybrid(store, PART, unit(0), corpus_ids=[], limit=10, sparse=sv(t1=1.0)) == []

    def test_hybrid_applies_the_model_filter_to_every_ranking(self, store: VectorStore) -> None:
        store.ensure_partition(PART, DIM)
        current = with_sparse(point("c1", unit(1), weights=MODEL_A), sv(t2=1.0))
        stale = with_sparse(point("c1", unit(0), weights=MODEL_B), sv(t1=1.0))
        store.upsert(PART, [current, stale])

        hits = hybrid(
            store, PART, unit(0), corpus_ids=["c1"], limit=10, weights_sha256=MODEL_A, sparse=sv(t1=1.0)
        )

        assert ids(hits) == {current.chunk_id}

    def test_each_ranking_contributes_at_most_candidates_points(self, store: VectorStore) -> None:
        store.ensure_partition(PART, DIM)
        # Dense order: p0..p5; p5 alone matches the keyword. With candidates=2 and limit=2 the fusion sees
        # p0, p1 (dense) and p5 (sparse).
        points = [
            with_sparse(
                point("c1", unit(0, (1, 0.2 * i)), title=f"p{i}"), sv(t1=1.0) if i == 5 else sv(t2=1.0)
            )
            for i in range(6)
        ]
        store.upsert(PART, points)

        hits = hybrid(store, PART, unit(0), corpus_ids=["c1"], limit=3, candidates=2, sparse=sv(t1=1.0))

        assert {h.payload["title"] for h in hits} == {"p0", "p1", "p5"}

    def test_with_vectors_returns_each_hits_dense_vector(self, store: VectorStore) -> None:
        store.ensure_partition(PART, DIM)
        p = with_sparse(point("c1", unit(0, (2, 0.5))), sv(t1=1.0))
        store.upsert(PART, [p])
        for mode in SearchMode:
            [hit] = store.search(
                PART, unit(0), corpus_ids=["c1"], limit=1, mode=mode, sparse=sv(t1=1.0), with_vectors=True
            )
            assert hit.vector is not None
            # Cosine partitions may store the vector normalised.
            norm = np.linalg.norm(p.vector)
            assert np.allclose(np.array(hit.vector), np.array(p.vector) / norm, atol=1e-5) or np.allclose(
                hit.vector, p.vector, atol=1e-5
            )
        [plain] = store.search(PART, unit(0), corpus_ids=["c1"], limit=1)
        assert plain.vector is None

    def test_sparse_and_hybrid_need_the_query_keywords(self, store: VectorStore) -> None:
        store.ensure_partition(PART, DIM)
        for mode in (SearchMode.sparse, SearchMode.hybrid):
            with pytest.raises(ValueError, match="sparse vector"):
                store.search(PART, unit(0), corpus_ids=["c1"], limit=3, mode=mode)
        with pytest.raises(ValueError, match="candidates"):
            hybrid(store, PART, unit(0), corpus_ids=["c1"], limit=3, candidates=0, sparse=sv(t1=1.0))
        with pytest.raises(ValueError):
            store.search(PART, unit(0), corpus_ids=["c1"], limit=3, mode="fuzzy", sparse=sv(t1=1.0))  # type: ignore[arg-type]

    def test_sparse_vectors_survive_close_and_reopen(self, backend: Backend) -> None:
        first = backend.open(persistent=True)
        first.ensure_partition(PART, DIM)
        p = with_sparse(point("c1", unit(0)), sv(t1=1.0))
        first.upsert(PART, [p, with_sparse(point("c1", unit(1)), sv(t2=1.0))])
        first.close()

        second = backend.open(persistent=True)
        hits = second.search(PART, unit(5), corpus_ids=["c1"], limit=5, mode="sparse", sparse=sv(t1=1.0))
        assert ids(hits) == {p.chunk_id}

    def test_a_dense_only_partition_is_written_and_searched_dense(self, backend: Backend) -> None:
        store = backend.open()
        create_dense_only_partition(backend, store, PART)
        store.ensure_partition(PART, DIM)  # an existing partition keeps its vectors
        near, far = (
            with_sparse(point("c1", unit(0)), sv(t1=1.0)),
            with_sparse(point("c1", unit(1)), sv(t2=1.0)),
        )
        store.upsert(PART, [near, far])  # the sparse vectors are dropped, the points are written

        assert store.count(PART) == 2
        for mode in SearchMode:
            hits = store.search(PART, unit(0), corpus_ids=["c1"], limit=5, mode=mode, sparse=sv(t2=1.0))
            # Dense ranking and dense scores, whatever the mode asked.
            assert [h.chunk_id for h in hits] == [near.chunk_id, far.chunk_id]
            assert hits[0].score == pytest.approx(1.0, abs=1e-5)
        assert store.search(PART, unit(0), corpus_ids=["c2"], limit=5, mode="hybrid", sparse=sv(t1=1.0)) == []

    def test_new_partitions_beside_a_dense_only_one_get_sparse_vectors(self, backend: Backend) -> None:
        store = backend.open()
        create_dense_only_partition(backend, store, PART)
        store.ensure_partition("eu.public", DIM)
        p = with_sparse(point("c1", unit(0)), sv(t1=1.0))
        store.upsert("eu.public", [p, with_sparse(point("c1", unit(0)), sv(t2=1.0))])

        hits = store.search(
            "eu.public", unit(0), corpus_ids=["c1"], limit=5, mode="sparse", sparse=sv(t1=1.0)
        )

        assert ids(hits) == {p.chunk_id}

    @settings(max_examples=25, deadline=None, suppress_health_check=CONTRACT_HEALTH_CHECKS)
    @given(
        seed=st.integers(min_value=0, max_value=2**32 - 1),
        n_points=st.integers(min_value=0, max_value=30),
        n_corpora=st.integers(min_value=1, max_value=4),
        allowed_mask=st.lists(st.booleans(), min_size=4, max_size=4),
        limit=st.integers(min_value=1, max_value=10),
        candidates=st.integers(min_value=1, max_value=15),
        mode=st.sampled_from(list(SearchMode)),
        fusion=st.sampled_from(list(Fusion)),
    )
    def test_every_mode_stays_in_the_grant_and_ranks_exactly(
        self,
        backend: Backend,
        seed: int,
        n_points: int,
        n_corpora: int,
        allowed_mask: list[bool],
        limit: int,
        candidates: int,
        mode: SearchMode,
        fusion: Fusion,
    ) -> None:
        # A fresh store per example: IDF is a statistic of the whole partition, so earlier examples' points
        # would change the expected sparse scores.
        example = backend.sibling(f"example-{next(_examples)}")
        try:
            _check_every_mode(
                example.open(), seed, n_points, n_corpora, allowed_mask, limit, candidates, mode, fusion
            )
        finally:
            example.close_all()
