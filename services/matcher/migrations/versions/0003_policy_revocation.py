"""Keep the signed revocation statement with a revoked policy (ADR 0013).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

`policies.revocation_json` holds the statement (policies/revocation.py) as JSON, so every
gateway can verify who revoked which document and why. Rows revoked before this revision have
none: they were revoked without a signature.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("policies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revocation_json", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("policies", schema=None) as batch_op:
        batch_op.drop_column("revocation_json")
