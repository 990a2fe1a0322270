"""The contract for versions and models: deleting by document version, searching one model's vectors only.

The ingestion pipeline swaps a document's versions with three calls (delete what a crashed attempt left of the
new version, upsert it, delete every other version), and the service never compares a query with vectors of
another embedding model. Every store must agree on these: `VersionsContract` runs on each (test_stores.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from qdrant_client import QdrantClient, models
from qdrant_edge import (
    Distance,
    EdgeConfig,
    EdgeShard,
    EdgeVectorParams,
    PayloadSchemaType,
    UpdateOperation,
)

from retrieval.domain import ChunkPoint, document_id_for
from retrieval.protocols import VectorStore
from retrieval.vectorstore import (
    INTEGER_INDEX_FIELDS,
    PAYLOAD_INDEX_FIELDS,
    EdgeVectorStore,
    QdrantServerVectorStore,
)
from tests.retrieval.vectorstore.contract_fixture import (
    CONTRACT_HEALTH_CHECKS,
    DIM,
    MODEL_A,
    MODEL_B,
    PART,
    assert_exact_top_k,
    fresh_corpora,
    ids,
    point,
    unit,
)

pytestmark = pytest.mark.integration

ALL = ["c1", "c2"]
DOC = document_id_for("c1", "a.md")


def stored(store: VectorStore) -> set[str]:
    """Every chunk id in the partition (the test corpora only), found by search so scroll is not relied on."""
    return ids(store.search(PART, unit(0), corpus_ids=ALL, limit=1000))


# -- delete by version ---------------------------------------------------------------------------------------


# -- one embedding model per search --------------------------------------------------------------------------


# -- indexes on the new filter fields, also in partitions made before they existed ---------------------------

_OLD_KEYWORD_FIELDS = ("corpus_id", "document_id")  # all a partition had before versions and models


def test_ensure_partition_adds_new_indexes_to_an_old_edge_shard(tmp_path: Path) -> None:
    old = EdgeShard.create(
        str(tmp_path / PART),
        EdgeConfig(vectors={"dense": EdgeVectorParams(size=DIM, distance=Distance.Cosine)}),
    )
    for name in _OLD_KEYWORD_FIELDS:
        old.update(UpdateOperation.create_field_index(name, PayloadSchemaType.Keyword))
    old.close()

    store = EdgeVectorStore(tmp_path)
    kept = point("c1", unit(0), document_version=1, weights=MODEL_A)
    store.upsert(PART, [kept])
    store.ensure_partition(PART, DIM)
    store.close()

    shard = EdgeShard.load(str(tmp_path / PART))
    try:
        schema = {name: str(info.data_type) for name, info in shard.info().payload_schema.items()}
    finally:
        shard.close()
    assert schema == {
        **{name: "PayloadSchemaType.Keyword" for name in PAYLOAD_INDEX_FIELDS},
        **{name: "PayloadSchemaType.Integer" for name in INTEGER_INDEX_FIELDS},
    }
    reopened = EdgeVectorStore(tmp_path)
    try:
        [hit] = reopened.search(PART, unit(0), corpus_ids=["c1"], limit=5, weights_sha256=MODEL_A)
        assert hit.chunk_id == kept.chunk_id
    finally:
        reopened.close()


class _SchemaKeepingClient(QdrantClient):
    """qdrant-client's local mode, but remembering payload indexes as a server does (local mode has none)."""

    def __init__(self) -> None:
        super().__init__(":memory:")
        self.schema: dict[str, models.PayloadSchemaType] = {}
        self.created: list[tuple[str, Any]] = []

    def create_payload_index(self, collection_name: str, field_name: str, *args: Any, **kwargs: Any) -> Any:
        self.schema[field_name] = kwargs["field_schema"]
        self.created.append((field_name, kwargs["field_schema"]))
        return super().create_payload_index(collection_name, field_name, *args, **kwargs)

    def get_collection(self, collection_name: str, **kwargs: Any) -> models.CollectionInfo:
        info = super().get_collection(collection_name, **kwargs)
        schema = {k: models.PayloadIndexInfo(data_type=v, points=0) for k, v in self.schema.items()}
        return info.model_copy(update={"payload_schema": schema})


def test_ensure_partition_adds_new_indexes_to_an_old_server_collection() -> None:
    client = _SchemaKeepingClient()
    store = QdrantServerVectorStore(client, collection_prefix="test_")
    name = store.collection_name(PART)
    client.create_collection(
        name, vectors_config={"dense": models.VectorParams(size=DIM, distance=models.Distance.COSINE)}
    )
    for field in _OLD_KEYWORD_FIELDS:
        client.create_payload_index(name, field, field_schema=models.PayloadSchemaType.KEYWORD, wait=True)
    client.created.clear()

    store.ensure_partition(PART, DIM)
    assert sorted(client.created) == [
        ("acl_groups", models.PayloadSchemaType.KEYWORD),
        ("document_version", models.PayloadSchemaType.INTEGER),
        ("embedding_weights_sha256", models.PayloadSchemaType.KEYWORD),
    ]
    client.created.clear()
    store.ensure_partition(PART, DIM)
    assert client.created == []
    store.close()


class VersionsContract:
    """Document versions and the model filter."""

    def test_delete_one_version_of_a_document(self, store: VectorStore) -> None:
        store.ensure_partition(PART, DIM)
        v1 = [point("c1", unit(0), document_version=1) for _ in range(2)]
        v2 = [point("c1", unit(1), document_version=2) for _ in range(3)]
        other_doc_v2 = point("c1", unit(2), document="b.md", document_version=2)
        other_corpus_v2 = point("c2", unit(3), document_version=2)
        store.upsert(PART, [*v1, *v2, other_doc_v2, other_corpus_v2])

        store.delete(PART, corpus_id="c1", document_id=DOC, version=2)

        assert stored(store) == {p.chunk_id for p in v1} | {other_doc_v2.chunk_id, other_corpus_v2.chunk_id}

    def test_delete_every_version_but_one_of_a_document(self, store: VectorStore) -> None:
        store.ensure_partition(PART, DIM)
        v1 = point("c1", unit(0), document_version=1)
        v2 = [point("c1", unit(1), document_version=2) for _ in range(2)]
        v3 = point("c1", unit(2), document_version=3)
        unversioned = point("c1", unit(3))  # written before versions were recorded: not the version to keep
        other_doc_v1 = point("c1", unit(4), document="b.md", document_version=1)
        store.upsert(PART, [v1, *v2, v3, unversioned, other_doc_v1])

        store.delete(PART, corpus_id="c1", document_id=DOC, except_version=2)

        assert stored(store) == {p.chunk_id for p in v2} | {other_doc_v1.chunk_id}

    def test_version_bounds_without_a_document_apply_to_the_whole_corpus(self, store: VectorStore) -> None:
        store.ensure_partition(PART, DIM)
        a1, a2 = point("c1", unit(0), document_version=1), point("c1", unit(1), document_version=2)
        b1 = point("c1", unit(2), document="b.md", document_version=1)
        b3 = point("c1", unit(3), document="b.md", document_version=3)
        foreign1 = point("c2", unit(4), document_version=1)
        store.upsert(PART, [a1, a2, b1, b3, foreign1])

        store.delete(PART, corpus_id="c1", version=1)
        assert stored(store) == {a2.chunk_id, b3.chunk_id, foreign1.chunk_id}

        store.delete(PART, corpus_id="c1", except_version=3)
        assert stored(store) == {b3.chunk_id, foreign1.chunk_id}

    def test_version_swap_replaces_a_document_and_cleans_up_a_crashed_attempt(
        self, store: VectorStore
    ) -> None:
        store.ensure_partition(PART, DIM)
        v1 = [point("c1", unit(0), document_version=1, ordinal=i) for i in range(3)]
        bystander = point("c1", unit(0), document="b.md", document_version=1)
        # A crashed earlier attempt at version 2 wrote chunks 0 and 5; the new text has only chunks 0 and 1,
        # so re-upserting version 2 would overwrite chunk 0 but leave the stale chunk 5 behind.
        crashed = [point("c1", unit(1), document_version=2, ordinal=i, attempt="crashed") for i in (0, 5)]
        store.upsert(PART, [*v1, bystander, *crashed])

        store.delete(PART, corpus_id="c1", document_id=DOC, version=2)
        assert stored(store) == {p.chunk_id for p in v1} | {bystander.chunk_id}  # readers still see v1

        v2 = [point("c1", unit(1), document_version=2, ordinal=i) for i in range(2)]
        store.upsert(PART, v2)
        store.delete(PART, corpus_id="c1", document_id=DOC, except_version=2)

        hits = store.search(PART, unit(1), corpus_ids=ALL, limit=100)
        assert ids(hits) == {p.chunk_id for p in v2} | {bystander.chunk_id}
        assert all("attempt" not in h.payload for h in hits)
        assert store.count(PART) == 3

    def test_version_and_except_version_together_are_refused(self, store: VectorStore) -> None:
        store.ensure_partition(PART, DIM)
        kept = point("c1", unit(0), document_version=1)
        store.upsert(PART, [kept])
        for partition in (PART, "us.restricted"):  # refused before the partition is looked at
            with pytest.raises(ValueError, match="not both"):
                store.delete(partition, corpus_id="c1", document_id=DOC, version=1, except_version=2)
            with pytest.raises(ValueError):
                store.delete(partition, corpus_id="c1", version=1, except_version=1)
        for bad in [True, "1", 1.0]:
            with pytest.raises(TypeError):
                store.delete(PART, corpus_id="c1", version=bad)  # type: ignore[arg-type]
        assert stored(store) == {kept.chunk_id}

    def test_delete_by_version_in_a_missing_partition_is_no_error(self, store: VectorStore) -> None:
        store.delete("us.restricted", corpus_id="c1", document_id=DOC, version=2)
        store.delete("us.restricted", corpus_id="c1", except_version=2)
        assert store.partitions() == []

    def test_search_with_a_weights_hash_returns_only_that_models_points(self, store: VectorStore) -> None:
        store.ensure_partition(PART, DIM)
        a_c1 = point("c1", unit(0, (1, 1.0)), weights=MODEL_A)
        a_c2 = point("c2", unit(1), weights=MODEL_A)
        b_c1 = point("c1", unit(0), weights=MODEL_B)  # nearest to the query, but another model's vector
        b_c2 = point("c2", unit(0, (1, 0.5)), weights=MODEL_B)
        unknown = point("c1", unit(0))  # no weights recorded: no model can claim it
        store.upsert(PART, [a_c1, a_c2, b_c1, b_c2, unknown])
        query = unit(0)

        assert ids(store.search(PART, query, corpus_ids=ALL, limit=10, weights_sha256=MODEL_A)) == {
            a_c1.chunk_id,
            a_c2.chunk_id,
        }
        assert ids(store.search(PART, query, corpus_ids=ALL, limit=10, weights_sha256=MODEL_B)) == {
            b_c1.chunk_id,
            b_c2.chunk_id,
        }
        # Both filters hold at once.
        [hit] = store.search(PART, query, corpus_ids=["c1"], limit=10, weights_sha256=MODEL_A)
        assert (hit.chunk_id, hit.payload) == (a_c1.chunk_id, a_c1.payload)
        assert ids(store.search(PART, query, corpus_ids=["c2"], limit=1, weights_sha256=MODEL_B)) == {
            b_c2.chunk_id
        }
        # The limit counts only matching points, and without a hash nothing is filtered by model.
        assert ids(store.search(PART, query, corpus_ids=ALL, limit=1, weights_sha256=MODEL_A)) == {
            a_c1.chunk_id
        }
        assert len(store.search(PART, query, corpus_ids=ALL, limit=10)) == 5
        assert store.search(PART, query, corpus_ids=ALL, limit=10, weights_sha256="c" * 64) == []
        assert store.search(PART, query, corpus_ids=[], limit=10, weights_sha256=MODEL_A) == []
        assert store.search("us.restricted", query, corpus_ids=ALL, limit=10, weights_sha256=MODEL_A) == []

    @settings(max_examples=20, deadline=None, suppress_health_check=CONTRACT_HEALTH_CHECKS)
    @given(
        seed=st.integers(min_value=0, max_value=2**32 - 1),
        n_points=st.integers(min_value=0, max_value=40),
        n_corpora=st.integers(min_value=1, max_value=4),
        allowed_mask=st.lists(st.booleans(), min_size=4, max_size=4),
        model=st.sampled_from([MODEL_A, MODEL_B, None]),
        limit=st.integers(min_value=1, max_value=12),
    )
    def test_search_never_mixes_models_or_leaves_the_grant(
        self,
        store: VectorStore,
        seed: int,
        n_points: int,
        n_corpora: int,
        allowed_mask: list[bool],
        model: str | None,
        limit: int,
    ) -> None:
        # One partition for all examples, fresh corpora for each (as in the grant property of test_contract).
        rng = np.random.default_rng(seed)
        corpora = fresh_corpora(n_corpora)
        allowed = [c for c, on in zip(corpora, allowed_mask, strict=False) if on]
        weights = [MODEL_A, MODEL_B, None]
        points = [
            point(str(rng.choice(corpora)), rng.normal(size=DIM).tolist(), weights=weights[rng.integers(3)])
            for _ in range(n_points)
        ]
        store.ensure_partition(PART, DIM)
        store.upsert(PART, points)
        query = rng.normal(size=DIM)

        hits = store.search(PART, query.tolist(), corpus_ids=allowed, limit=limit, weights_sha256=model)

        assert all(hit.payload["corpus_id"] in allowed for hit in hits)
        if model is not None:
            assert all(hit.payload.get("embedding_weights_sha256") == model for hit in hits)

        def candidate(p: ChunkPoint) -> bool:
            in_model = model is None or p.payload.get("embedding_weights_sha256") == model
            return p.payload["corpus_id"] in allowed and in_model

        assert_exact_top_k(hits, [p for p in points if candidate(p)], query, limit)
