"""The witness's evidence: checkpoints of the central audit log seen, and disclosure receipts.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

ADR 0024. `witness_checkpoints` is append-only like `audit_log` (triggers on SQLite and
PostgreSQL; the PostgreSQL function of 0001 is reused). `disclosure_receipts` changes state
(pending -> proven | failed); what it proves is named in the hash-chained audit log.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_SQLITE_APPEND_ONLY = tuple(
    f"CREATE TRIGGER IF NOT EXISTS witness_checkpoints_no_{verb.lower()} BEFORE {verb} ON "
    "witness_checkpoints BEGIN SELECT RAISE(ABORT, 'the gateway witness_checkpoints table is "
    "append-only'); END"
    for verb in ("UPDATE", "DELETE")
)
_PG_APPEND_ONLY = (
    "DROP TRIGGER IF EXISTS witness_checkpoints_append_only ON witness_checkpoints",
    "CREATE TRIGGER witness_checkpoints_append_only BEFORE UPDATE OR DELETE ON "
    "witness_checkpoints FOR EACH ROW EXECUTE FUNCTION gateway_audit_append_only()",
)


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table("witness_checkpoints"):
        op.create_table(
            "witness_checkpoints",
            sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("seen_at", sa.DateTime(), nullable=False),
            sa.Column("tree_size", sa.BigInteger(), nullable=False),
            sa.Column("root_hash", sa.LargeBinary(), nullable=False),
            sa.Column("note", sa.Text(), nullable=False),
            sa.Column("note_sha256", sa.String(length=64), nullable=False),
            sa.Column("verdict", sa.String(length=48), nullable=False),
            sa.Column("previous_size", sa.BigInteger(), nullable=True),
            sa.Column("consistency_proof", sa.LargeBinary(), nullable=True),
            sa.Column("cosignature", sa.Text(), nullable=True),
            sa.PrimaryKeyConstraint("seq"),
        )
        op.create_index("ix_witness_checkpoints_size", "witness_checkpoints", ["tree_size"])
    if not inspector.has_table("disclosure_receipts"):
        op.create_table(
            "disclosure_receipts",
            sa.Column("request", sa.String(length=128), nullable=False),
            sa.Column("disclosure", sa.String(length=200), nullable=False),
            sa.Column("outcome", sa.String(length=16), nullable=False),
            sa.Column("audit_index", sa.BigInteger(), nullable=False),
            sa.Column("answered_at", sa.DateTime(), nullable=False),
            sa.Column("state", sa.String(length=16), nullable=False),
            sa.Column("checkpoint_seq", sa.Integer(), nullable=True),
            sa.Column("tree_size", sa.BigInteger(), nullable=True),
            sa.Column("proof", sa.LargeBinary(), nullable=True),
            sa.Column("leaf", sa.LargeBinary(), nullable=True),
            sa.Column("reason_code", sa.String(length=48), nullable=True),
            sa.Column("proven_at", sa.DateTime(), nullable=True),
            sa.PrimaryKeyConstraint("request"),
        )
        op.create_index("ix_disclosure_receipts_state", "disclosure_receipts", ["state"])
    for statement in (_SQLITE_APPEND_ONLY if op.get_bind().dialect.name == "sqlite"
                      else _PG_APPEND_ONLY):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("disclosure_receipts")
    op.drop_table("witness_checkpoints")
