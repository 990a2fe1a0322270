"""Builders shared by several test modules (test modules import from here, never from each other)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from retrieval.audit import AuditChunk, AuditEvent, AuditKeys, SqlAuditStore
from retrieval.catalog import Catalog
from retrieval.db import Database, upgrade
from retrieval.domain import ChunkPoint, Principal, Sensitivity
from retrieval.models import CorpusRow
from retrieval.policy import PolicyEngine
from retrieval.service import RetrievalService
from retrieval.settings import REPO_ROOT, RetrievalSettings
from retrieval.sparse import Bm25Encoder
from retrieval.vectorstore import EdgeVectorStore
from tests.ingest.pipeline_fixture import NoMasking

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def make_event(
    n: int, principal: str = "alice", docs: tuple[str, ...] = ("doc-a",), corpus: str = "c1"
) -> AuditEvent:
    return AuditEvent(
        request_id=f"00000000-0000-0000-0000-{n:012d}",
        occurred_at=T0 + timedelta(minutes=n),
        action="retrieve",
        principal_id=principal,
        policy_version="p" * 64,
        outcome="answered" if docs else "empty",
        query_masked=f"question {n} about <PERSON>",
        top_k=5,
        allowed_corpora=(corpus,),
        partitions=("eu.internal",),
        latency_ms=12.5,
        chunks=tuple(
            AuditChunk(
                rank=rank,
                score=0.9 - rank / 10,
                chunk_id=f"chunk-{n}-{rank}",
                document_id=doc,
                document_version=1,
                corpus_id=corpus,
                content_sha256="a" * 64,
                embedding_model="m",
            )
            for rank, doc in enumerate(docs, start=1)
        ),
    )


def make_pptx(path: Path) -> Path:
    """Two slides: a title with a bullet and speaker notes, then a title with a 3-row table."""
    from pptx import Presentation
    from pptx.util import Inches

    presentation = Presentation()
    first = presentation.slides.add_slide(presentation.slide_layouts[1])
    first.shapes.title.text = "Retention Schedule"
    first.placeholders[1].text = "Records are kept for seven years after closure."
    first.notes_slide.notes_text_frame.text = "Mention the audit exception for tax records."
    second = presentation.slides.add_slide(presentation.slide_layouts[5])
    second.shapes.title.text = "Owners by Region"
    table = second.shapes.add_table(3, 2, Inches(1), Inches(2), Inches(6), Inches(2)).table
    for row, cells in enumerate([("Region", "Owner"), ("North", "Alice"), ("South", "Bob")]):
        for column, value in enumerate(cells):
            table.cell(row, column).text = value
    presentation.save(str(path))
    return path


# -- the tiny retrieval world of tests/retrieval/test_retrieval_modes.py and test_retrieval_why.py ---------

DIM = 4
WEIGHTS = "w" * 64
READER = Principal("reader", frozenset({"reader"}), clearance=Sensitivity.internal, regions=frozenset({"eu"}))
# One signing key for every store over the tiny world's log, so a verify sees the head the service signed.
AUDIT_KEYS = AuditKeys.random()
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


def modes_world(root: Path) -> Iterator[tuple[Database, EdgeVectorStore, str]]:
    """Six chunks of three documents in one partition (eu.internal) of an approved corpus, and its catalog.

    The embedder maps a few texts to chosen vectors (the model is not what the tests that use it test)."""
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
        audit=SqlAuditStore(db, AUDIT_KEYS),
        options=RetrievalSettings(**options),  # type: ignore[arg-type]
    )
