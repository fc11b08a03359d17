"""PostgreSQL warehouse: Parquet streamed through ``COPY ... FROM STDIN (FORMAT binary)``.

Rows are sent in primary-key order: the Parquet file (in API order, random keys) goes through the
bounded-memory external sort of :mod:`etl_tasks.warehouse.key_sort` (sorted runs spilled under
the load's scratch directory, merged while the server ingests), because the primary key's B-tree
takes keys in order at its rightmost page: the server's part of a binary COPY of 1M stream rows
measured 3.3-4.8 s in key order against 6.7-9.5 s in API order (runs of 131,072 rows each
sorted, not merged: 6-7 s). The sorted record batches are encoded in PostgreSQL's binary COPY
format by Arrow and numpy kernels (:mod:`etl_tasks.warehouse.pg_binary`) in a background thread
a couple of batches ahead (:mod:`etl_tasks.warehouse.prefetch`), and handed to
``cursor.copy_expert`` through a file object that serves 1 MiB reads, so memory stays at the
sort's budget plus a few batches. The server stores values without parsing text while the client
merges and encodes the next batches, inside the transaction that also deletes the partition and
writes the marker (the DELETE of a partition that is not there yet measured 1-4 ms).
``python -m benchmarks.load_benchmark --target postgres`` measures it against ``psql \\copy`` of a
ready CSV file and against ADBC's ``adbc_ingest``.

Types: timestamps are ``timestamptz``, json is ``jsonb``, decimal(P,S) is ``numeric(P,S)``. The
session runs in UTC.

Bounded waits ([warehouse] in luigi.cfg, :mod:`etl_tasks.warehouse.settings`): TCP keepalives
and ``tcp_user_timeout`` on both ends, the server's ``statement_timeout``, and a
:class:`~etl_tasks.warehouse.watchdog.Watchdog` that cuts a connection which stops taking rows
or answering, since libpq itself would wait forever.

URL: ``postgresql://user:password@host:port/database`` (libpq URI; ``postgres://`` also works).
"""

from __future__ import annotations

import contextlib
from typing import Any

import psycopg2

from etl_tasks.warehouse.csv_stream import COPY_READ_BYTES, ChunkReader
from etl_tasks.warehouse.model import DECIMAL_TYPE, TableSpec
from etl_tasks.warehouse.parquet_source import ParquetSource
from etl_tasks.warehouse.pg_binary import copy_chunks
from etl_tasks.warehouse.prefetch import Prefetch
from etl_tasks.warehouse.sql_base import SqlWarehouse
from etl_tasks.warehouse.watchdog import Watchdog

TYPES = {
    "text": "text",
    "bigint": "bigint",
    "integer": "integer",
    "double": "double precision",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamptz",
    "json": "jsonb",
}


class PostgresWarehouse(SqlWarehouse):
    """A PostgreSQL database (one URL); loads with streaming COPY."""

    dialect = "postgresql"
    uses_scratch = True  # the key sort's spilled runs

    def _connect(self) -> Any:
        url = self.url.replace("postgres://", "postgresql://", 1)
        connection = psycopg2.connect(url, **self.connect_options())
        connection.set_client_encoding("UTF8")
        with connection.cursor() as cursor:
            cursor.execute("SET TIME ZONE 'UTC'")
        connection.commit()
        return connection

    def connect_options(self) -> dict[str, Any]:
        """libpq options: TCP keepalives and user timeout on the client's socket, and the same
        limits plus ``statement_timeout`` for the server's side of the session ([warehouse])."""
        settings = self.settings
        stall_ms = int(max(settings.stall_timeout_s, 0) * 1000)
        server = {
            "statement_timeout": int(max(settings.statement_timeout_s, 0) * 1000),
            "tcp_keepalives_idle": settings.keepalive_idle_s,
            "tcp_keepalives_interval": settings.keepalive_interval_s,
            "tcp_keepalives_count": settings.keepalive_count,
            "tcp_user_timeout": stall_ms,
        }
        return {
            "connect_timeout": 10,
            "application_name": "etl_tasks",
            "keepalives": 1,
            "keepalives_idle": settings.keepalive_idle_s,
            "keepalives_interval": settings.keepalive_interval_s,
            "keepalives_count": settings.keepalive_count,
            "tcp_user_timeout": stall_ms,
            "options": " ".join(f"-c {name}={value}" for name, value in server.items()),
        }

    def _guard(self, connection: Any) -> contextlib.AbstractContextManager[Watchdog | None]:
        # libpq has no client-side timeout of its own: see etl_tasks.warehouse.watchdog.
        return Watchdog(
            connection.fileno(),
            self.settings.answer_timeout_s,
            self.settings.stall_limit_s,
            f"the {self.dialect} warehouse {self.redacted_url}",
        )

    def quote(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def column_type(self, table: TableSpec, column_name: str, logical: str) -> str:
        decimal = DECIMAL_TYPE.match(logical)
        if decimal:
            return f"numeric({decimal.group(1)},{decimal.group(2)})"
        return TYPES[logical]

    def _existing_tables(self, cursor: Any) -> set[str]:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
        return {row[0] for row in cursor.fetchall()}

    def _server_version(self, cursor: Any) -> str:
        cursor.execute("SELECT version()")
        return str(cursor.fetchone()[0])

    def _bulk_load(self, cursor: Any, table: TableSpec, target: str, source: ParquetSource) -> int:
        guard = self._watchdog
        rows = self._sorted_rows(table, source)
        with (
            contextlib.closing(rows),
            Prefetch(copy_chunks(rows.batches(), table), name="copy-encode") as chunks,
        ):
            reader = ChunkReader(
                chunks,
                on_read=guard.progress if guard else None,
                on_end=guard.waiting if guard else None,
            )
            if guard is not None:
                guard.streaming()
            try:
                cursor.copy_expert(
                    f"COPY {target} ({self._columns_sql(table.column_names)}) FROM STDIN "
                    "WITH (FORMAT binary)",
                    reader,
                    size=COPY_READ_BYTES,
                )
            finally:
                if guard is not None:
                    guard.waiting()
        return cursor.rowcount

    def _create_staging(self, cursor: Any, table: TableSpec) -> str:
        staging = self.quote(f"_stage_{table.name}")
        cursor.execute(f"DROP TABLE IF EXISTS {staging}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {staging} (LIKE {self.quote(table.name)} INCLUDING DEFAULTS) "
            "ON COMMIT DROP"
        )
        return staging

    def _upsert_from(self, table: TableSpec, staging: str) -> str:
        return self._on_conflict_upsert(table, staging, self.quote(table.name))

    def _drop_staging(self, cursor: Any, staging: str) -> None:
        cursor.execute(f"DROP TABLE {staging}")
