"""Builds an ingestion pipeline on real parsing, chunking, qdrant-edge and a real database, with a choice of
embedder and masker: the real models, or small deterministic stand-ins where the models are not under test."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ingest.chunking import Chunker, default_tokenizer_file
from ingest.jobs import JobRunner
from ingest.pipeline import IngestionPipeline
from ingest.processing import DocumentProcessor
from retrieval.catalog import Catalog, CorpusSpec
from retrieval.db import Database, upgrade
from retrieval.domain import Sensitivity, VectorHit
from retrieval.models import JobRow
from retrieval.protocols import Embedder, MaskedText, PiiMasker
from retrieval.vectorstore import EdgeVectorStore

DIM = 16


class HashEmbedder:
    """Deterministic stand-in vectors; `tag` makes another "model" with another weights hash."""

    def __init__(self, tag: str = "a") -> None:
        self._tag = tag

    @property
    def model_name(self) -> str:
        return f"test-hash-{self._tag}"

    @property
    def weights_sha256(self) -> str:
        return hashlib.sha256(self._tag.encode()).hexdigest()

    @property
    def dimension(self) -> int:
        return DIM

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return [self.embed_query(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        digest = hashlib.sha256((self._tag + text).encode()).digest()
        vector = [b - 127.5 for b in digest[:DIM]]
        norm = sum(v * v for v in vector) ** 0.5
        return [v / norm for v in vector]


class NoMasking:
    def mask(self, text: str) -> MaskedText:
        return MaskedText(text, ())

    def mask_batch(self, texts: Sequence[str]) -> list[MaskedText]:
        return [self.mask(t) for t in texts]


class RecordingProcessor(DocumentProcessor):
    """Remembers which documents it was asked to process (to prove that unchanged ones are not parsed)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.processed: list[str] = []

    def process(self, items):  # type: ignore[no-untyped-def, override]
        items = list(items)
        self.processed.extend(item.relative_path for item in items)
        return super().process(items)


@dataclass
class World:
    db: Database
    catalog: Catalog
    store: EdgeVectorStore
    pipeline: IngestionPipeline
    runner: JobRunner
    processor: RecordingProcessor
    embedder: Embedder
    source_root: Path

    def run_job(self, corpus_id: str, kind: str = "ingest") -> JobRow:
        from retrieval.domain import JobKind

        job = self.catalog.create_job(corpus_id, "tester", JobKind(kind))
        self.runner.submit(job.id)
        self.runner.wait(job.id, timeout=600)
        return self.catalog.get_job(job.id)

    def points(self, corpus_id: str, partition: str, document_id: str | None = None) -> list[VectorHit]:
        return list(self.store.scroll(partition, corpus_id=corpus_id, document_id=document_id))

    def register(self, name: str, directory: Path, region: str = "eu", sensitivity: str = "internal") -> str:
        row = self.catalog.register(
            CorpusSpec(name, region, Sensitivity.parse(sensitivity), str(directory)), "tester"
        )
        self.catalog.approve(row.id, "tester")
        return row.id

    def close(self) -> None:
        self.runner.shutdown()
        self.store.close()
        self.db.dispose()


def build_world(
    data_dir: Path,
    source_root: Path,
    database_url: str,
    *,
    embedder: Embedder | None = None,
    masker: PiiMasker | None = None,
    store: EdgeVectorStore | None = None,
    email_recipient_acls: bool = False,
) -> World:
    upgrade(database_url)
    db = Database(database_url)
    catalog = Catalog(db, [source_root])
    store = store or EdgeVectorStore(data_dir / "qdrant")
    embedder = embedder or HashEmbedder()
    processor = RecordingProcessor(
        chunker=Chunker(120, 16, tokenizer_file=default_tokenizer_file()),
        masker=masker or NoMasking(),
        embedder=embedder,
        max_file_bytes=10_000_000,
    )
    pipeline = IngestionPipeline(
        db=db,
        catalog=catalog,
        store=store,
        processor=processor,
        embedder=embedder,
        email_recipient_acls=email_recipient_acls,
    )
    return World(db, catalog, store, pipeline, JobRunner(pipeline), processor, embedder, source_root)
