"""PostgreSQL warehouse: Parquet streamed through ``COPY ... FROM STDIN (FORMAT csv)``.

Record batches are read from the Parquet file one at a time, rendered to CSV by Arrow's C++
writer in a background thread a couple of batches ahead (:mod:`etl_tasks.warehouse.prefetch`), and
handed to ``cursor.copy_expert`` through a file object that serves 1 MiB reads, so no temporary
file is written and memory stays at a few batches. The server parses and inserts while the client
renders the next batches; measured at 1.1x the time of ``psql \\copy`` of a ready CSV file
(DESIGN.md §5; ``python -m benchmarks.load_benchmark --target postgres`` re-measures it).

Types: timestamps are ``timestamptz`` (sent with an explicit ``+00``), json is ``jsonb``,
decimal(P,S) is ``numeric(P,S)``. The session runs in UTC.

URL: ``postgresql://user:password@host:port/database`` (libpq URI; ``postgres://`` also works).
"""

from __future__ import annotations

from typing import Any

import psycopg2

from etl_tasks.warehouse.csv_stream import COPY_READ_BYTES, ChunkReader, csv_chunks
from etl_tasks.warehouse.model import DECIMAL_TYPE, TableSpec
from etl_tasks.warehouse.parquet_source import ParquetSource
from etl_tasks.warehouse.prefetch import Prefetch
from etl_tasks.warehouse.render import POSTGRES, render_batch
from etl_tasks.warehouse.sql_base import SqlWarehouse

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

    def _connect(self) -> Any:
        url = self.url.replace("postgres://", "postgresql://", 1)
        connection = psycopg2.connect(url, connect_timeout=10, application_name="etl_tasks")
        connection.set_client_encoding("UTF8")
        with connection.cursor() as cursor:
            cursor.execute("SET TIME ZONE 'UTC'")
        connection.commit()
        return connection

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
        rendered = (render_batch(batch, table, POSTGRES) for batch in source.batches())
        with Prefetch(csv_chunks(rendered, null_token=""), name="copy-render") as chunks:
            cursor.copy_expert(
                f"COPY {target} ({self._columns_sql(table.column_names)}) FROM STDIN "
                "WITH (FORMAT csv, NULL '')",
                ChunkReader(chunks),
                size=COPY_READ_BYTES,
            )
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
