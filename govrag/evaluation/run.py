"""`govrag eval retrieval`: a BEIR data set through the real service, beside the bare model, in one run.

1. The corpus is written as one text file per document into a throw-away directory, registered and approved
   as a corpus, and ingested by the service's own pipeline (parsing, chunking, PII masking, embedding, BM25),
   into a throw-away data directory (SQLite, qdrant-edge), whatever GOVRAG_DATABASE_URL or
   GOVRAG_QDRANT_URL say.
2. Every query goes through `RetrievalService.retrieve`, the code behind `POST /retrieve`, as a reader
   cleared for the corpus, once per mode. The per-document cap is set to 1 and `top_k` to 100, so that an
   answer is a ranking of documents (each ranked by its best chunk) deep enough for Recall@100.
3. The same documents, unchunked and unmasked, are searched exactly by the bare embedding model (brute-force
   cosine) and by plain BM25, for reference.
"""

from __future__ import annotations

import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

import numpy as np
import yaml

from govrag.evaluation import baselines
from govrag.evaluation.beir import (
    DEFAULT_HOLDOUT_FRACTION,
    DEFAULT_SPLIT_SEED,
    SPLITS,
    BeirDocument,
    load_corpus,
    load_qrels,
    load_queries,
    select,
    split_of,
    write_documents,
)
from govrag.evaluation.metrics import evaluate
from retrieval.catalog import CorpusSpec
from retrieval.domain import SearchMode, Sensitivity, document_id_for
from retrieval.identity import hash_api_key
from retrieval.settings import Settings

__all__ = ["EvaluationRequest", "run_evaluation"]

TOP_K = 100
CORPUS_NAME = "beir-eval"
Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class EvaluationRequest:
    corpus: Path
    queries: Path
    qrels: Path
    limit_docs: int | None = None
    modes: tuple[SearchMode, ...] = tuple(SearchMode)
    baselines: bool = True
    work_dir: Path | None = None  # kept after the run when given; a temporary directory otherwise
    split: str = "all"  # "tune", "holdout" or "all" (all queries, reported also per side)
    split_seed: int = DEFAULT_SPLIT_SEED
    holdout_fraction: float = DEFAULT_HOLDOUT_FRACTION
    # Also report each ranking, per query (the BEIR document ids, best first): for scoring other subsets of
    # the queries (bench/fusion_tuning.py) without running them again.
    keep_rankings: bool = False


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_evaluation(
    request: EvaluationRequest, base: Settings, progress: Progress = _stderr
) -> dict[str, Any]:
    """Run the evaluation and return the report (JSON-serialisable). Raises `ValueError` for bad input."""
    documents, queries, qrels = select(
        load_corpus(request.corpus),
        load_queries(request.queries),
        load_qrels(request.qrels),
        request.limit_docs,
    )
    if request.split not in (*SPLITS, "all"):
        raise ValueError(f"split must be tune, holdout or all, got {request.split!r}")
    # The documents are chosen before the queries are split, so that every side of one slice searches the
    # same documents and their figures compare.
    sides = {q: split_of(q, request.split_seed, request.holdout_fraction) for q in queries}
    if request.split != "all":
        queries = {q: text for q, text in queries.items() if sides[q] == request.split}
        qrels = {q: grades for q, grades in qrels.items() if q in queries}
    if not qrels:
        raise ValueError("no query with text has a relevant document among the documents to index")
    progress(f"{len(documents)} documents, {len(queries)} judged queries")
    if request.work_dir is not None:
        request.work_dir.mkdir(parents=True, exist_ok=True)
        report = _run(request, base, request.work_dir, documents, queries, qrels, progress)
    else:
        with tempfile.TemporaryDirectory(prefix="govrag-eval-") as scratch:
            report = _run(request, base, Path(scratch), documents, queries, qrels, progress)
    return report


def _run(
    request: EvaluationRequest,
    base: Settings,
    root: Path,
    documents: list[BeirDocument],
    queries: dict[str, str],
    qrels: dict[str, dict[str, float]],
    progress: Progress,
) -> dict[str, Any]:
    from govrag.runtime import build_runtime

    source = root / "source"
    # Rewritten on every run (a reused work directory may hold another slice): files left from an earlier
    # run would otherwise stay in the index; unchanged ones hash the same and are not ingested again.
    shutil.rmtree(source, ignore_errors=True)
    ids_by_uri = write_documents(documents, source)
    keys = {"steward": secrets.token_urlsafe(24), "reader": secrets.token_urlsafe(24)}
    principals = root / "principals.yaml"
    principals.write_text(
        yaml.safe_dump(
            {
                "principals": [
                    {
                        "id": "eval-steward",
                        "api_key_sha256": hash_api_key(keys["steward"]),
                        "roles": ["steward"],
                    },
                    {
                        "id": "eval-reader",
                        "api_key_sha256": hash_api_key(keys["reader"]),
                        "roles": ["reader"],
                        "clearance": "internal",
                        "regions": ["eu"],
                    },
                ]
            }
        ),
        encoding="utf-8",
    )
    settings = base.model_copy(
        update={
            "data_dir": root / "data",
            "database_url": None,
            "qdrant_url": None,
            "source_roots": [source],
            "principals_file": principals,
            "auto_migrate": True,
            "retrieval": base.retrieval.model_copy(update={"max_chunks_per_document": 1}),
        }
    )
    runtime = build_runtime(settings)
    try:
        steward = runtime.principals.authenticate(f"Bearer {keys['steward']}")
        reader = runtime.principals.authenticate(f"Bearer {keys['reader']}")
        # A kept work directory is reused: its corpus is ingested again, incrementally (unchanged documents
        # are skipped), so a second run over the same data costs only the queries.
        existing = {row.name: row for row in runtime.catalog.corpora()}
        corpus = existing.get(CORPUS_NAME) or runtime.stewardship.register(
            steward,
            CorpusSpec(
                name=CORPUS_NAME, region="eu", sensitivity=Sensitivity.internal, source_path=str(source)
            ),
        )
        runtime.stewardship.approve(steward, corpus.id)
        started = time.perf_counter()
        job = runtime.stewardship.ingest(steward, corpus.id)
        while True:
            try:
                runtime.jobs.wait(job.id, timeout=15)
                break
            except TimeoutError:
                row = runtime.catalog.get_job(job.id)
                progress(f"ingesting: {row.documents_seen}/{row.documents_total} documents")
        ingest_seconds = time.perf_counter() - started
        row = runtime.catalog.get_job(job.id)
        if row.status != "succeeded":
            raise RuntimeError(f"ingestion job {row.status}: {row.detail}")
        progress(
            f"ingested {row.documents_ingested} documents, {row.chunks_written} chunks, {ingest_seconds:.0f}s"
        )

        # Citations are matched by document id: a source URI shows its file name masked where the name holds
        # personal data (ingest/document_names.py), and a BEIR id may look like some.
        ids_by_document = {
            document_id_for(corpus.id, Path(url2pathname(urlparse(uri).path)).name): beir_id
            for uri, beir_id in ids_by_uri.items()
        }
        pipeline: dict[str, Any] = {}
        kept: dict[str, dict[str, list[str]]] = {}
        for mode in request.modes:
            rankings: dict[str, list[str]] = {}
            latencies: list[float] = []
            for query, text in queries.items():
                started = time.perf_counter()
                result = runtime.retrieval.retrieve(reader, text, TOP_K, mode=mode)
                latencies.append(time.perf_counter() - started)
                rankings[query] = _documents([c.citation.document_id for c in result.chunks], ids_by_document)
            pipeline[mode.value] = {
                **_score(rankings, qrels, request),
                "median_query_ms": round(statistics.median(latencies) * 1000, 1),
            }
            kept[mode.value] = rankings
            progress(f"mode {mode.value}: {pipeline[mode.value]}")
        encode = _bare_encoder() if request.baselines else None
    finally:
        runtime.close()

    report: dict[str, Any] = {
        "dataset": {
            "corpus": str(request.corpus),
            "documents": len(documents),
            "queries": len(queries),
            "limit_docs": request.limit_docs,
            "split": {
                "queries": request.split,
                "seed": request.split_seed,
                "holdout_fraction": request.holdout_fraction,
            },
        },
        "ingestion": {
            "documents_ingested": row.documents_ingested,
            "documents_skipped": row.documents_skipped,
            "documents_failed": row.documents_failed,
            "chunks": row.chunks_written,
            "seconds": round(ingest_seconds, 1),
        },
        "settings": {
            "chunk_size": settings.chunking.chunk_size,
            "chunk_overlap": settings.chunking.chunk_overlap,
            "pii_masking": True,
            "top_k": TOP_K,
            "max_chunks_per_document": 1,
            "hybrid_candidates": settings.retrieval.hybrid_candidates,
            "fusion": settings.retrieval.fusion,
        },
        "pipeline": pipeline,
    }
    if request.limit_docs is not None:
        report["dataset"]["note"] = (
            "a slice: the judged documents first, then others; fewer distractors than the whole corpus"
        )
    if encode is not None:
        progress("bare model: embedding whole documents for exact search")
        exact = {
            "dense_exact": baselines.dense_exact(encode, documents, queries, TOP_K),
            "bm25_exact": baselines.bm25_exact(documents, queries, TOP_K),
        }
        bare = {name: _score(rankings, qrels, request) for name, rankings in exact.items()}
        report["bare"] = bare
        kept.update({f"bare_{name}": rankings for name, rankings in exact.items()})
        for name in ("dense", "hybrid"):
            if name in pipeline:
                report[f"{name}_over_bare_ndcg@10"] = round(
                    pipeline[name]["ndcg@10"] / bare["dense_exact"]["ndcg@10"], 4
                )
    if request.keep_rankings:
        report["rankings"] = kept
    return report


def _score(
    rankings: dict[str, list[str]], qrels: dict[str, dict[str, float]], request: EvaluationRequest
) -> dict[str, Any]:
    """The metrics over all the run's queries; over all of them, also per side of the query split."""
    scores: dict[str, Any] = dict(evaluate(rankings, qrels))
    if request.split == "all":
        by_split: dict[str, Any] = {}
        for side in SPLITS:
            judged = {
                q: grades
                for q, grades in qrels.items()
                if split_of(q, request.split_seed, request.holdout_fraction) == side
            }
            if judged:
                by_split[side] = {"queries": len(judged), **evaluate(rankings, judged)}
        scores["by_split"] = by_split
    return scores


def _documents(document_ids: Sequence[str], beir_ids: dict[str, str]) -> list[str]:
    """Chunk citations' documents → BEIR document ids, each once, in order of its best chunk."""
    ranking: dict[str, None] = {}
    for document_id in document_ids:
        ranking.setdefault(beir_ids[document_id], None)
    return list(ranking)


def _bare_encoder() -> Callable[[Sequence[str]], np.ndarray]:
    """The embedding model as sentence-transformers loads it, outside govrag's wrapper (same weights)."""
    from sentence_transformers import SentenceTransformer

    from retrieval.embedding import bundled_model_dir, verify_weights

    directory = bundled_model_dir()
    verify_weights(directory)
    model = SentenceTransformer(str(directory), device="cpu", local_files_only=True)

    def encode(texts: Sequence[str]) -> np.ndarray:
        return np.asarray(
            model.encode(
                list(texts),
                batch_size=32,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        )

    return encode
