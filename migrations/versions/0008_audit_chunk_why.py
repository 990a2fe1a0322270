"""provenance log: why each chunk of an answer was selected (ranks, fusion, policies, ACL group)

Chunks already in the log keep NULL there; their events' canonical text has no `why`, so their hashes hold.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_event_chunks") as batch:
        batch.add_column(sa.Column("why", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_event_chunks") as batch:
        batch.drop_column("why")
