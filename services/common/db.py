"""Database engines: SQLite (embedded default, WAL) and PostgreSQL through the same code.

Each service that stores state owns its SQLAlchemy metadata and its Alembic migrations; this
module only makes engines behave the same on both backends and checks that a database has been
migrated before a server uses it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.engine import Engine


class DatabaseNotMigrated(Exception):
    """The schema is missing or behind the code; the message says what to run."""


class DatabaseUnavailable(Exception):
    """The database cannot be reached (server down, wrong host or port, access refused)."""


def _unavailable(url: str | sa.URL, exc: sa.exc.DBAPIError) -> DatabaseUnavailable:
    shown = sa.make_url(url).render_as_string(hide_password=True)
    lines = [ln.strip() for ln in str(exc.orig).splitlines() if ln.strip()]
    reason = lines[0] if lines else type(exc.orig).__name__
    return DatabaseUnavailable(
        f"cannot connect to the database {shown} ({reason}); check that the database server "
        "runs and that `database_url` names it")


# SQLite primary result codes that say "not now" rather than "wrong": busy, locked, out of
# memory, read-only, I/O error, disk full, cannot open, lock protocol. SQLITE_ERROR (1) is left
# out: SQLite reports a missing table or a syntax error with it, and that is a bug.
_SQLITE_TRANSIENT = frozenset({5, 6, 7, 8, 10, 13, 14, 15})


def is_unavailable(exc: BaseException) -> bool:
    """Whether a database error says the database cannot serve *now*, not that the request or
    the code is wrong: connection lost or refused, server shutting down or starting, a lock or
    statement timeout, a full disk, a read-only or missing file. Retried later it may well
    succeed, so services answer UNAVAILABLE for these (the clients' backoff takes over)
    instead of INTERNAL.

    PostgreSQL drivers raise OperationalError only for such conditions (SQLSTATE classes 08,
    40, 53, 55, 57, 58); sqlite3 raises it for syntax errors and missing tables too, so there
    the result code decides.
    """
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return True
    if not isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError):
        return False
    code = getattr(getattr(exc, "orig", None), "sqlite_errorcode", None)
    return code is None or (int(code) & 0xFF) in _SQLITE_TRANSIENT


def is_sqlite(url: str | sa.URL) -> bool:
    return sa.make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url` with the settings samenloop relies on.

    SQLite: WAL journal (readers never block the writer), foreign keys on, a busy timeout so
    concurrent writers wait instead of failing, and `BEGIN IMMEDIATE` for write transactions so
    two writers serialise at the start rather than deadlocking on upgrade.
    PostgreSQL: pre-ping pooled connections.
    """
    if is_sqlite(url):
        database = sa.make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30, "isolation_level": None},
                                  **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            if conn.get_execution_options().get(READ_SNAPSHOT):
                conn.exec_driver_sql("BEGIN DEFERRED")  # a WAL read snapshot; writers go on
            else:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return sa.create_engine(url, **kwargs)


READ_SNAPSHOT = "samenloop_read_snapshot"


@contextmanager
def read_snapshot(engine: Engine) -> Iterator[sa.Connection]:
    """A connection whose statements all read one consistent snapshot, without holding up
    writers: a deferred transaction on SQLite (WAL: the snapshot is taken at the first read),
    REPEATABLE READ READ ONLY on PostgreSQL. For long reports over many statements (policy
    simulation): a write lock for their duration would stall ingest, and statements reading
    different snapshots would disagree. Rolled back at the end; nothing is written."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ",
                                          postgresql_readonly=True)
        else:
            conn = conn.execution_options(**{READ_SNAPSHOT: True})
        try:
            yield conn
        finally:
            conn.rollback()


def alembic_config(script_location: Path, url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(script_location: Path, url: str, revision: str = "head") -> None:
    from alembic import command

    try:
        command.upgrade(alembic_config(script_location, url), revision)
    except sa.exc.OperationalError as exc:
        raise _unavailable(url, exc) from None


def ensure_migrated(engine: Engine, script_location: Path, command_hint: str) -> None:
    """Raise DatabaseNotMigrated unless the database is at the latest revision."""
    script = ScriptDirectory.from_config(alembic_config(script_location, str(engine.url)))
    heads = set(script.get_heads())
    try:
        with engine.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
    except sa.exc.OperationalError as exc:
        raise _unavailable(engine.url, exc) from None
    if current != heads:
        state = "has no schema yet" if not current else f"is at {', '.join(sorted(current))}"
        raise DatabaseNotMigrated(
            f"the database {engine.url.render_as_string(hide_password=True)} {state}, the code "
            f"needs {', '.join(sorted(heads))}; run `{command_hint}` first"
        )
