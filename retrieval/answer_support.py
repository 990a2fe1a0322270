"""How well a passage supports an answer sentence: the cosine of their embeddings (the model already loaded
for search) mapped to a calibrated probability.

The map is logistic (Platt scaling), `p = 1 / (1 + exp(-(SLOPE * cosine + INTERCEPT)))`, fitted by
`bench/answer_support.py` on half of the SciFact train claims: each claim against a relevant abstract
(supported) and against the best-ranked non-relevant one (unsupported). The threshold was chosen on the same
half and the figures reported on the other (README, "Answer verification"). What it measures is topical
support: a passage about the claim's subject scores high even when it contradicts the claim (SciFact counts
contradicting abstracts as relevant), and negation or a changed number barely moves the score.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from retrieval.protocols import Embedder

# Fitted by `bench/answer_support.py` (BM25 negatives, seed 0; see the module docstring): refit if the model
# changes. A passage identical to the sentence scores only 0.87: on SciFact a topical match is weak evidence.
SLOPE = 3.9856
INTERCEPT = -2.0862


def calibrated(cosine: float) -> float:
    """The probability that the passage supports the sentence, from their cosine similarity."""
    z = SLOPE * cosine + INTERCEPT
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def cosines(embedder: Embedder, pairs: Sequence[tuple[str, str]]) -> list[float]:
    """The cosine similarity of each (sentence, passage) pair, every distinct text embedded once."""
    texts = list(dict.fromkeys(text for pair in pairs for text in pair))
    if not texts:
        return []
    vectors = dict(zip(texts, embedder.embed_documents(texts), strict=True))
    # The embedder returns unit-length vectors: the dot product is the cosine.
    return [sum(a * b for a, b in zip(vectors[s], vectors[p], strict=True)) for s, p in pairs]
