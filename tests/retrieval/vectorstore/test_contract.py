"""One contract for every `VectorStore`: `StoreContract`, a mixin that test_stores.py binds to each store
(qdrant-edge shards, qdrant-client, and the wrappers production puts around them); here beside it, tests of
one engine only.

The server implementation runs against qdrant-client's local mode (`:memory:`, or a path where persistence is
under test), which speaks the same client API as a Qdrant server: no Qdrant server can be installed where
these tests run. Vectors are small and seeded; no models.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from qdrant_client import QdrantClient
from qdrant_edge import EdgeShard

from retrieval.domain import ChunkPoint, document_id_for
from retrieval.errors import BackendUnavailable
from retrieval.protocols import VectorStore
from retrieval.settings import REPO_ROOT, Settings
from retrieval.vectorstore import (
    INTEGER_INDEX_FIELDS,
    PAYLOAD_INDEX_FIELDS,
    EdgeVectorStore,
    QdrantServerVectorStore,
    create_vector_store,
)
from retrieval.vectorstore.diskguard import DiskSpaceGuard
from tests.retrieval.vectorstore.contract_fixture import (
    CONTRACT_HEALTH_CHECKS,
    DIM,
    PART,
    Backend,
    assert_exact_top_k,
    fresh_corpora,
    ids,
    point,
    random_points,
    unit,
)

pytestmark = pytest.mark.integration


# -- the contract --------------------------------------------------------------------------------------------


# -- qdrant-edge only: the data directory belongs to one open store ------------------------------------------

_OTHER_PROCESS = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from retrieval.errors import BackendUnavailable
    from retrieval.vectorstore import EdgeVectorStore

    store = EdgeVectorStore(Path(sys.argv[1]))
    try:
        print("count", store.count(sys.argv[2]))
    except BackendUnavailable as exc:
        print("unavailable", exc)
    finally:
        store.close()
    """
)


def _run_other_process(root: Path, partition: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", _OTHER_PROCESS, str(root), partition],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
        check=True,
    )
    return result.stdout.strip()


def test_edge_directory_is_locked_while_a_store_holds_it(tmp_path: Path) -> None:
    root = tmp_path / "qdrant"
    owner = EdgeVectorStore(root)
    owner.ensure_partition(PART, DIM)
    owner.upsert(PART, [point("c1", unit(0))])

    # Same process, second store: the engine refuses the WAL lock at once (no waiting, no shared state).
    intruder = EdgeVectorStore(root)
    with pytest.raises(BackendUnavailable, match="is locked"):
        intruder.count(PART)
    with pytest.raises(BackendUnavailable, match="is locked"):
        intruder.ensure_partition(PART, DIM)
    # Its other partitions are unaffected, and the owner goes on working.
    intruder.ensure_partition("eu.public", DIM)
    intruder.close()
    assert owner.count(PART) == 1

    # Another process: the same refusal.
    output = _run_other_process(root, PART)
    assert output.startswith("unavailable") and "is locked" in output

    # Closing releases the lock.
    owner.close()
    assert _run_other_process(root, PART) == "count 1"


def test_edge_upsert_is_durable_when_it_returns(tmp_path: Path) -> None:
    root = tmp_path / "qdrant"
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from retrieval.domain import ChunkPoint
        from retrieval.vectorstore import EdgeVectorStore

        store = EdgeVectorStore(Path({str(root)!r}))
        store.ensure_partition({PART!r}, {DIM})
        store.upsert({PART!r}, [ChunkPoint({point("c1", unit(0)).chunk_id!r}, {tuple(unit(0))!r},
                                           {{"corpus_id": "c1"}})])
        os.kill(os.getpid(), signal.SIGKILL)  # no close, no flush at exit
        """
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, timeout=60, check=False)
    assert result.returncode == -signal.SIGKILL

    store = EdgeVectorStore(root)
    try:
        assert store.count(PART, corpus_ids=["c1"]) == 1
    finally:
        store.close()


def edge_index_types(path: Path) -> dict[str, str]:
    shard = EdgeShard.load(str(path))
    try:
        return {name: str(info.data_type) for name, info in shard.info().payload_schema.items()}
    finally:
        shard.close()


def test_edge_shard_has_indexes_on_filter_fields(tmp_path: Path) -> None:
    store = EdgeVectorStore(tmp_path)
    store.ensure_partition(PART, DIM)
    store.close()
    assert edge_index_types(tmp_path / PART) == {
        **{name: "PayloadSchemaType.Keyword" for name in PAYLOAD_INDEX_FIELDS},
        **{name: "PayloadSchemaType.Integer" for name in INTEGER_INDEX_FIELDS},
    }


def test_edge_store_refuses_work_after_close(tmp_path: Path) -> None:
    store = EdgeVectorStore(tmp_path)
    store.ensure_partition(PART, DIM)
    store.close()
    store.close()  # idempotent
    with pytest.raises(BackendUnavailable, match="closed"):
        store.upsert(PART, [point("c1", unit(0))])


# -- factory -------------------------------------------------------------------------------------------------


def test_factory_defaults_to_edge_shards_under_the_data_dir(tmp_path: Path) -> None:
    store = create_vector_store(Settings(data_dir=tmp_path, qdrant_url=None))
    try:
        assert isinstance(store, DiskSpaceGuard)  # the embedded engine's writes check the free space first
        assert isinstance(store.inner, EdgeVectorStore)
        assert store.inner.root == tmp_path / "qdrant"
    finally:
        store.close()


def test_factory_uses_a_server_when_a_url_is_set(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        qdrant_url="https://qdrant.invalid:6333",
        qdrant_api_key="secret",  # type: ignore[arg-type]
        qdrant_collection_prefix="x_",
    )
    store = create_vector_store(settings)  # builds a client; nothing is contacted
    try:
        assert isinstance(store, QdrantServerVectorStore)
        assert store.collection_name("eu.internal") == "x_eu__internal"
    finally:
        store.close()


def test_server_errors_become_backend_unavailable() -> None:
    # Port 9 (discard) on localhost: nothing listens there, the connection is refused at once.
    store = QdrantServerVectorStore(
        QdrantClient(url="http://127.0.0.1:9", timeout=2, check_compatibility=False)
    )
    try:
        with pytest.raises(BackendUnavailable, match="Qdrant server"):
            store.search(PART, unit(0), corpus_ids=["c1"], limit=3)
        with pytest.raises(BackendUnavailable):
            store.ensure_partition(PART, DIM)
    finally:
        store.close()


class StoreContract:
    """The core contract: partitions, writes, deletes, counts, the grant filter, exact search, persistence."""

    def test_both_implement_the_protocol(self, store: VectorStore) -> None:
        assert isinstance(store, VectorStore)

    def test_ensure_partition_is_idempotent(self, store: VectorStore) -> None:
        store.ensure_partition(PART, DIM)
        p = point("c1", unit(0))
        store.upsert(PART, [p])
        store.ensure_partition(PART, DIM)
        assert store.count(PART) == 1
        assert store.partitions() == [PART]

    def test_search_returns_nearest_first_with_payload_and_partition(self, store: VectorStore) -> None:
        store.ensure_partition(PART, DIM)
        far = point("c1", unit(1), title="far")
        near = point("c1", unit(0), title="near", page=3, tags=["x", "y"])
        middle = point("c1", unit(0, (1, 1.0)), title="middle")
        store.upsert(PART, [far, near, middle])

        hits = store.search(PART, unit(0), corpus_ids=["c1"], limit=3)

        assert [h.chunk_id for h in hits] == [near.chunk_id, middle.chunk_id, far.chunk_id]
        assert hits[0].score == pytest.approx(1.0, abs=1e-5)
        assert hits[1].score == pytest.approx(2**-0.5, abs=1e-5)
        assert hits[2].score == pytest.approx(0.0, abs=1e-5)
        assert hits[0].payload == near.payload
        assert all(h.partition == PART for h in hits)
        assert [h.chunk_id for h in store.search(PART, unit(0), corpus_ids=["c1"], limit=1)] == [
            near.chunk_id
        ]

    def test_search_only_returns_the_given_corpora(self, store: VectorStore) -> None:
        store.ensure_partition(PART, DIM)
        mine, other = point("mine", unit(1)), point("other", unit(0))
        store.upsert(PART, [mine, other])

        hits = store.search(PART, unit(0), corpus_ids=["mine"], limit=10)

        assert ids(hits) == {mine.chunk_id}
        assert ids(store.search(PART, unit(0), corpus_ids=["mine", "other", "mine"], limit=10)) == {
            mine.chunk_id,
            other.chunk_id,
        }

    def test_empty_corpus_ids_give_no_hits(self, store: VectorStore) -> None:
        store.ensure_partition(PART, DIM)
        store.upsert(PART, [point("c1", unit(0))])
        assert store.search(PART, unit(0), corpus_ids=[], limit=10) == []
        assert store.count(PART, corpus_ids=[]) == 0

    def test_a_string_is_not_a_list_of_corpora(self, store: VectorStore) -> None:
        store.ensure_partition(PART, DIM)
        with pytest.raises(TypeError):
            store.search(PART, unit(0), corpus_ids="c1", limit=10)

    def test_missing_partition_gives_no_hits_and_no_error(self, store: VectorStore) -> None:
        assert store.search("us.restricted", unit(0), corpus_ids=["c1"], limit=5) == []
        assert store.count("us.restricted") == 0
        store.delete("us.restricted", corpus_id="c1")
        assert store.partitions() == []

    def test_partitions_are_isolated(self, store: VectorStore) -> None:
        store.ensure_partition(PART, DIM)
        store.ensure_partition("eu.public", DIM)
        store.upsert("eu.public", [point("c1", unit(0))])
        assert store.search(PART, unit(0), corpus_ids=["c1"], limit=5) == []
        assert store.count(PART) == 0

    def test_upserting_the_same_ids_again_does_not_duplicate(self, store: VectorStore) -> None:
        store.ensure_partition(PART, DIM)
        points = [point("c1", unit(i), version=1) for i in range(4)]
        store.upsert(PART, points)
        rewritten = [ChunkPoint(p.chunk_id, p.vector, {**p.payload, "version": 2}) for p in points]
        store.upsert(PART, rewritten)

        assert store.count(PART) == 4
        hits = store.search(PART, unit(0), corpus_ids=["c1"], limit=10)
        assert len(hits) == 4
        assert {h.payload["version"] for h in hits} == {2}

    def test_delete_by_corpus_and_by_document(self, store: VectorStore) -> None:
        store.ensure_partition(PART, DIM)
        keep_doc = [point("c1", unit(0), document="keep.md") for _ in range(2)]
        drop_doc = [point("c1", unit(1), document="drop.md") for _ in range(3)]
        other = [point("c2", unit(2)) for _ in range(2)]
        store.upsert(PART, keep_doc + drop_doc + other)

        store.delete(PART, corpus_id="c1", document_id=document_id_for("c1", "drop.md"))
        assert store.count(PART, corpus_ids=["c1"]) == 2
        assert ids(store.search(PART, unit(1), corpus_ids=["c1"], limit=10)) == {p.chunk_id for p in keep_doc}

        # A document id only deletes within its corpus.
        store.delete(PART, corpus_id="c2", document_id=document_id_for("c1", "keep.md"))
        assert store.count(PART) == 4

        store.delete(PART, corpus_id="c1")
        assert store.count(PART, corpus_ids=["c1"]) == 0
        assert store.count(PART) == 2

    def test_count_with_and_without_corpus_filter(self, store: VectorStore) -> None:
        store.ensure_partition(PART, DIM)
        assert store.count(PART) == 0
        store.upsert(
            PART, [point("c1", unit(0)) for _ in range(3)] + [point("c2", unit(1)) for _ in range(2)]
        )
        assert store.count(PART) == 5
        assert store.count(PART, corpus_ids=["c1"]) == 3
        assert store.count(PART, corpus_ids=["c2", "c1"]) == 5
        assert store.count(PART, corpus_ids=["nobody"]) == 0

    def test_partitions_lists_created_ones(self, store: VectorStore) -> None:
        assert store.partitions() == []
        for name in ["us.restricted", "eu.internal", "eu-west.public"]:
            store.ensure_partition(name, DIM)
        assert store.partitions() == ["eu-west.public", "eu.internal", "us.restricted"]

    def test_invalid_partition_names_are_refused(self, store: VectorStore) -> None:
        for name in ["../escape", "eu/internal", "", "EU.internal", "eu..internal"]:
            with pytest.raises(ValueError):
                store.ensure_partition(name, DIM)

    def test_chunk_ids_must_be_canonical_uuids(self, store: VectorStore) -> None:
        store.ensure_partition(PART, DIM)
        good = point("c1", unit(0))
        for bad in ["chunk-1", good.chunk_id.upper()]:
            with pytest.raises(ValueError):
                store.upsert(PART, [ChunkPoint(bad, good.vector, good.payload)])
        assert store.count(PART) == 0

    def test_data_survives_close_and_reopen(self, backend: Backend) -> None:
        first = backend.open(persistent=True)
        first.ensure_partition(PART, DIM)
        kept, deleted = point("c1", unit(0), title="kept"), point("c2", unit(1))
        first.upsert(PART, [kept, deleted])
        first.delete(PART, corpus_id="c2")
        first.close()

        second = backend.open(persistent=True)
        assert second.partitions() == [PART]
        assert second.count(PART) == 1
        [hit] = second.search(PART, unit(0), corpus_ids=["c1", "c2"], limit=5)
        assert (hit.chunk_id, hit.payload) == (kept.chunk_id, kept.payload)

    @settings(max_examples=25, deadline=None, suppress_health_check=CONTRACT_HEALTH_CHECKS)
    @given(
        seed=st.integers(min_value=0, max_value=2**32 - 1),
        n_points=st.integers(min_value=0, max_value=40),
        n_corpora=st.integers(min_value=1, max_value=5),
        allowed_mask=st.lists(st.booleans(), min_size=5, max_size=5),
        limit=st.integers(min_value=1, max_value=12),
    )
    def test_search_never_leaves_the_grant_and_is_the_exact_top_k(
        self,
        store: VectorStore,
        seed: int,
        n_points: int,
        n_corpora: int,
        allowed_mask: list[bool],
        limit: int,
    ) -> None:
        # One store and one partition for all examples (fixtures are per test; a shard per example would cost
        # a directory and its indexes each time), fresh corpora for each: earlier examples' points stay around
        # as foreign corpora that no grant here names.
        rng = np.random.default_rng(seed)
        corpora = fresh_corpora(n_corpora)
        allowed = [c for c, on in zip(corpora, allowed_mask, strict=False) if on]
        points = random_points(rng, corpora, n_points)
        store.ensure_partition(PART, DIM)
        store.upsert(PART, points)
        query = rng.normal(size=DIM)

        hits = store.search(PART, query.tolist(), corpus_ids=allowed, limit=limit)

        assert all(hit.payload["corpus_id"] in allowed for hit in hits)
        assert all(hit.partition == PART for hit in hits)
        assert_exact_top_k(hits, [p for p in points if p.payload["corpus_id"] in allowed], query, limit)

    def test_upsert_into_a_missing_partition_is_unavailable(self, store: VectorStore) -> None:
        with pytest.raises(BackendUnavailable):
            store.upsert("eu.secret", [point("c1", unit(0))])
