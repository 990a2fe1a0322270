"""BEIR data sets: reading corpus, queries and qrels, slicing them, and writing the corpus as source files.

Formats (github.com/beir-cellar/beir): `corpus.jsonl` lines `{"_id", "title", "text"}`, `queries.jsonl` lines
`{"_id", "text"}`, qrels a TSV with the header `query-id corpus-id score`.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

__all__ = [
    "BeirDocument",
    "load_corpus",
    "load_qrels",
    "load_queries",
    "select",
    "split_of",
    "write_documents",
]

SPLITS = ("tune", "holdout")
DEFAULT_SPLIT_SEED = 20
DEFAULT_HOLDOUT_FRACTION = 0.3

Qrels = dict[str, dict[str, float]]


@dataclass(frozen=True, slots=True)
class BeirDocument:
    id: str
    title: str
    text: str

    @property
    def full_text(self) -> str:
        """Title and text as one string, as MTEB and BEIR feed a document to a dense model."""
        return f"{self.title} {self.text}".strip()


def _jsonl(path: Path) -> Iterator[dict[str, object]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not JSON: {exc.msg}") from exc
            if not isinstance(record, dict) or "_id" not in record:
                raise ValueError(f"{path}:{number}: expected an object with an _id")
            yield record


def load_corpus(path: Path) -> list[BeirDocument]:
    """The documents of a `corpus.jsonl`, or of the one in the BEIR data-set directory `path`."""
    file = path / "corpus.jsonl" if path.is_dir() else path
    if not file.is_file():
        raise ValueError(f"no BEIR corpus at {path} (a corpus.jsonl, or a directory holding one)")
    documents = [
        BeirDocument(str(r["_id"]), str(r.get("title") or ""), str(r.get("text") or "")) for r in _jsonl(file)
    ]
    ids = [d.id for d in documents]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{file}: duplicate document ids")
    return documents


def load_queries(path: Path) -> dict[str, str]:
    return {str(r["_id"]): str(r.get("text") or "") for r in _jsonl(path)}


def load_qrels(path: Path) -> Qrels:
    qrels: Qrels = {}
    with path.open(encoding="utf-8", newline="") as handle:
        rows = csv.reader(handle, delimiter="\t")
        header = next(rows, None)
        if header is None or [h.strip() for h in header[:3]] != ["query-id", "corpus-id", "score"]:
            raise ValueError(f"{path}: expected a TSV with the header query-id, corpus-id, score")
        for number, row in enumerate(rows, 2):
            if not row:
                continue
            try:
                query, document, score = row[0].strip(), row[1].strip(), float(row[2])
            except (IndexError, ValueError) as exc:
                raise ValueError(
                    f"{path}:{number}: expected query-id, corpus-id and a numeric score"
                ) from exc
            qrels.setdefault(query, {})[document] = score
    return qrels


def select(
    documents: list[BeirDocument], queries: dict[str, str], qrels: Qrels, limit_docs: int | None
) -> tuple[list[BeirDocument], dict[str, str], Qrels]:
    """The queries with judgements and text, and the documents to index; judgements on absent documents go.

    With `limit_docs`, at most that many documents: first those judged relevant for the queries (in corpus
    order), then the others in corpus order. A development aid: with fewer distractors the figures are
    better than on the whole corpus. Queries left without a relevant document are dropped.
    """
    judged = {query: grades for query, grades in qrels.items() if query in queries}
    if limit_docs is not None:
        if limit_docs < 1:
            raise ValueError(f"limit_docs must be positive, got {limit_docs}")
        wanted = {document for grades in judged.values() for document, grade in grades.items() if grade > 0}
        relevant = [d for d in documents if d.id in wanted]
        others = [d for d in documents if d.id not in wanted]
        kept = {d.id for d in (relevant + others)[:limit_docs]}
        documents = [d for d in documents if d.id in kept]
    present = {d.id for d in documents}
    kept_qrels: Qrels = {}
    for query, grades in judged.items():
        grades = {document: grade for document, grade in grades.items() if document in present}
        if any(grade > 0 for grade in grades.values()):
            kept_qrels[query] = grades
    return documents, {query: queries[query] for query in kept_qrels}, kept_qrels


def write_documents(documents: list[BeirDocument], directory: Path) -> dict[str, str]:
    """One text file per document (title, blank line, text); returns each file's URI → document id.

    The file is named by the document id where that makes a safe file name, so that a citation's
    `source_uri` shows the id; the returned map is what the evaluation relies on.
    """
    directory.mkdir(parents=True, exist_ok=True)
    ids_by_uri: dict[str, str] = {}
    used: set[str] = set()
    for index, document in enumerate(documents):
        stem = quote(document.id, safe="-_")
        if not stem or stem.startswith(".") or len(stem) > 200 or stem in used:
            # Hidden names are skipped by ingestion, long ones may not fit the file system.
            stem = f"document-{index:07d}"
            while stem in used:
                stem += "x"
        used.add(stem)
        path = directory / f"{stem}.txt"
        body = f"{document.title}\n\n{document.text}\n" if document.title else f"{document.text}\n"
        path.write_text(body, encoding="utf-8")
        ids_by_uri[path.resolve().as_uri()] = document.id
    return ids_by_uri


def split_of(
    query_id: str, seed: int = DEFAULT_SPLIT_SEED, holdout_fraction: float = DEFAULT_HOLDOUT_FRACTION
) -> str:
    """The query's side of a fixed split: "tune" (to tune on) or "holdout" (to report on, never tuned on).

    Decided by a hash of the seed and the query id alone, so a query stays on its side whatever other queries
    a run holds (a slice, another qrels file) and across machines and Python versions.
    """
    if not 0.0 <= holdout_fraction <= 1.0:
        raise ValueError(f"holdout_fraction must be in [0, 1], got {holdout_fraction}")
    digest = hashlib.sha256(f"{seed}:{query_id}".encode()).digest()
    position = int.from_bytes(digest[:8], "big") / 2**64
    return "holdout" if position < holdout_fraction else "tune"
