"""Filtered vector search at size on the embedded store: latency and recall@10 against exact search.

    .venv/bin/python bench/search_scale.py --points 1000000
    .venv/bin/python bench/search_scale.py --points 100000      # a quick run

Writes `--points` synthetic 384-d chunks into one partition of an `EdgeVectorStore` (the project's store,
through the `VectorStore` protocol: `ensure_partition`, `upsert`, `optimize`, `search`), in a temporary
directory under /tmp that is deleted afterwards. The vectors are clustered, as embeddings of a collection of
texts on many topics are: `--clusters` gaussian centres, each point a centre plus gaussian noise of the same
scale (`--noise` 1.0: a point's cosine to its centre is ~0.7, to another point of its cluster ~0.5, to
anything else ~0), normalized. Each point belongs to one of `--corpora` corpora; corpora are topical (with
probability `--topical` a point's corpus is its cluster's "home" corpus, otherwise any), so a filter on a few
corpora removes most of the close neighbours of many queries, which is what makes filtered graph search hard.

Queries are fresh samples of the same distribution, each filtered to `--filter-corpora` random corpora (as a
caller granted a few corpora) and to the embedding model's weights field, as `/retrieve` filters. Exact
search is brute force in numpy on the same filter; recall@10 is the share of the exact top 10 the engine
returns. Also timed: the same searches before `optimize` (every point in plain, exactly searched segments).
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import ms_summary

from retrieval.domain import ChunkPoint
from retrieval.vectorstore import EdgeVectorStore

DIM = 384
PARTITION = "eu.internal"
WEIGHTS = "5" * 64  # the embedding model's weights hash, as ingestion writes it and `/retrieve` filters on it
CHUNKS_PER_DOCUMENT = 8


class Data:
    """The synthetic collection, generated batch by batch from one seed; all vectors kept for exact search."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.rng = np.random.default_rng(args.seed)
        self.noise = args.noise
        self.centres = self.rng.normal(size=(args.clusters, DIM)).astype(np.float32)
        self.home = self.rng.integers(0, args.corpora, args.clusters)
        self.corpora = args.corpora
        self.topical = args.topical
        self.vectors = np.empty((args.points, DIM), dtype=np.float32)
        self.corpus = np.empty(args.points, dtype=np.int32)

    def sample(self, n: int) -> np.ndarray:
        clusters = self.rng.integers(0, len(self.centres), n)
        noise = self.rng.normal(scale=self.noise, size=(n, DIM)).astype(np.float32)
        vectors = self.centres[clusters] + noise
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        self._clusters = clusters
        return vectors

    def batch(self, start: int, n: int) -> list[ChunkPoint]:
        vectors = self.sample(n)
        topical = self.rng.random(n) < self.topical
        corpus = np.where(topical, self.home[self._clusters], self.rng.integers(0, self.corpora, n))
        self.vectors[start : start + n] = vectors
        self.corpus[start : start + n] = corpus
        return [
            ChunkPoint(
                chunk_id=str(uuid.UUID(int=start + i + 1)),
                vector=tuple(vectors[i].tolist()),
                payload={
                    "corpus_id": f"corpus-{corpus[i]}",
                    "document_id": f"doc-{(start + i) // CHUNKS_PER_DOCUMENT}",
                    "document_version": 1,
                    "embedding_weights_sha256": WEIGHTS,
                },
            )
            for i in range(n)
        ]


def exact_top(data: Data, query: np.ndarray, corpora: np.ndarray, k: int) -> set[str]:
    rows = np.flatnonzero(np.isin(data.corpus, corpora))
    scores = data.vectors[rows] @ query
    best = rows[np.argsort(-scores)[:k]]
    return {str(uuid.UUID(int=int(i) + 1)) for i in best}


def timed_searches(
    store: EdgeVectorStore, queries: list[tuple[np.ndarray, np.ndarray]], k: int
) -> tuple[list[float], list[set[str]]]:
    seconds: list[float] = []
    found: list[set[str]] = []
    for vector, corpora in queries:
        started = time.perf_counter()
        hits = store.search(
            PARTITION,
            vector.tolist(),
            corpus_ids=[f"corpus-{c}" for c in corpora],
            limit=k,
            weights_sha256=WEIGHTS,
        )
        seconds.append(time.perf_counter() - started)
        found.append({hit.chunk_id for hit in hits})
    return seconds, found


# Search settings to compare with the store's defaults on the same graph (`--compare`).
SEARCH_SETTINGS: dict[str, dict[str, Any]] = {
    "one_search": {"split_max_corpora": 0},  # the grant's corpora in one filtered search, ACORN on
    "one_search_ef_512": {"split_max_corpora": 0, "hnsw_ef": 512},
    "one_search_no_acorn": {"split_max_corpora": 0, "acorn_max_selectivity": None},  # the engine alone
}


def searched(
    store: EdgeVectorStore, queries: list[tuple[np.ndarray, np.ndarray]], exact: list[set[str]], k: int
) -> dict[str, Any]:
    """Latency and recall@10 of the queries on `store` (after a warm-up that pages the graph in)."""
    timed_searches(store, queries[:20], k)
    seconds, found = timed_searches(store, queries, k)
    recalls = np.array([len(f & e) / len(e) for f, e in zip(found, exact, strict=True)])
    return {
        **ms_summary(seconds, digits=2),
        "recall_at_10": round(float(recalls.mean()), 4),
        "recall_at_10_min": round(float(recalls.min()), 2),
        "queries_with_recall_below_0_8": int((recalls < 0.8).sum()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--noise", type=float, default=1.0, help="noise scale relative to the centres'")
    parser.add_argument("--corpora", type=int, default=50)
    parser.add_argument("--topical", type=float, default=0.5, help="share of points in their topic's corpus")
    parser.add_argument("--filter-corpora", type=int, default=3, help="corpora each query may read")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--plain-queries", type=int, default=50, help="timed before optimize (0: skip)")
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--dir", default="/tmp", help="where the temporary store goes")
    parser.add_argument(
        "--compare",
        nargs="*",
        default=[],
        choices=sorted(SEARCH_SETTINGS),
        help="also search the same graph with these settings (the store's defaults: a search per corpus for "
        "grants of up to 8, ACORN on, the engine's ef)",
    )
    args = parser.parse_args()
    k = 10

    data = Data(args)
    work = Path(tempfile.mkdtemp(prefix="govrag-scale-", dir=args.dir))
    result: dict[str, Any] = {
        "points": args.points,
        "dimension": DIM,
        "clusters": args.clusters,
        "noise": args.noise,
        "corpora": args.corpora,
        "topical": args.topical,
        "filter_corpora": args.filter_corpora,
        "cpus": os.cpu_count(),
        "load_average_start": round(os.getloadavg()[0], 2),
    }
    store = EdgeVectorStore(work / "qdrant")
    try:
        store.ensure_partition(PARTITION, DIM)
        started = time.perf_counter()
        for start in range(0, args.points, args.batch):
            store.upsert(PARTITION, data.batch(start, min(args.batch, args.points - start)))
        result["load_s"] = round(time.perf_counter() - started, 1)
        result["stored_points"] = store.count(PARTITION)

        queries = [
            (vector, data.rng.choice(args.corpora, args.filter_corpora, replace=False))
            for vector in data.sample(args.queries)
        ]
        exact = [exact_top(data, vector, corpora, k) for vector, corpora in queries]
        filtered = [int(np.isin(data.corpus, corpora).sum()) for _, corpora in queries[:20]]
        result["points_per_filter_mean"] = int(np.mean(filtered))

        if args.plain_queries:
            timed_searches(store, queries[:5], k)  # warm-up
            seconds, _ = timed_searches(store, queries[: args.plain_queries], k)
            result["before_optimize"] = ms_summary(seconds, digits=2)

        result["load_average_before_optimize"] = round(os.getloadavg()[0], 2)
        started = time.perf_counter()
        store.optimize(PARTITION)
        result["optimize_s"] = round(time.perf_counter() - started, 1)
        info = store._shards[PARTITION].info()  # the engine's own view: every vector in a graph?
        result["segments"] = info.segments_count
        result["indexed_vectors"] = info.indexed_vectors_count

        result["load_average_before_search"] = round(os.getloadavg()[0], 2)
        result["after_optimize"] = searched(store, queries, exact, k)
        result["targets"] = {
            "p95_below_25_ms": result["after_optimize"]["p95_ms"] < 25,
            "recall_at_10_at_least_0_95": result["after_optimize"]["recall_at_10"] >= 0.95,
        }
        result["store_mib"] = round(sum(f.stat().st_size for f in work.rglob("*") if f.is_file()) / 2**20)
        # The same graph searched with other settings: the store reopened with each, same queries.
        compared: dict[str, Any] = {}
        for name in args.compare:
            store.close()
            store = EdgeVectorStore(work / "qdrant", **SEARCH_SETTINGS[name])
            compared[name] = searched(store, queries, exact, k)
        if compared:
            result["compared"] = compared
        result["load_average_end"] = round(os.getloadavg()[0], 2)
        result["max_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    finally:
        store.close()
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
