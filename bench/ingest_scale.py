"""Ingestion through the local executor and through Ray with 1 and 2 CPUs, in one run; a sizing table.

    .venv/bin/python bench/ingest_scale.py                 # 1,000 SciFact abstracts (as the issue asks)
    .venv/bin/python bench/ingest_scale.py --docs 200      # a quicker look

Each configuration runs in its own process pinned to its CPUs (`sched_setaffinity`, which the local Ray's
processes inherit, so "1 CPU" is one core for everything: the job's owner, the Ray workers, the parser and PII
helper processes). It builds the service's runtime on a fresh data directory with the real models and PII
masking on, ingests a 48-document warm-up corpus (model loading in every worker process and Ray's start are
not timed), then the corpus, timing the job from request to end. Configurations run in the order local-1,
ray-1, ray-2, local-2, so that a noisy neighbour on a shared machine is spread over both sides of each ratio.

Per stage, the figures are busy seconds per chunk: for Ray, the workers' time inside each stage (one task
runs on one core, so busy time is CPU time); for local, the stage threads' busy time, which overlaps on more
than one core. `write` is the owner's time in the pipeline's write (BM25, upsert, catalog). The sizing table
comes from the ray-1 figures: a worker of C cores does C / (parse + mask + embed) chunks/s (C / (parse +
mask) with the embedder on a GPU, assuming the GPU is not the bottleneck), and a job's owner caps a corpus
at 1 / (read + write) chunks/s. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REPO_ROOT = Path(__file__).resolve().parents[1]
STEWARD_KEY = "bench-steward-key"
CONFIGS = [("local", 1), ("ray", 1), ("ray", 2), ("local", 2)]
WARMUP_DOCUMENTS = 48


def write_corpus(shared: Path, target: Path, documents: int, skip: int = 0) -> None:
    target.mkdir(parents=True)
    with (shared / "scifact" / "corpus.jsonl").open(encoding="utf-8") as handle:
        for _ in zip(range(skip), handle, strict=False):
            pass
        for line, _ in zip(handle, range(documents), strict=False):
            record = json.loads(line)
            text = f"{record['title']}\n\n{record['text']}\n"
            (target / f"scifact-{record['_id']}.txt").write_text(text, encoding="utf-8")


def one(executor: str, cpus: int, workdir: Path) -> dict[str, Any]:
    """Runs in the pinned child process."""
    os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:cpus]))
    from retrieval.settings import Settings, configure_offline_runtime

    configure_offline_runtime()
    from harness import process_tree_cpu_s  # bench/, the script's own directory
    from ingest_throughput import StatsRecorder

    from govrag.runtime import build_runtime
    from retrieval.catalog import CorpusSpec
    from retrieval.domain import Sensitivity
    from retrieval.identity import hash_api_key

    principals = workdir / f"principals-{executor}-{cpus}.yaml"
    entry = {"id": "steward", "roles": ["steward"], "api_key_sha256": hash_api_key(STEWARD_KEY)}
    principals.write_text(yaml.safe_dump({"principals": [entry]}))
    settings = Settings(
        data_dir=workdir / f"data-{executor}-{cpus}",
        principals_file=principals,
        source_roots=[workdir / "sources"],
        ingest={"executor": executor, "ray_num_cpus": cpus},  # type: ignore[arg-type]
        pii={"workers": cpus},  # type: ignore[arg-type]
    )
    runtime = build_runtime(settings)
    pipeline = runtime.jobs.pipeline
    write_seconds = [0.0]
    original_write = pipeline._write

    def timed_write(*args: Any, **kwargs: Any) -> int:
        started = time.perf_counter()
        try:
            return original_write(*args, **kwargs)
        finally:
            write_seconds[0] += time.perf_counter() - started

    pipeline._write = timed_write  # type: ignore[method-assign]
    recorder = StatsRecorder.install()
    try:
        steward = runtime.principals.authenticate(f"Bearer {STEWARD_KEY}")

        def ingest(name: str) -> Any:
            source = str(workdir / "sources" / name)
            row = runtime.stewardship.register(steward, CorpusSpec(name, "eu", Sensitivity.internal, source))
            runtime.stewardship.approve(steward, row.id)
            job = runtime.stewardship.ingest(steward, row.id)
            runtime.jobs.wait(job.id, timeout=7200)
            job = runtime.catalog.get_job(job.id)
            if job.status != "succeeded":
                raise SystemExit(f"{executor}-{cpus}: job {job.status}: {job.detail}")
            return job

        ingest("warmup")
        executor_object = pipeline.executor
        stats = getattr(executor_object, "stats", None)
        if stats is not None:
            for stage in ("documents", "chunks", "read", "parse", "mask", "embed"):
                setattr(stats, stage, 0)
        recorder.runs.clear()
        write_seconds[0] = 0.0
        cpu, started = process_tree_cpu_s(os.getpid()), time.perf_counter()
        job = ingest("corpus")
        seconds, cpu = time.perf_counter() - started, process_tree_cpu_s(os.getpid()) - cpu
    finally:
        runtime.close()
    chunks = job.chunks_written
    if stats is not None:
        stages = {"read": stats.read, "parse": stats.parse, "mask": stats.mask, "embed": stats.embed}
    else:
        run = recorder.runs[-1]
        stages = {"read": 0.0, "parse": run["parse"], "mask": run["mask"], "embed": run["embed"]}
    stages["write"] = write_seconds[0]
    return {
        "executor": executor,
        "cpus": cpus,
        "seconds": round(seconds, 1),
        "chunks": chunks,
        "documents": job.documents_ingested,
        "chunks_per_s": round(chunks / seconds, 2),
        "cpu_seconds_per_chunk": round(cpu / chunks, 4),
        "busy_seconds_per_chunk": {stage: round(value / chunks, 4) for stage, value in stages.items()},
    }


def sizing(ray_1: dict[str, Any]) -> dict[str, Any]:
    per = ray_1["busy_seconds_per_chunk"]
    worker_cpu = per["parse"] + per["mask"] + per["embed"]
    worker_cpu_gpu = per["parse"] + per["mask"]
    owner_cap = 1 / max(per["read"] + per["write"], 1e-9)
    rows = []
    for workers in (1, 2, 4, 8):
        for cores in (2, 4, 8, 16):
            cpu_only = workers * cores / worker_cpu
            with_gpu = workers * cores / worker_cpu_gpu
            rows.append(
                {
                    "workers": workers,
                    "cores_each": cores,
                    "chunks_per_s_cpu_only": round(min(cpu_only, owner_cap), 1),
                    "chunks_per_s_gpu_embedder": round(min(with_gpu, owner_cap), 1),
                    "owner_bound": with_gpu > owner_cap,
                }
            )
    return {
        "worker_cpu_seconds_per_chunk": round(worker_cpu, 4),
        "worker_cpu_seconds_per_chunk_gpu_embedder": round(worker_cpu_gpu, 4),
        "owner_cap_chunks_per_s": round(owner_cap, 1),
        "table": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared-data", type=Path, default=REPO_ROOT.parent / "shared" / "data")
    parser.add_argument("--docs", type=int, default=1000, help="SciFact abstracts to ingest (default 1,000)")
    parser.add_argument("--one", nargs=3, metavar=("EXECUTOR", "CPUS", "WORKDIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0], int(args.one[1]), Path(args.one[2]))))
        return
    if len(os.sched_getaffinity(0)) < 2:
        parser.error("needs 2 CPUs (it compares 1 and 2)")
    workdir = Path(tempfile.mkdtemp(prefix="govrag-scale-bench-"))
    try:
        write_corpus(args.shared_data, workdir / "sources" / "corpus", args.docs)
        # Enough batches for every Ray worker process to load its models before the timed run (8 documents
        # a batch, 2 CPUs), from documents outside the corpus.
        write_corpus(args.shared_data, workdir / "sources" / "warmup", WARMUP_DOCUMENTS, skip=args.docs)
        results = {}
        for executor, cpus in CONFIGS:
            done = subprocess.run(
                [sys.executable, __file__, "--one", executor, str(cpus), str(workdir)],
                check=True,
                capture_output=True,
                text=True,
            )
            results[f"{executor}-{cpus}"] = json.loads(done.stdout.strip().splitlines()[-1])
            print(
                f"{executor}-{cpus}: {results[f'{executor}-{cpus}']['chunks_per_s']} chunks/s",
                file=sys.stderr,
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    rate = {name: result["chunks_per_s"] for name, result in results.items()}
    print(
        json.dumps(
            {
                "documents": args.docs,
                "runs": results,
                "speedup_ray_2_over_1": round(rate["ray-2"] / rate["ray-1"], 2),
                "ray_over_local_1_cpu": round(rate["ray-1"] / rate["local-1"], 2),
                "ray_over_local_2_cpus": round(rate["ray-2"] / rate["local-2"], 2),
                "goals": {"speedup_ray_2_over_1": 1.7, "ray_over_local": 0.95},
                "sizing": sizing(results["ray-1"]),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
