"""Partial indexes for the hot-path signal lookups, so statistics cannot flip their plans.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-10

`signals(household_id, state)` and `signals(person_id, state)` become partial indexes
`WHERE household_id IS NOT NULL` / `WHERE person_id IS NOT NULL` (ADR 0025). Nearly every
signal has no person id; with statistics (`ANALYZE`, `PRAGMA optimize`) SQLite judged the full
`(person_id, state)` index useless — most of its entries share one value, NULL — and scanned the
whole table for a person's signals (1.3 s per query at 10 M signals). A partial index holds only
rows with an id, its statistics describe those rows, and the lookups (`person_id IN (…)`,
`household_id IN (…)`) imply its predicate on both databases. The foreign-key checks of the
purge use them too (`person_id = ?` implies `IS NOT NULL`).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_PARTIAL = (
    ("ix_signals_household_id_state", "ix_signals_household_live", "household_id"),
    ("ix_signals_person_id_state", "ix_signals_person_live", "person_id"),
)


def upgrade() -> None:
    for old, new, column in _PARTIAL:
        where = sa.text(f"{column} IS NOT NULL")
        op.create_index(new, "signals", [column, "state"], sqlite_where=where,
                        postgresql_where=where)
        op.drop_index(old, table_name="signals")


def downgrade() -> None:
    for old, new, column in _PARTIAL:
        op.create_index(old, "signals", [column, "state"])
        op.drop_index(new, table_name="signals")
