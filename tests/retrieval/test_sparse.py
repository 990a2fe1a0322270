"""The BM25 encoder: stemmed, stop-word-free terms; documents weighted by frequency and length."""

from __future__ import annotations

import pytest

from retrieval.protocols import SparseEncoder
from retrieval.sparse import Bm25Encoder

pytestmark = pytest.mark.unit


def test_is_a_sparse_encoder() -> None:
    assert isinstance(Bm25Encoder(), SparseEncoder)


def test_queries_get_one_unit_weight_per_distinct_stemmed_term() -> None:
    encoder = Bm25Encoder()
    query = encoder.encode_query("Running cats and the running dogs")
    assert query.values == (1.0, 1.0, 1.0)  # run, cat, dog; "and", "the" are stop words
    assert set(encoder.encode_query("run cats dog").indices) == set(query.indices)
    assert encoder.encode_query("the of and").indices == ()


def test_document_weights_saturate_with_frequency_and_fall_with_length() -> None:
    encoder = Bm25Encoder(avg_len=10)
    [once, thrice, long] = encoder.encode_documents(
        ["zebra herd", "zebra zebra zebra herd", "zebra " + " ".join(f"word{i}" for i in range(40))]
    )
    zebra = encoder.encode_query("zebra").indices[0]

    def weight(vector: object) -> float:
        indices, values = vector.indices, vector.values  # type: ignore[attr-defined]
        return float(dict(zip(indices, values, strict=True))[zebra])

    assert weight(once) < weight(thrice) < 3 * weight(once)  # more is better, but saturating
    assert weight(long) < weight(once)  # the same count in a longer text weighs less


def test_invalid_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        Bm25Encoder(avg_len=0)
    with pytest.raises(ValueError):
        Bm25Encoder(b=1.5)
