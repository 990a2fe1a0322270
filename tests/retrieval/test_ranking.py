"""Merging partitions, the per-document cap and maximal marginal relevance, on hand-made hits."""

from __future__ import annotations

import pytest

from retrieval.domain import VectorHit
from retrieval.ranking import cap_per_document, maximal_marginal_relevance, merge_partitions

pytestmark = pytest.mark.unit


def hit(chunk: str, score: float, document: str = "", vector: tuple[float, ...] | None = None) -> VectorHit:
    return VectorHit(chunk, score, {"document_id": document or chunk}, vector=vector)


def chunks(hits: list[VectorHit]) -> list[str]:
    return [h.chunk_id for h in hits]


def test_merge_orders_by_score_then_chunk_id() -> None:
    merged = merge_partitions([[hit("b", 0.9), hit("d", 0.1)], [hit("a", 0.9), hit("c", 0.5)], []])
    assert chunks(merged) == ["a", "b", "c", "d"]


def test_cap_keeps_the_best_chunks_of_each_document_in_order() -> None:
    hits = [
        hit("1", 0.9, "x"),
        hit("2", 0.8, "x"),
        hit("3", 0.7, "y"),
        hit("4", 0.6, "x"),
        hit("5", 0.5, "y"),
    ]
    assert chunks(cap_per_document(hits, 1)) == ["1", "3"]
    assert chunks(cap_per_document(hits, 2)) == ["1", "2", "3", "5"]
    assert chunks(cap_per_document(hits, None)) == ["1", "2", "3", "4", "5"]
    with pytest.raises(ValueError):
        cap_per_document(hits, 0)


def test_mmr_without_diversity_keeps_the_ranking() -> None:
    hits = [
        hit("a", 0.9, vector=(1.0, 0.0)),
        hit("b", 0.8, vector=(1.0, 0.0)),
        hit("c", 0.1, vector=(0.0, 1.0)),
    ]
    assert chunks(maximal_marginal_relevance(hits, 3, 0.0)) == ["a", "b", "c"]


def test_mmr_passes_over_a_near_duplicate() -> None:
    # b repeats a; c is less relevant but new. Relevance rescaled: a 1, b 0.875, c 0.
    hits = [
        hit("a", 0.9, vector=(1.0, 0.0)),
        hit("b", 0.8, vector=(1.0, 0.01)),
        hit("c", 0.1, vector=(0.0, 1.0)),
    ]
    # w = 0.5: b scores 0.5 * 0.875 - 0.5 * ~1.0 < 0; c scores 0.5 * 0 - 0.5 * 0 = 0.
    assert chunks(maximal_marginal_relevance(hits, 2, 0.5)) == ["a", "c"]
    # w = 0.3: b scores 0.7 * 0.875 - 0.3 * ~1.0 = 0.31 > c's 0.
    assert chunks(maximal_marginal_relevance(hits, 2, 0.3)) == ["a", "b"]
    # Scores are kept; only the selection and order change.
    assert [h.score for h in maximal_marginal_relevance(hits, 3, 0.5)] == [0.9, 0.1, 0.8]


def test_mmr_edge_cases() -> None:
    assert maximal_marginal_relevance([], 3, 0.5) == []
    one = [hit("a", 0.5, vector=(1.0,))]
    assert chunks(maximal_marginal_relevance(one, 3, 0.5)) == ["a"]  # equal scores: relevance 1 for all
    with pytest.raises(ValueError, match="dense vector"):
        maximal_marginal_relevance([hit("a", 0.5)], 1, 0.5)
    with pytest.raises(ValueError):
        maximal_marginal_relevance(one, 1, 1.5)
