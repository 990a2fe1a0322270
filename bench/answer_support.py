"""Calibration of answer verification's support score on SciFact: how well it tells a passage that backs a
claim from the passage retrieval would most likely have offered instead.

    .venv/bin/python bench/answer_support.py                      # ../shared/data/scifact, train claims
    .venv/bin/python bench/answer_support.py --negatives dense --cache /tmp/scifact-vectors.npy

Each train claim (qrels/train.tsv) is paired with its first relevant abstract (label 1) and with the
best-ranked non-relevant abstract (label 0) over the whole corpus: by BM25 (`--negatives bm25`, the default:
the lexical half of the hybrid search, and cheap) or by the model's own cosine (`dense`: the hardest negative
for this score, but it embeds all 5,183 abstracts, ~10 CPU minutes). Not a random abstract: one a search
would have offered. Both sides are scored exactly as `POST /answers` scores a citation
(`retrieval.answer_support.cosines`, title and abstract as one passage). The claims are split in two
halves by a seeded shuffle: on the first, the logistic map from cosine to probability (Platt scaling, by
Newton's method) and the threshold (the one with the best F1) are chosen; on the second, ROC AUC and the
precision and recall at that threshold are reported. Prints one JSON object; `slope`, `intercept` and
`threshold` are the constants `retrieval/answer_support.py` carries.

SciFact's relevant abstracts include those that contradict a claim: "supported" here means "about what the
claim says, and evidence for or against it", which is what an embedding similarity can tell.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from govrag.evaluation.baselines import bm25_exact
from govrag.evaluation.beir import load_corpus, load_qrels, load_queries
from retrieval.answer_support import cosines
from retrieval.embedding import load_embedder
from retrieval.settings import configure_offline_runtime

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "scifact"


def auc(scores: list[float], labels: list[int]) -> float:
    """ROC AUC as the Mann-Whitney statistic (ties count half)."""
    ranked = sorted(zip(scores, labels, strict=True))
    positives = sum(labels)
    negatives = len(labels) - positives
    rank_sum, index = 0.0, 0
    while index < len(ranked):
        end = index
        while end < len(ranked) and ranked[end][0] == ranked[index][0]:
            end += 1
        average_rank = (index + 1 + end) / 2
        rank_sum += average_rank * sum(label for _, label in ranked[index:end])
        index = end
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def platt(scores: list[float], labels: list[int]) -> tuple[float, float]:
    """Slope and intercept of the logistic regression of `labels` on `scores` (Newton's method)."""
    x = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=float)
    a, b = 1.0, 0.0
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(a * x + b)))
        w = p * (1 - p) + 1e-12
        gradient = np.array([np.sum((p - y) * x), np.sum(p - y)])
        hessian = np.array([[np.sum(w * x * x), np.sum(w * x)], [np.sum(w * x), np.sum(w)]])
        step = np.linalg.solve(hessian, gradient)
        a, b = a - step[0], b - step[1]
        if np.max(np.abs(step)) < 1e-10:
            break
    return float(a), float(b)


def at_threshold(probabilities: list[float], labels: list[int], threshold: float) -> dict[str, float]:
    flagged = [p > threshold for p in probabilities]
    true_pos = sum(1 for f, y in zip(flagged, labels, strict=True) if f and y)
    predicted, actual = sum(flagged), sum(labels)
    precision = true_pos / predicted if predicted else 0.0
    recall = true_pos / actual if actual else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def best_threshold(probabilities: list[float], labels: list[int]) -> float:
    """The threshold with the best F1 (supported means strictly above it), midway between two scores."""
    ordered = sorted(set(probabilities))
    candidates = [(lo + hi) / 2 for lo, hi in itertools.pairwise(ordered)] or [0.5]
    return max(candidates, key=lambda t: at_threshold(probabilities, labels, t)["f1"])


def _dense_rankings(
    embedder: Any, documents: list[Any], texts: list[str], ids: list[str], cache: Path | None
) -> dict[str, list[str]]:
    if cache is not None and cache.is_file():
        matrix = np.load(cache)
    else:
        matrix = np.asarray(embedder.embed_documents([d.full_text for d in documents]), dtype=np.float32)
        if cache is not None:
            np.save(cache, matrix)
    vectors = np.asarray(embedder.embed_documents(texts), dtype=np.float32)
    return {
        claim_id: [documents[int(i)].id for i in np.argsort(-(matrix @ vectors[row]))[:20]]
        for row, claim_id in enumerate(ids)
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--qrels", default="qrels/train.tsv")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--negatives", choices=("bm25", "dense"), default="bm25")
    parser.add_argument(
        "--cache", type=Path, help="dense: keep (or reuse) the abstracts' vectors in this file"
    )
    args = parser.parse_args()
    configure_offline_runtime()

    started = time.perf_counter()
    documents = load_corpus(args.data)
    claims = load_queries(args.data / "queries.jsonl")
    qrels = load_qrels(args.data / args.qrels)
    embedder = load_embedder()
    index = {d.id: i for i, d in enumerate(documents)}
    claim_ids = sorted(q for q in qrels if q in claims and any(d in index for d in qrels[q]))
    # Enough candidates that one is not relevant: a claim has at most a handful of relevant abstracts.
    if args.negatives == "bm25":
        ranked = bm25_exact(documents, {q: claims[q] for q in claim_ids}, 20)
    else:
        ranked = _dense_rankings(embedder, documents, [claims[q] for q in claim_ids], claim_ids, args.cache)
    ranked_at = time.perf_counter()

    pairs: list[tuple[str, str]] = []
    labels: list[int] = []
    owners: list[str] = []
    for claim_id in claim_ids:
        relevant = [d for d in qrels[claim_id] if d in index]
        negatives = [d for d in ranked[claim_id] if d not in qrels[claim_id]]
        if not negatives:
            continue  # no abstract shares a term with the claim: no hard negative to pair it with
        for document_id, label in ((relevant[0], 1), (negatives[0], 0)):
            pairs.append((claims[claim_id], documents[index[document_id]].full_text))
            labels.append(label)
            owners.append(claim_id)
    claim_ids = sorted(set(owners))
    # Scored by the service's own function (its embedding calls, its cosine).
    scores = cosines(embedder, pairs)

    shuffled = list(claim_ids)
    random.Random(args.seed).shuffle(shuffled)
    fit_claims = set(shuffled[: len(shuffled) // 2])
    fit = [i for i, owner in enumerate(owners) if owner in fit_claims]
    held = [i for i, owner in enumerate(owners) if owner not in fit_claims]
    slope, intercept = platt([scores[i] for i in fit], [labels[i] for i in fit])

    def probability(cosine: float) -> float:
        return 1.0 / (1.0 + math.exp(-(slope * cosine + intercept)))

    fit_p = [probability(scores[i]) for i in fit]
    threshold = best_threshold(fit_p, [labels[i] for i in fit])
    held_p = [probability(scores[i]) for i in held]
    held_labels = [labels[i] for i in held]
    paired = list(zip(scores, labels, strict=True))
    report: dict[str, Any] = {
        "claims": len(claim_ids),
        "pairs": len(pairs),
        "fit_claims": len(fit_claims),
        "held_out_claims": len(claim_ids) - len(fit_claims),
        "slope": round(slope, 4),
        "intercept": round(intercept, 4),
        "threshold": round(threshold, 4),
        "threshold_cosine": round((math.log(threshold / (1 - threshold)) - intercept) / slope, 4),
        "fit": {"roc_auc": round(auc(fit_p, [labels[i] for i in fit]), 4),
                **at_threshold(fit_p, [labels[i] for i in fit], threshold)},
        "held_out": {"roc_auc": round(auc(held_p, held_labels), 4),
                     **at_threshold(held_p, held_labels, threshold)},
        "cosine_means": {
            "supported": round(float(np.mean([s for s, y in paired if y])), 4),
            "unsupported": round(float(np.mean([s for s, y in paired if not y])), 4),
        },
        "negatives": args.negatives,
        "seconds": {"rank": round(ranked_at - started, 1), "total": round(time.perf_counter() - started, 1)},
        "seed": args.seed,
    }  # fmt: skip
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
