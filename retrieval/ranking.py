"""What the service does to a search's hits before answering: merge partitions, cap chunks per document,
diversify (maximal marginal relevance). Pure functions over `VectorHit`s; no store, no model."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from retrieval.domain import VectorHit

__all__ = ["cap_per_document", "maximal_marginal_relevance", "merge_partitions"]


def merge_partitions(results: Iterable[Sequence[VectorHit]]) -> list[VectorHit]:
    """One ranking from per-partition rankings of the same mode: by score, then chunk id (deterministic).

    Dense scores are cosine similarities of one model and compare directly. Hybrid scores are sums of each
    ranking's scores normalised by that partition's own distribution of them (dbsf), so they compare as
    places within each partition's spread, or reciprocal-rank sums (rrf), which interleave the partitions
    rank by rank. Sparse scores are BM25 with each partition's own IDF, comparable only roughly.
    """
    merged = [hit for hits in results for hit in hits]
    merged.sort(key=lambda hit: (-hit.score, hit.chunk_id))
    return merged


def cap_per_document(hits: Sequence[VectorHit], cap: int | None) -> list[VectorHit]:
    """`hits` in order, keeping at most `cap` chunks of any one document (None: no cap)."""
    if cap is None:
        return list(hits)
    if cap < 1:
        raise ValueError(f"the per-document cap must be positive, got {cap}")
    kept: list[VectorHit] = []
    seen: dict[str, int] = {}
    for hit in hits:
        document = str(hit.payload.get("document_id", hit.chunk_id))
        if seen.get(document, 0) < cap:
            seen[document] = seen.get(document, 0) + 1
            kept.append(hit)
    return kept


def maximal_marginal_relevance(hits: Sequence[VectorHit], k: int, diversity_weight: float) -> list[VectorHit]:
    """Pick `k` of `hits` (best first, each with its dense `vector`), trading relevance for novelty.

    Greedy MMR (Carbonell and Goldstein, 1998): each step takes the hit maximising
    `(1 - w) * relevance - w * (highest cosine similarity to a hit already taken)`, with `w` the
    `diversity_weight` in [0, 1]. Relevance is the hit's score rescaled to [0, 1] over the candidates, so the
    search's own ranking (dense, sparse or fused) is what diversity is traded against; `w = 0` keeps that
    ranking. Hits keep their scores; only their order and selection change.
    """
    if not 0.0 <= diversity_weight <= 1.0:
        raise ValueError(f"diversity_weight must be in [0, 1], got {diversity_weight}")
    if k <= 0 or not hits:
        return []
    if any(hit.vector is None for hit in hits):
        raise ValueError("maximal marginal relevance needs each hit's dense vector")
    vectors = np.array([hit.vector for hit in hits], dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = vectors / np.where(norms == 0, 1.0, norms)
    similarity = vectors @ vectors.T
    scores = np.array([hit.score for hit in hits], dtype=np.float64)
    spread = float(scores.max() - scores.min())
    relevance = (scores - scores.min()) / spread if spread > 0 else np.ones_like(scores)

    chosen: list[int] = []
    # Highest similarity of each candidate to anything chosen so far (nothing yet: no penalty).
    redundancy = np.full(len(hits), -np.inf)
    available = np.ones(len(hits), dtype=bool)
    for _ in range(min(k, len(hits))):
        penalty = np.where(np.isneginf(redundancy), 0.0, redundancy)
        value = (1.0 - diversity_weight) * relevance - diversity_weight * penalty
        value[~available] = -np.inf
        # argmax takes the first maximum: among equal values, the better-ranked hit.
        best = int(np.argmax(value))
        chosen.append(best)
        available[best] = False
        redundancy = np.maximum(redundancy, similarity[best])
    return [hits[i] for i in chosen]
