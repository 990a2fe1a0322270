"""Data residency: a query touches only the stores of regions the reader may read, and a region whose store is
down fails the request (default) or is named in the answer and the audit event, never silently dropped.

The "us" store is a Qdrant server endpoint nobody listens on: a real client failing for real.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from retrieval.audit import SqlAuditStore
from retrieval.catalog import Catalog
from retrieval.db import Database, upgrade
from retrieval.domain import ChunkPoint, CorpusStatus, Principal, Sensitivity, VectorHit, partition_name
from retrieval.errors import BackendUnavailable
from retrieval.models import CorpusRow
from retrieval.policy import PolicyEngine
from retrieval.protocols import VectorStore
from retrieval.service import RetrievalService
from retrieval.settings import REPO_ROOT, ResidencySettings, Settings
from retrieval.vectorstore import EdgeVectorStore, QdrantServerVectorStore, RegionalVectorStore
from retrieval.vectorstore.factory import create_vector_store
from tests.ingest.pipeline_fixture import DIM, HashEmbedder, NoMasking

pytestmark = pytest.mark.integration

BOTH = Principal(
    "both", frozenset({"reader"}), clearance=Sensitivity.internal, regions=frozenset({"eu", "us"})
)
EU_ONLY = Principal("eu", frozenset({"reader"}), clearance=Sensitivity.internal, regions=frozenset({"eu"}))


class CountingStore:
    """Delegates to a store and counts the searches it received."""

    def __init__(self, inner: VectorStore) -> None:
        self.inner = inner
        self.searches = 0

    def search(self, partition: str, vector: Sequence[float], **kwargs: Any) -> list[VectorHit]:
        self.searches += 1
        return self.inner.search(partition, vector, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def down_store() -> QdrantServerVectorStore:
    return QdrantServerVectorStore.from_url("http://127.0.0.1:9", None, "govrag_")


def add_corpus(db: Database, region: str) -> CorpusRow:
    row = CorpusRow(
        id=str(uuid.uuid4()),
        name=f"{region}-corpus",
        region=region,
        sensitivity="internal",
        status=CorpusStatus.approved.value,
        source_path="/",
        owner="o",
        created_at=datetime.now(UTC),
        description="",
    )
    with db.session() as session:
        session.add(row)
    return row


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[tuple[Database, CountingStore, RegionalVectorStore]]:
    upgrade(database_url)
    db = Database(database_url)
    eu = add_corpus(db, "eu")
    add_corpus(db, "us")
    eu_store = EdgeVectorStore(tmp_path / "eu")
    partition = partition_name("eu", "internal")
    eu_store.ensure_partition(partition, DIM)
    embedder = HashEmbedder()
    eu_store.upsert(
        partition,
        [
            ChunkPoint(
                chunk_id=str(uuid.uuid4()),
                vector=tuple(embedder.embed_query("eu text")),
                payload={
                    "document_id": str(uuid.uuid4()),
                    "corpus_id": eu.id,
                    "source_uri": "file:///eu.md",
                    "title": "eu",
                    "page": None,
                    "start_char": 0,
                    "end_char": 7,
                    "content_sha256": "a" * 64,
                    "document_version": 1,
                    "embedding_model": embedder.model_name,
                    "embedding_weights_sha256": embedder.weights_sha256,
                    "text": "eu text",
                },
            )
        ],
    )
    us_store = CountingStore(down_store())
    store = RegionalVectorStore(EdgeVectorStore(tmp_path / "default"), {"eu": eu_store, "us": us_store})  # type: ignore[dict-item]
    yield db, us_store, store
    store.close()
    db.dispose()


def service(db: Database, store: VectorStore, *, fail_closed: bool) -> RetrievalService:
    return RetrievalService(
        catalog=Catalog(db, []),
        policy=PolicyEngine(REPO_ROOT / "policies"),
        store=store,
        embedder=HashEmbedder(),
        masker=NoMasking(),
        audit=SqlAuditStore(db),
        fail_closed_regions=fail_closed,
    )


def last_event(db: Database, principal_id: str) -> Any:
    from retrieval.audit import AuditQuery

    return SqlAuditStore(db).query(AuditQuery(principal_id=principal_id, limit=1)).events[0]


def test_a_down_region_fails_closed_by_default(
    world: tuple[Database, CountingStore, RegionalVectorStore],
) -> None:
    db, us, store = world
    with pytest.raises(BackendUnavailable, match="regions unavailable: us"):
        service(db, store, fail_closed=True).retrieve(BOTH, "eu text", 5)
    assert us.searches == 1
    event = last_event(db, "both")
    assert event.outcome == "error" and event.chunks == () and event.unavailable == ("us",)
    assert event.regions == ("eu", "us")


def test_a_down_region_is_named_when_answering_without_it(
    world: tuple[Database, CountingStore, RegionalVectorStore],
) -> None:
    db, _, store = world
    result = service(db, store, fail_closed=False).retrieve(BOTH, "eu text", 5)
    assert [chunk.text for chunk in result.chunks] == ["eu text"]
    assert result.unavailable_regions == ("us",)
    event = last_event(db, "both")
    assert event.outcome == "answered" and event.unavailable == ("us",)
    assert [chunk.chunk_id for chunk in event.chunks] == [chunk.chunk_id for chunk in result.chunks]


def test_a_query_touches_only_the_regions_the_reader_may_read(
    world: tuple[Database, CountingStore, RegionalVectorStore],
) -> None:
    db, us, store = world
    result = service(db, store, fail_closed=True).retrieve(EU_ONLY, "eu text", 5)
    assert [chunk.text for chunk in result.chunks] == ["eu text"] and result.unavailable_regions == ()
    assert us.searches == 0
    assert last_event(db, "eu").unavailable == ()


def test_writes_go_to_the_region_of_the_partition(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        residency=ResidencySettings.model_validate({"endpoints": {"us": {"path": str(tmp_path / "us")}}}),
    )
    store = create_vector_store(settings)
    try:
        assert isinstance(store, RegionalVectorStore) and store.regions == ("us",)
        store.ensure_partition("us.internal", DIM)
        store.ensure_partition("eu.internal", DIM)
        assert (tmp_path / "us" / "us.internal").is_dir()
        assert (tmp_path / "data" / "qdrant" / "eu.internal").is_dir()
        assert not (tmp_path / "data" / "qdrant" / "us.internal").exists()
        assert store.partitions() == ["eu.internal", "us.internal"]
    finally:
        store.close()


def test_residency_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="exactly one of url or path"):
        ResidencySettings.model_validate({"endpoints": {"us": {}}})
    with pytest.raises(ValueError, match="invalid region"):
        ResidencySettings.model_validate({"endpoints": {"US!": {"path": "/x"}}})
    assert ResidencySettings().fail_closed is True
