"""What analysing concurrent queries together saves: the log's masking of each `/retrieve` query.

    .venv/bin/python bench/query_masking.py                      # concurrency 1 and 16, 3 rounds
    .venv/bin/python bench/query_masking.py --concurrency 4 16 --queries 320

Each request masks its query for the log while it searches (`RetrievalService`), through the masker's
`mask`, which analyses the single texts of concurrent callers together (`retrieval.query_batching`, at most
16 per pass, a pass per helper process at a time). The baseline is the same masker with passes of one text
(what `mask` did before): same helper processes, same queries. `--concurrency` threads mask SciFact queries
(../shared/data/scifact/queries.jsonl) as fast as they can; rounds alternate which side runs first. Reported
per side and concurrency: CPU per query of this process and its helper processes (`bench/cputime.py`),
queries/s, per-call p50/p95, and the mean texts per pass. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from retrieval.settings import configure_offline_runtime

configure_offline_runtime()

from cputime import cpu_seconds  # noqa: E402  (bench/, the script's own directory)

from retrieval.pii import PresidioMasker  # noqa: E402
from retrieval.query_batching import QueryBatcher  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_QUERIES = REPO_ROOT.parent / "shared" / "data" / "scifact" / "queries.jsonl"


def one_per_pass(workers: int) -> PresidioMasker:
    """The masker as it was before queries were batched: every `mask` call its own pass."""
    masker = PresidioMasker(workers=workers)
    masker._singles = QueryBatcher(masker._find_together, max_batch=1, leaders=max(1, workers))
    return masker


def run(masker: PresidioMasker, queries: list[str], concurrency: int) -> dict[str, Any]:
    latencies: list[float] = []
    lock = threading.Lock()

    def mask(query: str) -> None:
        started = time.perf_counter()
        masker.mask(query)
        with lock:
            latencies.append(time.perf_counter() - started)

    passes = masker._singles.batches
    cpu, wall = cpu_seconds(), time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(mask, queries))
    cpu, wall = cpu_seconds() - cpu, time.perf_counter() - wall
    latencies.sort()
    return {
        "cpu_ms_per_query": cpu / len(queries) * 1000,
        "queries_per_s": len(queries) / wall,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p95_ms": latencies[int(len(latencies) * 0.95)] * 1000,
        "texts_per_pass": len(queries) / max(1, masker._singles.batches - passes),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--queries-file", type=Path, default=DEFAULT_QUERIES, help="BEIR queries.jsonl")
    parser.add_argument(
        "--queries", type=int, default=320, help="queries masked per side, round and concurrency"
    )
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--repeat", type=int, default=3, help="rounds")
    parser.add_argument(
        "--workers", type=int, default=2, help="PII helper processes (the default on two cores)"
    )
    args = parser.parse_args()
    if not args.queries_file.is_file():
        sys.exit(f"no queries file at {args.queries_file} (pass --queries-file)")
    texts = [json.loads(line)["text"] for line in args.queries_file.read_text().splitlines() if line.strip()]
    queries = (texts * (args.queries // max(1, len(texts)) + 1))[: args.queries]
    sides = {"batched": PresidioMasker(workers=args.workers), "one_per_pass": one_per_pass(args.workers)}
    for masker in sides.values():  # start the helpers and warm both paths
        run(masker, queries[:32], 4)
    result: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "workers": args.workers,
        "queries": args.queries,
        "load_average_start": round(os.getloadavg()[0], 2),
    }
    for concurrency in args.concurrency:
        rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in sides}
        for round_ in range(args.repeat):
            order = list(sides) if round_ % 2 == 0 else list(reversed(sides))
            for name in order:
                rounds[name].append(run(sides[name], queries, concurrency))
        entry = {
            name: {key: round(statistics.median(r[key] for r in runs), 2) for key in runs[0]}
            for name, runs in rounds.items()
        }
        entry["cpu_batched_over_one_per_pass"] = round(
            entry["batched"]["cpu_ms_per_query"] / entry["one_per_pass"]["cpu_ms_per_query"], 3
        )
        result[f"c{concurrency}"] = entry
    result["load_average_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
