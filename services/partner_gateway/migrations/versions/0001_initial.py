"""Initial gateway schema: journal, identity vault, approvals, append-only audit log (ADR 0017).

Revision ID: 0001
Revises:
Create Date: 2026-12-02

Exactly the tables the gateway created on first use before Alembic (`gateway_meta` schema 1).
A database made by such a gateway already has them: it is adopted as it is (only the version is
recorded), so upgrading a gateway never loses its journal, vault or audit log. The triggers that
make `audit_log` append-only are created on SQLite and PostgreSQL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_SQLITE_APPEND_ONLY = (
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'the gateway audit log is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'the gateway audit log is append-only'); END",
)
_PG_APPEND_ONLY = (
    "CREATE OR REPLACE FUNCTION gateway_audit_append_only() RETURNS trigger AS $$ BEGIN "
    "RAISE EXCEPTION 'the gateway audit log is append-only'; END $$ LANGUAGE plpgsql",
    "DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log",
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION gateway_audit_append_only()",
)


def upgrade() -> None:
    if not sa.inspect(op.get_bind()).has_table("gateway_meta"):
        _create_tables()
    for statement in (_SQLITE_APPEND_ONLY if op.get_bind().dialect.name == "sqlite"
                      else _PG_APPEND_ONLY):
        op.execute(statement)


def _create_tables() -> None:
    meta = op.create_table(
        "gateway_meta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.bulk_insert(meta, [{"key": "schema", "value": "1"}])
    op.create_table(
        "journal",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("row_id", sa.String(length=160), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("batch_id", sa.String(length=64), nullable=False),
        sa.Column("message", sa.LargeBinary(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("reason_code", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("file_sha256", "line", name="uq_journal_file_line"),
    )
    op.create_index("ix_journal_batch", "journal", ["batch_id"])
    op.create_table(
        "journal_files",
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("file_sha256"),
    )
    op.create_table(
        "vault",
        sa.Column("signal_id", sa.String(length=128), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("stored_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("signal_id"),
    )
    op.create_index("ix_vault_expires_on", "vault", ["expires_on"])
    op.create_table(
        "approvals",
        sa.Column("request", sa.String(length=128), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("why", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("request"),
    )
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("event", sa.String(length=48), nullable=False),
        sa.Column("request", sa.String(length=128), server_default="", nullable=False),
        sa.Column("alert", sa.String(length=128), server_default="", nullable=False),
        sa.Column("policy", sa.String(length=160), server_default="", nullable=False),
        sa.Column("policy_digest", sa.String(length=64), server_default="", nullable=False),
        sa.Column("signal_id", sa.String(length=128), server_default="", nullable=False),
        sa.Column("fields", sa.String(length=512), server_default="", nullable=False),
        sa.Column("reason_code", sa.String(length=64), server_default="", nullable=False),
        sa.Column("actor", sa.String(length=64), server_default="", nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index("ix_audit_event_at", "audit_log", ["event", "at"])


def downgrade() -> None:
    for table in ("audit_log", "approvals", "vault", "journal_files", "journal", "gateway_meta"):
        op.drop_table(table)
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP FUNCTION IF EXISTS gateway_audit_append_only()")
