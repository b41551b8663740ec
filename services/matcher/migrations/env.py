"""Alembic environment of the matcher. Run through `samenloop matcher migrate`."""

from __future__ import annotations

from services.common.migration_env import run_migrations
from services.matcher.schema import metadata

run_migrations(metadata, "matcher")
