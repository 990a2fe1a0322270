"""ingestion jobs shared between processes: the claim (owner, lease expiry); documents listed by status

A job left running by a version before this one has no lease: the next start-up reads it as expired.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ingestion_jobs") as batch:
        batch.add_column(sa.Column("lease_owner", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("documents") as batch:
        batch.create_index("ix_documents_corpus_status_uri", ["corpus_id", "status", "source_uri"])


def downgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.drop_index("ix_documents_corpus_status_uri")
    with op.batch_alter_table("ingestion_jobs") as batch:
        batch.drop_column("lease_expires_at")
        batch.drop_column("lease_owner")
