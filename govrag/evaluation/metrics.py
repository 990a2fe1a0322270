"""Ranking metrics of information retrieval, as BEIR reports them (trec_eval definitions).

`ranking` is a query's retrieved document ids, best first (duplicates after the first are ignored);
`relevant` maps the query's judged document ids to their grades (a grade of 0 or less is not relevant).

- nDCG@k: DCG of the ranking's first k documents, sum of grade / log2(position + 1), divided by the DCG of
  the ideal ordering of every relevant document (also cut at k). Linear gain, as trec_eval's `ndcg_cut`
  computes it (and so BEIR, through pytrec_eval); with binary grades every gain convention agrees.
- Recall@k: relevant documents among the first k, over all relevant documents.
- MRR@k: 1 / position of the first relevant document among the first k; 0 when there is none.

`evaluate` averages over the queries that have at least one relevant document, counting a query with an
empty ranking as 0 (BEIR evaluates exactly the queries of its qrels).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

__all__ = ["evaluate", "mrr_at_k", "ndcg_at_k", "recall_at_k"]


def _distinct(ranking: Sequence[str], k: int) -> list[str]:
    if k < 1:
        raise ValueError(f"k must be positive, got {k}")
    seen: dict[str, None] = {}
    for document in ranking:
        if document not in seen:
            seen[document] = None
            if len(seen) == k:
                break
    return list(seen)


def _relevant(relevant: Mapping[str, float]) -> dict[str, float]:
    return {document: grade for document, grade in relevant.items() if grade > 0}


def ndcg_at_k(ranking: Sequence[str], relevant: Mapping[str, float], k: int) -> float:
    judged = _relevant(relevant)
    top = _distinct(ranking, k)
    if not judged:
        return 0.0
    dcg = sum(judged.get(document, 0.0) / math.log2(position + 1) for position, document in enumerate(top, 1))
    ideal = sorted(judged.values(), reverse=True)[:k]
    idcg = sum(grade / math.log2(position + 1) for position, grade in enumerate(ideal, 1))
    return dcg / idcg


def recall_at_k(ranking: Sequence[str], relevant: Mapping[str, float], k: int) -> float:
    judged = _relevant(relevant)
    if not judged:
        return 0.0
    return sum(1 for document in _distinct(ranking, k) if document in judged) / len(judged)


def mrr_at_k(ranking: Sequence[str], relevant: Mapping[str, float], k: int) -> float:
    judged = _relevant(relevant)
    for position, document in enumerate(_distinct(ranking, k), 1):
        if document in judged:
            return 1.0 / position
    return 0.0


def evaluate(
    rankings: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, float]]
) -> dict[str, float]:
    """Mean nDCG@10, Recall@10, Recall@100 and MRR@10 over the queries of `qrels` with a relevant document.

    A query of `qrels` missing from `rankings` counts as an empty ranking; rankings of queries without
    judgements are ignored. Raises `ValueError` when no query has a relevant document.
    """
    queries = [query for query, judged in qrels.items() if _relevant(judged)]
    if not queries:
        raise ValueError("no query has a relevant document in the qrels")
    totals = {"ndcg@10": 0.0, "recall@10": 0.0, "recall@100": 0.0, "mrr@10": 0.0}
    for query in queries:
        ranking, judged = rankings.get(query, ()), qrels[query]
        totals["ndcg@10"] += ndcg_at_k(ranking, judged, 10)
        totals["recall@10"] += recall_at_k(ranking, judged, 10)
        totals["recall@100"] += recall_at_k(ranking, judged, 100)
        totals["mrr@10"] += mrr_at_k(ranking, judged, 10)
    return {name: round(total / len(queries), 5) for name, total in totals.items()}
