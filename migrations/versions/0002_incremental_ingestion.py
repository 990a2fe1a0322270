"""incremental ingestion: revocation, refresh schedule, model hash per document, richer jobs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("corpora") as batch:
        batch.add_column(sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("revoked_by", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("refresh_interval_seconds", sa.Integer(), nullable=True))
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("embedding_weights_sha256", sa.String(length=64), nullable=True))
    with op.batch_alter_table("ingestion_jobs") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=16), nullable=False, server_default="ingest"))
        batch.add_column(sa.Column("attempt", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("retry_of", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("documents_total", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("documents_skipped", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("documents_removed", sa.Integer(), nullable=False, server_default="0"))
        batch.create_index(batch.f("ix_ingestion_jobs_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ingestion_jobs") as batch:
        batch.drop_index(batch.f("ix_ingestion_jobs_status"))
        for column in ("documents_removed", "documents_skipped", "documents_total", "retry_of", "attempt", "kind"):
            batch.drop_column(column)
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("embedding_weights_sha256")
    with op.batch_alter_table("corpora") as batch:
        for column in ("refresh_interval_seconds", "revoked_by", "revoked_at"):
            batch.drop_column(column)
