"""The retrieval metrics on cases small enough to compute by hand."""

from __future__ import annotations

import math

import pytest

from govrag.evaluation.metrics import evaluate, mrr_at_k, ndcg_at_k, recall_at_k

pytestmark = pytest.mark.unit


def test_ndcg_of_a_perfect_ranking_is_one() -> None:
    assert ndcg_at_k(["a", "b", "x"], {"a": 1, "b": 1}, 10) == pytest.approx(1.0)


def test_ndcg_of_one_relevant_document_at_position_two() -> None:
    # DCG = 1 / log2(3); IDCG = 1 / log2(2) = 1.
    assert ndcg_at_k(["x", "a"], {"a": 1}, 10) == pytest.approx(1 / math.log2(3))


def test_ndcg_with_two_relevant_documents_one_found_at_position_three() -> None:
    # DCG = 1 / log2(4) = 0.5; IDCG = 1 + 1 / log2(3).
    assert ndcg_at_k(["x", "y", "a"], {"a": 1, "b": 1}, 10) == pytest.approx(0.5 / (1 + 1 / math.log2(3)))


def test_ndcg_uses_graded_relevance_with_linear_gain() -> None:
    # DCG = 1 + 2 / log2(3); ideal order (2, 1): IDCG = 2 + 1 / log2(3).
    expected = (1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3))
    assert ndcg_at_k(["low", "high"], {"high": 2, "low": 1}, 10) == pytest.approx(expected)


def test_ndcg_cuts_at_k_both_the_ranking_and_the_ideal() -> None:
    assert ndcg_at_k(["x", "a"], {"a": 1}, 1) == 0.0
    # Three relevant, k = 2: the ideal DCG counts only two of them.
    assert ndcg_at_k(["a", "b"], {"a": 1, "b": 1, "c": 1}, 2) == pytest.approx(1.0)


def test_duplicates_and_non_relevant_grades_are_ignored() -> None:
    assert ndcg_at_k(["a", "a", "b"], {"a": 1, "b": 1}, 2) == pytest.approx(1.0)
    assert recall_at_k(["a", "z"], {"a": 1, "z": 0}, 10) == 1.0
    assert mrr_at_k(["z", "a"], {"a": 1, "z": 0}, 10) == 0.5


def test_recall_at_k() -> None:
    relevant = {"a": 1, "b": 1, "c": 1, "d": 1}
    assert recall_at_k(["a", "x", "b"], relevant, 10) == 0.5
    assert recall_at_k(["a", "x", "b"], relevant, 2) == 0.25
    assert recall_at_k([], relevant, 10) == 0.0


def test_mrr_at_k() -> None:
    assert mrr_at_k(["x", "y", "a", "b"], {"a": 1, "b": 1}, 10) == pytest.approx(1 / 3)
    assert mrr_at_k(["x", "y", "a"], {"a": 1}, 2) == 0.0
    with pytest.raises(ValueError):
        mrr_at_k(["a"], {"a": 1}, 0)


def test_evaluate_averages_over_judged_queries_only() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}, "q3": {"c": 0}}
    rankings = {"q1": ["a"], "q2": ["x", "b"], "q3": ["c"], "q4": ["d"]}
    scores = evaluate(rankings, qrels)
    # q1 perfect; q2: nDCG 1/log2(3), MRR 1/2; q3 has no relevant document; q4 has no judgements.
    assert scores["ndcg@10"] == pytest.approx((1 + 1 / math.log2(3)) / 2, abs=1e-5)
    assert scores["mrr@10"] == pytest.approx(0.75)
    assert scores["recall@10"] == scores["recall@100"] == 1.0


def test_evaluate_counts_a_missing_ranking_as_zero() -> None:
    assert evaluate({}, {"q1": {"a": 1}, "q2": {"b": 1}})["recall@100"] == 0.0
    assert evaluate({"q1": ["a"]}, {"q1": {"a": 1}, "q2": {"b": 1}})["ndcg@10"] == 0.5
    with pytest.raises(ValueError):
        evaluate({"q1": ["a"]}, {"q1": {"a": 0}})
