"""Benchmark of PII masking speed on ~1,000-character chunks: govrag's masker against presidio's defaults.

    .venv/bin/python bench/pii_speed.py                       # 128 chunks, 3 rounds, presidio on 48 chunks
    .venv/bin/python bench/pii_speed.py --profile 25          # and the masker's top 25 functions (cProfile)
    .venv/bin/python bench/pii_speed.py --data ../shared/data/scifact/corpus.jsonl    # ordinary prose

The chunks are built from the sentences of ../shared/data/pii-synth/dev.json, in file order, joined with
a space until a chunk reaches `--chars` characters (so each is dense with personal data, as a contact list or
a case file is: harder than ordinary prose). govrag's masker is the one ingestion uses (`CorpusMaskers
.from_settings(settings.pii).default`, the same `mask_batch` call on one window of chunks); presidio's
defaults are `AnalyzerEngine()` with every predefined recognizer and the full spaCy pipeline of the same
small model (presidio's default configuration names en_core_web_lg, which is not installed), one `analyze`
call per chunk, as presidio's own examples do. Both are loaded and warmed up before timing (the masker's
helper processes too, `GOVRAG_PII__WORKERS`). Rounds alternate which side runs first; medians are reported,
with CPU seconds (of the process and its helpers), which other processes on a shared machine do not inflate
as much as wall time. Runs offline. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from retrieval.settings import Settings, configure_offline_runtime

configure_offline_runtime()

from cputime import cpu_seconds  # noqa: E402  (bench/, the script's own directory)

from retrieval.pii.engine import LANGUAGE, SPACY_MODEL  # noqa: E402
from retrieval.pii.profiles import CorpusMaskers  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "pii-synth" / "dev.json"


def build_chunks(path: Path, count: int, chars: int) -> list[str]:
    """`count` texts of at least `chars` characters, from the sentences in file order (cycling).

    A `.jsonl` file is read as a BEIR corpus (SciFact: `title` and `text` per line), for ordinary prose with
    little personal data; anything else as presidio-research JSON (`full_text`).
    """
    if path.suffix == ".jsonl":
        lines = path.read_text("utf-8").splitlines()[: count * 4]
        records = [json.loads(line) for line in lines if line.strip()]
        sentences = [
            sentence
            for record in records
            for sentence in re.split(
                r"(?<=[.!?])\s+", " ".join(f"{record['title']}. {record['text']}".split())
            )
        ]
    else:
        records = json.loads(path.read_text("utf-8"))
        sentences = [" ".join(str(record["full_text"]).split()) for record in records]
    chunks: list[str] = []
    index = 0
    while len(chunks) < count:
        parts: list[str] = []
        while sum(len(part) + 1 for part in parts) < chars:
            parts.append(sentences[index % len(sentences)])
            index += 1
        chunks.append(" ".join(parts))
    return chunks


def presidio_default_analyzer() -> Any:
    """presidio's AnalyzerEngine with its defaults: all predefined recognizers, the full spaCy pipeline."""
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    provider = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": LANGUAGE, "model_name": SPACY_MODEL}],
        }
    )
    return AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=[LANGUAGE])


def timed(work: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), cpu_seconds()
    work()
    return time.perf_counter() - wall, cpu_seconds() - cpu


def rate(count: int, seconds: Sequence[float]) -> float:
    return round(count / statistics.median(seconds), 2)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA,
        help="presidio-research JSON, or a BEIR corpus.jsonl for prose (../shared/data/scifact/corpus.jsonl)",
    )
    parser.add_argument("--chunks", type=int, default=128, help="chunks masked by govrag's masker per round")
    parser.add_argument(
        "--presidio-chunks", type=int, default=48, help="chunks analysed by presidio per round"
    )
    parser.add_argument("--chars", type=int, default=1000, help="characters per chunk, at least")
    parser.add_argument("--repeat", type=int, default=3, help="rounds")
    parser.add_argument(
        "--profile", type=int, default=0, help="print the masker's top N functions (cProfile)"
    )
    args = parser.parse_args()

    load_before = os.getloadavg()
    chunks = build_chunks(args.data, max(args.chunks, args.presidio_chunks), args.chars)
    ours_chunks, theirs_chunks = chunks[: args.chunks], chunks[: args.presidio_chunks]
    started = time.perf_counter()
    masker = CorpusMaskers.from_settings(Settings().pii).default
    masker.mask_batch(chunks[:64])  # loads the analyzer, and starts the helper processes where there are any
    ours_load = time.perf_counter() - started
    started = time.perf_counter()
    analyzer = presidio_default_analyzer()
    analyzer.analyze(chunks[0], language=LANGUAGE)
    theirs_load = time.perf_counter() - started

    def ours() -> None:
        masker.mask_batch(ours_chunks)

    def theirs() -> None:
        for chunk in theirs_chunks:
            analyzer.analyze(chunk, language=LANGUAGE)

    ours_wall: list[float] = []
    ours_cpu: list[float] = []
    theirs_wall: list[float] = []
    theirs_cpu: list[float] = []
    for round_index in range(args.repeat):
        order = [(ours, ours_wall, ours_cpu), (theirs, theirs_wall, theirs_cpu)]
        for work, walls, cpus in order if round_index % 2 == 0 else reversed(order):
            wall, cpu = timed(work)
            walls.append(wall)
            cpus.append(cpu)

    report: dict[str, Any] = {
        "data": str(args.data),
        "chunk_chars_mean": round(statistics.mean(map(len, ours_chunks)), 1),
        "rounds": args.repeat,
        "govrag_masker": {
            "chunks": len(ours_chunks),
            "chunks_per_second": rate(len(ours_chunks), ours_wall),
            "chunks_per_cpu_second": rate(len(ours_chunks), ours_cpu),
            "findings_per_chunk": round(
                sum(len(m.spans) for m in masker.mask_batch(ours_chunks)) / len(ours_chunks), 2
            ),
            "recognizers": len(masker.recognizer_names),
            "helper_processes": masker.workers,
            "load_seconds": round(ours_load, 2),
        },
        "presidio_defaults": {
            "chunks": len(theirs_chunks),
            "chunks_per_second": rate(len(theirs_chunks), theirs_wall),
            "chunks_per_cpu_second": rate(len(theirs_chunks), theirs_cpu),
            "recognizers": len(analyzer.registry.recognizers),
            "spacy_model": SPACY_MODEL,
            "load_seconds": round(theirs_load, 2),
        },
        "speedup": round(
            statistics.median(theirs_wall)
            / len(theirs_chunks)
            * len(ours_chunks)
            / statistics.median(ours_wall),
            2,
        ),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        ours()
        profiler.disable()
        stream = io.StringIO()
        pstats.Stats(profiler, stream=stream).sort_stats("tottime").print_stats(args.profile)
        print(stream.getvalue(), file=sys.stderr)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
