"""Property: whatever the catalog and the caller, /retrieve returns nothing outside the caller's grant,
and the audit event lists exactly what was returned.

Real policy (Cedar), real qdrant-edge shards, real SQLite catalog and log; the embedder and masker are
stand-ins (deterministic vectors, no masking) because they are not what this property is about.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retrieval.audit import SqlAuditStore
from retrieval.catalog import Catalog
from retrieval.db import Database, upgrade
from retrieval.domain import ChunkPoint, CorpusStatus, Principal, SearchMode, Sensitivity, partition_name
from retrieval.models import CorpusRow
from retrieval.policy import PolicyEngine
from retrieval.service import RetrievalService
from retrieval.settings import REPO_ROOT
from retrieval.sparse import Bm25Encoder
from retrieval.vectorstore import EdgeVectorStore
from tests.fakes import DIM, HashEmbedder, NoMasking

pytestmark = pytest.mark.integration

REGIONS = ["eu", "us"]


corpus_specs = st.lists(
    st.tuples(
        st.sampled_from(REGIONS), st.sampled_from(list(Sensitivity)), st.sampled_from(list(CorpusStatus))
    ),
    min_size=1,
    max_size=6,
)
principals = st.builds(
    Principal,
    id=st.just("someone"),
    roles=st.frozensets(st.sampled_from(["reader", "steward", "auditor", "admin"])),
    clearance=st.sampled_from(list(Sensitivity)),
    regions=st.frozensets(st.sampled_from([*REGIONS, "apac"])),
)


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Database, EdgeVectorStore, RetrievalService]]:
    root = tmp_path_factory.mktemp("invariants")
    url = f"sqlite:///{root / 'govrag.db'}"
    upgrade(url)
    db = Database(url)
    store = EdgeVectorStore(root / "qdrant")
    service = RetrievalService(
        catalog=Catalog(db, [root]),
        policy=PolicyEngine(REPO_ROOT / "policies"),
        store=store,
        embedder=HashEmbedder(),
        masker=NoMasking(),
        audit=SqlAuditStore(db),
    )
    yield db, store, service
    store.close()
    db.dispose()


counter = itertools.count()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    specs=corpus_specs,
    principal=principals,
    query=st.one_of(st.text(min_size=1, max_size=40), st.sampled_from(["policy notes", "chunk 2 notes"])),
    top_k=st.integers(1, 50),
    mode=st.sampled_from(list(SearchMode)),
    mmr=st.booleans(),
)
def test_nothing_outside_the_grant_and_every_answer_logged(
    world: tuple[Database, EdgeVectorStore, RetrievalService],
    specs: list[tuple[str, Sensitivity, CorpusStatus]],
    principal: Principal,
    query: str,
    top_k: int,
    mode: SearchMode,
    mmr: bool,
) -> None:
    db, store, service = world
    embedder = HashEmbedder()
    # Fresh corpora for this example; earlier examples' corpora stay in the catalog and the index, which only
    # makes the property harder to satisfy.
    corpora = []
    with db.session() as session:
        for region, sensitivity, status in specs:
            n = next(counter)
            row = CorpusRow(
                id=str(uuid.uuid4()),
                name=f"c{n}",
                region=region,
                sensitivity=sensitivity.name,
                status=status.value,
                source_path="/",
                owner="o",
                created_at=datetime.now(UTC),
                description="",
            )
            session.add(row)
            corpora.append(row)
    encoder = Bm25Encoder()
    for row in corpora:
        partition = partition_name(row.region, row.sensitivity)
        store.ensure_partition(partition, DIM)
        points = [
            ChunkPoint(
                chunk_id=str(uuid.uuid4()),
                vector=tuple(embedder.embed_query(f"{row.id}-{i}")),
                payload={
                    "document_id": str(uuid.uuid4()),
                    "corpus_id": row.id,
                    "source_uri": "file:///x",
                    "title": "t",
                    "page": None,
                    "start_char": 0,
                    "end_char": 1,
                    "content_sha256": "a" * 64,
                    "document_version": 1,
                    "embedding_model": embedder.model_name,
                    "embedding_weights_sha256": embedder.weights_sha256,
                    "text": f"chunk {i} policy notes",
                },
                sparse=encoder.encode_documents([f"chunk {i} policy notes"])[0],
            )
            for i in range(3)
        ]
        store.upsert(partition, points)

    result = service.retrieve(principal, query, top_k, mode=mode, mmr=mmr)

    with db.session() as session:
        catalog = {row.id: row for row in session.query(CorpusRow).all()}
    for chunk in result.chunks:
        corpus = catalog[chunk.citation.corpus_id]
        assert principal.roles & {"reader", "admin"}
        assert corpus.status == "approved"
        assert corpus.region in principal.regions
        assert Sensitivity.parse(corpus.sensitivity) <= principal.clearance
    assert len(result.chunks) <= top_k
    event = service._audit.get(result.request_id)
    assert [c.chunk_id for c in event.chunks] == [c.chunk_id for c in result.chunks]
    assert event.principal_id == principal.id and event.policy_version == result.policy_version
