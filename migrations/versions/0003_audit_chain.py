"""tamper-evident provenance log: hash chain, governance events, regions, checkpoints, auditor indexes

Events already in the log are numbered in id order and chained (their hashes computed here with the chain code
of retrieval.audit), so `verify` holds from the first event on.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigIntPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

NEW_INDEXES = {
    "ix_audit_events_principal": ["principal_id", "id"],
    "ix_audit_events_end_user": ["end_user_id", "id"],
    "ix_audit_events_action": ["action", "id"],
    "ix_audit_events_outcome": ["outcome", "id"],
    "ix_audit_events_corpus": ["corpus_id", "id"],
    "ix_audit_events_document": ["document_id", "id"],
}


def upgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_index("ix_audit_events_principal_time")
        batch.add_column(sa.Column("sequence", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("end_user_id", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("principal", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("query_hmac", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("decisions", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch.add_column(sa.Column("unavailable", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch.add_column(sa.Column("corpus_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("document_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("details", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("hash", sa.String(length=64), nullable=True))

    _chain_existing_events()

    with op.batch_alter_table("audit_events") as batch:
        for column in ("sequence", "prev_hash", "hash"):
            existing = sa.BigInteger() if column == "sequence" else sa.String(length=64)
            batch.alter_column(column, existing_type=existing, nullable=False)
        batch.create_unique_constraint("uq_audit_events_sequence", ["sequence"])
        for name, columns in NEW_INDEXES.items():
            batch.create_index(name, columns, unique=False)

    op.create_table(
        "audit_event_regions",
        sa.Column("event_id", BigIntPK, nullable=False),
        sa.Column("region", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["audit_events.id"],
            name=op.f("fk_audit_event_regions_event_id_audit_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", "region", name=op.f("pk_audit_event_regions")),
    )
    op.create_index("ix_audit_event_regions_region", "audit_event_regions", ["region", "event_id"])
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", BigIntPK, autoincrement=True, nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoints")),
        sa.UniqueConstraint("sequence", "kind", name=op.f("uq_audit_checkpoints_sequence")),
    )


def _chain_existing_events(batch_size: int = 1000) -> None:
    """Number the events written before this revision in id order and compute their chain."""
    from retrieval.audit.chain import GENESIS, event_hash
    from retrieval.audit.events import AuditChunk, AuditEvent
    from retrieval.models import UtcDateTime

    bind = op.get_bind()
    events = sa.table(
        "audit_events",
        sa.column("id", sa.BigInteger()),
        sa.column("request_id", sa.String()),
        sa.column("occurred_at", UtcDateTime()),
        sa.column("action", sa.String()),
        sa.column("principal_id", sa.String()),
        sa.column("query_masked", sa.Text()),
        sa.column("top_k", sa.Integer()),
        sa.column("policy_version", sa.String()),
        sa.column("allowed_corpora", sa.JSON()),
        sa.column("partitions", sa.JSON()),
        sa.column("outcome", sa.String()),
        sa.column("latency_ms", sa.Float()),
        sa.column("sequence", sa.BigInteger()),
        sa.column("prev_hash", sa.String()),
        sa.column("hash", sa.String()),
    )
    chunks = sa.table(
        "audit_event_chunks",
        *(sa.column(name) for name in ("event_id", "rank", "score", "chunk_id", "document_id")),
        *(sa.column(name) for name in ("document_version", "corpus_id", "content_sha256", "embedding_model")),
    )
    prev, sequence, last_id = GENESIS, 0, -1
    while True:
        rows = bind.execute(
            sa.select(events).where(events.c.id > last_id).order_by(events.c.id).limit(batch_size)
        ).all()
        if not rows:
            return
        by_event: dict[int, list[AuditChunk]] = defaultdict(list)
        ids = [row.id for row in rows]
        for c in bind.execute(sa.select(chunks).where(chunks.c.event_id.in_(ids))):
            by_event[c.event_id].append(
                AuditChunk(
                    c.rank, float(c.score), c.chunk_id, c.document_id, int(c.document_version), c.corpus_id,
                    c.content_sha256, c.embedding_model,
                )
            )
        for row in rows:
            sequence += 1
            event = AuditEvent(
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
                chunks=tuple(sorted(by_event[row.id], key=lambda c: c.rank)),
                sequence=sequence,
            )
            digest = event_hash(event, prev)
            bind.execute(
                events.update()
                .where(events.c.id == row.id)
                .values(sequence=sequence, prev_hash=prev, hash=digest)
            )
            prev = digest
        last_id = ids[-1]


def downgrade() -> None:
    op.drop_table("audit_checkpoints")
    op.drop_index("ix_audit_event_regions_region", table_name="audit_event_regions")
    op.drop_table("audit_event_regions")
    with op.batch_alter_table("audit_events") as batch:
        for name in NEW_INDEXES:
            batch.drop_index(name)
        batch.drop_constraint("uq_audit_events_sequence", type_="unique")
        for column in (
            "hash", "prev_hash", "details", "document_id", "corpus_id", "unavailable", "decisions",
            "query_hmac", "principal", "end_user_id", "sequence",
        ):
            batch.drop_column(column)
        batch.create_index("ix_audit_events_principal_time", ["principal_id", "occurred_at"], unique=False)
