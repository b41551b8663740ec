"""Disclosures carry the partner gateway's signature over the sealed box (ADR 0017).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("disclosures") as batch:
        batch.add_column(sa.Column("signature", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("signature_key_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("disclosures") as batch:
        batch.drop_column("signature_key_id")
        batch.drop_column("signature")
