"""BEIR files in and out, slicing, and the exact-search reference rankings, on tiny hand-made data."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pytest

from govrag.evaluation.baselines import bm25_exact, dense_exact
from govrag.evaluation.beir import (
    BeirDocument,
    load_corpus,
    load_qrels,
    load_queries,
    select,
    split_of,
    write_documents,
)

pytestmark = pytest.mark.unit


def write_jsonl(path: Path, records: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_loads_a_corpus_file_or_directory_queries_and_qrels(tmp_path: Path) -> None:
    write_jsonl(
        tmp_path / "corpus.jsonl", [{"_id": "d1", "title": "T", "text": "x"}, {"_id": "d2", "text": "y"}]
    )
    write_jsonl(tmp_path / "queries.jsonl", [{"_id": "q1", "text": "what?"}])
    (tmp_path / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\t0\n")

    assert load_corpus(tmp_path) == load_corpus(tmp_path / "corpus.jsonl")
    assert load_corpus(tmp_path) == [BeirDocument("d1", "T", "x"), BeirDocument("d2", "", "y")]
    assert load_queries(tmp_path / "queries.jsonl") == {"q1": "what?"}
    assert load_qrels(tmp_path / "qrels.tsv") == {"q1": {"d1": 1.0, "d2": 0.0}}


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("corpus.jsonl", '{"_id": "a"}\n{"_id": "a"}\n', "duplicate"),
        ("corpus.jsonl", "not json\n", "not JSON"),
        ("corpus.jsonl", '{"title": "no id"}\n', "_id"),
    ],
)
def test_bad_corpora_are_refused(tmp_path: Path, name: str, content: str, message: str) -> None:
    (tmp_path / name).write_text(content)
    with pytest.raises(ValueError, match=message):
        load_corpus(tmp_path / name)
    with pytest.raises(ValueError, match="no BEIR corpus"):
        load_corpus(tmp_path / "missing")


def test_bad_qrels_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.tsv").write_text("q\td\ts\nq1\td1\t1\n")
    with pytest.raises(ValueError, match="header"):
        load_qrels(tmp_path / "a.tsv")
    (tmp_path / "b.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\thigh\n")
    with pytest.raises(ValueError, match="numeric"):
        load_qrels(tmp_path / "b.tsv")


def test_select_keeps_judged_queries_and_slices_relevant_documents_first() -> None:
    documents = [BeirDocument(f"d{i}", "", f"text {i}") for i in range(6)]
    queries = {"q1": "a", "q2": "b", "q3": "c"}
    qrels = {"q1": {"d4": 1.0}, "q2": {"d5": 1.0, "d0": 0.0}, "q3": {"d9": 1.0}, "q4": {"d1": 1.0}}

    docs, kept_queries, kept_qrels = select(documents, queries, qrels, None)
    assert len(docs) == 6
    # q3 judges only a document the corpus lacks; q4 has no text.
    assert kept_queries == {"q1": "a", "q2": "b"}
    assert kept_qrels == {"q1": {"d4": 1.0}, "q2": {"d5": 1.0, "d0": 0.0}}

    docs, kept_queries, kept_qrels = select(documents, queries, qrels, 3)
    assert [d.id for d in docs] == ["d0", "d4", "d5"]  # d4, d5 (relevant) first, then d0; corpus order kept
    docs, kept_queries, _ = select(documents, queries, qrels, 1)
    assert [d.id for d in docs] == ["d4"] and list(kept_queries) == ["q1"]
    with pytest.raises(ValueError):
        select(documents, queries, qrels, 0)


def test_documents_are_written_one_file_each_and_mapped_back(tmp_path: Path) -> None:
    documents = [
        BeirDocument("4983", "A title", "Body."),
        BeirDocument("a/b c", "", "Slash and space."),
        BeirDocument(".hidden", "", "Leading dot."),
        BeirDocument("document-0000003", "", "A name the fallback could take."),
    ]
    ids_by_uri = write_documents(documents, tmp_path / "src")

    assert sorted(ids_by_uri.values()) == sorted(d.id for d in documents)
    files = {Path(unquote(urlparse(uri).path)): doc_id for uri, doc_id in ids_by_uri.items()}
    assert all(path.parent == (tmp_path / "src").resolve() for path in files)
    assert all(not path.name.startswith(".") for path in files)
    by_id = {doc_id: path for path, doc_id in files.items()}
    assert by_id["4983"].name == "4983.txt"
    assert by_id["4983"].read_text() == "A title\n\nBody.\n"
    assert by_id["a/b c"].read_text() == "Slash and space.\n"
    assert len(set(files)) == 4


def test_dense_exact_ranks_by_cosine() -> None:
    vectors = {"apple": [1.0, 0.0], "pear": [0.8, 0.6], "car": [0.0, 1.0], "fruit": [0.9, 0.1]}

    def encode(texts: Sequence[str]) -> np.ndarray:
        rows = np.array([vectors[t] for t in texts])
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    documents = [BeirDocument(t, "", t) for t in ("car", "pear", "apple")]
    rankings = dense_exact(encode, documents, {"q": "fruit"}, 2)
    assert rankings == {"q": ["apple", "pear"]}


def test_bm25_exact_ranks_by_okapi_bm25() -> None:
    documents = [
        BeirDocument("zebra-once", "", "zebra grazing quietly on open grassland near water"),
        BeirDocument("zebra-twice", "", "zebra zebra"),
        BeirDocument("none", "", "canteen menu"),
    ]
    rankings = bm25_exact(documents, {"q": "zebras", "empty": "the of"}, 10)
    # Both contain the term; the shorter document with more occurrences scores higher; no-match excluded.
    assert rankings["q"] == ["zebra-twice", "zebra-once"]
    assert rankings["empty"] == []


def test_split_of_is_fixed_by_seed_and_id_and_near_the_asked_fraction() -> None:
    ids = [str(n) for n in range(2000)]
    sides = [split_of(q) for q in ids]

    assert set(sides) == {"tune", "holdout"}
    assert 0.26 < sides.count("holdout") / len(ids) < 0.34  # 30% by default
    # A query's side depends on its id and the seed only, not on which other queries are split with it.
    assert [split_of(q) for q in reversed(ids)] == list(reversed(sides))
    assert [split_of(q, seed=7) for q in ids] != sides
    assert {split_of(q, holdout_fraction=0.0) for q in ids} == {"tune"}
    assert {split_of(q, holdout_fraction=1.0) for q in ids} == {"holdout"}
    with pytest.raises(ValueError, match="holdout_fraction"):
        split_of("q", holdout_fraction=1.5)
