"""The Merkle log over audit_events: queue, leaves, subtree nodes, checkpoints, cosignatures.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08

ADR 0022. Every audit_events row is queued for the sequencer by a trigger (existing rows are
queued here, oldest first). Leaves, nodes, checkpoints and cosignatures are append-only. The
append-only rule of audit_events gets exactly one exception, the retention purge: DELETE of a
row that is sequenced (its leaf hash stays in audit_leaves), older than five years by the
database's clock, and not itself a purge record. UPDATE and TRUNCATE stay refused.
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
EMPTY_ROOT = hashlib.sha256(b"").digest()
APPEND_ONLY = ("audit_leaves", "audit_tree_nodes", "audit_checkpoints", "audit_cosignatures")
PURGE_RECORD = "audit_entries_purged"
DELETE_REFUSED = ("audit_events is append-only: only the content of a sequenced entry older "
                  "than five years may be deleted (the retention purge)")


def upgrade() -> None:
    op.create_table(
        "audit_queue",
        sa.Column("event_id", BigId, autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_audit_queue")),
    )
    op.create_table(
        "audit_leaves",
        sa.Column("leaf_index", BigId, autoincrement=False, nullable=False),
        sa.Column("event_id", BigId, nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("sequenced_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("leaf_index", name=op.f("pk_audit_leaves")),
        sa.UniqueConstraint("event_id", name=op.f("uq_audit_leaves_event_id")),
    )
    op.create_table(
        "audit_tree_nodes",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("node_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sa.PrimaryKeyConstraint("level", "node_index", name=op.f("pk_audit_tree_nodes")),
    )
    op.create_table(
        "audit_tree_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("purged_end", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_tree_state")),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tree_size", name=op.f("pk_audit_checkpoints")),
    )
    op.create_table(
        "audit_cosignatures",
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("witness", sa.String(length=128), nullable=False),
        sa.Column("cosigned_at", sa.BigInteger(), nullable=False),
        sa.Column("signature_line", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tree_size", "witness", name=op.f("pk_audit_cosignatures")),
    )
    op.execute(sa.text("INSERT INTO audit_tree_state (id, tree_size, root_hash, purged_end, "
                       "updated_at) VALUES (1, 0, :root, 0, CURRENT_TIMESTAMP)")
               .bindparams(sa.bindparam("root", EMPTY_ROOT, type_=sa.LargeBinary)))
    op.execute("INSERT INTO audit_queue (event_id) SELECT id FROM audit_events")
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _sqlite_triggers()
    elif bind.dialect.name == "postgresql":
        _postgresql_triggers()


def _sqlite_triggers() -> None:
    op.execute("CREATE TRIGGER audit_events_enqueue AFTER INSERT ON audit_events "
               "BEGIN INSERT INTO audit_queue (event_id) VALUES (NEW.id); END")
    op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")
    op.execute(
        "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "  # noqa: S608
        f"WHEN OLD.name = '{PURGE_RECORD}' "
        "OR OLD.end_time >= strftime('%Y-%m-%d %H:%M:%f', 'now', '-5 years') "
        "OR NOT EXISTS (SELECT 1 FROM audit_leaves WHERE event_id = OLD.id) "
        f"BEGIN SELECT RAISE(ABORT, '{DELETE_REFUSED}'); END")
    for table in APPEND_ONLY:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")


def _postgresql_triggers() -> None:
    op.execute(
        "CREATE FUNCTION audit_events_enqueue() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN INSERT INTO audit_queue (event_id) VALUES (NEW.id); RETURN NULL; END $$")
    op.execute("CREATE TRIGGER audit_events_enqueue AFTER INSERT ON audit_events "
               "FOR EACH ROW EXECUTE FUNCTION audit_events_enqueue()")
    # UPDATE and TRUNCATE stay refused for the whole statement; DELETE is checked per row.
    op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")
    op.execute("CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR TRUNCATE "
               "ON audit_events FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()")
    op.execute(
        "CREATE FUNCTION audit_events_delete_check() RETURNS trigger LANGUAGE plpgsql AS $$ "  # noqa: S608
        f"BEGIN IF OLD.name <> '{PURGE_RECORD}' "
        "AND OLD.end_time < (now() AT TIME ZONE 'UTC') - interval '5 years' "
        "AND EXISTS (SELECT 1 FROM audit_leaves WHERE event_id = OLD.id) THEN RETURN OLD; "
        f"END IF; RAISE EXCEPTION '{DELETE_REFUSED}'; END $$")
    op.execute("CREATE TRIGGER audit_events_delete_check BEFORE DELETE ON audit_events "
               "FOR EACH ROW EXECUTE FUNCTION audit_events_delete_check()")
    op.execute(
        "CREATE FUNCTION audit_tree_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$")
    for table in APPEND_ONLY:
        op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
                   f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION audit_tree_append_only()")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_events_enqueue")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")
        op.execute("CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
                   "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END")
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
    elif bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_enqueue ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS audit_events_enqueue()")
        op.execute("DROP TRIGGER IF EXISTS audit_events_delete_check ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS audit_events_delete_check()")
        op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")
        op.execute("CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
                   "ON audit_events FOR EACH STATEMENT EXECUTE FUNCTION "
                   "audit_events_append_only()")
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS audit_tree_append_only()")
    for table in ("audit_cosignatures", "audit_checkpoints", "audit_tree_state",
                  "audit_tree_nodes", "audit_leaves", "audit_queue"):
        op.drop_table(table)
