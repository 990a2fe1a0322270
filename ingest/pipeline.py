"""One ingestion job, incremental and crash-safe; and the other writes to the index (revoke, delete).

A job scans the corpus's source, hashes every file, and processes only what is new, changed or embedded with
another model; documents gone from the source leave the index. Every file ends ingested, skipped (unchanged)
or failed with a reason; no file stops the batch.

Why a crash cannot corrupt the index: chunk ids are derived from (document, version, ordinal), so a rerun
writes the same ids again instead of duplicates. A new version is swapped in as: drop any points of that
version (left by a crashed attempt), upsert the version, drop every other version, and only then record the
document's hash and version in the catalog. A crash before the catalog write leaves the old row, so the rerun
processes the document again, with the same version number and the same ids. The old version stays
searchable until the new one is in: never neither.

What a job may read: the corpus's folder is opened anew on every job from a descriptor of its allowed
source root, no link followed (ingest/source_tree.py), so a folder swapped for a link after registration
fails the job unread. Each file is opened once by the scan, without following a link, and its size is
checked before it is hashed; links, hard-linked and special files fail with the reason and leave the
index. The parse reads the same file again through the same descriptors and must find the same inode and
content hash (ingest/processing.py).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from ingest import subjects
from ingest.acl import AclError, AclReader, Recipients
from ingest.document_names import mask_object_uris, mask_source_uris, mask_title
from ingest.executors import DocumentExecutor, LocalExecutor
from ingest.processing import DocumentProcessor, Processed, WorkItem
from ingest.source_tree import FileIdentity, SourceTree, problem_of
from ingest.sources.protocol import Source, SourceReadError
from retrieval import telemetry
from retrieval.catalog import Catalog, ChunkRecord, IngestedDocument, to_ref, utcnow
from retrieval.domain import (
    ChunkPoint,
    CorpusRef,
    CorpusStatus,
    DocumentStatus,
    JobStatus,
    MaskingProfile,
    chunk_id_for,
    document_id_for,
)
from retrieval.errors import BackendUnavailable, ConfigurationError, IngestionError
from retrieval.models import DocumentRow
from retrieval.pii.findings import PII_COUNTS, PII_DETECTOR, count_findings, detector_of
from retrieval.protocols import Embedder, MaskedText, PiiMasker, SparseEncoder, VectorStore
from retrieval.sparse import Bm25Encoder
from retrieval.subjects import SubjectIndex

logger = logging.getLogger(__name__)

# The job row is updated at most this often, so `GET /jobs/{id}` shows progress without a write per file.
PROGRESS_INTERVAL_S = 1.0
# Failures worth retrying on an unchanged file: everything else (a format we cannot read, an encrypted
# PDF...) would fail the same way again.
TRANSIENT_FAILURE_PREFIX = "internal error"


class CorpusNoLongerApproved(IngestionError):
    """The corpus was revoked while its job ran: the job stops, and writes nothing more."""


class LeaseLost(IngestionError):
    """This process no longer holds the job's lease: another may own the job now, so this one writes nothing
    more to the corpus and leaves the job row to the new owner."""


@dataclass
class JobProgress:
    documents_total: int = 0
    documents_seen: int = 0
    documents_ingested: int = 0
    documents_skipped: int = 0
    documents_failed: int = 0
    documents_removed: int = 0
    chunks_written: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def values(self) -> dict[str, Any]:
        return {
            "documents_total": self.documents_total,
            "documents_seen": self.documents_seen,
            "documents_ingested": self.documents_ingested,
            "documents_skipped": self.documents_skipped,
            "documents_failed": self.documents_failed,
            "documents_removed": self.documents_removed,
            "chunks_written": self.chunks_written,
            "errors": list(self.errors),
        }

    def fail(self, source_uri: str, reason: str) -> None:
        self.documents_failed += 1
        self.errors.append({"source_uri": source_uri, "reason": reason})
        telemetry.INGEST_DOCUMENTS.labels("failed").inc()


# ACL files are small; a larger one is refused (ingest/acl.py says so too).
_MAX_ACL_FILE_BYTES = 1 << 20


def descriptor_sha256(descriptor: int) -> str:
    """The SHA-256 of what an open file holds, read from its start in blocks."""
    digest = hashlib.sha256()
    offset = 0
    while block := os.pread(descriptor, 1 << 20, offset):
        digest.update(block)
        offset += len(block)
    return digest.hexdigest()


class IngestionPipeline:
    """The write side of the index; built once per process with the shared models and stores."""

    # Where the names and addresses each document mentions are kept as digests (privacy lookups); set by
    # the runtime after construction, None: not kept.
    subject_index: SubjectIndex | None = None

    def __init__(
        self,
        *,
        catalog: Catalog,
        store: VectorStore,
        processor: DocumentProcessor,
        embedder: Embedder,
        masker_for: Callable[[MaskingProfile], PiiMasker] | None = None,
        email_recipient_acls: bool = False,
        sparse_encoder: SparseEncoder | None = None,
        optimize_after_job: bool = False,
        executor: DocumentExecutor | None = None,
        object_source: Callable[[str], Source] | None = None,
    ) -> None:
        """`masker_for` gives the masker of a corpus's masking profile (`retrieval.pii.profiles`); without
        it, every corpus is masked by the processor's own masker. `optimize_after_job`: a job ends by
        building its partition's HNSW index (`VectorStore.optimize`; see the setting of that name).
        `executor`: where documents are processed (ingest/executors/); without it, by `processor` here."""
        self._optimize_after_job = optimize_after_job
        # Opens a corpus's `s3://` source (checked against the allowed roots); None: no object sources.
        self._object_source = object_source
        # Per object corpus, each object's (ETag or version id, content sha256) at the last scan in this
        # process: an object whose fingerprint is unchanged is not downloaded again to be hashed.
        self._object_hashes: dict[str, dict[str, tuple[str, str]]] = {}
        self._email_recipient_acls = email_recipient_acls
        self._catalog = catalog
        self._store = store
        self._processor = processor
        self._embedder = embedder
        self._masker_for = masker_for
        self._executor = executor if executor is not None else LocalExecutor(processor, masker_for)
        # BM25 keyword vectors of the masked chunk texts, for sparse and hybrid search. Cheap (~0.2 ms a
        # chunk, Rust) beside the embedding, so computed here, at write time, rather than in the processor.
        self._sparse = sparse_encoder if sparse_encoder is not None else Bm25Encoder()
        self._stopping = threading.Event()
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    @property
    def catalog(self) -> Catalog:
        return self._catalog

    @property
    def executor(self) -> DocumentExecutor:
        return self._executor

    def request_stop(self) -> None:
        """Ask a running job to stop after its current document (the service is shutting down)."""
        self._stopping.set()

    @contextmanager
    def corpus_lock(self, corpus_id: str) -> Iterator[None]:
        """Serialises writes to one corpus's points: a job's document swap against a revoke or a delete."""
        with self._locks_guard:
            lock = self._locks.setdefault(corpus_id, threading.Lock())
        with lock:
            yield

    # -- jobs -----------------------------------------------------------------------------------------------

    def run(self, job_id: str, holds_lease: Callable[[], bool] | None = None) -> bool:
        """Run the job to its end; the job row says how it went. Never raises for a bad document.

        `holds_lease` is asked before every document is written: once it says no, the job stops writing
        (a lapsed owner must not write beside the process that took the job over) and leaves the job row
        alone; then, and only then, this returns False."""
        job = self._catalog.get_job(job_id)
        self._catalog.update_job(job_id, status=JobStatus.running.value, started_at=utcnow())
        progress = JobProgress()
        try:
            corpus = to_ref(self._catalog.get(job.corpus_id))
            if corpus.status is not CorpusStatus.approved:
                raise CorpusNoLongerApproved(f"corpus is {corpus.status}; only approved corpora are ingested")
            source_path = self._catalog.get(job.corpus_id).source_path
            if source_path.startswith("s3://"):
                self._run_objects(job_id, corpus, source_path, progress, holds_lease)
            else:
                self._run_folder(job_id, corpus, source_path, progress, holds_lease)
            detail = self._optimize(corpus.partition) if self._optimize_after_job else None
        except LeaseLost as exc:
            logger.error("ingestion job %s stopped: %s", job_id, exc.detail, extra={"job_id": job_id})
            return False
        except (IngestionError, BackendUnavailable, ConfigurationError) as exc:
            logger.warning("ingestion job %s failed: %s", job_id, exc.detail, extra={"job_id": job_id})
            self._finish(job_id, JobStatus.failed, progress, exc.detail)
            return True
        except Exception as exc:  # the worker must survive anything a job throws
            logger.exception("ingestion job %s crashed", job_id, extra={"job_id": job_id})
            self._finish(job_id, JobStatus.failed, progress, f"internal error: {type(exc).__name__}")
            return True
        self._finish(job_id, JobStatus.succeeded, progress, detail)
        return True

    def _run_folder(
        self,
        job_id: str,
        corpus: CorpusRef,
        source_path: str,
        progress: JobProgress,
        holds_lease: Callable[[], bool] | None,
    ) -> None:
        try:
            tree = SourceTree(source_path, self._catalog.source_roots)
        except FileNotFoundError as exc:
            raise IngestionError("the corpus's source directory no longer exists") from exc
        except OSError as exc:
            raise IngestionError(f"cannot open the corpus's source directory: {exc.strerror}") from exc
        with tree:
            self._store.ensure_partition(corpus.partition, self._embedder.dimension)
            work = self._scan(corpus, tree, progress)
            self._catalog.update_job(job_id, **progress.values())
            self._process(job_id, corpus, work, progress, holds_lease)

    def _run_objects(
        self,
        job_id: str,
        corpus: CorpusRef,
        source_path: str,
        progress: JobProgress,
        holds_lease: Callable[[], bool] | None,
    ) -> None:
        """As `_run_folder`, for an `s3://bucket/prefix` source: the prefix is checked against the allowed
        roots again (they may have changed since registration), and nothing outside it is listed or read."""
        if self._object_source is None:
            raise ConfigurationError("this service reads no object sources (s3://); the job cannot run")
        source = self._object_source(source_path)
        try:
            self._store.ensure_partition(corpus.partition, self._embedder.dimension)
            work = self._scan_objects(corpus, source, source_path, progress)
            self._catalog.update_job(job_id, **progress.values())
            self._process(job_id, corpus, work, progress, holds_lease)
        finally:
            source.close()

    def _optimize(self, partition: str) -> str | None:
        """Index what the job wrote (the embedded engine builds no HNSW graph by itself, and an unindexed
        segment is searched exactly: ~7 ms a filtered query at 100k chunks, growing with size). A failure
        leaves the points written and searchable, only slower, so the job still succeeds, saying so."""
        started = time.monotonic()
        try:
            if self._store.optimize(partition):
                logger.info("partition %s optimized in %.1f s", partition, time.monotonic() - started)
        except BackendUnavailable as exc:
            logger.warning("partition %s could not be optimized: %s", partition, exc.detail)
            return f"written, but the index of partition {partition} was not optimized: {exc.detail}"
        return None

    def _finish(self, job_id: str, status: JobStatus, progress: JobProgress, detail: str | None) -> None:
        telemetry.INGEST_JOB_SECONDS.labels(status.value).observe(time.monotonic() - progress.started)
        self._catalog.update_job(
            job_id, status=status.value, finished_at=utcnow(), detail=detail, **progress.values()
        )

    def _scan(self, corpus: CorpusRef, tree: SourceTree, progress: JobProgress) -> list[WorkItem]:
        """Decide, from hashes alone, what to process; remove what left the source."""
        known = self._catalog.documents_by_id(corpus.id)
        work: list[WorkItem] = []
        present: set[str] = set()
        entries = tree.entries()
        acls = AclReader(
            tree.root,
            email_recipients=self._email_recipient_acls,
            read_file=lambda path: tree.read_acl_file(path, _MAX_ACL_FILE_BYTES),
        )
        progress.documents_total = len(entries)
        max_bytes = self._processor.max_file_bytes
        names_masker = self._names_masker(corpus)

        # A failed file is reported under its path with the names masked (a file named after a person must not
        # reach a job error or the log), masked only when it fails; the work items get theirs in one batch.
        def withdraw(path: Path, document_id: str, reason: str) -> None:
            [uri] = mask_source_uris(names_masker, tree.root, [(path, document_id)])
            self._withdraw(corpus, document_id, uri, reason)
            progress.fail(uri, reason)

        def shown_uri(path: Path, document_id: str) -> str:
            [uri] = mask_source_uris(names_masker, tree.root, [(path, document_id)])
            return uri

        def record_failure(path: Path, document_id: str, reason: str) -> None:
            [uri] = mask_source_uris(names_masker, tree.root, [(path, document_id)])
            self._record_failure(corpus, document_id, uri, reason, None)
            progress.fail(uri, reason)

        for entry in entries:
            relative = entry.relative
            path = tree.root / relative
            document_id = document_id_for(corpus.id, relative)
            present.add(document_id)
            row = known.get(document_id)
            if entry.problem is not None:
                # Never read; whatever an earlier scan indexed under this name leaves the index.
                progress.documents_seen += 1
                withdraw(path, document_id, entry.problem)
                continue
            try:
                descriptor = tree.open(relative)
            except OSError as exc:
                progress.documents_seen += 1
                problem = tree.why_unopenable(relative)
                if problem is not None:
                    withdraw(path, document_id, problem)
                else:
                    reason = f"cannot read file: {exc.strerror or type(exc).__name__}"
                    record_failure(path, document_id, reason)
                continue
            try:
                info = os.fstat(descriptor)
                problem = problem_of(info)
                # The size is checked before hashing: a sparse file may claim terabytes it does not hold.
                too_large = info.st_size > max_bytes
                sha = descriptor_sha256(descriptor) if problem is None and not too_large else None
            except OSError as exc:
                progress.documents_seen += 1
                reason = f"cannot read file: {exc.strerror or type(exc).__name__}"
                record_failure(path, document_id, reason)
                continue
            finally:
                os.close(descriptor)
            if problem is not None:
                progress.documents_seen += 1
                withdraw(path, document_id, problem)
                continue
            if sha is None:
                progress.documents_seen += 1
                reason = f"file is {info.st_size} bytes; the limit is {max_bytes}"
                record_failure(path, document_id, reason)
                continue
            if row is not None and row.status == DocumentStatus.deleted.value:
                progress.documents_seen += 1
                progress.documents_skipped += 1  # a steward took it out; it stays out
                continue
            item = self._decide(
                corpus,
                row,
                path,
                relative,
                document_id,
                sha,
                acls,
                progress,
                partial(shown_uri, path, document_id),
            )
            if item is not None:
                identity = FileIdentity(info.st_dev, info.st_ino)
                work.append(dataclasses.replace(item, source=tree, identity=identity))
        # What readers, job errors and the audit log see of a path: its names masked (ingest/document_names).
        shown = mask_source_uris(names_masker, tree.root, [(i.path, i.document_id) for i in work])
        work = [dataclasses.replace(item, source_uri=uri) for item, uri in zip(work, shown, strict=True)]
        self._remove_absent(corpus, known, present, progress)
        return work

    def _scan_objects(
        self, corpus: CorpusRef, source: Source, base: str, progress: JobProgress
    ) -> list[WorkItem]:
        """`_scan` for an object source: the listing gives names, sizes (checked before a download) and
        fingerprints; an object within the limit is downloaded and hashed unless its fingerprint is the one
        this process hashed last time, and the same decision as for a file is taken on its hash."""
        known = self._catalog.documents_by_id(corpus.id)
        work: list[WorkItem] = []
        present: set[str] = set()
        entries = source.list()  # SourceReadError (an IngestionError) fails the job: nothing is removed
        # ACL files are objects too; a path below this stand-in root names the object of that relative key.
        root = Path("/")

        def read_acl(path: Path) -> bytes | None:
            try:
                return source.read(path.relative_to(root).as_posix(), _MAX_ACL_FILE_BYTES)
            except SourceReadError as exc:
                if exc.detail.endswith("not found"):
                    return None
                raise OSError(exc.detail) from exc

        acls = AclReader(root, email_recipients=self._email_recipient_acls, read_file=read_acl)
        progress.documents_total = len(entries)
        max_bytes = self._processor.max_file_bytes
        names_masker = self._names_masker(corpus)
        remembered = self._object_hashes.get(corpus.id, {})
        fingerprints: dict[str, tuple[str, str]] = {}

        def shown(relative: str, document_id: str) -> str:
            [uri] = mask_object_uris(names_masker, base, [(relative, document_id)])
            return uri

        for entry in entries:
            relative = entry.relative
            document_id = document_id_for(corpus.id, relative)
            present.add(document_id)
            row = known.get(document_id)
            if entry.problem is not None:
                progress.documents_seen += 1
                uri = shown(relative, document_id)
                self._withdraw(corpus, document_id, uri, entry.problem)
                progress.fail(uri, entry.problem)
                continue
            if entry.size is None or entry.size > max_bytes:
                # From the listing: an object over the limit is never downloaded.
                progress.documents_seen += 1
                uri = shown(relative, document_id)
                reason = f"object is {entry.size} bytes; the limit is {max_bytes}"
                self._record_failure(corpus, document_id, uri, reason, None)
                progress.fail(uri, reason)
                continue
            if row is not None and row.status == DocumentStatus.deleted.value:
                progress.documents_seen += 1
                progress.documents_skipped += 1  # a steward took it out; it stays out
                continue
            last = remembered.get(relative)
            if entry.fingerprint is not None and last is not None and last[0] == entry.fingerprint:
                sha = last[1]  # the same ETag or version id: the same bytes (read_item checks the hash)
            else:
                try:
                    sha = hashlib.sha256(source.read(relative, max_bytes)).hexdigest()
                except SourceReadError as exc:
                    progress.documents_seen += 1
                    uri = shown(relative, document_id)
                    reason = f"{TRANSIENT_FAILURE_PREFIX}: cannot read object: {exc.detail}"
                    self._record_failure(corpus, document_id, uri, reason, None)
                    progress.fail(uri, reason)
                    continue
            if entry.fingerprint is not None:
                fingerprints[relative] = (entry.fingerprint, sha)
            item = self._decide(
                corpus,
                row,
                root / relative,
                relative,
                document_id,
                sha,
                acls,
                progress,
                partial(shown, relative, document_id),
            )
            if item is not None:
                work.append(dataclasses.replace(item, objects=source))
        uris = mask_object_uris(names_masker, base, [(i.relative_path, i.document_id) for i in work])
        work = [dataclasses.replace(item, source_uri=uri) for item, uri in zip(work, uris, strict=True)]
        self._remove_absent(corpus, known, present, progress)
        self._object_hashes[corpus.id] = fingerprints  # only this scan's objects: gone ones are forgotten
        return work

    def _decide(
        self,
        corpus: CorpusRef,
        row: DocumentRow | None,
        path: Path,
        relative: str,
        document_id: str,
        sha: str,
        acls: AclReader,
        progress: JobProgress,
        shown: Callable[[], str],
    ) -> WorkItem | None:
        """The work item for a readable document of `sha`, or None when it is skipped or withdrawn (its ACL
        cannot be read). Its source URI is filled in by the caller, masked; `shown` gives it for a failure."""
        try:
            declared = acls.declared_acl(path)
        except AclError as exc:
            progress.documents_seen += 1
            uri = shown()
            self._withdraw(corpus, document_id, uri, exc.detail)
            progress.fail(uri, exc.detail)
            return None
        from_recipients = isinstance(declared, Recipients)
        acl = None if isinstance(declared, Recipients) else declared
        weights = self._embedder.weights_sha256
        if row is not None and self._skippable(row, sha, weights, acl, from_recipients=from_recipients):
            progress.documents_seen += 1
            progress.documents_skipped += 1
            telemetry.INGEST_DOCUMENTS.labels("skipped").inc()
            return None
        version = (row.version if row is not None else 0) + 1
        return WorkItem(
            path,
            relative,
            document_id,
            "",
            version,
            acl,
            acl_from_recipients=from_recipients,
            content_sha256=sha,
        )

    def _remove_absent(
        self, corpus: CorpusRef, known: dict[str, DocumentRow], present: set[str], progress: JobProgress
    ) -> None:
        """Documents gone from the source leave the index (status removed)."""
        for document_id, row in known.items():
            if document_id not in present and row.status != DocumentStatus.removed.value:
                if row.status == DocumentStatus.deleted.value:
                    continue
                with self.corpus_lock(corpus.id):
                    self._store.delete(corpus.partition, corpus_id=corpus.id, document_id=document_id)
                    self._set_document_status(document_id, DocumentStatus.removed, "no longer in the source")
                progress.documents_removed += 1
                telemetry.INGEST_DOCUMENTS.labels("removed").inc()

    @staticmethod
    def _skippable(
        row: DocumentRow,
        sha: str,
        weights: str,
        acl: tuple[str, ...] | None = None,
        *,
        from_recipients: bool = False,
    ) -> bool:
        if row.status == DocumentStatus.deleted.value:
            return True  # a steward took it out; it stays out
        if row.content_sha256 != sha:
            return False
        if row.status == DocumentStatus.ingested.value:
            # A changed ACL is a change: the chunks carry the ACL, so they are written again with the new one
            # (the old version, with the old ACL, stays searchable until the new one is in).
            stored = tuple(row.acl_groups) if row.acl_groups is not None else None
            if from_recipients:
                # Unchanged bytes name the same recipients; an ACL that is not all `mailto:` groups came
                # from an ACL file that no longer covers the e-mail, so it is read again.
                return (
                    row.embedding_weights_sha256 == weights
                    and stored is not None
                    and all(group.startswith("mailto:") for group in stored)
                )
            return row.embedding_weights_sha256 == weights and stored == acl
        if row.status == DocumentStatus.failed.value:
            return not (row.error or "").startswith(TRANSIENT_FAILURE_PREFIX)
        return False

    def _process(
        self,
        job_id: str,
        corpus: CorpusRef,
        work: list[WorkItem],
        progress: JobProgress,
        holds_lease: Callable[[], bool] | None = None,
    ) -> None:
        last_flush = time.monotonic()
        results = self._executor.process(work, corpus.masking)
        try:
            for result in results:
                if self._stopping.is_set():
                    raise IngestionError("interrupted: the service shut down; run the job again")
                if holds_lease is not None and not holds_lease():
                    raise LeaseLost("its lease lapsed or was taken over; the new owner runs it")
                progress.documents_seen += 1
                if result.error is not None and result.withdraw:
                    # Fail closed: its readers cannot be named, or it is no longer a plain file of the source.
                    self._withdraw(corpus, result.item.document_id, result.item.source_uri, result.error)
                    progress.fail(result.item.source_uri, result.error)
                elif result.error is not None:
                    self._record_failure(
                        corpus, result.item.document_id, result.item.source_uri, result.error, result.item
                    )
                    progress.fail(result.item.source_uri, result.error)
                else:
                    written = self._write(corpus, result)
                    progress.chunks_written += written
                    progress.documents_ingested += 1
                    telemetry.INGEST_CHUNKS.inc(written)
                    telemetry.INGEST_DOCUMENTS.labels("ingested").inc()
                if time.monotonic() - last_flush >= PROGRESS_INTERVAL_S:
                    self._catalog.update_job(job_id, **progress.values())
                    last_flush = time.monotonic()
        finally:
            close = getattr(results, "close", None)
            if close is not None:
                close()

    def _names_masker(self, corpus: CorpusRef) -> PiiMasker:
        """The masker of a corpus's titles and file names: the one of its chunks."""
        return self._masker_for(corpus.masking) if self._masker_for else self._processor.masker

    def _pii_payload(self, corpus: CorpusRef, masked: MaskedText) -> dict[str, Any]:
        # The same counts go to the point and (after the upsert) to the catalog row, so a crash between
        # the two leaves the catalog's old version, as for every other field (see the module docstring).
        detector = detector_of(self._names_masker(corpus))
        return {PII_COUNTS: count_findings(masked), PII_DETECTOR: detector.label if detector else None}

    def _write(self, corpus: CorpusRef, result: Processed) -> int:
        item, parsed = result.item, result.parsed
        assert parsed is not None
        parsed = dataclasses.replace(parsed, title=mask_title(self._names_masker(corpus), parsed.title))
        result = dataclasses.replace(result, parsed=parsed)
        version = item.version
        keywords = self._sparse.encode_documents([masked.text for masked in result.masked])
        points = [
            ChunkPoint(
                chunk_id=chunk_id_for(item.document_id, version, chunk.ordinal),
                vector=tuple(vector),
                payload={
                    "document_id": item.document_id,
                    "corpus_id": corpus.id,
                    "source_uri": item.source_uri,
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
                    "text": masked.text,
                    **self._pii_payload(corpus, masked),
                    **({"acl_groups": list(item.acl_groups)} if item.acl_groups is not None else {}),
                },
                sparse=sparse,
            )
            for chunk, masked, vector, sparse in zip(
                result.chunks, result.masked, result.vectors, keywords, strict=True
            )
        ]
        with self.corpus_lock(corpus.id):
            if self._catalog.get(corpus.id).status != CorpusStatus.approved.value:
                raise CorpusNoLongerApproved("the corpus was revoked while it was being ingested")
            partition, document_id = corpus.partition, item.document_id
            self._store.delete(partition, corpus_id=corpus.id, document_id=document_id, version=version)
            try:
                self._store.upsert(partition, points)
            except BackendUnavailable:
                self._drop_partial_version(partition, corpus.id, document_id, version)
                raise
            self._store.delete(
                partition, corpus_id=corpus.id, document_id=document_id, except_version=version
            )
            self._record_success(corpus, result, version, points)
        return len(points)

    def _drop_partial_version(self, partition: str, corpus_id: str, document_id: str, version: int) -> None:
        """A write that failed part way (a full disk, a lost server) may have left some points of the new
        version: drop them now, so no half-written version is searchable. If the store refuses that too, the
        next run drops them before it writes the version again (see the module docstring)."""
        try:
            self._store.delete(partition, corpus_id=corpus_id, document_id=document_id, version=version)
        except BackendUnavailable as exc:
            logger.warning("could not drop a partly written document version: %s", exc.detail)

    def _record_success(
        self, corpus: CorpusRef, result: Processed, version: int, points: list[ChunkPoint]
    ) -> None:
        item, parsed = result.item, result.parsed
        assert parsed is not None
        self._catalog.record_ingested(
            corpus,
            IngestedDocument(
                document_id=item.document_id,
                source_uri=item.source_uri,
                title=parsed.title,
                content_sha256=parsed.content_sha256,
                version=version,
                embedding_model=self._embedder.model_name,
                embedding_weights_sha256=self._embedder.weights_sha256,
                acl_groups=tuple(item.acl_groups) if item.acl_groups is not None else None,
            ),
            [
                ChunkRecord(
                    point.chunk_id,
                    chunk.ordinal,
                    chunk.page,
                    chunk.start_char,
                    chunk.end_char,
                    pii_counts=point.payload[PII_COUNTS],
                    pii_detector=point.payload[PII_DETECTOR],
                )
                for point, chunk in zip(points, result.chunks, strict=True)
            ],
        )
        subjects.record(self.subject_index, item.document_id, result.chunks, result.masked)

    def _record_failure(
        self, corpus: CorpusRef, document_id: str, source_uri: str, reason: str, item: WorkItem | None
    ) -> None:
        # The hash the scan read, so that an unchanged file that failed for good is not tried again.
        sha = item.content_sha256 if item is not None else None
        self._catalog.record_document_failure(corpus, document_id, source_uri, reason, sha)

    def _withdraw(self, corpus: CorpusRef, document_id: str, source_uri: str, reason: str) -> None:
        """Fail closed on an ACL that cannot be read: the document leaves the index (an older version too,
        whose ACL may be the one being narrowed) until its ACL file is fixed. No content hash is kept, so the
        next scan tries again."""
        with self.corpus_lock(corpus.id):
            self._store.delete(corpus.partition, corpus_id=corpus.id, document_id=document_id)
            self._catalog.withdraw_document(corpus, document_id, source_uri, reason)

    def _set_document_status(self, document_id: str, status: DocumentStatus, note: str | None) -> None:
        self._catalog.set_document_status(document_id, status, note)

    # -- governance writes ----------------------------------------------------------------------------------

    def revoke(self, corpus_id: str, revoker: str) -> None:
        """Revoke: the policy denies the corpus from the catalog write on; then its points leave the index."""
        with self.corpus_lock(corpus_id):
            row = self._catalog.revoke(corpus_id, revoker)
            self._store.delete(to_ref(row).partition, corpus_id=corpus_id)

    def delete_document(self, corpus_id: str, document_id: str, deleter: str) -> None:
        with self.corpus_lock(corpus_id):
            corpus = to_ref(self._catalog.get(corpus_id))
            self._catalog.document(corpus_id, document_id)
            self._store.delete(corpus.partition, corpus_id=corpus_id, document_id=document_id)
            self._catalog.mark_document_deleted(corpus_id, document_id, deleter)
