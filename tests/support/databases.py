"""Database URLs for the suite: every storage test runs on SQLite and on PostgreSQL.

PostgreSQL comes from SAMENLOOP_TEST_POSTGRES_URL (CI sets it). Each test gets its own schema
in that database, so tests never see each other's rows and can run in any order. Where no
PostgreSQL is reachable the PostgreSQL half skips with the reason; with
SAMENLOOP_REQUIRE_POSTGRES=1 (CI) an unreachable server is a failure instead.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_base_url() -> str:
    return os.environ.get("SAMENLOOP_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def _postgres_unavailable_reason() -> str | None:
    import sqlalchemy as sa

    url = postgres_base_url()
    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any failure to connect means: no PostgreSQL here
        return (
            f"PostgreSQL not reachable at {url} ({type(exc).__name__}); "
            "set SAMENLOOP_TEST_POSTGRES_URL"
        )
    return None


_REASON_CACHE: list[str | None] = []


def require_postgres() -> str:
    """Return the base URL, or skip (fail under SAMENLOOP_REQUIRE_POSTGRES=1) with the reason."""
    if not _REASON_CACHE:
        _REASON_CACHE.append(_postgres_unavailable_reason())
    reason = _REASON_CACHE[0]
    if reason is not None:
        if os.environ.get("SAMENLOOP_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason + " (SAMENLOOP_REQUIRE_POSTGRES=1)")
        pytest.skip(reason)
    return postgres_base_url()


@contextmanager
def postgres_schema_url() -> Iterator[str]:
    """A URL whose connections use a fresh, private schema; dropped afterwards."""
    import sqlalchemy as sa

    base = require_postgres()
    schema = "t_" + secrets.token_hex(6)
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def database_url(kind: str, tmp_path: Path) -> Iterator[str]:
    """`kind` is "sqlite" or "postgresql"."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'samenloop.sqlite'}"
    elif kind == "postgresql":
        with postgres_schema_url() as url:
            yield url
    else:
        raise ValueError(f"unknown database kind {kind!r}")
