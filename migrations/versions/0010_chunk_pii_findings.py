"""catalog: what masking found in each chunk (counts by entity type) and the detector that found them

Chunks already in the catalog keep NULL in both: their counts are unknown, not zero.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("chunks") as batch:
        batch.add_column(sa.Column("pii_counts", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("pii_detector", sa.String(length=300), nullable=True))
    with op.batch_alter_table("audit_event_chunks") as batch:
        batch.add_column(sa.Column("pii_counts", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_event_chunks") as batch:
        batch.drop_column("pii_counts")
    with op.batch_alter_table("chunks") as batch:
        batch.drop_column("pii_detector")
        batch.drop_column("pii_counts")
