"""provenance log: Ed25519 signatures: the signed chain head, the signing keys, checkpoints' key ids

Checkpoints already in the log keep no key id: they are HMAC-signed and verified with the checkpoint key. The
head is first signed by the first append after the upgrade; until then `verify` reports it unsigned.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_checkpoints") as batch:
        batch.alter_column("signature", type_=sa.String(128), existing_type=sa.String(64))
        batch.add_column(sa.Column("key_id", sa.String(32), nullable=True))
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.create_table(
        "audit_signing_keys",
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("previous_key_id", sa.String(32), nullable=True),
        sa.Column("previous_signature", sa.String(128), nullable=True),
        sa.Column("new_signature", sa.String(128), nullable=True),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_audit_signing_keys")),
    )


def downgrade() -> None:
    op.drop_table("audit_signing_keys")
    op.drop_table("audit_head")
    with op.batch_alter_table("audit_checkpoints") as batch:
        batch.drop_column("key_id")
        batch.alter_column("signature", type_=sa.String(64), existing_type=sa.String(128))
