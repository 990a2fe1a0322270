"""The catalog: corpora and their lifecycle (registered → approved), documents, and ingestion jobs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from retrieval.db import Database
from retrieval.domain import REGION_PATTERN, CorpusRef, CorpusStatus, JobStatus, Sensitivity
from retrieval.errors import BackendUnavailable, Conflict, InvalidRequest, NotFound
from retrieval.models import CorpusRow, DocumentRow, JobRow


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class CorpusSpec:
    name: str
    region: str
    sensitivity: Sensitivity
    source_path: str
    description: str = ""


def to_ref(row: CorpusRow) -> CorpusRef:
    return CorpusRef(
        id=row.id,
        name=row.name,
        region=row.region,
        sensitivity=Sensitivity.parse(row.sensitivity),
        status=CorpusStatus(row.status),
        owner=row.owner,
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


class Catalog:
    """Corpus, document and job records; every method is one transaction."""

    def __init__(self, db: Database, source_roots: list[Path]) -> None:
        self._db = db
        self._roots = source_roots

    # -- corpora ----------------------------------------------------------------------------------------
    def register(self, spec: CorpusSpec, owner: str) -> CorpusRow:
        if not REGION_PATTERN.match(spec.region):
            raise InvalidRequest(f"invalid region {spec.region!r}")
        source = resolve_source_path(spec.source_path, self._roots)
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
        )
        try:
            with self._db.session() as session:
                session.add(row)
        except BackendUnavailable as exc:
            if isinstance(exc.__cause__, IntegrityError):
                raise Conflict(f"a corpus named {spec.name!r} already exists") from exc
            raise
        return row

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

    # -- documents --------------------------------------------------------------------------------------
    def documents(self, corpus_id: str) -> list[DocumentRow]:
        self.get(corpus_id)
        with self._db.session() as session:
            query = (
                select(DocumentRow).where(DocumentRow.corpus_id == corpus_id).order_by(DocumentRow.source_uri)
            )
            return list(session.scalars(query))

    # -- jobs -------------------------------------------------------------------------------------------
    def create_job(self, corpus_id: str, requested_by: str) -> JobRow:
        corpus = self.get(corpus_id)
        if corpus.status != CorpusStatus.approved.value:
            raise Conflict(f"corpus {corpus_id} is {corpus.status}; only approved corpora are ingested")
        with self._db.session() as session:
            active = session.scalar(
                select(func.count())
                .select_from(JobRow)
                .where(JobRow.corpus_id == corpus_id, JobRow.status.in_(["queued", "running"]))
            )
            if active:
                raise Conflict(f"corpus {corpus_id} already has an ingestion job queued or running")
            job = JobRow(
                id=str(uuid.uuid4()),
                corpus_id=corpus_id,
                status=JobStatus.queued.value,
                requested_by=requested_by,
                created_at=utcnow(),
                documents_seen=0,
                documents_ingested=0,
                documents_failed=0,
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

    def update_job(self, job_id: str, **values: Any) -> None:
        with self._db.session() as session:
            session.execute(update(JobRow).where(JobRow.id == job_id).values(**values))

    def fail_interrupted_jobs(self) -> int:
        """Jobs left queued or running by a previous process can never finish: mark them failed."""
        with self._db.session() as session:
            result = session.execute(
                update(JobRow)
                .where(JobRow.status.in_(["queued", "running"]))
                .values(
                    status=JobStatus.failed.value, finished_at=utcnow(), detail="interrupted by a restart"
                )
            )
            return int(getattr(result, "rowcount", 0) or 0)
