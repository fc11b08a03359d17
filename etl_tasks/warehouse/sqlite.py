"""SQLite warehouse: the embedded default for the demo and for people without a database server.

SQLite has no bulk path (no COPY, no LOAD DATA): rows go in with ``executemany`` over each
streamed record batch, Arrow converting whole columns to Python values in C, so there is no Python
loop per row. Two things make it faster, measured by ``python -m benchmarks.load_benchmark
--target sqlite``: rows are inserted in primary-key order (:mod:`etl_tasks.warehouse.key_sort`,
the same bounded-memory sort as the MySQL path), so the key's B-tree grows at its right edge
instead of splitting pages everywhere, and the connection's page cache is larger than SQLite's
2 MiB default (``CACHE_MIB``). Both happen inside the load's one transaction.

Types: SQLite has no date, timestamp, decimal or JSON types, so dates are ``TEXT`` ISO-8601,
timestamps ``TEXT`` ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC (fixed width, so text order is time
order), json ``TEXT``, and decimal(P,S) ``TEXT`` holding the exact decimal in plain notation — a
``NUMERIC`` column would turn it into a float and lose digits. Booleans are ``INTEGER`` 1/0.

Foreign keys are enforced (``PRAGMA foreign_keys = ON`` on every connection); the database runs in
WAL mode so readers never block the one writer, and a writer waits up to 30 s for a lock.

URL: ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db`` (parent directories are
created); ``sqlite:///:memory:`` for a private in-memory database.
"""

from __future__ import annotations

import datetime as dt
import decimal
import sqlite3
from pathlib import Path
from typing import Any

from etl_tasks.warehouse.model import DECIMAL_TYPE, TableSpec
from etl_tasks.warehouse.parquet_source import ParquetSource
from etl_tasks.warehouse.peek import sqlite_path as sqlite_path  # re-exported
from etl_tasks.warehouse.render import SQLITE, render_batch, sqlite_rows
from etl_tasks.warehouse.sql_base import SqlWarehouse

TYPES = {
    "text": "TEXT",
    "bigint": "INTEGER",
    "integer": "INTEGER",
    "double": "REAL",
    "boolean": "INTEGER",
    "date": "TEXT",
    "timestamp": "TEXT",
    "json": "TEXT",
}
LOCK_TIMEOUT_SECONDS = 30.0
# Page cache of a connection (SQLite's default is 2 MiB): a load's B-trees (table, primary key,
# indexes) stay in memory while rows are inserted, instead of being re-read page by page.
CACHE_MIB = 32


def timestamp_text(value: dt.datetime) -> str:
    """A datetime as stored in timestamp columns: UTC, microseconds, ``Z``."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds") + "Z"


class SQLiteWarehouse(SqlWarehouse):
    """A SQLite database file (one URL); loads with executemany per record batch."""

    dialect = "sqlite"
    placeholder = "?"
    uses_scratch = True  # the key sort may spill runs

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.path = sqlite_path(self.url)

    def _connect(self) -> Any:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: no implicit transactions; _begin() opens them explicitly.
        connection = sqlite3.connect(self.path, timeout=LOCK_TIMEOUT_SECONDS, isolation_level=None)
        connection.execute("PRAGMA foreign_keys = ON")
        connection.execute(f"PRAGMA cache_size = -{CACHE_MIB * 1024}")
        if self.path != ":memory:":
            connection.execute("PRAGMA journal_mode = WAL")
        return connection

    def _begin(self, cursor: Any, write: bool) -> None:
        # IMMEDIATE takes the write lock up front, so a load never fails half-way on a lock;
        # readers (completeness checks) stay deferred and never wait for a writer.
        cursor.execute("BEGIN IMMEDIATE" if write else "BEGIN")

    def quote(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def column_type(self, table: TableSpec, column_name: str, logical: str) -> str:
        if DECIMAL_TYPE.match(logical):
            return "TEXT"
        return TYPES[logical]

    def param(self, value: Any) -> Any:
        # Explicit conversions: the sqlite3 module's default date adapters are deprecated.
        if isinstance(value, dt.datetime):
            return timestamp_text(value)
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, decimal.Decimal):
            return format(value, "f")
        return value

    def _existing_tables(self, cursor: Any) -> set[str]:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {row[0] for row in cursor.fetchall()}

    def _server_version(self, cursor: Any) -> str:
        cursor.execute("SELECT sqlite_version()")
        return f"SQLite {cursor.fetchone()[0]}"

    def _bulk_load(self, cursor: Any, table: TableSpec, target: str, source: ParquetSource) -> int:
        insert = (
            f"INSERT INTO {target} ({self._columns_sql(table.column_names)}) "
            f"VALUES ({self._placeholders(len(table.columns))})"
        )
        loaded = 0
        rows = self._sorted_rows(table, source)
        try:
            for batch in rows.batches():
                cursor.executemany(insert, sqlite_rows(render_batch(batch, table, SQLITE)))
                loaded += cursor.rowcount
        finally:
            rows.close()
        return loaded

    def _create_staging(self, cursor: Any, table: TableSpec) -> str:
        staging = f"temp.{self.quote('_stage_' + table.name)}"
        columns = ",\n  ".join(self.column_definitions(table))
        cursor.execute(f"DROP TABLE IF EXISTS {staging}")
        cursor.execute(
            f"CREATE TABLE {staging} (\n  {columns},\n"
            f"  PRIMARY KEY ({self._columns_sql(table.primary_key)})\n)"
        )
        return staging

    def _upsert_from(self, table: TableSpec, staging: str) -> str:
        # "WHERE true" resolves SQLite's parsing ambiguity between a join's ON and the upsert's.
        return self._on_conflict_upsert(
            table, staging, f"main.{self.quote(table.name)}", source_filter=" WHERE true"
        )

    def _drop_staging(self, cursor: Any, staging: str) -> None:
        cursor.execute(f"DROP TABLE {staging}")
