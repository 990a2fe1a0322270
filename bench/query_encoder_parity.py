"""The ONNX query encoder against the torch model: cosine of the vectors and nDCG@10 on BEIR SciFact.

    .venv/bin/python bench/query_encoder_parity.py
    .venv/bin/python bench/query_encoder_parity.py --int8 --scifact /path/to/scifact

Cosine: `--texts` texts (every SciFact query, then corpus titles up to the count), each embedded alone as
`/retrieve` does, by the torch model's query path and by each ONNX variant; min, 1st percentile, mean.

nDCG@10 (and the other BEIR figures) on the train queries: documents (title and abstract, whole, truncated
at 256 word pieces) embedded once by the torch model, as ingestion does, then searched exactly with the
query vectors of each encoder. Only the query side differs between the rows, so the differences are the
encoder's alone. Prints one JSON object; the CPU milliseconds per single query of each encoder too.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from govrag.evaluation.beir import load_corpus, load_qrels, load_queries, select  # noqa: E402
from govrag.evaluation.metrics import evaluate  # noqa: E402
from retrieval.embedding import load_embedder  # noqa: E402
from retrieval.onnx_query import load_query_embedder  # noqa: E402
from retrieval.protocols import Embedder  # noqa: E402
from retrieval.settings import EmbeddingSettings  # noqa: E402

TOP_K = 100


def single_vectors(embedder: Embedder, texts: list[str]) -> tuple[np.ndarray, float]:
    """Each text alone through `embed_query`, and the CPU milliseconds per text."""
    started = time.process_time()
    vectors = np.array([embedder.embed_query(text) for text in texts])
    return vectors, (time.process_time() - started) / len(texts) * 1000


def cosines(reference: np.ndarray, other: np.ndarray) -> dict[str, float]:
    values = (reference * other).sum(1)
    return {
        "min": round(float(values.min()), 6),
        "p01": round(float(np.percentile(values, 1)), 6),
        "mean": round(float(values.mean()), 6),
        "n": len(values),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scifact", type=Path, default=REPO.parent / "shared" / "data" / "scifact")
    parser.add_argument("--texts", type=int, default=1000)
    parser.add_argument("--int8", action="store_true", help="also the int8 variant")
    parser.add_argument("--limit-docs", type=int, default=None, help="a slice of the corpus (judged first)")
    parser.add_argument("--cache", type=Path, default=None, help="encoder cache (default: a temporary one)")
    args = parser.parse_args()
    if not (args.scifact / "corpus.jsonl").is_file():
        raise SystemExit(f"SciFact is not at {args.scifact}")

    documents = load_corpus(args.scifact)
    queries = load_queries(args.scifact / "queries.jsonl")
    qrels = load_qrels(args.scifact / "qrels" / "train.tsv")
    texts = list(queries.values())
    texts += [d.title for d in documents if d.title][: max(0, args.texts - len(texts))]
    texts = texts[: args.texts]

    torch_embedder = load_embedder()
    with tempfile.TemporaryDirectory(prefix="govrag-parity-") as work:
        cache = args.cache if args.cache is not None else Path(work)
        encoders: dict[str, Embedder] = {"torch": torch_embedder}
        export_s: dict[str, float] = {}
        for name, int8 in (("onnx", False), ("onnx_int8", True)):
            if int8 and not args.int8:
                continue
            started = time.perf_counter()
            encoders[name] = load_query_embedder(torch_embedder, EmbeddingSettings(query_int8=int8), cache)
            export_s[name] = round(time.perf_counter() - started, 1)

        result: dict[str, Any] = {"texts": len(texts), "export_or_load_s": export_s}
        vectors: dict[str, np.ndarray] = {}
        cpu_ms: dict[str, float] = {}
        for name, embedder in encoders.items():
            embedder.embed_query(texts[0])  # warm
            vectors[name], cpu_ms[name] = single_vectors(embedder, texts)
        result["cpu_ms_per_single_query"] = {name: round(ms, 2) for name, ms in cpu_ms.items()}
        result["cosine_to_torch"] = {
            name: cosines(vectors["torch"], v) for name, v in vectors.items() if name != "torch"
        }

        docs, train_queries, train_qrels = select(documents, queries, qrels, args.limit_docs)
        started = time.perf_counter()
        matrix = np.array(torch_embedder.embed_documents([d.full_text for d in docs]))
        result["documents"] = {"n": len(docs), "embed_s": round(time.perf_counter() - started, 1)}
        ids = list(train_queries)
        position = {text: n for n, text in enumerate(texts)}
        retrieval: dict[str, Any] = {}
        for name, embedder in encoders.items():
            rows = np.array(
                [
                    vectors[name][position[train_queries[q]]]
                    if train_queries[q] in position
                    else embedder.embed_query(train_queries[q])
                    for q in ids
                ]
            )
            scores = rows @ matrix.T
            rankings = {
                q: [docs[i].id for i in np.argsort(-row, kind="stable")[:TOP_K]]
                for q, row in zip(ids, scores, strict=True)
            }
            retrieval[name] = evaluate(rankings, train_qrels)
        result["train_queries"] = len(ids)
        result["retrieval"] = retrieval
        result["ndcg@10_minus_torch"] = {
            name: round(figures["ndcg@10"] - retrieval["torch"]["ndcg@10"], 5)
            for name, figures in retrieval.items()
            if name != "torch"
        }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
