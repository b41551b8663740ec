"""What every service's Alembic `env.py` does, in one place.

Migrations run online only, through the service's own command (`samenloop matcher migrate`,
`samenloop gateway migrate`), on an engine from `services.common.db` (so SQLite gets WAL and
`BEGIN IMMEDIATE`), with batch mode for SQLite's limited ALTER TABLE.

`one_transaction=True` runs every pending migration in a single transaction that first takes
the database's write lock (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: a transaction-level advisory
lock) and only then reads the current revision. Two processes that upgrade the same database at
once (a gateway's `serve` and an `ingest` started together) then run one after the other, and
the second finds nothing to do.
"""

from __future__ import annotations

import zlib

import sqlalchemy as sa
from alembic import context

from services.common.db import create_engine, is_sqlite


def run_migrations(metadata: sa.MetaData, service: str, *, one_transaction: bool = False) -> None:
    """The body of `env.py` for `service` (named in errors) whose tables are `metadata`."""
    if context.is_offline_mode():
        raise RuntimeError(f"the {service} migrations run online only "
                           f"(samenloop {service} migrate)")
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError(f"no database URL given to the {service} migrations")
    connectable = context.config.attributes.get("connection")
    if connectable is not None:
        context.configure(connection=connectable, target_metadata=metadata,
                          render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            context.configure(connection=connection, target_metadata=metadata,
                              render_as_batch=True,
                              transaction_per_migration=not one_transaction)
            with context.begin_transaction():
                if one_transaction and not is_sqlite(url):
                    lock = zlib.crc32(f"samenloop-{service}-migrations".encode())
                    connection.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock})
                context.run_migrations()
    finally:
        engine.dispose()
