"""`services.common.db.is_unavailable`: which database errors mean "retry later".

The matcher answers UNAVAILABLE for these (gateways back off and retry) and INTERNAL for the
rest; the gateway turns them into one line about its data directory. A bug (a missing table,
bad SQL) must stay a bug: retrying it would only hide it for a few minutes. Every error here
is produced by a real database, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.common.db import create_engine, is_unavailable
from tests.support.pgcluster import free_port


def _error(engine: sa.Engine, sql: str) -> BaseException:
    with pytest.raises(sa.exc.DBAPIError) as caught, engine.connect() as conn:
        conn.execute(sa.text(sql))
    return caught.value


def test_a_bug_is_not_an_outage(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        assert not is_unavailable(_error(engine, "SELECT * FROM no_such_table"))
        assert not is_unavailable(_error(engine, "SELEKT 1"))
    finally:
        engine.dispose()


def test_a_locked_sqlite_database_is_an_outage(tmp_path: Path) -> None:
    path = tmp_path / "locked.sqlite"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN IMMEDIATE")  # holds the write lock
    engine = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
    try:
        assert is_unavailable(_error(engine, "INSERT INTO t VALUES (1)"))
    finally:
        engine.dispose()
        holder.close()


def test_a_missing_sqlite_folder_is_an_outage(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'not-there' / 'x.sqlite'}")
    assert is_unavailable(_error(engine, "SELECT 1"))


@pytest.mark.postgres
def test_a_postgresql_server_that_is_not_there_is_an_outage() -> None:
    from tests.support.databases import require_postgres

    require_postgres()  # the same driver and dialect as the suite's PostgreSQL half
    engine = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/x",
                           connect_args={"connect_timeout": 3})
    try:
        assert is_unavailable(_error(engine, "SELECT 1"))
    finally:
        engine.dispose()
