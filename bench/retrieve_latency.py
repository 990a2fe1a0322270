"""`/retrieve` latency over HTTP at 10k and 100k chunks, beside the bare cost of the same search.

    .venv/bin/python bench/retrieve_latency.py
    .venv/bin/python bench/retrieve_latency.py --sizes 10000 --requests 100   # a quick run
    .venv/bin/python bench/retrieve_latency.py --sizes 10000 --real-docs 100 --bare 20 --why-cost 150 \
        --skip-http                                       # what recording each chunk's "why" costs
    .venv/bin/python bench/retrieve_latency.py --query-backends torch onnx     # both query encoders

One partition (`eu.internal`) holds two approved corpora a reader may read: `--real-docs` SciFact abstracts
(../shared/data/scifact) ingested through the real pipeline (parsing, chunking, PII masking, the
all-MiniLM-L6-v2 embedder, BM25 vectors), and a synthetic corpus that fills the partition up to each size.
Synthetic chunks sit where real ones do: each dense vector is the embedding of a random SciFact abstract plus
gaussian noise (normalized), and its text (hence its BM25 vector) is 60 words drawn from SciFact's
vocabulary. After each fill the partition is optimized, as an ingestion job does.

For each size, in this order:

* bare: `embed_query` + one `search` of the store (qdrant-edge, the same index, the service's default mode
  and filter: both corpora, the model's weights), in this process: no HTTP, no policy, no masking, no audit;
  and the query model's CPU per query when 16 share a forward pass.
* breakdown: `RetrievalService.retrieve` in this process, each step timed (query masking for the log, the
  HMAC, the policy plan, the embedding, the store search, the audit write).
* why_cost (`--why-cost N`): `RetrievalService.retrieve` in this process, N queries each answered twice, with
  and without recording why each chunk was selected (`retrieval.explain`: the stores' per-ranking ranks,
  the fusion done beside them, the reasons in every audited chunk), in alternating order; p95 of both and
  their ratio. Over HTTP (unless `--skip-http`): the same N queries each sent to two servers, one with
  `GOVRAG_RETRIEVAL__RECORD_WHY=false` on a copy of the data directory, in alternating order.
* http (unless `--skip-http`): `govrag serve` as a subprocess on the same data directory (SQLite audit
  store, the real models), `--requests` `/retrieve` calls (SciFact queries, top_k 10) at each of
  `--concurrency`, with the CPU the server, its PII helpers and this client used per answer. At concurrency
  1 each call is paired with a bare search of the same query on a copy of the index, so that the ratio's
  two sides come from the same minutes.

Bare, breakdown and http run once per `--query-backends` (`GOVRAG_EMBEDDING__QUERY_BACKEND`: the torch
model or its ONNX export, `retrieval.onnx_query`) on the same index, one after the other; the bare search
then embeds with that same encoder.

Prints one JSON object with p50/p95/p99 and throughput per (size, backend, concurrency), and the targets: p95
at concurrency 1 within 1.5x the paired bare p95, and p95 at concurrency 16 on 100k chunks within 150 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness import ms_summary as summary  # noqa: E402
from harness import process_tree_cpu_s, service_process, timed  # noqa: E402

from govrag.evaluation.beir import load_corpus, load_queries  # noqa: E402
from govrag.runtime import Runtime, build_runtime  # noqa: E402
from retrieval.catalog import CorpusSpec  # noqa: E402
from retrieval.domain import ChunkPoint, Principal, SearchMode, Sensitivity  # noqa: E402
from retrieval.embedding import load_embedder  # noqa: E402
from retrieval.identity import hash_api_key  # noqa: E402
from retrieval.onnx_query import load_query_embedder  # noqa: E402
from retrieval.protocols import Embedder, VectorStore  # noqa: E402
from retrieval.settings import EmbeddingSettings, Settings  # noqa: E402
from retrieval.vectorstore.edge import EdgeVectorStore  # noqa: E402

SCIFACT = REPO.parent / "shared" / "data" / "scifact"
PARTITION = "eu.internal"
TOP_K = 10
READER = Principal(
    "bench-reader", frozenset({"reader"}), clearance=Sensitivity.internal, regions=frozenset({"eu"})
)


class BareSearch:
    """The bare cost of one query: `embed_query` + one `search` (the service's default mode and filter: both
    corpora, the model's weights), no HTTP, no policy, no masking, no audit. Returns the seconds of each."""

    def __init__(self, store: VectorStore, runtime: Runtime, mode: SearchMode, embedder: Embedder) -> None:
        self.store = store
        self.embedder = embedder
        self.sparse = runtime.retrieval._sparse
        self.corpora = [ref.id for ref in runtime.catalog.refs()]
        self.mode = mode
        self.candidates = runtime.settings.retrieval.hybrid_candidates

    def on(self, store: VectorStore) -> BareSearch:
        other = copy.copy(self)
        other.store = store
        return other

    def __call__(self, query: str) -> tuple[float, float]:
        started = time.perf_counter()
        vector = self.embedder.embed_query(query)
        embedded = time.perf_counter()
        self.store.search(
            PARTITION,
            vector,
            corpus_ids=self.corpora,
            limit=TOP_K,
            weights_sha256=self.embedder.weights_sha256,
            mode=self.mode,
            sparse=self.sparse.encode_query(query) if self.mode is not SearchMode.dense else None,
            candidates=self.candidates,
        )
        return embedded - started, time.perf_counter() - embedded


class Paired:
    """A bare search run beside each HTTP request, with the seconds and CPU it took."""

    def __init__(self, search: BareSearch) -> None:
        self.search = search
        self.seconds: list[float] = []
        self.cpu_s = 0.0
        self.wall_s = 0.0

    def __call__(self, query: str) -> None:
        cpu, wall = _cpu_s(), time.perf_counter()
        embedded, searched = self.search(query)
        self.cpu_s += _cpu_s() - cpu
        self.wall_s += time.perf_counter() - wall
        self.seconds.append(embedded + searched)


def _cpu_s() -> float:
    """CPU seconds this process has used, every thread included."""
    times = os.times()
    return times.user + times.system


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.rng = np.random.default_rng(args.seed)
        self.documents = load_corpus(args.scifact)
        queries = list(load_queries(args.scifact / "queries.jsonl").values())
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

    def bare(self, runtime: Runtime, search: BareSearch) -> dict[str, Any]:
        service = runtime.retrieval
        embed_s: list[float] = []
        search_s: list[float] = []
        total_s: list[float] = []
        mask_s: list[float] = []
        for n, query in enumerate(self.queries[: self.args.bare + 10]):
            embedded, searched = search(query)
            masking = time.perf_counter()
            service._masker.mask(query)
            masked = time.perf_counter()
            if n >= 10:  # the first ten warm the model, the graph and the caches
                embed_s.append(embedded)
                search_s.append(searched)
                total_s.append(embedded + searched)
                mask_s.append(masked - masking)
        return {
            "embed_plus_search": summary(total_s),
            "embed": summary(embed_s),
            "search": summary(search_s),
            "query_masking_alone": summary(mask_s),
            "embedding_cpu_batched": self.embedding_cpu(search.embedder),
        }

    def embedding_cpu(self, embedder: Any, batch: int = 16, rounds: int = 8) -> dict[str, Any]:
        """CPU per query when `batch` queries share one forward pass (the service's best case under
        concurrency), and what that alone allows on this machine's cores."""
        queries = self.queries[: batch * (rounds + 1)]
        embedder._encode_queries(queries[:batch])  # warm
        started, wall = _cpu_s(), time.perf_counter()
        for n in range(1, rounds + 1):
            embedder._encode_queries(queries[n * batch : (n + 1) * batch])
        cpu_ms = (_cpu_s() - started) / (batch * rounds) * 1000
        cores = os.cpu_count() or 1
        max_rps = cores * 1000 / cpu_ms
        return {
            "batch": batch,
            "cpu_ms_per_query": round(cpu_ms, 1),
            "wall_ms_per_batch": round((time.perf_counter() - wall) / rounds * 1000, 1),
            "max_answers_per_s_for_embedding_alone": round(max_rps, 1),
            "c16_mean_latency_floor_ms_for_embedding_alone": round(16 / max_rps * 1000, 1),
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

    def why_cost(self, runtime: Runtime, mode: SearchMode) -> dict[str, Any]:
        """Each query answered with and without recording why each chunk was selected, alternately first."""
        service = runtime.retrieval
        seconds: dict[bool, list[float]] = {True: [], False: []}
        # The process's CPU time too: on a shared machine the wall-clock p95 moves with the neighbours' load,
        # the CPU an answer costs much less.
        cpu: dict[bool, list[float]] = {True: [], False: []}
        try:
            for n, query in enumerate(self.queries[: self.args.why_cost + 10]):
                for record in (True, False) if n % 2 == 0 else (False, True):
                    service._record_why = record
                    started, cpu_started = time.perf_counter(), time.process_time()
                    service.retrieve(READER, query, TOP_K, mode=mode)
                    if n >= 10:  # the first ten warm up
                        seconds[record].append(time.perf_counter() - started)
                        cpu[record].append(time.process_time() - cpu_started)
        finally:
            service._record_why = True
        with_why, without = summary(seconds[True]), summary(seconds[False])
        cpu_with, cpu_without = summary(cpu[True]), summary(cpu[False])
        return {
            "with_why": with_why,
            "without_why": without,
            "p95_with_over_without": round(with_why["p95_ms"] / without["p95_ms"], 3),
            "p50_with_over_without": round(with_why["p50_ms"] / without["p50_ms"], 3),
            "cpu_with_why": cpu_with,
            "cpu_without_why": cpu_without,
            "cpu_mean_with_over_without": round(cpu_with["mean_ms"] / cpu_without["mean_ms"], 3),
        }

    def http_why_cost(self) -> dict[str, Any]:
        """`--why-cost` queries over HTTP, each sent to two servers, one recording the why and one not
        (`GOVRAG_RETRIEVAL__RECORD_WHY`), in alternating order. The second serves a copy of the data
        directory (one process at a time may open a shard), so both sides come from the same minutes."""
        copied = self.work / "data-without-why"
        shutil.copytree(self.work / "data", copied)
        without_env = {**self.env, "GOVRAG_DATA_DIR": str(copied), "GOVRAG_RETRIEVAL__RECORD_WHY": "false"}
        seconds: dict[bool, list[float]] = {True: [], False: []}
        headers = {"Authorization": f"Bearer {self.key}"}
        try:
            with (
                service_process(self.env, self.work / "service-why.log") as (with_url, _),
                service_process(without_env, self.work / "service-without-why.log") as (without_url, _),
                httpx.Client(timeout=120, headers=headers) as client,
            ):
                urls = {True: with_url, False: without_url}
                for n, query in enumerate(self.queries[: self.args.why_cost + 10]):
                    for record in (True, False) if n % 2 == 0 else (False, True):
                        started = time.perf_counter()
                        response = client.post(
                            f"{urls[record]}/retrieve", json={"query": query, "top_k": TOP_K}
                        )
                        elapsed = time.perf_counter() - started
                        response.raise_for_status()
                        if n >= 10:  # the first ten warm up
                            seconds[record].append(elapsed)
        finally:
            shutil.rmtree(copied, ignore_errors=True)
        with_why, without = summary(seconds[True]), summary(seconds[False])
        return {
            "with_why": with_why,
            "without_why": without,
            "p95_with_over_without": round(with_why["p95_ms"] / without["p95_ms"], 3),
            "p50_with_over_without": round(with_why["p50_ms"] / without["p50_ms"], 3),
        }

    def http(self, bare: BareSearch, backend: str) -> dict[str, Any]:
        """Each concurrency level over HTTP. At concurrency 1 every request is paired with a bare search of
        the same query on a copy of the index in this process, in alternating order, so that both sides of
        the ratio are measured in the same minutes of this shared machine. Each level also reports the CPU
        the server (with its helper processes) and this client used per answer.

        With `--server-env`, a second server with those settings serves a copy of the data directory, and
        each level runs on both, one after the other (which goes first alternates by level): its levels are
        reported as `c16_server_env` and so on."""
        results: dict[str, Any] = {}
        env = {**self.env, "GOVRAG_EMBEDDING__QUERY_BACKEND": backend}
        servers = [("", env)]
        copied = self.work / "data-server-env"
        if self.args.server_env:
            shutil.copytree(self.work / "data", copied)
            servers.append(("_server_env", {**env, **self.args.server_env, "GOVRAG_DATA_DIR": str(copied)}))
        try:
            with contextlib.ExitStack() as stack:
                running = []
                for suffix, server_env in servers:
                    url, pid = stack.enter_context(
                        service_process(server_env, self.work / f"service{suffix}.log")
                    )
                    asyncio.run(self.drive(url, 1, 20))  # warm-up
                    running.append((suffix, url, pid))
                for _ in range(10):
                    bare(self.queries[0])
                for n, concurrency in enumerate(self.args.concurrency):
                    for suffix, url, pid in running if n % 2 == 0 else running[::-1]:
                        results[f"c{concurrency}{suffix}"] = self.level(url, pid, concurrency, bare)
        finally:
            shutil.rmtree(copied, ignore_errors=True)
        return results

    def level(self, url: str, pid: int, concurrency: int, bare: BareSearch) -> dict[str, Any]:
        load = os.getloadavg()[0]
        pair = Paired(bare) if concurrency == 1 else None
        server_cpu, client_cpu = process_tree_cpu_s(pid), _cpu_s()
        started = time.perf_counter()
        latencies, statuses = asyncio.run(self.drive(url, concurrency, self.args.requests, pair))
        elapsed = time.perf_counter() - started
        server_cpu = process_tree_cpu_s(pid) - server_cpu
        client_cpu = _cpu_s() - client_cpu - (pair.cpu_s if pair is not None else 0.0)
        answers = max(1, len(latencies))
        per_answer = (server_cpu + client_cpu) / answers
        cores = os.cpu_count() or 1
        level: dict[str, Any] = {
            **summary(latencies),
            "throughput_rps": round(
                len(latencies) / (elapsed - (pair.wall_s if pair is not None else 0.0)), 1
            ),
            "statuses": {str(k): v for k, v in sorted(statuses.items())},
            "load_average_before": round(load, 2),
            "cpu_ms_per_answer": {
                "server_and_helpers": round(server_cpu / answers * 1000, 1),
                "client": round(client_cpu / answers * 1000, 1),
            },
            # With every core busy, answers/s cannot exceed cores / CPU per answer; by Little's law the mean
            # latency at this concurrency is then at least concurrency / that rate.
            "cpu_bound_answers_per_s": round(cores / per_answer, 1),
        }
        if concurrency > 1:
            level["mean_latency_floor_ms"] = round(concurrency * per_answer / cores * 1000, 1)
        if pair is not None:
            level["paired_bare"] = summary(pair.seconds)
        return level

    async def drive(
        self, url: str, concurrency: int, total: int, pair: Callable[[str], None] | None = None
    ) -> tuple[list[float], Counter[int]]:
        """`total` requests from `concurrency` workers; `pair` (concurrency 1 only) runs beside each
        request on the same query, before it on even requests and after it on odd ones."""
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
                    if pair is not None and issued % 2 == 0:
                        pair(query)
                    started = time.perf_counter()
                    response = await client.post("/retrieve", json={"query": query, "top_k": TOP_K})
                    elapsed = time.perf_counter() - started
                    if pair is not None and issued % 2 == 1:
                        pair(query)
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
    parser.add_argument(
        "--why-cost",
        type=int,
        default=0,
        help="queries answered with and without the why, in process and over HTTP (0: not measured)",
    )
    parser.add_argument("--skip-http", action="store_true", help="no HTTP measurement")
    parser.add_argument("--scifact", type=Path, default=SCIFACT, help="the BEIR SciFact directory")
    parser.add_argument(
        "--query-backends", nargs="+", choices=["torch", "onnx"], default=["onnx"], help="query encoders"
    )
    parser.add_argument(
        "--server-env",
        nargs="+",
        default=[],
        metavar="NAME=VALUE",
        help="a second server with these settings, measured beside the default one at each level "
        "(e.g. GOVRAG_AUDIT__GROUP_COMMIT=false)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    try:
        args.server_env = dict(item.split("=", 1) for item in args.server_env)
    except ValueError:
        parser.error("--server-env takes NAME=VALUE pairs")
    if not (args.scifact / "corpus.jsonl").is_file():
        raise SystemExit(f"SciFact is not at {args.scifact}")

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
                documents = load_embedder(bench.settings.embedding_batch_size)
                encoders: dict[str, Embedder] = {
                    backend: load_query_embedder(
                        documents,
                        EmbeddingSettings(query_backend=backend),
                        bench.settings.model_cache_dir,
                    )
                    for backend in args.query_backends
                }
                searches: dict[str, BareSearch] = {}
                service = runtime.retrieval
                configured = service._embedder
                for backend, encoder in encoders.items():
                    entry[backend] = {"load_average_before_bare": round(os.getloadavg()[0], 2)}
                    searches[backend] = BareSearch(runtime.store, runtime, mode, encoder)
                    entry[backend]["bare"] = bench.bare(runtime, searches[backend])
                    service._embedder = encoder
                    try:
                        entry[backend]["breakdown"] = bench.breakdown(runtime, mode)
                    finally:
                        service._embedder = configured
                if args.why_cost:
                    entry["why_cost"] = bench.why_cost(runtime, mode)
            finally:
                runtime.close()  # the service process opens the same shard next
            if args.skip_http:
                result[f"size_{size}"] = entry
                continue
            # The paired bare searches run on a copy: one process at a time may open a shard.
            copied = work / f"bare-qdrant-{size}"
            shutil.copytree(bench.settings.qdrant_dir, copied)
            bare_store = EdgeVectorStore(copied)
            try:
                for backend, search in searches.items():
                    entry[backend]["http"] = bench.http(search.on(bare_store), backend)
            finally:
                bare_store.close()
                shutil.rmtree(copied, ignore_errors=True)
            if args.why_cost:
                entry["why_cost_http"] = bench.http_why_cost()
            for backend in searches:
                if "c1" in entry[backend]["http"]:
                    c1 = entry[backend]["http"]["c1"]
                    # The target: both sides from the same minutes (the paired run).
                    entry[backend]["c1_p95_over_bare_p95"] = round(
                        c1["p95_ms"] / c1["paired_bare"]["p95_ms"], 2
                    )
                    entry[backend]["c1_p95_over_bare_p95_measured_before"] = round(
                        c1["p95_ms"] / entry[backend]["bare"]["embed_plus_search"]["p95_ms"], 2
                    )
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
