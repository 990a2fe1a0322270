"""The contract for `scroll`: every point of a corpus or a document once, with payload, in point id
order; `ScrollContract` runs on every store (bound in test_stores.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from retrieval.domain import document_id_for
from retrieval.errors import BackendUnavailable
from retrieval.protocols import VectorStore
from retrieval.vectorstore import EdgeVectorStore, QdrantServerVectorStore
from tests.retrieval.vectorstore.contract_fixture import DIM, PART, point, unit

pytestmark = pytest.mark.integration


def test_both_engines_scroll_in_the_same_order(tmp_path: Path) -> None:
    points = [point("c1", unit(i % DIM), document=f"d{i}.md") for i in range(40)]
    orders = []
    stores: list[VectorStore] = [
        EdgeVectorStore(tmp_path),
        QdrantServerVectorStore(QdrantClient(":memory:")),
    ]
    for store in stores:
        try:
            store.ensure_partition(PART, DIM)
            store.upsert(PART, points[::-1])  # written in another order than the one expected back
            orders.append([h.chunk_id for h in store.scroll(PART, corpus_id="c1", page_size=7)])
        finally:
            store.close()
    assert orders[0] == orders[1] == sorted(p.chunk_id for p in points)


def test_edge_scroll_fails_cleanly_when_the_store_closes_between_pages(tmp_path: Path) -> None:
    store = EdgeVectorStore(tmp_path)
    store.ensure_partition(PART, DIM)
    store.upsert(PART, [point("c1", unit(0)) for _ in range(5)])
    pages = store.scroll(PART, corpus_id="c1", page_size=2)
    first = [next(pages), next(pages)]
    store.close()
    assert len(first) == 2
    with pytest.raises(BackendUnavailable, match="closed"):
        list(pages)


class ScrollContract:
    """Scrolling a corpus or a document."""

    def test_scroll_pages_through_every_point_of_a_corpus_once_in_id_order(self, store: VectorStore) -> None:
        store.ensure_partition(PART, DIM)
        mine = [
            point("c1", unit(i % DIM), document=f"d{i % 3}.md", n=i, tags=["t", str(i)]) for i in range(23)
        ]
        other = [point("c2", unit(0)) for _ in range(4)]
        store.upsert(PART, mine + other)

        hits = list(store.scroll(PART, corpus_id="c1", page_size=4))

        assert [h.chunk_id for h in hits] == sorted(p.chunk_id for p in mine)
        assert {h.chunk_id: h.payload for h in hits} == {p.chunk_id: p.payload for p in mine}
        assert all(h.score == 0.0 and h.partition == PART for h in hits)

    def test_scroll_is_complete_at_every_page_boundary(self, store: VectorStore) -> None:
        page_size = 3
        for n in [0, 1, page_size - 1, page_size, page_size + 1, 2 * page_size, 2 * page_size + 1]:
            corpus = f"n{n}"
            points = [point(corpus, unit(0)) for _ in range(n)]
            store.ensure_partition(PART, DIM)
            store.upsert(PART, points)
            got = [h.chunk_id for h in store.scroll(PART, corpus_id=corpus, page_size=page_size)]
            assert got == sorted(p.chunk_id for p in points), n

    def test_scroll_with_the_default_page_size(self, store: VectorStore) -> None:
        store.ensure_partition(PART, DIM)
        points = [point("c1", unit(i % DIM)) for i in range(300)]  # more than one default page
        store.upsert(PART, points)
        assert [h.chunk_id for h in store.scroll(PART, corpus_id="c1")] == sorted(p.chunk_id for p in points)

    def test_scroll_one_document(self, store: VectorStore) -> None:
        store.ensure_partition(PART, DIM)
        wanted = [point("c1", unit(0), document="a.md", document_version=v) for v in (1, 1, 2)]
        store.upsert(
            PART, [*wanted, point("c1", unit(1), document="b.md"), point("c2", unit(2), document="a.md")]
        )

        hits = list(
            store.scroll(PART, corpus_id="c1", document_id=document_id_for("c1", "a.md"), page_size=2)
        )

        assert [h.chunk_id for h in hits] == sorted(p.chunk_id for p in wanted)
        assert sorted(h.payload["document_version"] for h in hits) == [1, 1, 2]
        # A document id only counts within its corpus.
        assert list(store.scroll(PART, corpus_id="c2", document_id=document_id_for("c1", "a.md"))) == []

    def test_scroll_of_a_missing_partition_or_corpus_gives_nothing(self, store: VectorStore) -> None:
        assert list(store.scroll("us.restricted", corpus_id="c1")) == []
        assert list(store.scroll("us.restricted", corpus_id="c1", document_id="x", page_size=1)) == []
        store.ensure_partition(PART, DIM)
        assert list(store.scroll(PART, corpus_id="c1")) == []
        store.upsert(PART, [point("c1", unit(0))])
        assert list(store.scroll(PART, corpus_id="nobody")) == []
        assert store.partitions() == [PART]

    def test_scroll_refuses_bad_arguments_at_the_call(self, store: VectorStore) -> None:
        # Raised by the call itself, not by the first `next`: nothing is iterated here.
        for page_size in (0, -1):
            with pytest.raises(ValueError, match="page_size"):
                store.scroll(PART, corpus_id="c1", page_size=page_size)
        with pytest.raises(ValueError, match="partition"):
            store.scroll("../escape", corpus_id="c1")
