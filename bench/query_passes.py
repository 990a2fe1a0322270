"""What a shared pass of the ONNX query encoder costs a query: padded to its longest, or grouped by length.

    .venv/bin/python bench/query_passes.py                 # passes of 16, 40 passes, 3 rounds
    .venv/bin/python bench/query_passes.py --batch 8 --int8

Concurrent `/retrieve` queries share the query encoder's passes (`retrieval.query_batching`). One padded pass
runs every text to the length of its longest, and on the encoder's one CPU thread a padding token costs what a
real one does; `OnnxQueryEncoder.encode` runs a pass's texts in groups of about the same length instead. Three
ways over the same SciFact queries (../shared/data/scifact/queries.jsonl), in passes of `--batch`: one padded
pass (what `encode` did before), `encode` (grouped by length), and each text alone. Rounds alternate the
order. Reported: CPU ms per query (this process; the encoder runs here) for each, and their ratios. Prints
one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from retrieval.settings import configure_offline_runtime

configure_offline_runtime()

from retrieval.embedding import load_embedder  # noqa: E402
from retrieval.onnx_query import OnnxQueryEncoder, load_query_embedder  # noqa: E402
from retrieval.settings import EmbeddingSettings, Settings  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_QUERIES = REPO_ROOT.parent / "shared" / "data" / "scifact" / "queries.jsonl"


def padded(encoder: OnnxQueryEncoder, texts: list[str]) -> np.ndarray:
    """One pass over every text padded to the longest (the encoder's tokenizer pads)."""
    encodings = encoder._tokenizer.encode_batch(texts)
    feed = {
        "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
        "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
    }
    return np.asarray(encoder._session.run(None, feed)[0])


def cpu_ms_per_query(work: Callable[[list[str]], Any], passes: list[list[str]]) -> float:
    started = time.process_time()
    for texts in passes:
        work(texts)
    return (time.process_time() - started) / sum(len(p) for p in passes) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch", type=int, default=16, help="texts a pass")
    parser.add_argument("--passes", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--int8", action="store_true", help="the int8 export")
    parser.add_argument("--queries", type=Path, default=DEFAULT_QUERIES)
    args = parser.parse_args()
    if not args.queries.is_file():
        raise SystemExit(f"no queries at {args.queries}")
    queries = [json.loads(line)["text"] for line in args.queries.open()]
    random.Random(7).shuffle(queries)
    settings = Settings()
    embedder = load_query_embedder(
        load_embedder(settings.embedding_batch_size),
        EmbeddingSettings(query_backend="onnx", query_int8=args.int8),
        settings.model_cache_dir,
    )
    encoder = embedder.encoder  # type: ignore[attr-defined]  # the ONNX embedder
    passes = [
        [queries[(p * args.batch + i) % len(queries)] for i in range(args.batch)] for p in range(args.passes)
    ]
    ways: dict[str, Callable[[list[str]], Any]] = {
        "padded_pass": lambda texts: padded(encoder, texts),
        "grouped_by_length": encoder.encode,
        "one_by_one": lambda texts: [encoder.encode([t]) for t in texts],
    }
    # The vectors agree whichever way (padding is masked out of the pooling).
    agree = float(np.abs(padded(encoder, passes[0]) - encoder.encode(passes[0])).max())
    for way in ways.values():
        way(passes[0])  # warm-up
    measured: dict[str, list[float]] = {name: [] for name in ways}
    for round_ in range(args.rounds):
        for name in list(ways) if round_ % 2 == 0 else list(ways)[::-1]:
            measured[name].append(cpu_ms_per_query(ways[name], passes))
    result: dict[str, Any] = {
        "batch": args.batch,
        "queries_per_round": args.batch * args.passes,
        "int8": args.int8,
        "load_average": round(os.getloadavg()[0], 2),
        "cpu_ms_per_query": {name: round(min(values), 2) for name, values in measured.items()},
        "all_rounds": {name: [round(v, 2) for v in values] for name, values in measured.items()},
        "max_abs_difference_padded_vs_grouped": agree,
    }
    best = result["cpu_ms_per_query"]
    result["grouped_over_padded"] = round(best["grouped_by_length"] / best["padded_pass"], 3)
    result["grouped_over_one_by_one"] = round(best["grouped_by_length"] / best["one_by_one"], 3)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
