"""Builds an ingestion pipeline on real parsing, chunking, qdrant-edge and a real database, with a choice of
embedder and masker: the real models, or small deterministic stand-ins where the models are not under test."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ingest.chunking import Chunker, default_tokenizer_file
from ingest.executors import DocumentExecutor
from ingest.jobs import JobRunner
from ingest.pipeline import IngestionPipeline
from ingest.processing import DocumentProcessor
from ingest.sources.protocol import Source
from retrieval.catalog import Catalog, CorpusSpec
from retrieval.db import Database, upgrade
from retrieval.domain import Sensitivity, VectorHit
from retrieval.models import JobRow
from retrieval.protocols import Embedder, PiiMasker
from retrieval.vectorstore import EdgeVectorStore
from tests.fakes import DIM, HashEmbedder, NoMasking

__all__ = ["DIM", "HashEmbedder", "NoMasking", "RecordingProcessor", "World", "build_world"]


class RecordingProcessor(DocumentProcessor):
    """Remembers which documents it was asked to process (to prove that unchanged ones are not parsed)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.processed: list[str] = []

    def process(self, items, masker=None):  # type: ignore[no-untyped-def, override]
        items = list(items)
        self.processed.extend(item.relative_path for item in items)
        return super().process(items, masker)


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

    def register(
        self, name: str, directory: Path | str, region: str = "eu", sensitivity: str = "internal"
    ) -> str:
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
    optimize_after_job: bool = False,
    executor: DocumentExecutor | None = None,
    object_source_roots: list[str] | None = None,
    object_source: Callable[[str], Source] | None = None,
    max_file_bytes: int = 10_000_000,
) -> World:
    upgrade(database_url)
    db = Database(database_url)
    catalog = Catalog(db, [source_root], object_source_roots=object_source_roots)
    store = store or EdgeVectorStore(data_dir / "qdrant")
    embedder = embedder or HashEmbedder()
    processor = RecordingProcessor(
        chunker=Chunker(120, 16, tokenizer_file=default_tokenizer_file()),
        masker=masker or NoMasking(),
        embedder=embedder,
        max_file_bytes=max_file_bytes,
    )
    pipeline = IngestionPipeline(
        catalog=catalog,
        store=store,
        processor=processor,
        embedder=embedder,
        email_recipient_acls=email_recipient_acls,
        optimize_after_job=optimize_after_job,
        executor=executor,
        object_source=object_source,
    )
    return World(db, catalog, store, pipeline, JobRunner(pipeline), processor, embedder, source_root)
