"""Alembic environment of the gateway's own database. Run by `open_store` on every start and by
`samenloop gateway migrate`; one transaction under the write lock (services.common.migration_env)
so a `serve` and an `ingest` starting together do not both create the tables."""

from __future__ import annotations

from services.common.migration_env import run_migrations
from services.partner_gateway.store import metadata

run_migrations(metadata, "gateway", one_transaction=True)
