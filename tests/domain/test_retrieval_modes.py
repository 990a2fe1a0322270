"""`RetrievalService.retrieve` in dense, sparse and hybrid mode, with the per-document cap and diversity.

Real Cedar policy, qdrant-edge, SQLite catalog and log, and the real BM25 encoder; the embedder maps a few
texts to chosen vectors (the model is not what is under test).
"""

from __future__ import annotations

import dataclasses
import json
import threading
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from retrieval.audit import AuditQuery, SqlAuditStore, event_json
from retrieval.catalog import Catalog
from retrieval.db import Database, upgrade
from retrieval.domain import ChunkPoint, Principal, SearchMode, Sensitivity
from retrieval.errors import RetrievalFailed
from retrieval.models import CorpusRow
from retrieval.policy import PolicyEngine
from retrieval.protocols import MaskedText
from retrieval.service import RetrievalService
from retrieval.settings import REPO_ROOT, RetrievalSettings
from retrieval.sparse import Bm25Encoder
from retrieval.vectorstore import EdgeVectorStore
from tests.ingest.pipeline_fixture import NoMasking

pytestmark = pytest.mark.integration

DIM = 4
WEIGHTS = "w" * 64
READER = Principal("reader", frozenset({"reader"}), clearance=Sensitivity.internal, regions=frozenset({"eu"}))
# Chunk texts and their vectors. By vector, the query "zebra migration" ranks savanna, grassland, herds,
# herds again, crossing, canteen; by keyword it matches the zebra chunks only.
VECTORS = {
    "zebra migration": (1.0, 0.0, 0.0, 0.0),
    "savanna ecology notes": (1.0, 0.1, 0.0, 0.0),
    "grassland ecology notes": (0.9, 0.2, 0.0, 0.0),
    "zebra migration counts zebra herds": (0.3, 1.0, 0.0, 0.0),
    "zebra migration counts zebra herds again": (0.3, 1.0, 0.01, 0.0),
    "a zebra crossing in town": (0.1, 0.0, 1.0, 0.0),
    "canteen menu": (0.0, 0.0, 0.0, 1.0),
}
DOCUMENTS = {
    "savanna.md": ["savanna ecology notes", "grassland ecology notes"],
    "herds.md": ["zebra migration counts zebra herds", "zebra migration counts zebra herds again"],
    "town.md": ["a zebra crossing in town", "canteen menu"],
}


class TableEmbedder:
    model_name = "test-table"
    weights_sha256 = WEIGHTS
    dimension = DIM

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return [self.embed_query(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return list(VECTORS[text])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Database, EdgeVectorStore, str]]:
    root = tmp_path_factory.mktemp("modes")
    url = f"sqlite:///{root / 'govrag.db'}"
    upgrade(url)
    db = Database(url)
    store = EdgeVectorStore(root / "qdrant")
    corpus_id = str(uuid.uuid4())
    with db.session() as session:
        session.add(
            CorpusRow(
                id=corpus_id,
                name="eu-notes",
                region="eu",
                sensitivity="internal",
                status="approved",
                source_path="/",
                owner="o",
                created_at=datetime.now(UTC),
                description="",
            )
        )
    encoder = Bm25Encoder()
    store.ensure_partition("eu.internal", DIM)
    points = []
    for document, texts in DOCUMENTS.items():
        document_id = str(uuid.uuid5(uuid.NAMESPACE_URL, document))
        for ordinal, text in enumerate(texts):
            points.append(
                ChunkPoint(
                    chunk_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{document}#{ordinal}")),
                    vector=VECTORS[text],
                    payload={
                        "document_id": document_id,
                        "corpus_id": corpus_id,
                        "source_uri": f"file:///{document}",
                        "title": document,
                        "page": None,
                        "start_char": 0,
                        "end_char": len(text),
                        "content_sha256": "a" * 64,
                        "document_version": 1,
                        "embedding_model": "test-table",
                        "embedding_weights_sha256": WEIGHTS,
                        "text": text,
                    },
                    sparse=encoder.encode_documents([text])[0],
                )
            )
    store.upsert("eu.internal", points)
    yield db, store, corpus_id
    store.close()
    db.dispose()


def service(world: tuple[Database, EdgeVectorStore, str], **options: object) -> RetrievalService:
    db, store, _ = world
    return RetrievalService(
        catalog=Catalog(db, [Path("/")]),
        policy=PolicyEngine(REPO_ROOT / "policies"),
        store=store,
        embedder=TableEmbedder(),
        masker=NoMasking(),
        audit=SqlAuditStore(db),
        options=RetrievalSettings(**options),  # type: ignore[arg-type]
    )


def texts(result: object) -> list[str]:
    return [chunk.text for chunk in result.chunks]  # type: ignore[attr-defined]


def test_each_mode_ranks_its_own_way(world: tuple[Database, EdgeVectorStore, str]) -> None:
    retrieval = service(world)
    dense = retrieval.retrieve(READER, "zebra migration", 2, mode=SearchMode.dense)
    sparse = retrieval.retrieve(READER, "zebra migration", 3, mode=SearchMode.sparse)
    hybrid = retrieval.retrieve(READER, "zebra migration", 10, mode=SearchMode.hybrid)

    assert texts(dense) == ["savanna ecology notes", "grassland ecology notes"]
    # Only keyword matches, the two-term chunks first.
    assert set(texts(sparse)[:2]) == {
        "zebra migration counts zebra herds",
        "zebra migration counts zebra herds again",
    }
    assert texts(sparse)[2] == "a zebra crossing in town"
    # Hybrid: the herds chunks are in both rankings, so they lead; every chunk is somewhere in the fusion.
    assert set(texts(hybrid)[:2]) == set(texts(sparse)[:2])
    assert len(texts(hybrid)) == 6
    assert all(0 < chunk.score < 2 / 60 + 1e-9 for chunk in hybrid.chunks)


def test_the_default_mode_is_a_setting(world: tuple[Database, EdgeVectorStore, str]) -> None:
    assert service(world).default_mode is SearchMode.hybrid
    as_sparse = service(world, default_mode="sparse").retrieve(READER, "zebra migration", 3)
    assert "savanna ecology notes" not in texts(as_sparse)


def test_the_per_document_cap(world: tuple[Database, EdgeVectorStore, str]) -> None:
    capped = service(world, max_chunks_per_document=1).retrieve(READER, "zebra migration", 5, mode="sparse")
    documents = [chunk.citation.document_id for chunk in capped.chunks]
    assert len(documents) == len(set(documents)) == 2  # herds.md and town.md, once each
    uncapped = service(world).retrieve(READER, "zebra migration", 5, mode="sparse")
    assert len(uncapped.chunks) == 3


def test_mmr_passes_over_a_repeated_chunk_and_the_log_has_what_was_returned(
    world: tuple[Database, EdgeVectorStore, str],
) -> None:
    plain = service(world).retrieve(READER, "zebra migration", 2, mode="sparse")
    diverse = service(world, mmr_diversity=0.6).retrieve(
        READER, "zebra migration", 2, mode="sparse", mmr=True
    )

    assert set(texts(plain)) == {
        "zebra migration counts zebra herds",
        "zebra migration counts zebra herds again",
    }
    assert texts(diverse)[1] == "a zebra crossing in town"
    event = SqlAuditStore(world[0]).get(diverse.request_id)
    assert [c.chunk_id for c in event.chunks] == [c.chunk_id for c in diverse.chunks]


def test_no_grant_means_no_search_in_any_mode(world: tuple[Database, EdgeVectorStore, str]) -> None:
    outsider = Principal(
        "outsider", frozenset({"reader"}), clearance=Sensitivity.internal, regions=frozenset({"us"})
    )
    for mode in SearchMode:
        assert service(world).retrieve(outsider, "zebra migration", 5, mode=mode).chunks == ()


class GatedMasker:
    """Masks only once the search has begun: a service that masked before searching would wait forever."""

    def __init__(self, searching: threading.Event) -> None:
        self.searching = searching

    def mask(self, text: str) -> MaskedText:
        if not self.searching.wait(timeout=10):
            raise AssertionError("the query was masked before the search started, not beside it")
        return MaskedText(text.replace("zebra", "<ANIMAL>"), ())

    def mask_batch(self, texts: Sequence[str]) -> list[MaskedText]:
        return [self.mask(text) for text in texts]


class SignallingStore:
    def __init__(self, inner: EdgeVectorStore, searching: threading.Event) -> None:
        self.inner, self.searching = inner, searching

    def search(self, *args: Any, **kwargs: Any) -> Any:
        self.searching.set()
        return self.inner.search(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class FailingMasker:
    def mask(self, text: str) -> MaskedText:
        raise RuntimeError("the NER model is gone")

    def mask_batch(self, texts: Sequence[str]) -> list[MaskedText]:
        raise RuntimeError("the NER model is gone")


def test_the_query_is_masked_for_the_log_beside_the_search(
    world: tuple[Database, EdgeVectorStore, str],
) -> None:
    db, store, _ = world
    searching = threading.Event()
    retrieval = service(world)
    retrieval._store = SignallingStore(store, searching)  # type: ignore[assignment]
    retrieval._masker = GatedMasker(searching)
    result = retrieval.retrieve(READER, "zebra migration", 2, mode=SearchMode.dense)
    assert result.chunks
    event = SqlAuditStore(db).get(result.request_id)
    assert event.query_masked == "<ANIMAL> migration"


def test_a_masking_failure_returns_nothing_and_logs_an_error_without_the_query(
    world: tuple[Database, EdgeVectorStore, str],
) -> None:
    db, _, _ = world
    retrieval = service(world)
    retrieval._masker = FailingMasker()
    caller = dataclasses.replace(READER, id="masking-fails")
    with pytest.raises(RetrievalFailed, match="could not be masked"):
        retrieval.retrieve(caller, "zebra migration", 2, mode=SearchMode.dense)
    [event] = SqlAuditStore(db).query(AuditQuery(principal_id="masking-fails")).events
    assert event.outcome == "error" and event.chunks == ()
    assert event.details == {"failed_step": "mask", "error": "RuntimeError"}
    assert event.query_masked is None and "zebra" not in json.dumps(event_json(event))


def test_a_planner_failure_returns_nothing_and_logs_an_error(
    world: tuple[Database, EdgeVectorStore, str],
) -> None:
    db, _, _ = world
    retrieval = service(world)

    class BrokenPlanner:
        def plan(self, *args: object) -> None:
            raise RuntimeError("policy evaluation crashed")

    retrieval._planner = BrokenPlanner()  # type: ignore[assignment]
    caller = dataclasses.replace(READER, id="planning-fails")
    with pytest.raises(RetrievalFailed, match="access plan"):
        retrieval.retrieve(caller, "zebra migration", 2, mode=SearchMode.dense)
    [event] = SqlAuditStore(db).query(AuditQuery(principal_id="planning-fails")).events
    assert event.outcome == "error" and event.details == {"failed_step": "plan", "error": "RuntimeError"}
