"""Hot-path statements whose text does not grow with the ids or rows they carry (ADR 0025).

psycopg parses the placeholders of a statement with more than 50 parameters again on every
execution (it caches only shorter ones): for a 100-row INSERT that cost more client CPU than
the database spent on the rows, and a text that changes with the length of a list never
becomes a server-side prepared statement. So on PostgreSQL a list travels as one array
parameter, `col = ANY(:ids)`, and rows as one JSON document,
`INSERT … SELECT … FROM json_populate_recordset(NULL::table, :rows)` (one array per column was
slower: psycopg escapes each string of a text array with a regular expression). The text is
fixed, psycopg caches its parse and prepares it on the server after a few executions. SQLite's
driver binds in C and has no arrays; there the same statements are `col IN (…)` and a
multi-row VALUES (one statement for all rows: SQLAlchemy's "insertmanyvalues", or the driver's
executemany).

Statements are built once per dialect (`PerDialect`), so SQLAlchemy compiles each once too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

T = TypeVar("T")

POSTGRESQL = "postgresql"


class PerDialect(Generic[T]):
    """A statement built by `build(dialect name)` the first time a dialect asks for it."""

    def __init__(self, build: Callable[[str], T]) -> None:
        self._build = build
        self._built: dict[str, T] = {}

    def __call__(self, conn: sa.Connection) -> T:
        name = conn.dialect.name
        found = self._built.get(name)
        if found is None:
            found = self._built[name] = self._build(name)
        return found


def any_of(column: sa.ColumnElement[Any], name: str, dialect: str) -> sa.ColumnElement[bool]:
    """`column = ANY(:name)` (one array) on PostgreSQL, `column IN (:name)` elsewhere; the
    parameter `name` is a list either way. Both use an index on `column`."""
    if dialect == POSTGRESQL:
        return column == sa.any_(sa.bindparam(name, type_=postgresql.ARRAY(column.type)))
    return column.in_(sa.bindparam(name, expanding=True))


def _to_json(column_type: sa.types.TypeEngine[Any]) -> Callable[[Any], Any] | None:
    """How a value of this column type is written in the JSON rows document (None: as is)."""
    if isinstance(column_type, sa.LargeBinary):
        return lambda v: None if v is None else "\\x" + bytes(v).hex()  # bytea hex input
    if isinstance(column_type, (sa.Date, sa.DateTime)):
        return lambda v: None if v is None else v.isoformat()
    return None


class Insert:
    """INSERT of `columns` into `table`, rows given as dicts: `execute(conn, rows)`.

    `finish` adds to the dialect's insert construct (`on_conflict_do_nothing`, `returning`).
    On PostgreSQL the rows travel as one JSON document, turned back into typed rows by
    `json_populate_recordset(NULL::table, :rows)`: one parameter, whatever the number of rows
    (binary columns as bytea hex text, dates and times in ISO 8601).
    """

    def __init__(
        self, table: sa.Table, columns: Sequence[str], finish: Callable[[Any], Any] = lambda s: s
    ) -> None:
        self.table = table
        self.columns = tuple(columns)
        self._convert = [(c, f) for c in self.columns if (f := _to_json(table.c[c].type))]
        self._statement = PerDialect(lambda d: finish(self._build(d)))

    def _build(self, dialect: str) -> Any:
        if dialect != POSTGRESQL:
            return sqlite.insert(self.table)
        rows = sa.func.json_populate_recordset(
            sa.literal_column(f"NULL::{self.table.name}"),
            sa.bindparam("rows", type_=postgresql.JSON),
        ).table_valued(*self.columns).alias("batch")
        return postgresql.insert(self.table).from_select(
            list(self.columns), sa.select(*(rows.c[c] for c in self.columns)))

    def execute(self, conn: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> Any:
        """Insert `rows` (each with exactly `columns`) in one statement; its result."""
        if conn.dialect.name != POSTGRESQL:
            return conn.execute(self._statement(conn), list(rows))
        document = []
        for r in rows:
            row = {c: r[c] for c in self.columns}
            for c, convert in self._convert:
                row[c] = convert(row[c])
            document.append(row)
        return conn.execute(self._statement(conn), {"rows": document})
