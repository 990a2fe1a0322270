"""per-corpus PII masking: strategy (replace, redact, pseudonymize) and the entity types a corpus keeps

Corpora registered before this revision keep the masking they were ingested with: `replace`, nothing kept.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("corpora") as batch:
        batch.add_column(
            sa.Column("masking_strategy", sa.String(length=16), nullable=False, server_default="replace")
        )
        batch.add_column(sa.Column("pii_allow_list", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("corpora") as batch:
        batch.drop_column("pii_allow_list")
        batch.drop_column("masking_strategy")
