"""The answer given to each reveal request, so a request delivered again gets the same answer
and never a second disclosure (ADR 0028).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

A database that already has the table (one made with `metadata.create_all`, as the gateway did
before its migrations, by code that had it) keeps it as it is.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("answers"):
        return
    op.create_table(
        "answers",
        sa.Column("request", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("reason_code", sa.String(length=64), server_default="", nullable=False),
        sa.Column("detail", sa.String(length=500), server_default="", nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("recipient_public_key", sa.String(length=64), nullable=True),
        sa.Column("signature", sa.LargeBinary(), nullable=True),
        sa.Column("key_id", sa.String(length=64), nullable=True),
        sa.Column("answered_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("request"),
    )


def downgrade() -> None:
    op.drop_table("answers")
