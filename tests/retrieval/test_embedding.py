"""The real all-MiniLM-L6-v2 embedder: shape, norm, ranking, batching, and the pinned-weights check."""

from __future__ import annotations

import math
import shutil
import threading
from pathlib import Path

import pytest

from retrieval.embedding import (
    EMBEDDING_DIMENSION,
    MODEL_NAME,
    MODEL_WEIGHTS_SHA256,
    WEIGHTS_FILE,
    SentenceTransformerEmbedder,
    bundled_model_dir,
    load_embedder,
)
from retrieval.errors import ConfigurationError
from retrieval.protocols import Embedder

pytestmark = [pytest.mark.slow, pytest.mark.integration]

PASSAGES = [
    "Employees may carry over at most five days of unused annual leave into the next calendar year.",
    "The data center's backup generators are tested on the first Monday of every month.",
    "Expense reports must be submitted within thirty days, with receipts attached for amounts over 25 euros.",
    "Customer records are deleted seven years after the contract ends, as the retention policy requires.",
    "The cafeteria serves vegetarian lasagne on Wednesdays.",
]


@pytest.fixture(scope="module")
def embedder() -> SentenceTransformerEmbedder:
    return load_embedder()


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def _close(a: list[float], b: list[float], tolerance: float = 1e-5) -> bool:
    return all(math.isclose(x, y, abs_tol=tolerance) for x, y in zip(a, b, strict=True))


def test_identity(embedder: SentenceTransformerEmbedder) -> None:
    assert isinstance(embedder, Embedder)
    assert embedder.model_name == MODEL_NAME == "sentence-transformers/all-MiniLM-L6-v2"
    assert embedder.dimension == EMBEDDING_DIMENSION == 384
    assert embedder.weights_sha256 == MODEL_WEIGHTS_SHA256


def test_load_embedder_is_shared() -> None:
    assert load_embedder() is load_embedder(32) is load_embedder(batch_size=32)


def test_vectors_have_the_dimension_and_unit_length(embedder: SentenceTransformerEmbedder) -> None:
    vectors = [*embedder.embed_documents(PASSAGES), embedder.embed_query("how many leave days carry over?")]
    for vector in vectors:
        assert isinstance(vector, list)
        assert len(vector) == 384
        assert all(isinstance(value, float) for value in vector)
        assert math.isclose(math.sqrt(sum(value * value for value in vector)), 1.0, abs_tol=1e-5)


@pytest.mark.parametrize(
    ("query", "relevant"),
    [
        ("How many vacation days can I take into next year?", 0),
        ("When are the emergency power generators checked?", 1),
        ("How long do we keep client data before deleting it?", 3),
    ],
)
def test_query_is_closest_to_the_relevant_passage(
    embedder: SentenceTransformerEmbedder, query: str, relevant: int
) -> None:
    passages = embedder.embed_documents(PASSAGES)
    scores = [_cosine(embedder.embed_query(query), passage) for passage in passages]
    assert max(range(len(scores)), key=scores.__getitem__) == relevant
    unrelated = 4
    assert scores[relevant] > scores[unrelated] + 0.2


def test_batch_equals_individual(embedder: SentenceTransformerEmbedder) -> None:
    batched = embedder.embed_documents(PASSAGES)
    one_by_one = [embedder.embed_documents([text])[0] for text in PASSAGES]
    as_queries = [embedder.embed_query(text) for text in PASSAGES]
    for batch_vector, single, query in zip(batched, one_by_one, as_queries, strict=True):
        assert _close(batch_vector, single)
        assert _close(batch_vector, query)


def test_the_query_path_gives_the_vectors_of_sentence_transformers_encode(
    embedder: SentenceTransformerEmbedder,
) -> None:
    # Queries skip `encode`'s per-call set-up (`_forward`); the vectors must be the ones `encode` gives,
    # for one query, for several sharing a pass, and for a text past the 256-token limit. Within 1e-6 per
    # component, not bit for bit: the path is the same, but torch's CPU kernels do not promise the same
    # rounding from one call to the next (a CI run saw the 8th decimal differ). A wrong path moves them by
    # far more: CLS instead of mean pooling by 0.65, truncating at 128 tokens instead of 256 by 0.068.
    texts = [*PASSAGES, "leave?", " ".join(PASSAGES * 12)]
    model = embedder._model
    for text in texts:
        expected = model.encode([text], convert_to_numpy=True, normalize_embeddings=True)[0].tolist()
        assert _close(embedder.embed_query(text), expected, 1e-6)
    batch = model.encode(texts, convert_to_numpy=True, normalize_embeddings=True).tolist()
    assert all(_close(a, b, 1e-6) for a, b in zip(embedder._encode_queries(texts), batch, strict=True))


def test_batches_split_across_calls_give_the_same_vectors(embedder: SentenceTransformerEmbedder) -> None:
    small_batches = SentenceTransformerEmbedder(batch_size=2)
    vectors = small_batches.embed_documents(PASSAGES)
    assert len(vectors) == len(PASSAGES)
    assert all(_close(a, b) for a, b in zip(vectors, embedder.embed_documents(PASSAGES), strict=True))


def test_no_documents_give_no_vectors(embedder: SentenceTransformerEmbedder) -> None:
    assert embedder.embed_documents([]) == []


def test_concurrent_callers_get_the_sequential_answers(embedder: SentenceTransformerEmbedder) -> None:
    expected_documents = embedder.embed_documents(PASSAGES * 4)
    queries = [f"question {number} about the leave policy" for number in range(12)]
    expected_queries = [embedder.embed_query(query) for query in queries]
    failures: list[BaseException] = []
    results: dict[str, list[list[float]]] = {}

    def worker() -> None:
        try:
            results["documents"] = embedder.embed_documents(PASSAGES * 4)
        except BaseException as exc:
            failures.append(exc)

    def requester(name: str) -> None:
        try:
            results[name] = [embedder.embed_query(query) for query in queries]
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=worker)] + [
        threading.Thread(target=requester, args=(f"queries-{n}",)) for n in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    assert all(_close(a, b) for a, b in zip(results["documents"], expected_documents, strict=True))
    for n in range(3):
        assert all(_close(a, b) for a, b in zip(results[f"queries-{n}"], expected_queries, strict=True))


def _copy_model(tmp_path: Path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(bundled_model_dir(), target)
    return target


def test_an_intact_copy_loads(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> None:
    copy = SentenceTransformerEmbedder(model_dir=_copy_model(tmp_path))
    assert copy.weights_sha256 == MODEL_WEIGHTS_SHA256
    assert _close(copy.embed_query(PASSAGES[0]), embedder.embed_query(PASSAGES[0]))


def test_tampered_weights_are_refused(tmp_path: Path) -> None:
    model_dir = _copy_model(tmp_path)
    weights = model_dir / WEIGHTS_FILE
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01
    weights.write_bytes(bytes(data))

    with pytest.raises(ConfigurationError, match="sha256") as caught:
        SentenceTransformerEmbedder(model_dir=model_dir)
    assert MODEL_WEIGHTS_SHA256 in caught.value.detail
    assert str(weights) in caught.value.detail


def test_missing_weights_are_refused(tmp_path: Path) -> None:
    model_dir = _copy_model(tmp_path)
    (model_dir / WEIGHTS_FILE).unlink()
    with pytest.raises(ConfigurationError, match="cannot be read"):
        SentenceTransformerEmbedder(model_dir=model_dir)


def test_batch_size_must_be_positive() -> None:
    with pytest.raises(ConfigurationError, match="batch size"):
        SentenceTransformerEmbedder(batch_size=0)
