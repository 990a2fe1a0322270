"""The catalog: corpora and their lifecycle (registered → approved), documents, and ingestion jobs."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from retrieval.db import Database
from retrieval.domain import (
    REGION_PATTERN,
    CorpusRef,
    CorpusStatus,
    DocumentStatus,
    JobKind,
    JobStatus,
    MaskingProfile,
    MaskingStrategy,
    Sensitivity,
)
from retrieval.errors import BackendUnavailable, Conflict, InvalidRequest, NotFound
from retrieval.models import ChunkRow, CorpusRow, DocumentRow, JobRow
from retrieval.paging import decode_cursor, encode_cursor
from retrieval.pii.profiles import parse_profile

# A job left running by a crash is retried this many times in all before it stays failed.
MAX_JOB_ATTEMPTS = 3
ACTIVE_JOB_STATES = (JobStatus.queued.value, JobStatus.running.value)


MAX_PAGE_SIZE = 1000


@dataclass(frozen=True, slots=True)
class DocumentPage:
    documents: list[DocumentRow]
    next_cursor: str | None  # None: this page is the last


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class CorpusSpec:
    name: str
    region: str
    sensitivity: Sensitivity
    source_path: str
    description: str = ""
    refresh_interval_seconds: int | None = None
    # PII masking of the corpus's text (see retrieval.pii.profiles): checked by `Catalog.register`.
    masking_strategy: str = MaskingStrategy.REPLACE
    pii_allow_list: frozenset[str] = frozenset()


def to_ref(row: CorpusRow) -> CorpusRef:
    return CorpusRef(
        id=row.id,
        name=row.name,
        region=row.region,
        sensitivity=Sensitivity.parse(row.sensitivity),
        status=CorpusStatus(row.status),
        owner=row.owner,
        masking=MaskingProfile(MaskingStrategy(row.masking_strategy), frozenset(row.pii_allow_list or ())),
    )


def resolve_source_path(source_path: str, roots: list[Path]) -> Path:
    """The real directory behind `source_path`, which must lie under one of the allowed roots.

    Symlinks and `..` are resolved first, so neither can lead out of a root.
    """
    if not roots:
        raise InvalidRequest(
            "no source roots are configured (GOVRAG_SOURCE_ROOTS); nothing can be registered"
        )
    if "\x00" in source_path:
        raise InvalidRequest("source_path contains a NUL byte")
    resolved = Path(source_path).expanduser().resolve()
    if not any(resolved == root or resolved.is_relative_to(root) for root in roots):
        raise InvalidRequest("source_path is not under an allowed source root")
    if not resolved.is_dir():
        raise InvalidRequest("source_path is not a directory")
    return resolved


OBJECT_SCHEME = "s3://"


def resolve_object_source(source_path: str, roots: list[str]) -> str:
    """`s3://bucket/prefix` in its normal form, which must lie under one of the allowed `s3://` roots,
    whole path segments at a time (`s3://b/docs` does not admit `s3://b/docs-evil`); no `..`, `.` or empty
    segments, no backslash."""
    if not roots:
        raise InvalidRequest(
            "no s3:// source roots are configured (GOVRAG_SOURCE_ROOTS); no object source can be registered"
        )
    location = _object_location(source_path)
    if location is None:
        raise InvalidRequest("source_path is not a plain s3://bucket/prefix (no '..', '.' or empty parts)")
    if not any(_covers(root, location) for root in map(_object_location, roots) if root is not None):
        raise InvalidRequest("source_path is not under an allowed source root")
    bucket, prefix = location
    return f"{OBJECT_SCHEME}{bucket}/{prefix}" if prefix else f"{OBJECT_SCHEME}{bucket}"


# The grammar of ingest/sources/s3.py's `parse_s3_uri`, which each job applies again before reading.
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def _object_location(uri: str) -> tuple[str, str] | None:
    """(bucket, prefix without slashes at its ends) of a plain `s3://` URI; None for anything else."""
    if not uri.startswith(OBJECT_SCHEME) or "\\" in uri or "\x00" in uri:
        return None
    bucket, _, prefix = uri[len(OBJECT_SCHEME) :].partition("/")
    prefix = prefix[:-1] if prefix.endswith("/") else prefix
    if not _BUCKET_NAME.match(bucket):
        return None
    if prefix and any(part in ("", ".", "..") for part in prefix.split("/")):
        return None
    return bucket, prefix


def _covers(root: tuple[str, str], location: tuple[str, str]) -> bool:
    return root[0] == location[0] and (
        not root[1] or location[1] == root[1] or location[1].startswith(root[1] + "/")
    )


def _object_covers(outer: str, inner: str) -> bool:
    """Whether the object prefix `outer` holds `inner` (both normal `s3://` forms), segment by segment."""
    return inner == outer or inner.startswith(outer.rstrip("/") + "/")


def check_masking(strategy: str, allow_list: frozenset[str], pseudonymize_allowed: bool) -> MaskingProfile:
    """The corpus's masking profile; `InvalidRequest` if invalid, `Conflict` for pseudonyms without a key."""
    try:
        profile = parse_profile(strategy, allow_list)
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None
    if profile.strategy is MaskingStrategy.PSEUDONYMIZE and not pseudonymize_allowed:
        raise Conflict(
            "the pseudonymize masking strategy needs a pseudonym key, and the service has none "
            "(set GOVRAG_PII__PSEUDONYM_KEY, at least 16 bytes, and restart); or choose replace or redact"
        )
    return profile


@dataclass(frozen=True, slots=True)
class IngestedDocument:
    """What the catalog records of a document version once its chunks are in the index."""

    document_id: str
    source_uri: str
    title: str
    content_sha256: str
    version: int
    embedding_model: str
    embedding_weights_sha256: str
    acl_groups: tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class ChunkRecord:
    """A chunk row: where the chunk sits in the document's extracted text."""

    chunk_id: str
    ordinal: int
    page: int | None
    start_char: int
    end_char: int
    # Entity type -> findings masked in the chunk, and the detector's label; None: not known.
    pii_counts: dict[str, int] | None = None
    pii_detector: str | None = None


class Catalog:
    """Corpus, document and job records; every method is one transaction.

    `pseudonymize_allowed` says whether a pseudonym key is configured: without one, a corpus that asks for
    the `pseudonymize` masking strategy is refused at registration.
    """

    def __init__(
        self,
        db: Database,
        source_roots: list[Path],
        *,
        pseudonymize_allowed: bool = False,
        object_source_roots: list[str] | None = None,
    ) -> None:
        self._db = db
        self._roots = source_roots
        self._object_roots = list(object_source_roots or [])
        self._pseudonymize_allowed = pseudonymize_allowed

    @property
    def db(self) -> Database:
        return self._db

    @property
    def source_roots(self) -> list[Path]:
        """The allowed source roots (resolved); each ingestion job checks its corpus's folder against them."""
        return list(self._roots)

    @property
    def object_source_roots(self) -> list[str]:
        """The allowed `s3://bucket[/prefix]` roots, checked again by each job of an object source."""
        return list(self._object_roots)

    # -- corpora ----------------------------------------------------------------------------------------
    def register(self, spec: CorpusSpec, owner: str) -> CorpusRow:
        if not REGION_PATTERN.match(spec.region):
            raise InvalidRequest(f"invalid region {spec.region!r}")
        masking = check_masking(spec.masking_strategy, spec.pii_allow_list, self._pseudonymize_allowed)
        source: Path | str
        if spec.source_path.startswith(OBJECT_SCHEME):
            source = resolve_object_source(spec.source_path, self._object_roots)
        else:
            source = resolve_source_path(spec.source_path, self._roots)
        self._check_overlap(source, spec)
        row = CorpusRow(
            id=str(uuid.uuid4()),
            name=spec.name,
            description=spec.description,
            region=spec.region,
            sensitivity=spec.sensitivity.name,
            status=CorpusStatus.registered.value,
            source_path=str(source),
            owner=owner,
            created_at=utcnow(),
            refresh_interval_seconds=spec.refresh_interval_seconds,
            masking_strategy=masking.strategy.value,
            pii_allow_list=sorted(masking.allow_list),
        )
        try:
            with self._db.session() as session:
                session.add(row)
        except BackendUnavailable as exc:
            if isinstance(exc.__cause__, IntegrityError):
                raise Conflict(f"a corpus named {spec.name!r} already exists") from exc
            raise
        return row

    def _check_overlap(self, source: Path | str, spec: CorpusSpec) -> None:
        """Conflict if `source` overlaps another corpus's folder in a way that leaks: the same file must never
        be indexed into a less restricted corpus or into another region than the one that holds it.

        The inner corpus (whose folder lies inside the other's, or is the same) must be at least as sensitive
        as the outer one, and both in the same region; the outer one also reads the inner one's files, so
        an inner corpus of lower sensitivity would publish the outer one's files more widely.
        """
        for other in self.corpora():
            if isinstance(source, str) != other.source_path.startswith(OBJECT_SCHEME):
                continue  # a folder and an object prefix never hold the same document
            if isinstance(source, str):
                inner_is_new = _object_covers(other.source_path, source)
                if not inner_is_new and not _object_covers(source, other.source_path):
                    continue
                same = source == other.source_path
            else:
                other_source = Path(other.source_path)
                inner_is_new = source == other_source or source.is_relative_to(other_source)
                if not inner_is_new and not other_source.is_relative_to(source):
                    continue
                same = source == other_source
            other_sensitivity = Sensitivity.parse(other.sensitivity)
            inner, outer = (
                (spec.sensitivity, other_sensitivity)
                if inner_is_new
                else (other_sensitivity, spec.sensitivity)
            )
            if other.region != spec.region:
                raise Conflict(
                    f"source_path overlaps the folder of corpus {other.name!r}, which is in region "
                    f"{other.region}: one file would be indexed in two regions"
                )
            if inner < outer:
                raise Conflict(
                    f"source_path overlaps the folder of corpus {other.name!r} ({other_sensitivity.name}); a "
                    f"corpus inside another must be at least as sensitive as it ({inner.name} < {outer.name})"
                )
            if same and spec.sensitivity != other_sensitivity:
                raise Conflict(
                    f"source_path is the folder of corpus {other.name!r}, which is {other_sensitivity.name}"
                )

    def get(self, corpus_id: str) -> CorpusRow:
        with self._db.session() as session:
            row = session.get(CorpusRow, corpus_id)
        if row is None:
            raise NotFound(f"corpus {corpus_id} not found")
        return row

    def corpora(self) -> list[CorpusRow]:
        with self._db.session() as session:
            return list(session.scalars(select(CorpusRow).order_by(CorpusRow.created_at, CorpusRow.id)))

    def refs(self) -> list[CorpusRef]:
        return [to_ref(row) for row in self.corpora()]

    def approve(self, corpus_id: str, approver: str) -> CorpusRow:
        with self._db.session() as session:
            row = session.get(CorpusRow, corpus_id)
            if row is None:
                raise NotFound(f"corpus {corpus_id} not found")
            if row.status != CorpusStatus.approved.value:
                row.status = CorpusStatus.approved.value
                row.approved_at = utcnow()
                row.approved_by = approver
        return row

    def revoke(self, corpus_id: str, revoker: str) -> CorpusRow:
        """Status `revoked` (the policy denies retrieval from it at once); its documents must be re-ingested
        after a new approval. The caller removes its points from the index."""
        with self._db.session() as session:
            row = session.get(CorpusRow, corpus_id)
            if row is None:
                raise NotFound(f"corpus {corpus_id} not found")
            row.status = CorpusStatus.revoked.value
            row.revoked_at = utcnow()
            row.revoked_by = revoker
            session.execute(
                update(DocumentRow)
                .where(
                    DocumentRow.corpus_id == corpus_id, DocumentRow.status == DocumentStatus.ingested.value
                )
                .values(status=DocumentStatus.revoked.value, chunk_count=0, updated_at=utcnow())
            )
            session.execute(delete(ChunkRow).where(ChunkRow.corpus_id == corpus_id))
        return row

    # -- documents --------------------------------------------------------------------------------------
    def documents(self, corpus_id: str) -> list[DocumentRow]:
        self.get(corpus_id)
        with self._db.session() as session:
            query = (
                select(DocumentRow).where(DocumentRow.corpus_id == corpus_id).order_by(DocumentRow.source_uri)
            )
            return list(session.scalars(query))

    def documents_page(
        self,
        corpus_id: str,
        *,
        status: DocumentStatus | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> DocumentPage:
        """One page of a corpus's documents by `source_uri` (unique within a corpus, and never changed), from
        the row after `cursor`. Keyset paging: every page is one indexed range scan however deep it is, and a
        row present when paging began is seen exactly once even while others are inserted.
        `InvalidCursor` for a cursor not issued for this corpus and filter."""
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise InvalidRequest(f"limit must be between 1 and {MAX_PAGE_SIZE}")
        scope = {"corpus": corpus_id, "status": status.value if status is not None else None}
        self.get(corpus_id)
        query = select(DocumentRow).where(DocumentRow.corpus_id == corpus_id)
        if status is not None:
            query = query.where(DocumentRow.status == status.value)
        if cursor is not None:
            (after,) = decode_cursor(cursor, scope, 1)
            query = query.where(DocumentRow.source_uri > after)
        # One row more than asked says whether another page follows, without a count.
        query = query.order_by(DocumentRow.source_uri).limit(limit + 1)
        with self._db.session() as session:
            rows = list(session.scalars(query))
        if len(rows) <= limit:
            return DocumentPage(rows, None)
        rows = rows[:limit]
        return DocumentPage(rows, encode_cursor(scope, [rows[-1].source_uri]))

    def document(self, corpus_id: str, document_id: str) -> DocumentRow:
        with self._db.session() as session:
            row = session.get(DocumentRow, document_id)
        if row is None or row.corpus_id != corpus_id:
            raise NotFound(f"document {document_id} not found in corpus {corpus_id}")
        return row

    # -- documents as ingestion writes them -----------------------------------------------------------------
    def documents_by_id(self, corpus_id: str) -> dict[str, DocumentRow]:
        """Every document row of a corpus, by id (what an ingestion scan compares the source with)."""
        with self._db.session() as session:
            return {
                row.id: row
                for row in session.scalars(select(DocumentRow).where(DocumentRow.corpus_id == corpus_id))
            }

    def record_ingested(
        self, corpus: CorpusRef, document: IngestedDocument, chunks: list[ChunkRecord]
    ) -> None:
        """A document version is in the index: its row says so and its chunk rows are replaced, together."""
        with self._db.session() as session:
            session.execute(delete(ChunkRow).where(ChunkRow.document_id == document.document_id))
            row = session.get(DocumentRow, document.document_id)
            if row is None:
                row = DocumentRow(
                    id=document.document_id, corpus_id=corpus.id, source_uri=document.source_uri
                )
                session.add(row)
            row.source_uri = document.source_uri
            row.title = document.title
            row.content_sha256 = document.content_sha256
            row.version = document.version
            row.status = DocumentStatus.ingested.value
            row.error = None
            row.chunk_count = len(chunks)
            row.embedding_model = document.embedding_model
            row.embedding_weights_sha256 = document.embedding_weights_sha256
            row.acl_groups = list(document.acl_groups) if document.acl_groups is not None else None
            row.updated_at = utcnow()
            session.flush()
            session.add_all(
                ChunkRow(
                    id=chunk.chunk_id,
                    document_id=document.document_id,
                    corpus_id=corpus.id,
                    partition=corpus.partition,
                    document_version=document.version,
                    ordinal=chunk.ordinal,
                    page=chunk.page,
                    start_char=chunk.start_char,
                    end_char=chunk.end_char,
                    pii_counts=chunk.pii_counts,
                    pii_detector=chunk.pii_detector,
                )
                for chunk in chunks
            )

    def record_document_failure(
        self, corpus: CorpusRef, document_id: str, source_uri: str, reason: str, content_sha256: str | None
    ) -> None:
        """A document failed; `content_sha256` (what the scan read) keeps an unchanged file from being tried
        again. An ingested document keeps its searchable version and only notes the failure."""
        with self._db.session() as session:
            row = session.get(DocumentRow, document_id)
            if row is None:
                row = DocumentRow(
                    id=document_id, corpus_id=corpus.id, source_uri=source_uri, title="", version=0
                )
                session.add(row)
            row.error = reason
            row.updated_at = utcnow()
            if row.status == DocumentStatus.ingested.value:
                return
            row.status = DocumentStatus.failed.value
            row.content_sha256 = content_sha256
            row.chunk_count = 0

    def withdraw_document(self, corpus: CorpusRef, document_id: str, source_uri: str, reason: str) -> None:
        """A document left the index for `reason` (its points are already gone): failed, with no content
        hash kept (the next scan tries again), no ACL and no chunks."""
        with self._db.session() as session:
            row = session.get(DocumentRow, document_id)
            if row is None:
                row = DocumentRow(
                    id=document_id, corpus_id=corpus.id, source_uri=source_uri, title="", version=0
                )
                session.add(row)
            row.status = DocumentStatus.failed.value
            row.error = reason
            row.content_sha256 = None
            row.chunk_count = 0
            row.acl_groups = None
            row.updated_at = utcnow()
            session.execute(delete(ChunkRow).where(ChunkRow.document_id == document_id))

    def set_document_status(self, document_id: str, status: DocumentStatus, note: str | None) -> None:
        """A document without chunks any more (removed from the source, or its job's writes undone)."""
        with self._db.session() as session:
            row = session.get(DocumentRow, document_id)
            if row is not None:
                row.status = status.value
                row.error = note
                row.chunk_count = 0
                row.updated_at = utcnow()
            session.execute(delete(ChunkRow).where(ChunkRow.document_id == document_id))

    def mark_document_deleted(self, corpus_id: str, document_id: str, deleter: str) -> DocumentRow:
        """Status `deleted`: out of the index, and later scans of the source leave it out."""
        with self._db.session() as session:
            row = session.get(DocumentRow, document_id)
            if row is None or row.corpus_id != corpus_id:
                raise NotFound(f"document {document_id} not found in corpus {corpus_id}")
            row.status = DocumentStatus.deleted.value
            row.error = f"deleted by {deleter}"
            row.chunk_count = 0
            row.updated_at = utcnow()
            session.execute(delete(ChunkRow).where(ChunkRow.document_id == document_id))
        return row

    # -- jobs -------------------------------------------------------------------------------------------
    def create_job(
        self,
        corpus_id: str,
        requested_by: str,
        kind: JobKind = JobKind.ingest,
        *,
        attempt: int = 1,
        retry_of: str | None = None,
    ) -> JobRow:
        corpus = self.get(corpus_id)
        if corpus.status != CorpusStatus.approved.value:
            raise Conflict(f"corpus {corpus_id} is {corpus.status}; only approved corpora are ingested")
        with self._db.session() as session:
            active = session.scalar(
                select(func.count())
                .select_from(JobRow)
                .where(JobRow.corpus_id == corpus_id, JobRow.status.in_(ACTIVE_JOB_STATES))
            )
            if active:
                raise Conflict(f"corpus {corpus_id} already has an ingestion job queued or running")
            job = JobRow(
                id=str(uuid.uuid4()),
                corpus_id=corpus_id,
                kind=kind.value,
                status=JobStatus.queued.value,
                requested_by=requested_by,
                attempt=attempt,
                retry_of=retry_of,
                created_at=utcnow(),
                documents_total=0,
                documents_seen=0,
                documents_ingested=0,
                documents_skipped=0,
                documents_failed=0,
                documents_removed=0,
                chunks_written=0,
                errors=[],
            )
            session.add(job)
        return job

    def get_job(self, job_id: str) -> JobRow:
        with self._db.session() as session:
            row = session.get(JobRow, job_id)
        if row is None:
            raise NotFound(f"job {job_id} not found")
        return row

    def jobs(self, corpus_id: str | None = None, limit: int = 50) -> list[JobRow]:
        """The latest jobs, newest first: of one corpus, or of every corpus."""
        query = select(JobRow).order_by(JobRow.created_at.desc(), JobRow.id).limit(limit)
        if corpus_id is not None:
            query = query.where(JobRow.corpus_id == corpus_id)
        with self._db.session() as session:
            return list(session.scalars(query))

    def update_job(self, job_id: str, **values: Any) -> None:
        with self._db.session() as session:
            session.execute(update(JobRow).where(JobRow.id == job_id).values(**values))

    def recover_jobs(self) -> list[str]:
        """At start-up of a single process: the jobs to run. Queued jobs resume; a job left running by a crash
        is marked failed and retried as a new job (at most `MAX_JOB_ATTEMPTS` attempts in all) if its corpus
        is approved. The service uses `JobLeases.recover` instead: it leaves other processes' jobs alone."""
        to_run: list[str] = []
        with self._db.session() as session:
            crashed = session.scalars(select(JobRow).where(JobRow.status == JobStatus.running.value)).all()
            for job in crashed:
                job.status = JobStatus.failed.value
                job.finished_at = utcnow()
                job.detail = "interrupted: the service stopped while the job ran"
            queued = session.scalars(
                select(JobRow).where(JobRow.status == JobStatus.queued.value).order_by(JobRow.created_at)
            ).all()
            to_run.extend(job.id for job in queued)
            queued_corpora = {job.corpus_id for job in queued}
            retries = [(job.corpus_id, job.kind, job.attempt, job.id) for job in crashed]
        for corpus_id, kind, attempt, job_id in retries:
            if attempt >= MAX_JOB_ATTEMPTS or corpus_id in queued_corpora:
                continue
            try:
                retry = self.create_job(
                    corpus_id, "recovery", JobKind(kind), attempt=attempt + 1, retry_of=job_id
                )
            except (Conflict, NotFound):
                continue  # revoked or deleted since: nothing to retry
            to_run.append(retry.id)
        return to_run

    def corpora_due_for_refresh(self, now: datetime | None = None) -> list[str]:
        """Approved corpora with a refresh interval whose last job ended at least that long ago (or that never
        had one), and that have no job queued or running."""
        now = now or utcnow()
        due: list[str] = []
        with self._db.session() as session:
            rows = session.scalars(
                select(CorpusRow).where(
                    CorpusRow.status == CorpusStatus.approved.value,
                    CorpusRow.refresh_interval_seconds.is_not(None),
                )
            ).all()
            for row in rows:
                last_job = session.scalars(
                    select(JobRow)
                    .where(JobRow.corpus_id == row.id)
                    .order_by(JobRow.created_at.desc())
                    .limit(1)
                ).first()
                if last_job is None:
                    due.append(row.id)
                    continue
                if last_job.status in ACTIVE_JOB_STATES or row.refresh_interval_seconds is None:
                    continue
                last = last_job.finished_at or last_job.created_at
                if last + timedelta(seconds=row.refresh_interval_seconds) <= now:
                    due.append(row.id)
        return due
