"""privacy: personal values of audit events kept beside the chain; who each document mentions, as digests

`audit_personal` holds the values whose salted commitments events written from this revision on carry in
their chained form; erasure deletes its rows. Events already in the log keep their values in the chain (they
cannot be erased without breaking it). `document_subjects` is filled as documents are ingested from now on.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigIntPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_personal",
        sa.Column("event_id", BigIntPK, nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=True),
        sa.Column("openings", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["audit_events.id"],
            name=op.f("fk_audit_personal_event_id_audit_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_audit_personal")),
    )
    op.create_index("ix_audit_personal_subject", "audit_personal", ["subject", "event_id"])
    op.create_table(
        "document_subjects",
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_document_subjects_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("document_id", "kind", "digest", name=op.f("pk_document_subjects")),
    )
    op.create_index("ix_document_subjects_digest", "document_subjects", ["digest", "document_id"])


def downgrade() -> None:
    op.drop_index("ix_document_subjects_digest", table_name="document_subjects")
    op.drop_table("document_subjects")
    op.drop_index("ix_audit_personal_subject", table_name="audit_personal")
    op.drop_table("audit_personal")
