"""Reference rankings without govrag: the bare embedding model and plain BM25, searched exactly.

Both work on whole documents (title and text, unchunked, unmasked), as published benchmark figures do, so
the pipeline's figures can be set beside them in one run.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence

import numpy as np

from govrag.evaluation.beir import BeirDocument
from retrieval.sparse import DEFAULT_B, DEFAULT_K, Bm25Encoder

__all__ = ["bm25_exact", "dense_exact"]

Encode = Callable[[Sequence[str]], np.ndarray]


def dense_exact(
    encode: Encode, documents: Sequence[BeirDocument], queries: dict[str, str], k: int
) -> dict[str, list[str]]:
    """Top-`k` document ids per query by cosine similarity over every document (brute force).

    `encode` returns one unit-length row per text (sentence-transformers with `normalize_embeddings`).
    """
    if not documents:
        return {query: [] for query in queries}
    matrix = encode([d.full_text for d in documents])
    query_ids = list(queries)
    rankings: dict[str, list[str]] = {}
    for start in range(0, len(query_ids), 256):
        batch = query_ids[start : start + 256]
        scores = encode([queries[q] for q in batch]) @ matrix.T
        for row, query in zip(scores, batch, strict=True):
            rankings[query] = [documents[i].id for i in _top(row, k)]
    return rankings


def bm25_exact(documents: Sequence[BeirDocument], queries: dict[str, str], k: int) -> dict[str, list[str]]:
    """Top-`k` document ids per query by Okapi BM25 (k1 1.2, b 0.75, Lucene's IDF) over whole documents.

    Terms come from the service's own BM25 encoder (its tokenizer, stop words and stemmer). It gives
    saturated weights, not counts, so the counts are read back from an encoder without length
    normalisation (b = 0: weight = tf (k1 + 1) / (tf + k1), hence tf = k1 w / (k1 + 1 - w)), and the
    average document length is the corpus's own.
    """
    counter = Bm25Encoder(b=0.0, k=DEFAULT_K)
    postings: dict[int, list[tuple[int, float]]] = defaultdict(list)  # term -> (document, count)
    lengths: list[float] = []
    for index, vector in enumerate(counter.encode_documents([d.full_text for d in documents])):
        length = 0.0
        for term, weight in zip(vector.indices, vector.values, strict=True):
            frequency = float(round(DEFAULT_K * weight / (DEFAULT_K + 1 - weight)))
            postings[term].append((index, frequency))
            length += frequency
        lengths.append(length)
    average = sum(lengths) / len(lengths) if lengths else 1.0
    population = len(documents)
    rankings: dict[str, list[str]] = {}
    for query, text in queries.items():
        scores = np.zeros(population)
        for term in counter.encode_query(text).indices:
            found = postings.get(term, [])
            idf = math.log(1 + (population - len(found) + 0.5) / (len(found) + 0.5))
            for index, frequency in found:
                norm = DEFAULT_K * (1 - DEFAULT_B + DEFAULT_B * lengths[index] / average)
                scores[index] += idf * frequency * (DEFAULT_K + 1) / (frequency + norm)
        rankings[query] = [documents[i].id for i in _top(scores, k) if scores[i] > 0]
    return rankings


def _top(scores: np.ndarray, k: int) -> list[int]:
    """Indices of the `k` highest scores, best first (ties by index)."""
    candidates = np.arange(len(scores)) if len(scores) <= k else np.argpartition(-scores, k - 1)[:k]
    return sorted(candidates.tolist(), key=lambda i: (-scores[i], i))
