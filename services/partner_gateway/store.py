"""The gateway's own database: journal, vault, approval queue, local audit log, witness evidence.

SQLite under `data_dir` by default, any SQLAlchemy URL allowed. The tables are defined here and
created by the Alembic migrations in `migrations/` (ADR 0029), which `open_store` runs on start
(`samenloop gateway migrate` runs them on their own). A new table or column is a new migration
next to `0001_initial.py`, never an edit of an applied one; tests/gateway/test_migrations.py checks
that these tables and the migrations agree on SQLite and PostgreSQL.

Nothing here holds an identity in clear: the vault holds ciphertexts (crypto.vault), the
journal holds pseudonymised rows as they were sent, the answers hold boxes sealed to a team
(`0002_answers.py`), the audit log holds ids, codes and field names only.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

from services.common.db import (
    DatabaseNotMigrated,
    alembic_config,
    create_engine,
    ensure_migrated,
    is_sqlite,
    is_unavailable,
)

metadata = sa.MetaData()

meta = sa.Table(
    "gateway_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(256), nullable=False),
)

# One row per data row of an export, keyed by the file's SHA-256 and its line: what happened
# to it. `prepared` rows were pseudonymised and may or may not have reached the matcher; a rerun
# resubmits their stored message under the same batch id (the matcher is idempotent on
# (partner, id)), `done` rows are never touched again.
journal = sa.Table(
    "journal",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("file_sha256", sa.String(64), nullable=False),
    sa.Column("line", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("row_id", sa.String(160), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # prepared | done
    sa.Column("batch_id", sa.String(64), nullable=False),
    sa.Column("message", sa.LargeBinary),  # the pseudonymised protobuf row as sent
    sa.Column("outcome", sa.String(16)),  # accepted | refreshed | duplicate | rejected
    sa.Column("reason_code", sa.String(64)),
    sa.Column("reason", sa.String(500)),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("file_sha256", "line", name="uq_journal_file_line"),
    sa.Index("ix_journal_batch", "batch_id"),
)

files = sa.Table(
    "journal_files",
    metadata,
    sa.Column("file_sha256", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("name", sa.String(512), nullable=False),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime),
)

# Identity fields per submitted signal, encrypted with the vault key (row id = signal id).
vault = sa.Table(
    "vault",
    metadata,
    sa.Column("signal_id", sa.String(128), primary_key=True),
    sa.Column("ciphertext", sa.LargeBinary, nullable=False),
    sa.Column("expires_on", sa.Date, nullable=False),
    sa.Column("stored_at", sa.DateTime, nullable=False),
    sa.Index("ix_vault_expires_on", "expires_on"),
)

# Reveal requests held for a local human decision (four-eyes, or above a limit).
approvals = sa.Table(
    "approvals",
    metadata,
    sa.Column("request", sa.String(128), primary_key=True),  # revealRequests/{id}
    sa.Column("payload", sa.LargeBinary, nullable=False),
    sa.Column("signature", sa.LargeBinary, nullable=False),
    sa.Column("key_id", sa.String(64), nullable=False),
    sa.Column("why", sa.String(32), nullable=False),  # four_eyes | limit_per_day | limit_per_policy
    sa.Column("state", sa.String(16), nullable=False),  # waiting | approved | refused | answered
    sa.Column("received_at", sa.DateTime, nullable=False),
    sa.Column("decided_by", sa.String(64)),
    sa.Column("decided_at", sa.DateTime),
)

# Every reveal request this gateway decided, with its answer exactly as sent: the matcher
# delivers a request again until its answer arrives, and a replayed request must not yield a
# second disclosure, so a request seen before gets these bytes again (ADR 0028).
answers = sa.Table(
    "answers",
    metadata,
    sa.Column("request", sa.String(128), primary_key=True),  # revealRequests/{id}
    sa.Column("action", sa.String(16), nullable=False),  # seal | refuse
    sa.Column("reason_code", sa.String(64), nullable=False, server_default=""),
    sa.Column("detail", sa.String(500), nullable=False, server_default=""),
    sa.Column("ciphertext", sa.LargeBinary),  # sealed to the team: the gateway cannot open it
    sa.Column("recipient_public_key", sa.String(64)),
    sa.Column("signature", sa.LargeBinary),
    sa.Column("key_id", sa.String(64)),
    sa.Column("answered_at", sa.DateTime, nullable=False),
)

# Append-only: every decision on a reveal request, chained by hash (ADR 0017). Field names and
# codes only, never values.
audit = sa.Table(
    "audit_log",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("event", sa.String(48), nullable=False),
    sa.Column("request", sa.String(128), nullable=False, server_default=""),
    sa.Column("alert", sa.String(128), nullable=False, server_default=""),
    sa.Column("policy", sa.String(160), nullable=False, server_default=""),
    sa.Column("policy_digest", sa.String(64), nullable=False, server_default=""),
    sa.Column("signal_id", sa.String(128), nullable=False, server_default=""),
    sa.Column("fields", sa.String(512), nullable=False, server_default=""),
    sa.Column("reason_code", sa.String(64), nullable=False, server_default=""),
    sa.Column("actor", sa.String(64), nullable=False, server_default=""),
    sa.Column("entry_hash", sa.String(64), nullable=False),
    sa.Index("ix_audit_event_at", "event", "at"),
)

# Every checkpoint of the matcher's audit log this gateway saw as a witness (ADR 0024): the
# signed note as served, the verdict (`ok` or an alarm code), the consistency proof it checked
# against the previous checkpoint it cosigned, and its own cosignature. Each row is also named
# (by the note's SHA-256) in a hash-chained `audit_log` entry, so a rewrite here is detected.
witness_checkpoints = sa.Table(
    "witness_checkpoints",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("seen_at", sa.DateTime, nullable=False),
    sa.Column("tree_size", sa.BigInteger, nullable=False),
    sa.Column("root_hash", sa.LargeBinary, nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("note_sha256", sa.String(64), nullable=False),
    sa.Column("verdict", sa.String(48), nullable=False),
    sa.Column("previous_size", sa.BigInteger),
    sa.Column("consistency_proof", sa.LargeBinary),  # 32-byte hashes, concatenated
    sa.Column("cosignature", sa.Text),  # this gateway's cosignature/v1 line, when it cosigned
    sa.Index("ix_witness_checkpoints_size", "tree_size"),
)

# The matcher's inclusion proof of its own audit entry for each disclosure or refusal this
# gateway sent (`audit_index` from SubmitDisclosure), proven against a checkpoint it verified:
# what left the house is provably in the central log.
disclosure_receipts = sa.Table(
    "disclosure_receipts",
    metadata,
    sa.Column("request", sa.String(128), primary_key=True),  # revealRequests/{id}
    sa.Column("disclosure", sa.String(200), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),  # disclosed | refused
    sa.Column("audit_index", sa.BigInteger, nullable=False),
    sa.Column("answered_at", sa.DateTime, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # pending | proven | failed
    sa.Column("checkpoint_seq", sa.Integer),  # the witness_checkpoints row proven against
    sa.Column("tree_size", sa.BigInteger),
    sa.Column("proof", sa.LargeBinary),  # 32-byte hashes, concatenated
    sa.Column("leaf", sa.LargeBinary),  # the entry's leaf bytes as the matcher served them
    sa.Column("reason_code", sa.String(48)),  # why a proof failed
    sa.Column("proven_at", sa.DateTime),
    sa.Index("ix_disclosure_receipts_state", "state"),
)

MIGRATIONS = Path(__file__).parent / "migrations"
"""The gateway's Alembic migrations (ADR 0029): a new table or column is a new revision."""


def migrate_store(url: str) -> None:
    """Bring the gateway database at `url` to the latest revision (creating it if new)."""
    from alembic import command

    try:
        command.upgrade(alembic_config(MIGRATIONS, url), "head")
    except sa.exc.DBAPIError as exc:
        if is_unavailable(exc):
            raise storage_error(url, exc) from None
        raise


class StorageError(Exception):
    """The gateway's own database cannot be opened or written: a full disk, a read-only
    data_dir, a missing folder, a database server that is gone. The message is one line for
    the operator. A batch is journalled and vaulted in one transaction before it is sent, so
    the batch that hit the error was not sent, and a rerun resumes from the journal."""


def _sqlite_file(url: str) -> Path | None:
    parsed = sa.make_url(url)
    if is_sqlite(parsed) and parsed.database and parsed.database != ":memory:":
        return Path(parsed.database)
    return None


def storage_error(url: str, exc: BaseException) -> StorageError:
    """The one-line error for a database failure at `url`, with what to do about it."""
    orig = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(orig).splitlines() if line.strip()]
    reason = lines[0] if lines else type(orig).__name__
    file = _sqlite_file(url)
    where = str(file) if file else sa.make_url(url).render_as_string(hide_password=True)
    text = reason.lower()
    if "full" in text or "no space" in text:
        hint = ("the disk is full: free space there (or move data_dir) and run the same "
                "command again; the journal resumes where it stopped")
    elif file is not None and file.parent.is_dir() and not os.access(file.parent, os.W_OK):
        # SQLite needs to create its -wal and -shm files next to the database
        hint = (f"data_dir {file.parent} is not writable (a read-only file system or its "
                "permissions): make it writable for this user and run the command again")
    elif "readonly" in text or "read-only" in text:
        hint = "it is read-only: make data_dir writable for this user and run the command again"
    elif "unable to open" in text:
        hint = "check that data_dir exists and that this user may create files in it"
    elif file is None:
        hint = ("check that the database server runs and that database_url names it, then run "
                "the same command again; the journal resumes where it stopped")
    else:
        hint = ("check the disk and data_dir, then run the same command again; the journal "
                "resumes where it stopped")
    return StorageError(f"the gateway database {where} cannot be used ({reason}); {hint}")


def _one_line_storage_errors(engine: Engine, url: str) -> None:
    """Turn an operational database failure on this engine, wherever it happens (any command,
    any thread), into a `StorageError`; programming errors keep their own type."""

    @event.listens_for(engine, "handle_error")
    def _translate(context: Any) -> None:
        if is_unavailable(context.sqlalchemy_exception or context.original_exception):
            raise storage_error(url, context.original_exception)


def open_store(url: str) -> Engine:
    """An engine on the gateway database, migrated to the latest revision first.

    The gateway is one process per partner on its own database, so it migrates on start (and
    `samenloop gateway migrate` does the same on its own); a database at the latest revision is
    only read, never written, by this check.
    """
    engine = create_engine(url)
    _one_line_storage_errors(engine, url)
    try:
        ensure_migrated(engine, MIGRATIONS, "samenloop gateway migrate")
    except DatabaseNotMigrated:
        migrate_store(url)
    except BaseException:
        engine.dispose()
        raise
    return engine
