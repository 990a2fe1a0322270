"""The provenance log: one event per answer, listing every chunk (and so every document) it returned.

`record` commits before it returns; a failure raises `AuditUnavailable`, and the caller answers nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy import exists, select

from retrieval.db import Database
from retrieval.errors import AuditUnavailable, BackendUnavailable, InvalidRequest, NotFound
from retrieval.models import AuditChunkRow, AuditEventRow


@dataclass(frozen=True, slots=True)
class AuditChunk:
    rank: int
    score: float
    chunk_id: str
    document_id: str
    document_version: int
    corpus_id: str
    content_sha256: str
    embedding_model: str


@dataclass(frozen=True, slots=True)
class AuditEvent:
    request_id: str
    occurred_at: datetime
    action: str
    principal_id: str
    policy_version: str
    outcome: str
    query_masked: str | None = None
    top_k: int | None = None
    allowed_corpora: tuple[str, ...] = ()
    partitions: tuple[str, ...] = ()
    latency_ms: float | None = None
    chunks: tuple[AuditChunk, ...] = ()
    sequence: int | None = None


@dataclass(frozen=True, slots=True)
class AuditQuery:
    principal_id: str | None = None
    document_id: str | None = None
    corpus_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    cursor: int | None = None  # the sequence of the last event of the previous page


@dataclass(frozen=True, slots=True)
class AuditPage:
    events: list[AuditEvent] = field(default_factory=list)
    next_cursor: int | None = None


class AuditStore(Protocol):
    """Where provenance events are kept."""

    def record(self, event: AuditEvent) -> None:
        """Commit the event and its chunks durably; raise `AuditUnavailable` if that cannot be done."""

    def get(self, request_id: str) -> AuditEvent:
        """The event of a request; `NotFound` if there is none."""

    def query(self, query: AuditQuery) -> AuditPage:
        """Events matching every given filter, newest first, one page at a time."""


def _to_event(row: AuditEventRow, chunks: Sequence[AuditChunkRow]) -> AuditEvent:
    return AuditEvent(
        request_id=row.request_id,
        occurred_at=row.occurred_at,
        action=row.action,
        principal_id=row.principal_id,
        policy_version=row.policy_version,
        outcome=row.outcome,
        query_masked=row.query_masked,
        top_k=row.top_k,
        allowed_corpora=tuple(row.allowed_corpora or ()),
        partitions=tuple(row.partitions or ()),
        latency_ms=row.latency_ms,
        chunks=tuple(
            AuditChunk(
                rank=c.rank,
                score=c.score,
                chunk_id=c.chunk_id,
                document_id=c.document_id,
                document_version=c.document_version,
                corpus_id=c.corpus_id,
                content_sha256=c.content_sha256,
                embedding_model=c.embedding_model,
            )
            for c in sorted(chunks, key=lambda c: c.rank)
        ),
        sequence=row.id,
    )


class SqlAuditStore:
    """`AuditStore` on the relational database (SQLite or PostgreSQL)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def record(self, event: AuditEvent) -> None:
        try:
            with self._db.session() as session:
                row = AuditEventRow(
                    request_id=event.request_id,
                    occurred_at=event.occurred_at,
                    action=event.action,
                    principal_id=event.principal_id,
                    query_masked=event.query_masked,
                    top_k=event.top_k,
                    policy_version=event.policy_version,
                    allowed_corpora=list(event.allowed_corpora),
                    partitions=list(event.partitions),
                    outcome=event.outcome,
                    latency_ms=event.latency_ms,
                )
                session.add(row)
                session.flush()
                session.add_all(
                    AuditChunkRow(
                        event_id=row.id,
                        rank=c.rank,
                        score=c.score,
                        chunk_id=c.chunk_id,
                        document_id=c.document_id,
                        document_version=c.document_version,
                        corpus_id=c.corpus_id,
                        content_sha256=c.content_sha256,
                        embedding_model=c.embedding_model,
                    )
                    for c in event.chunks
                )
        except BackendUnavailable as exc:
            raise AuditUnavailable(
                "the provenance log cannot record this request; nothing is answered"
            ) from exc

    def get(self, request_id: str) -> AuditEvent:
        with self._db.session() as session:
            row = session.scalar(select(AuditEventRow).where(AuditEventRow.request_id == request_id))
            if row is None:
                raise NotFound(f"no audit event for request {request_id}")
            chunks = session.scalars(select(AuditChunkRow).where(AuditChunkRow.event_id == row.id)).all()
            return _to_event(row, chunks)

    def query(self, query: AuditQuery) -> AuditPage:
        if not 1 <= query.limit <= 1000:
            raise InvalidRequest("limit must be between 1 and 1000")
        stmt = select(AuditEventRow)
        if query.principal_id is not None:
            stmt = stmt.where(AuditEventRow.principal_id == query.principal_id)
        if query.since is not None:
            stmt = stmt.where(AuditEventRow.occurred_at >= query.since)
        if query.until is not None:
            stmt = stmt.where(AuditEventRow.occurred_at < query.until)
        if query.cursor is not None:
            stmt = stmt.where(AuditEventRow.id < query.cursor)
        for column, value in (
            (AuditChunkRow.document_id, query.document_id),
            (AuditChunkRow.corpus_id, query.corpus_id),
        ):
            if value is not None:
                stmt = stmt.where(exists().where(AuditChunkRow.event_id == AuditEventRow.id, column == value))
        stmt = stmt.order_by(AuditEventRow.id.desc()).limit(query.limit + 1)
        with self._db.session() as session:
            rows = list(session.scalars(stmt))
            more = len(rows) > query.limit
            rows = rows[: query.limit]
            by_event: dict[int, list[AuditChunkRow]] = {row.id: [] for row in rows}
            if rows:
                chunk_rows = session.scalars(
                    select(AuditChunkRow).where(AuditChunkRow.event_id.in_(list(by_event)))
                )
                for chunk in chunk_rows:
                    by_event[chunk.event_id].append(chunk)
            events = [_to_event(row, by_event[row.id]) for row in rows]
        return AuditPage(events=events, next_cursor=rows[-1].id if more and rows else None)
