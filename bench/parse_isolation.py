"""Benchmark of parsing in a parser process (ingest/parse_worker.py) against parsing in the calling process.

    .venv/bin/python bench/parse_isolation.py                      # mixed-docs of ../shared/data
    .venv/bin/python bench/parse_isolation.py --data /work/shared/data --repeat 3

Every file of mixed-docs/ with a supported suffix, up to `--max-file-kib`, is parsed once each way per round
(rounds alternate which way runs first, so that a noisy neighbour hurts both), after a warm-up that starts
the parser process and loads the spaCy model on both sides. Reports documents per second and the ratio,
the medians over rounds. Runs offline. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from retrieval.settings import configure_offline_runtime

configure_offline_runtime()

from ingest.formats.budget import ParseLimits  # noqa: E402
from ingest.parse_worker import parse_isolated, shutdown  # noqa: E402
from ingest.parsing import SUPPORTED_SUFFIXES, parse_bytes  # noqa: E402
from retrieval.errors import IngestionError  # noqa: E402

MAX_BYTES = 50 * 1024 * 1024


def in_process(files: list[tuple[Path, bytes]], limits: ParseLimits) -> tuple[float, int]:
    started, ok = time.perf_counter(), 0
    for path, data in files:
        try:
            parse_bytes(data, suffix=path.suffix.lower(), stem=path.stem, max_bytes=MAX_BYTES, limits=limits)
            ok += 1
        except IngestionError:
            pass
    return time.perf_counter() - started, ok


def isolated(files: list[tuple[Path, bytes]], limits: ParseLimits) -> tuple[float, int]:
    started, ok = time.perf_counter(), 0
    for path, data in files:
        answer = parse_isolated(
            data, suffix=path.suffix.lower(), stem=path.stem, max_bytes=MAX_BYTES, limits=limits
        )
        ok += not hasattr(answer, "reason")
    return time.perf_counter() - started, ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--max-file-kib", type=int, default=2048)
    args = parser.parse_args()
    files = [
        (path, path.read_bytes())
        for path in sorted((args.data / "mixed-docs").iterdir())
        if path.is_file()
        and path.suffix.lower() in SUPPORTED_SUFFIXES
        and path.stat().st_size <= args.max_file_kib * 1024
    ]
    limits = ParseLimits()
    in_process(files[:3], limits)
    isolated(files[:3], limits)
    rounds = []
    for number in range(args.repeat):
        sides = [("in_process", in_process), ("isolated", isolated)]
        if number % 2:
            sides.reverse()
        rounds.append({name: run(files, limits) for name, run in sides})
    shutdown()
    seconds = {name: statistics.median(r[name][0] for r in rounds) for name in ("in_process", "isolated")}
    print(
        json.dumps(
            {
                "files": len(files),
                "bytes": sum(len(data) for _, data in files),
                "parsed": {name: rounds[0][name][1] for name in seconds},
                "seconds_median": seconds,
                "documents_per_second": {name: len(files) / value for name, value in seconds.items()},
                "isolated_over_in_process": seconds["in_process"] / seconds["isolated"],
                "rounds": [{name: r[name][0] for name in r} for r in rounds],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
