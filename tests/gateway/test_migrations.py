"""The gateway's own database is made by its Alembic migrations (ADR 0029): the tables the code
uses (store.metadata) and what the migrations create agree, on SQLite and on PostgreSQL; a
database made before Alembic is adopted without losing a row; `gateway migrate` is a command."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from typer.testing import CliRunner

from samenloop.cli.main import app
from services.common.db import create_engine
from services.partner_gateway.store import audit, metadata, migrate_store, open_store

# The revision a database opened by this code must be at (the newest migration's id).
HEAD = "0003"


def _revision(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def test_the_migrations_create_exactly_the_tables_the_code_uses(db_url: str) -> None:
    migrate_store(db_url)
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), metadata)
        assert differences == [], "models and migrations disagree: add a migration"
        assert _revision(engine) == {HEAD}
        # The append-only triggers come with the migration too.
        with engine.begin() as conn:
            conn.execute(sa.insert(audit).values(at=sa.func.now(), event="e", entry_hash="0"))
        for statement in (sa.update(audit).values(event="x"), sa.delete(audit)):
            try:
                with engine.begin() as conn:
                    conn.execute(statement)
            except sa.exc.DBAPIError as exc:
                assert "append-only" in str(exc)
            else:
                raise AssertionError(f"{statement} was allowed on the audit log")
    finally:
        engine.dispose()


def test_a_database_from_before_alembic_is_adopted_with_its_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gateway.sqlite'}"
    old = create_engine(url)
    metadata.create_all(old)  # what the gateway did on first use before its migrations
    with old.begin() as conn:
        conn.execute(sa.text("INSERT INTO gateway_meta (key, value) VALUES ('schema', '1')"))
        conn.execute(sa.text("INSERT INTO vault (signal_id, ciphertext, expires_on, stored_at) "
                             "VALUES ('s-1', x'00', '2030-01-01', '2026-01-01 00:00:00')"))
    old.dispose()
    engine = open_store(url)
    try:
        assert _revision(engine) == {HEAD}
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT signal_id FROM vault")).scalars().all() == ["s-1"]
    finally:
        engine.dispose()


def test_gateway_migrate_is_a_command(tmp_path: Path) -> None:
    from tests.gateway.conftest import _dev_setup

    pki, _ = _dev_setup(tmp_path / "dev")
    config = pki.directory / "gateway-woonstad-rotterdam.yaml"
    result = CliRunner().invoke(app, ["gateway", "migrate", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "latest revision" in result.output
    database = pki.directory / "gateway-woonstad-rotterdam-data" / "gateway.sqlite"
    engine = create_engine(f"sqlite:///{database}")
    try:
        assert _revision(engine) == {HEAD}
    finally:
        engine.dispose()
