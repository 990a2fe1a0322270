"""Hybrid search's fusion on BEIR SciFact: distribution-based score fusion against reciprocal rank fusion.

    .venv/bin/python bench/fusion_tuning.py
    .venv/bin/python bench/fusion_tuning.py --scifact /path/to/scifact --limit-docs 1000 --seeds 5
    .venv/bin/python bench/fusion_tuning.py --full      # the whole corpus: about an hour on 2 cores

The train queries go through `govrag eval retrieval`'s code (the real ingestion with PII masking, then
`RetrievalService.retrieve`, a document ranked by its best chunk), into one throw-away data directory outside
the repository: the slice is ingested once, then every query is searched in hybrid mode under each fusion
(`GOVRAG_RETRIEVAL__FUSION`: `rrf`, k=60, then `dbsf`), and in dense mode; the bare model and BM25 are
searched exactly beside them, over the same documents.

Prints one JSON object: nDCG@10 (and the other BEIR figures) of every system on all the queries; on both sides
of the project's fixed split (`--split-seed` 20, 30 % held out, as `govrag eval retrieval` reports it); and,
for `--seeds` further splits of the queries in halves (seeds 1..N of the same hash split), the fusion that
scores better on the tune half (the one a tuner would choose) beside how each scores on the held-out half.
The held-out halves choose nothing: they only say whether the choice holds.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from govrag.evaluation.beir import (  # noqa: E402
    DEFAULT_HOLDOUT_FRACTION,
    DEFAULT_SPLIT_SEED,
    SPLITS,
    load_corpus,
    load_qrels,
    load_queries,
    select,
    split_of,
)
from govrag.evaluation.metrics import evaluate  # noqa: E402
from govrag.evaluation.run import EvaluationRequest, run_evaluation  # noqa: E402
from retrieval.domain import Fusion, SearchMode  # noqa: E402
from retrieval.settings import Settings, get_settings  # noqa: E402

Rankings = dict[str, list[str]]
Qrels = dict[str, dict[str, float]]


def _with_fusion(settings: Settings, fusion: Fusion) -> Settings:
    retrieval = settings.retrieval.model_copy(update={"fusion": fusion.value})
    return settings.model_copy(update={"retrieval": retrieval})


def _ndcg(rankings: Rankings, qrels: Qrels, queries: list[str]) -> float:
    return evaluate(rankings, {q: qrels[q] for q in queries})["ndcg@10"]


def _better(scores: dict[str, float]) -> str:
    """The fusion with the higher score; "tie" when they are equal."""
    ranked = sorted(scores.items(), key=lambda item: -item[1])
    return "tie" if ranked[0][1] == ranked[1][1] else ranked[0][0]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scifact", type=Path, default=REPO.parent / "shared" / "data" / "scifact")
    parser.add_argument("--qrels", default="train", help="qrels file under qrels/ (default: train)")
    parser.add_argument("--limit-docs", type=int, default=1000)
    parser.add_argument("--full", action="store_true", help="index the whole corpus (no --limit-docs)")
    parser.add_argument("--seeds", type=int, default=5, help="random 50/50 query splits to report")
    args = parser.parse_args()
    corpus, queries_file = args.scifact / "corpus.jsonl", args.scifact / "queries.jsonl"
    qrels_file = args.scifact / "qrels" / f"{args.qrels}.tsv"
    limit_docs = None if args.full else args.limit_docs
    _, _, qrels = select(load_corpus(corpus), load_queries(queries_file), load_qrels(qrels_file), limit_docs)

    settings = get_settings()
    systems: dict[str, Rankings] = {}
    reports: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="govrag-fusion-") as scratch:
        for first, fusion in zip((True, False), (Fusion.rrf, Fusion.dbsf), strict=True):
            # The first run ingests the slice and runs the baselines; the second reuses the ingested data
            # (every document unchanged, so skipped) and only searches again.
            request = EvaluationRequest(
                corpus=corpus,
                queries=queries_file,
                qrels=qrels_file,
                limit_docs=limit_docs,
                modes=(SearchMode.dense, SearchMode.hybrid) if first else (SearchMode.hybrid,),
                baselines=first,
                work_dir=Path(scratch),
                keep_rankings=True,
            )
            started = time.perf_counter()
            report = run_evaluation(request, _with_fusion(settings, fusion))
            seconds[fusion.value] = round(time.perf_counter() - started, 1)
            rankings = report.pop("rankings")
            systems[f"hybrid_{fusion.value}"] = rankings["hybrid"]
            if first:
                systems["dense"] = rankings["dense"]
                systems["bare_dense_exact"] = rankings["bare_dense_exact"]
                systems["bare_bm25_exact"] = rankings["bare_bm25_exact"]
            reports[fusion.value] = report

    everything = list(qrels)
    bare = _ndcg(systems["bare_dense_exact"], qrels, everything)
    result: dict[str, Any] = {
        "dataset": reports[Fusion.rrf.value]["dataset"],
        "ingestion": reports[Fusion.rrf.value]["ingestion"],
        "settings": {**reports[Fusion.rrf.value]["settings"], "fusion": "per row"},
        "seconds": seconds,
        "all_queries": {name: evaluate(rankings, qrels) for name, rankings in systems.items()},
        "hybrid_over_bare_dense_ndcg@10": {
            fusion.value: round(_ndcg(systems[f"hybrid_{fusion.value}"], qrels, everything) / bare, 4)
            for fusion in Fusion
        },
        "median_query_ms": {
            fusion.value: reports[fusion.value]["pipeline"]["hybrid"]["median_query_ms"] for fusion in Fusion
        },
    }
    sides = {side: [q for q in everything if split_of(q) == side] for side in SPLITS}
    result["project_split"] = {
        "seed": DEFAULT_SPLIT_SEED,
        "holdout_fraction": DEFAULT_HOLDOUT_FRACTION,
        **{
            side: {
                "queries": len(chosen),
                **{name: _ndcg(rankings, qrels, chosen) for name, rankings in systems.items()},
            }
            for side, chosen in sides.items()
        },
    }
    halves = []
    for seed in range(1, args.seeds + 1):
        split = {side: [q for q in everything if split_of(q, seed, 0.5) == side] for side in SPLITS}
        scores = {
            side: {fusion.value: _ndcg(systems[f"hybrid_{fusion.value}"], qrels, chosen) for fusion in Fusion}
            for side, chosen in split.items()
        }
        holdout_bare = _ndcg(systems["bare_dense_exact"], qrels, split["holdout"])
        halves.append(
            {
                "seed": seed,
                "queries": {side: len(chosen) for side, chosen in split.items()},
                "tune_ndcg@10": scores["tune"],
                "chosen_on_tune": _better(scores["tune"]),
                "holdout_ndcg@10": scores["holdout"],
                "holdout_bare_dense_exact": holdout_bare,
                "holdout_over_bare_dense": {
                    name: round(score / holdout_bare, 4) for name, score in scores["holdout"].items()
                },
                "better_on_holdout": _better(scores["holdout"]),
            }
        )
    result["half_splits"] = halves
    result["choice_holds_on_holdout"] = sum(h["chosen_on_tune"] == h["better_on_holdout"] for h in halves)
    result["dbsf_better_on_holdout"] = sum(h["better_on_holdout"] == Fusion.dbsf.value for h in halves)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
