"""`/retrieve` latency over HTTP at 10k and 100k chunks, beside the bare cost of the same search.

    .venv/bin/python bench/retrieve_latency.py
    .venv/bin/python bench/retrieve_latency.py --sizes 10000 --requests 100   # a quick run

One partition (`eu.internal`) holds two approved corpora a reader may read: `--real-docs` SciFact abstracts
(../shared/data/scifact) ingested through the real pipeline (parsing, chunking, PII masking, the
all-MiniLM-L6-v2 embedder, BM25 vectors), and a synthetic corpus that fills the partition up to each size.
Synthetic chunks sit where real ones do: each dense vector is the embedding of a random SciFact abstract plus
gaussian noise (normalized), and its text (hence its BM25 vector) is 60 words drawn from SciFact's
vocabulary. After each fill the partition is optimized, as an ingestion job does.

For each size, in this order:

* bare: `embed_query` + one `search` of the store (qdrant-edge, the same index, the service's default mode
  and filter: both corpora, the model's weights), in this process: no HTTP, no policy, no masking, no audit.
* breakdown: `RetrievalService.retrieve` in this process, each step timed (query masking for the log, the
  HMAC, the policy plan, the embedding, the store search, the audit write).
* http: `govrag serve` as a subprocess on the same data directory (SQLite audit store, the real models),
  `--requests` `/retrieve` calls (SciFact queries, top_k 10) at each of `--concurrency`.

Prints one JSON object with p50/p95/p99 and throughput per (size, concurrency), and the targets: p95 at
concurrency 1 within 1.5x the bare p95, and p95 at concurrency 16 on 100k chunks within 150 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import secrets
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness import ms_summary as summary  # noqa: E402
from harness import running_service, timed  # noqa: E402

from retrieval.catalog import CorpusSpec  # noqa: E402
from retrieval.domain import ChunkPoint, Principal, SearchMode, Sensitivity  # noqa: E402
from retrieval.evaluation.beir import load_corpus, load_queries  # noqa: E402
from retrieval.identity import hash_api_key  # noqa: E402
from retrieval.runtime import Runtime, build_runtime  # noqa: E402
from retrieval.settings import Settings  # noqa: E402

SCIFACT = REPO.parent / "shared" / "data" / "scifact"
PARTITION = "eu.internal"
TOP_K = 10
READER = Principal(
    "bench-reader", frozenset({"reader"}), clearance=Sensitivity.internal, regions=frozenset({"eu"})
)


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.rng = np.random.default_rng(args.seed)
        self.documents = load_corpus(SCIFACT)
        queries = list(load_queries(SCIFACT / "queries.jsonl").values())
        random.Random(args.seed).shuffle(queries)
        self.queries = queries
        words = re.findall(r"[A-Za-z][a-z]{2,}", " ".join(d.text for d in self.documents[:3000]))
        self.vocabulary = np.array(words)
        self.sources = work / "sources"
        self.key = secrets.token_urlsafe(32)
        principals = [
            {
                "id": READER.id,
                "roles": ["reader"],
                "clearance": "internal",
                "regions": ["eu"],
                "api_key_sha256": hash_api_key(self.key),
            }
        ]
        (work / "principals.yaml").write_text(yaml.safe_dump({"principals": principals}))
        self.env = {
            "GOVRAG_DATA_DIR": str(work / "data"),
            "GOVRAG_SOURCE_ROOTS": json.dumps([str(self.sources)]),
            "GOVRAG_PRINCIPALS_FILE": str(work / "principals.yaml"),
            "GOVRAG_LOG_LEVEL": "WARNING",
        }
        self.settings = Settings(
            data_dir=work / "data", source_roots=[self.sources], principals_file=work / "principals.yaml"
        )
        self.synthetic_id = ""
        self.centres: np.ndarray | None = None
        self.synthetic_written = 0

    # -- the index -------------------------------------------------------------------------------------------

    def ingest_real(self, runtime: Runtime) -> dict[str, Any]:
        real = self.sources / "scifact"
        real.mkdir(parents=True)
        for document in self.documents[: self.args.real_docs]:
            (real / f"{document.id}.txt").write_text(
                f"{document.title}\n\n{document.text}\n", encoding="utf-8"
            )
        filler = self.sources / "synthetic"
        filler.mkdir()
        (filler / "readme.txt").write_text("Synthetic chunks, written by the latency benchmark.\n")
        ids = {}
        for name, directory in (("scifact", real), ("synthetic", filler)):
            row = runtime.catalog.register(
                CorpusSpec(name, "eu", Sensitivity.internal, str(directory)), "bench-steward"
            )
            runtime.catalog.approve(row.id, "bench-steward")
            ids[name] = row.id
        self.synthetic_id = ids["synthetic"]
        started = time.perf_counter()
        chunks = {}
        for name, corpus_id in ids.items():
            job = runtime.catalog.create_job(corpus_id, "bench-steward")
            runtime.jobs.submit(job.id)
            runtime.jobs.wait(job.id, timeout=3600)
            finished = runtime.catalog.get_job(job.id)
            if finished.status != "succeeded":
                raise SystemExit(f"ingesting {name} failed: {finished.detail}")
            chunks[name] = finished.chunks_written
        sample = [d.full_text for d in self.documents[: self.args.real_docs]]
        picked = self.rng.choice(len(sample), min(200, len(sample)), replace=False)
        self.centres = np.array(runtime.retrieval._embedder.embed_documents([sample[i] for i in picked]))
        return {"real_chunks": chunks["scifact"], "ingest_s": round(time.perf_counter() - started, 1)}

    def fill(self, runtime: Runtime, size: int) -> dict[str, Any]:
        """Synthetic chunks until the partition holds `size`, then optimize it."""
        assert self.centres is not None
        store, embedder = runtime.store, runtime.retrieval._embedder
        sparse = runtime.retrieval._sparse
        missing = size - store.count(PARTITION)
        started = time.perf_counter()
        document = f"synthetic-{uuid.uuid4()}"
        while missing > 0:
            n = min(2000, missing)
            vectors = self.centres[self.rng.integers(0, len(self.centres), n)]
            vectors = vectors + self.rng.normal(scale=self.args.noise / np.sqrt(384), size=vectors.shape)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            texts = [" ".join(self.rng.choice(self.vocabulary, 60)) for _ in range(n)]
            points = []
            for i, (vector, text, keywords) in enumerate(
                zip(vectors, texts, sparse.encode_documents(texts), strict=True)
            ):
                ordinal = self.synthetic_written + i
                points.append(
                    ChunkPoint(
                        chunk_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{document}/{ordinal}")),
                        vector=tuple(vector.tolist()),
                        payload={
                            "document_id": f"{document}-{ordinal // 8}",
                            "corpus_id": self.synthetic_id,
                            "source_uri": f"synthetic/{ordinal // 8}.txt",
                            "title": "synthetic",
                            "page": None,
                            "start_char": 0,
                            "end_char": len(text),
                            "ordinal": ordinal % 8,
                            "content_sha256": "0" * 64,
                            "document_version": 1,
                            "embedding_model": embedder.model_name,
                            "embedding_weights_sha256": embedder.weights_sha256,
                            "region": "eu",
                            "sensitivity": "internal",
                            "text": text,
                        },
                        sparse=keywords,
                    )
                )
            store.upsert(PARTITION, points)
            self.synthetic_written += n
            missing -= n
        written_s = time.perf_counter() - started
        started = time.perf_counter()
        store.optimize(PARTITION)
        return {
            "chunks": store.count(PARTITION),
            "fill_s": round(written_s, 1),
            "optimize_s": round(time.perf_counter() - started, 1),
        }

    # -- measurements ----------------------------------------------------------------------------------------

    def bare(self, runtime: Runtime, mode: SearchMode) -> dict[str, Any]:
        service, store = runtime.retrieval, runtime.store
        embedder, sparse = service._embedder, service._sparse
        corpora = [ref.id for ref in runtime.catalog.refs()]
        embed_s: list[float] = []
        search_s: list[float] = []
        total_s: list[float] = []
        mask_s: list[float] = []
        for n, query in enumerate(self.queries[: self.args.bare + 10]):
            started = time.perf_counter()
            vector = embedder.embed_query(query)
            embedded = time.perf_counter()
            store.search(
                PARTITION,
                vector,
                corpus_ids=corpora,
                limit=TOP_K,
                weights_sha256=embedder.weights_sha256,
                mode=mode,
                sparse=sparse.encode_query(query) if mode is not SearchMode.dense else None,
                candidates=runtime.settings.retrieval.hybrid_candidates,
            )
            done = time.perf_counter()
            masking = time.perf_counter()
            service._masker.mask(query)
            masked = time.perf_counter()
            if n >= 10:  # the first ten warm the model, the graph and the caches
                embed_s.append(embedded - started)
                search_s.append(done - embedded)
                total_s.append(done - started)
                mask_s.append(masked - masking)
        return {
            "embed_plus_search": summary(total_s),
            "embed": summary(embed_s),
            "search": summary(search_s),
            "query_masking_alone": summary(mask_s),
        }

    def breakdown(self, runtime: Runtime, mode: SearchMode) -> dict[str, Any]:
        service = runtime.retrieval
        steps: dict[str, list[float]] = {
            "mask_query_for_log": [],
            "fingerprint": [],
            "policy_plan": [],
            "embed_query": [],
            "store_search": [],
            "audit_record": [],
        }
        originals = (
            service._masker,
            service._audit.fingerprint,
            service._planner.plan,
            service._embedder,
            service._store,
            service._audit.record,
        )

        class Timed:
            def __init__(self, inner: Any, method: str, record: list[float]) -> None:
                self._inner, self._method, self._record = inner, method, record

            def __getattr__(self, name: str) -> Any:
                value = getattr(self._inner, name)
                return timed(self._record, value) if name == self._method else value

        service._masker = Timed(service._masker, "mask", steps["mask_query_for_log"])  # type: ignore[assignment]
        service._audit.fingerprint = timed(steps["fingerprint"], service._audit.fingerprint)  # type: ignore[method-assign]
        service._planner.plan = timed(steps["policy_plan"], service._planner.plan)  # type: ignore[method-assign]
        service._embedder = Timed(service._embedder, "embed_query", steps["embed_query"])  # type: ignore[assignment]
        service._store = Timed(service._store, "search", steps["store_search"])  # type: ignore[assignment]
        service._audit.record = timed(steps["audit_record"], service._audit.record)  # type: ignore[method-assign]
        total: list[float] = []
        try:
            for n, query in enumerate(self.queries[: self.args.bare + 10]):
                started = time.perf_counter()
                service.retrieve(READER, query, TOP_K, mode=mode)
                if n == 9:
                    for record in steps.values():
                        record.clear()
                elif n > 9:
                    total.append(time.perf_counter() - started)
        finally:
            (
                service._masker,
                service._audit.fingerprint,
                service._planner.plan,
                service._embedder,
                service._store,
                service._audit.record,
            ) = originals  # type: ignore[method-assign]
        result = {name: summary(values) for name, values in steps.items()}
        result["retrieve_total"] = summary(total)
        result["searches_per_retrieve"] = round(len(steps["store_search"]) / max(1, len(total)), 2)
        return result

    def http(self) -> dict[str, Any]:
        results: dict[str, Any] = {}
        with running_service(self.env, self.work / "service.log") as url:
            asyncio.run(self.drive(url, 1, 20))  # warm-up
            for concurrency in self.args.concurrency:
                load = os.getloadavg()[0]
                started = time.perf_counter()
                latencies, statuses = asyncio.run(self.drive(url, concurrency, self.args.requests))
                elapsed = time.perf_counter() - started
                results[f"c{concurrency}"] = {
                    **summary(latencies),
                    "throughput_rps": round(len(latencies) / elapsed, 1),
                    "statuses": {str(k): v for k, v in sorted(statuses.items())},
                    "load_average_before": round(load, 2),
                }
        return results

    async def drive(self, url: str, concurrency: int, total: int) -> tuple[list[float], Counter[int]]:
        latencies: list[float] = []
        statuses: Counter[int] = Counter()
        issued = 0
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        headers = {"Authorization": f"Bearer {self.key}"}
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120, headers=headers) as client:

            async def worker() -> None:
                nonlocal issued
                while issued < total:
                    query = self.queries[issued % len(self.queries)]
                    issued += 1
                    started = time.perf_counter()
                    response = await client.post("/retrieve", json={"query": query, "top_k": TOP_K})
                    elapsed = time.perf_counter() - started
                    statuses[response.status_code] += 1
                    if response.status_code == 200:
                        latencies.append(elapsed)

            await asyncio.gather(*(worker() for _ in range(concurrency)))
        return latencies, statuses


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 16, 32])
    parser.add_argument("--requests", type=int, default=300, help="per concurrency level")
    parser.add_argument("--bare", type=int, default=200, help="queries timed in process (bare, breakdown)")
    parser.add_argument("--real-docs", type=int, default=1000, help="SciFact abstracts ingested for real")
    parser.add_argument("--noise", type=float, default=0.6, help="norm of a synthetic vector's noise")
    parser.add_argument("--mode", choices=[m.value for m in SearchMode], default=None)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    if not (SCIFACT / "corpus.jsonl").is_file():
        raise SystemExit(f"SciFact is not at {SCIFACT}")

    work = Path(tempfile.mkdtemp(prefix="govrag-latency-"))
    bench = Bench(args, work)
    result: dict[str, Any] = {"cpus": os.cpu_count(), "load_average_start": round(os.getloadavg()[0], 2)}
    try:
        for n, size in enumerate(sorted(args.sizes)):
            runtime = build_runtime(bench.settings)
            try:
                mode = SearchMode(args.mode) if args.mode else runtime.retrieval.default_mode
                result["mode"] = mode.value
                if n == 0:
                    result["real"] = bench.ingest_real(runtime)
                entry: dict[str, Any] = {"index": bench.fill(runtime, size)}
                entry["load_average_before_bare"] = round(os.getloadavg()[0], 2)
                entry["bare"] = bench.bare(runtime, mode)
                entry["breakdown"] = bench.breakdown(runtime, mode)
            finally:
                runtime.close()  # the service process opens the same shard next
            entry["http"] = bench.http()
            bare_p95 = entry["bare"]["embed_plus_search"]["p95_ms"]
            if "c1" in entry["http"]:
                entry["c1_p95_over_bare_p95"] = round(entry["http"]["c1"]["p95_ms"] / bare_p95, 2)
            result[f"size_{size}"] = entry
            print(json.dumps({f"size_{size}": entry}), file=sys.stderr)
        result["load_average_end"] = round(os.getloadavg()[0], 2)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            result["work_dir"] = str(work)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
