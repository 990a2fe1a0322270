"""One ingestion job: walk an approved corpus, parse, chunk, mask, embed, write to its partition, record it.

Every file ends as ingested or failed with a reason; no file stops the batch. A document's catalog row (its
hash and version) is written only after its chunks are in the vector store, so a crash never marks a
document as ingested that is not searchable.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete

from ingest.chunking import Chunker, TextChunk
from ingest.parsing import SUPPORTED_SUFFIXES, ParsedDocument, parse_file
from retrieval.catalog import Catalog, to_ref, utcnow
from retrieval.db import Database
from retrieval.domain import ChunkPoint, CorpusRef, CorpusStatus, JobStatus, chunk_id_for, document_id_for
from retrieval.errors import BackendUnavailable, IngestionError
from retrieval.models import ChunkRow, DocumentRow
from retrieval.protocols import Embedder, PiiMasker, VectorStore

logger = logging.getLogger(__name__)

# Counters are flushed to the job row this often, so `GET /jobs/{id}` shows progress on long corpora.
PROGRESS_EVERY = 5


@dataclass
class JobProgress:
    documents_seen: int = 0
    documents_ingested: int = 0
    documents_failed: int = 0
    chunks_written: int = 0

    def __post_init__(self) -> None:
        self.errors: list[dict[str, str]] = []

    def values(self) -> dict[str, Any]:
        return {
            "documents_seen": self.documents_seen,
            "documents_ingested": self.documents_ingested,
            "documents_failed": self.documents_failed,
            "chunks_written": self.chunks_written,
            "errors": list(self.errors),
        }


def iter_source_files(root: Path) -> Iterator[Path]:
    """Regular files under `root`, sorted, skipping hidden entries and links that lead outside it."""
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.is_symlink() and not path.resolve().is_relative_to(root):
            continue
        if path.is_file():
            yield path


class IngestionPipeline:
    """Runs ingestion jobs; built once per process with the shared models and stores."""

    def __init__(
        self,
        *,
        db: Database,
        catalog: Catalog,
        store: VectorStore,
        embedder: Embedder,
        masker: PiiMasker,
        chunker: Chunker,
        max_file_bytes: int,
    ) -> None:
        self._db = db
        self._catalog = catalog
        self._store = store
        self._embedder = embedder
        self._masker = masker
        self._chunker = chunker
        self._max_file_bytes = max_file_bytes
        self._stopping = threading.Event()

    def request_stop(self) -> None:
        """Ask a running job to stop after its current document (the service is shutting down)."""
        self._stopping.set()

    def run(self, job_id: str) -> None:
        """Run the job to its end; the job row says how it went. Never raises for a bad document."""
        job = self._catalog.get_job(job_id)
        self._catalog.update_job(job_id, status=JobStatus.running.value, started_at=utcnow())
        progress = JobProgress()
        try:
            corpus = to_ref(self._catalog.get(job.corpus_id))
            if corpus.status is not CorpusStatus.approved:
                raise IngestionError(f"corpus is {corpus.status}; only approved corpora are ingested")
            root = Path(self._catalog.get(job.corpus_id).source_path)
            if not root.is_dir():
                raise IngestionError("the corpus's source directory no longer exists")
            self._store.ensure_partition(corpus.partition, self._embedder.dimension)
            for path in iter_source_files(root):
                if self._stopping.is_set():
                    raise IngestionError("interrupted: the service shut down; run the job again")
                progress.documents_seen += 1
                self._ingest_one(corpus, root, path, progress)
                if progress.documents_seen % PROGRESS_EVERY == 0:
                    self._catalog.update_job(job_id, **progress.values())
        except (IngestionError, BackendUnavailable) as exc:
            logger.warning("ingestion job %s failed: %s", job_id, exc.detail)
            self._finish(job_id, JobStatus.failed, progress, exc.detail)
            return
        except Exception as exc:  # the worker must survive anything a job throws
            logger.exception("ingestion job %s crashed", job_id)
            self._finish(job_id, JobStatus.failed, progress, f"internal error: {type(exc).__name__}")
            return
        self._finish(job_id, JobStatus.succeeded, progress, None)

    def _finish(self, job_id: str, status: JobStatus, progress: JobProgress, detail: str | None) -> None:
        self._catalog.update_job(
            job_id, status=status.value, finished_at=utcnow(), detail=detail, **progress.values()
        )

    def _ingest_one(self, corpus: CorpusRef, root: Path, path: Path, progress: JobProgress) -> None:
        relative = path.relative_to(root).as_posix()
        source_uri = path.resolve().as_uri()
        document_id = document_id_for(corpus.id, relative)
        try:
            if path.suffix.lower() not in SUPPORTED_SUFFIXES:
                raise IngestionError(f"unsupported format {path.suffix.lower() or '(no extension)'}")
            parsed = parse_file(path, max_bytes=self._max_file_bytes)
            chunks = self._chunker.chunk(parsed)
            if not chunks:
                raise IngestionError("no extractable text")
            written = self._write(corpus, document_id, source_uri, parsed, chunks)
        except IngestionError as exc:
            self._record_failure(corpus, document_id, source_uri, exc.detail)
            progress.documents_failed += 1
            progress.errors.append({"source_uri": source_uri, "reason": exc.detail})
            return
        except BackendUnavailable:
            raise
        except Exception as exc:  # a parser bug on one file must not stop the batch
            logger.exception("unexpected error ingesting a document of corpus %s", corpus.id)
            reason = f"internal error while ingesting: {type(exc).__name__}"
            self._record_failure(corpus, document_id, source_uri, reason)
            progress.documents_failed += 1
            progress.errors.append({"source_uri": source_uri, "reason": reason})
            return
        progress.documents_ingested += 1
        progress.chunks_written += written

    def _write(
        self,
        corpus: CorpusRef,
        document_id: str,
        source_uri: str,
        parsed: ParsedDocument,
        chunks: list[TextChunk],
    ) -> int:
        with self._db.session() as session:
            existing = session.get(DocumentRow, document_id)
            previous_version = existing.version if existing is not None else 0
            unchanged = (
                existing is not None
                and existing.status == "ingested"
                and existing.content_sha256 == parsed.content_sha256
                and existing.embedding_model == self._embedder.model_name
            )
        if unchanged:
            return 0
        version = previous_version + 1

        masked = self._masker.mask_batch([chunk.text for chunk in chunks])
        vectors = self._embedder.embed_documents([m.text for m in masked])
        points = [
            ChunkPoint(
                chunk_id=chunk_id_for(document_id, version, chunk.ordinal),
                vector=tuple(vector),
                payload={
                    "document_id": document_id,
                    "corpus_id": corpus.id,
                    "source_uri": source_uri,
                    "title": parsed.title,
                    "page": chunk.page,
                    "start_char": chunk.start_char,
                    "end_char": chunk.end_char,
                    "ordinal": chunk.ordinal,
                    "content_sha256": parsed.content_sha256,
                    "document_version": version,
                    "embedding_model": self._embedder.model_name,
                    "embedding_weights_sha256": self._embedder.weights_sha256,
                    "region": corpus.region,
                    "sensitivity": corpus.sensitivity.name,
                    "text": m.text,
                },
            )
            for chunk, m, vector in zip(chunks, masked, vectors, strict=True)
        ]
        # Old version out, new version in; the catalog row follows only once the points are durable.
        if previous_version:
            self._store.delete(corpus.partition, corpus_id=corpus.id, document_id=document_id)
        self._store.upsert(corpus.partition, points)
        with self._db.session() as session:
            session.execute(delete(ChunkRow).where(ChunkRow.document_id == document_id))
            row = session.get(DocumentRow, document_id)
            if row is None:
                row = DocumentRow(id=document_id, corpus_id=corpus.id, source_uri=source_uri)
                session.add(row)
            row.title = parsed.title
            row.content_sha256 = parsed.content_sha256
            row.version = version
            row.status = "ingested"
            row.error = None
            row.chunk_count = len(points)
            row.embedding_model = self._embedder.model_name
            row.updated_at = utcnow()
            session.flush()
            session.add_all(
                ChunkRow(
                    id=point.chunk_id,
                    document_id=document_id,
                    corpus_id=corpus.id,
                    partition=corpus.partition,
                    document_version=version,
                    ordinal=chunk.ordinal,
                    page=chunk.page,
                    start_char=chunk.start_char,
                    end_char=chunk.end_char,
                )
                for point, chunk in zip(points, chunks, strict=True)
            )
        return len(points)

    def _record_failure(self, corpus: CorpusRef, document_id: str, source_uri: str, reason: str) -> None:
        with self._db.session() as session:
            row = session.get(DocumentRow, document_id)
            if row is None:
                session.add(
                    DocumentRow(
                        id=document_id,
                        corpus_id=corpus.id,
                        source_uri=source_uri,
                        title="",
                        version=0,
                        status="failed",
                        error=reason,
                        chunk_count=0,
                        updated_at=utcnow(),
                    )
                )
            else:
                # A previously ingested version stays searchable; the row notes the latest attempt failed.
                row.error = reason
                row.updated_at = utcnow()
                if row.status != "ingested":
                    row.status = "failed"
