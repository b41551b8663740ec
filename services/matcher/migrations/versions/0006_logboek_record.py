"""Audit entries as Logboek Dataverwerkingen records (ADR 0023).

New columns hold what the record needs beyond ADR 0009's entry: the foreign operation's span
and processor, the purpose, the policy id/version/digest, and `entry_format` (1 for the rows
already there, whose leaf keeps its first document; 2 for new rows). The processing activity
becomes an absolute URI, so PostgreSQL widens its column (SQLite does not enforce lengths).

Only ADD COLUMN and, on PostgreSQL, ALTER COLUMN TYPE: no statement touches a row, so the
append-only triggers stay as they are and no table is rebuilt.

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("entry_format", sa.SmallInteger(), "1"),
    ("foreign_span_id", sa.String(length=16), ""),
    ("foreign_processor", sa.String(length=512), ""),
    ("purpose", sa.String(length=256), ""),
    ("policy_id", sa.String(length=128), ""),
    ("policy_digest", sa.String(length=64), ""),
)


def upgrade() -> None:
    for name, kind, default in _COLUMNS:
        op.add_column("audit_events", sa.Column(name, kind, nullable=False,
                                                server_default=default))
    op.add_column("audit_events", sa.Column("policy_version", sa.Integer(), nullable=True))
    op.create_index("ix_audit_events_policy_id", "audit_events", ["policy_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("audit_events", "processing_activity_id",
                        type_=sa.String(length=512), existing_type=sa.String(length=128),
                        existing_nullable=False)


def downgrade() -> None:
    op.drop_index("ix_audit_events_policy_id", table_name="audit_events")
    op.drop_column("audit_events", "policy_version")
    for name, _, _ in reversed(_COLUMNS):
        op.drop_column("audit_events", name)
    # processing_activity_id stays 512 wide: URIs written meanwhile would not fit in 128.
