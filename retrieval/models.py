"""SQLAlchemy tables: the catalog (corpora, documents, chunks), ingestion jobs and the provenance log.

The schema is built by the Alembic migrations in `migrations/`; this metadata is what they are checked
against (`compare_type=True`). Timestamps are timezone-aware UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT on PostgreSQL, INTEGER on SQLite so that the key is the rowid alias (autoincrement).
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no zone: stored as UTC, read back as UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: govrag stores aware UTC times only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class CorpusRow(Base):
    __tablename__ = "corpora"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    region: Mapped[str] = mapped_column(String(16))
    sensitivity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    source_path: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    approved_at: Mapped[datetime | None]
    approved_by: Mapped[str | None] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(200))
    # Re-scan the source this often (incremental); None: only when a steward asks.
    refresh_interval_seconds: Mapped[int | None] = mapped_column(Integer)
    # PII masking of its text: replace | redact | pseudonymize, and the entity types it keeps (a JSON list).
    masking_strategy: Mapped[str] = mapped_column(String(16), default="replace")
    pii_allow_list: Mapped[list[Any]] = mapped_column(JSON, default=list)


class DocumentRow(Base):
    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("corpus_id", "source_uri"),
        # A page of the listing filtered by status is one range scan (Catalog.documents_page).
        Index("ix_documents_corpus_status_uri", "corpus_id", "status", "source_uri"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    corpus_id: Mapped[str] = mapped_column(ForeignKey("corpora.id", ondelete="CASCADE"), index=True)
    source_uri: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text, default="")
    content_sha256: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=0)
    # ingested | failed | removed (gone from the source) | deleted (by a steward; stays out) | revoked
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    embedding_model: Mapped[str | None] = mapped_column(String(200))
    embedding_weights_sha256: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime]
    # The groups allowed to read it (sorted), from an ACL file or its e-mail recipients; None: no document
    # ACL, its corpus alone decides. Compared on every scan, so a changed ACL re-indexes the document.
    acl_groups: Mapped[list[Any] | None] = mapped_column(JSON)


class ChunkRow(Base):
    """What is indexed: one row per point written, so the catalog can say what each partition holds."""

    __tablename__ = "chunks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    corpus_id: Mapped[str] = mapped_column(String(36), index=True)
    partition: Mapped[str] = mapped_column(String(64))
    document_version: Mapped[int] = mapped_column(Integer)
    ordinal: Mapped[int] = mapped_column(Integer)
    page: Mapped[int | None] = mapped_column(Integer)
    start_char: Mapped[int] = mapped_column(Integer)
    end_char: Mapped[int] = mapped_column(Integer)
    # What masking replaced in it: entity type -> count, and the detector that found them
    # (`retrieval.pii.findings`). NULL for chunks ingested before revision 0010: unknown, not none.
    pii_counts: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    pii_detector: Mapped[str | None] = mapped_column(String(300))


class JobRow(Base):
    __tablename__ = "ingestion_jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    corpus_id: Mapped[str] = mapped_column(ForeignKey("corpora.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="ingest")  # ingest | reindex
    status: Mapped[str] = mapped_column(String(16), index=True)
    requested_by: Mapped[str] = mapped_column(String(200))
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    retry_of: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    documents_total: Mapped[int] = mapped_column(Integer, default=0)
    documents_seen: Mapped[int] = mapped_column(Integer, default=0)
    documents_ingested: Mapped[int] = mapped_column(Integer, default=0)
    documents_skipped: Mapped[int] = mapped_column(Integer, default=0)
    documents_failed: Mapped[int] = mapped_column(Integer, default=0)
    documents_removed: Mapped[int] = mapped_column(Integer, default=0)
    chunks_written: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list[Any]] = mapped_column(JSON, default=list)
    detail: Mapped[str | None] = mapped_column(Text)
    # The process running it and until when that claim holds unless renewed (retrieval/job_leases.py).
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None]


class AuditEventRow(Base):
    """One provenance record per `/retrieve` call or governance action, a link of the log's hash chain.

    `sequence` numbers the chain without gaps (1, 2, 3 …); `hash` is the sha256 of the event's canonical
    content (chunks and regions included) and `prev_hash`. `id` is only the row key the side tables point to.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_principal", "principal_id", "id"),
        Index("ix_audit_events_end_user", "end_user_id", "id"),
        Index("ix_audit_events_action", "action", "id"),
        Index("ix_audit_events_outcome", "outcome", "id"),
        Index("ix_audit_events_corpus", "corpus_id", "id"),
        Index("ix_audit_events_document", "document_id", "id"),
        Index("ix_audit_events_time", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    sequence: Mapped[int] = mapped_column(BigInteger, unique=True)
    request_id: Mapped[str] = mapped_column(String(36), unique=True)
    occurred_at: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(32))
    principal_id: Mapped[str] = mapped_column(String(200))
    end_user_id: Mapped[str | None] = mapped_column(String(200))
    # The caller's attributes when it acted (roles, clearance, regions, groups), so replay can rebuild it.
    principal: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    query_masked: Mapped[str | None] = mapped_column(Text)
    query_hmac: Mapped[str | None] = mapped_column(String(64))
    top_k: Mapped[int | None] = mapped_column(Integer)
    policy_version: Mapped[str] = mapped_column(String(64))
    decisions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    allowed_corpora: Mapped[list[Any]] = mapped_column(JSON, default=list)
    partitions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    unavailable: Mapped[list[Any]] = mapped_column(JSON, default=list)
    outcome: Mapped[str] = mapped_column(String(16))
    latency_ms: Mapped[float | None] = mapped_column(Float)
    # Governance events: the corpus (and document) the action concerned, and what it did.
    corpus_id: Mapped[str | None] = mapped_column(String(36))
    document_id: Mapped[str | None] = mapped_column(String(36))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # The canonical JSON the hash covers, as sealed (the export streams it; verify holds it to the columns).
    # NULL for events written before revision 0006: those are exported and verified from the columns.
    canonical: Mapped[str | None] = mapped_column(Text)


class AuditChunkRow(Base):
    """A chunk an audited answer returned, with what identified its document at the time."""

    __tablename__ = "audit_event_chunks"
    __table_args__ = (
        UniqueConstraint("event_id", "rank"),
        Index("ix_audit_event_chunks_document", "document_id", "event_id"),
        Index("ix_audit_event_chunks_corpus", "corpus_id", "event_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("audit_events.id", ondelete="CASCADE"))
    rank: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    chunk_id: Mapped[str] = mapped_column(String(36))
    document_id: Mapped[str] = mapped_column(String(36))
    document_version: Mapped[int] = mapped_column(Integer)
    corpus_id: Mapped[str] = mapped_column(String(36))
    content_sha256: Mapped[str] = mapped_column(String(64))
    embedding_model: Mapped[str] = mapped_column(String(200))
    # Why the answer selected it (`ChunkWhy` as JSON); NULL for answers logged before it was kept.
    why: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # What masking replaced in the chunk, entity type -> count; NULL where unknown (see revision 0010).
    pii_counts: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class AuditRegionRow(Base):
    """A region an audited answer searched (a side table, so that the region filter has an index)."""

    __tablename__ = "audit_event_regions"
    __table_args__ = (Index("ix_audit_event_regions_region", "region", "event_id"),)

    event_id: Mapped[int] = mapped_column(ForeignKey("audit_events.id", ondelete="CASCADE"), primary_key=True)
    region: Mapped[str] = mapped_column(String(16), primary_key=True)


class AuditCheckpointRow(Base):
    """A signed link of the chain: Ed25519 over (kind, sequence, hash) by key `key_id` (from revision 0007);
    older rows have no key id and an HMAC(key, kind, sequence, hash).

    `periodic` every N events; `anchor` where retention pruned the log (verification starts after it).
    """

    __tablename__ = "audit_checkpoints"
    __table_args__ = (UniqueConstraint("sequence", "kind"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    sequence: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    hash: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]
    key_id: Mapped[str | None] = mapped_column(String(32))


class AuditHeadRow(Base):
    """The chain's head as last signed: one row (id 1), rewritten with each append in its transaction, so
    that deleting the newest events leaves a signed head beyond the end of the log."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    sequence: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime]
    key_id: Mapped[str] = mapped_column(String(32))
    signature: Mapped[str] = mapped_column(String(128))


class AuditSigningKeyRow(Base):
    """A public key the log has been signed with; a rotated-in key carries the statement both keys signed."""

    __tablename__ = "audit_signing_keys"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    public_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    previous_key_id: Mapped[str | None] = mapped_column(String(32))
    previous_signature: Mapped[str | None] = mapped_column(String(128))
    new_signature: Mapped[str | None] = mapped_column(String(128))


class AuditPersonalRow(Base):
    """The personal values of an event kept beside the chain (`retrieval.audit.personal`): the chained form
    holds only their salted commitments, so deleting this row (erasure) leaves every hash as it was.

    `openings`: canonical JSON `{field: {"salt": hex, "value": JSON text}}`, what a signed export carries
    after the event's hashes. One row an event, not one a field: an append writes one more row, not five.
    `subject`: a keyed digest of the end user the event was for (`AuditKeys.subject_digest`), so that erasure
    finds the rows without the plaintext id being kept anywhere; it goes with them.
    """

    __tablename__ = "audit_personal"
    __table_args__ = (Index("ix_audit_personal_subject", "subject", "event_id"),)

    event_id: Mapped[int] = mapped_column(ForeignKey("audit_events.id", ondelete="CASCADE"), primary_key=True)
    subject: Mapped[str | None] = mapped_column(String(64))
    openings: Mapped[str] = mapped_column(Text)


class DocumentSubjectRow(Base):
    """Who a document's text mentions, as keyed digests of the normalized names and e-mail addresses masking
    found in it (never the values), so that a privacy request can find the documents that name a person."""

    __tablename__ = "document_subjects"
    __table_args__ = (Index("ix_document_subjects_digest", "digest", "document_id"),)

    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # name | email
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
