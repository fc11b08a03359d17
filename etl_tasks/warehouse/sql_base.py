"""The load algorithm, written once for every SQL backend (PostgreSQL, MySQL, SQLite).

Like ``luigi.contrib.postgres.CopyToTable``, :class:`SqlWarehouse` implements the whole
:class:`~etl_tasks.warehouse.interface.Warehouse` contract, and a backend overrides small hooks: how
to connect, how to quote, how to render a column type, how to bulk-load a stream of batches, how to
stage and upsert. :meth:`SqlWarehouse.load_partition` is the one transaction of DESIGN.md §5:

    partition mode: DELETE the partition's rows → bulk load → verify the count → write the marker
    upsert mode:    bulk load into a staging table → verify the count → INSERT … ON CONFLICT/
                    ON DUPLICATE KEY UPDATE → write the marker

committed once; any failure rolls everything back and raises :class:`LoadError` naming the table,
the partition and the redacted URL. Connections open lazily, on first use.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from abc import abstractmethod
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from etl_tasks.config import redact_url
from etl_tasks.core.redact import redact
from etl_tasks.errors import LoadError
from etl_tasks.warehouse.ddl import (
    AUDIT_COLUMNS,
    AUDIT_SPEC,
    check_identifier,
    dependency_order,
    index_name,
    table_indexes,
)
from etl_tasks.warehouse.interface import LoadMarker, Warehouse
from etl_tasks.warehouse.key_sort import SortedRows
from etl_tasks.warehouse.model import TableSpec
from etl_tasks.warehouse.parquet_source import DEFAULT_BATCH_ROWS, ParquetSource
from etl_tasks.warehouse.peek import URL_HINT as URL_HINT  # re-exported for the backends
from etl_tasks.warehouse.scratch import load_scratch, remove_scratch
from etl_tasks.warehouse.settings import WarehouseSettings
from etl_tasks.warehouse.watchdog import Watchdog

logger = logging.getLogger(__name__)


def utc_now() -> dt.datetime:
    """The current time, timezone-aware UTC (audit ``loaded_at``)."""
    return dt.datetime.now(dt.timezone.utc)


class SqlWarehouse(Warehouse):
    """Shared implementation; subclasses fill in the dialect hooks below."""

    placeholder = "%s"
    batch_rows = DEFAULT_BATCH_ROWS  # rows per streamed record batch
    # MySQL has no CREATE INDEX IF NOT EXISTS: it declares indexes inside CREATE TABLE.
    inline_indexes = False
    # Loads that write temporary files (FIFO, sort runs) get a scratch directory under the output
    # directory (etl_tasks.warehouse.scratch), removed when the load ends and by the next run.
    uses_scratch = False

    def __init__(
        self,
        url: str,
        settings: WarehouseSettings | None = None,
        *,
        sort_budget_bytes: int | None = None,
    ) -> None:
        self.url = url
        self.settings = settings or WarehouseSettings.from_config()
        # Memory of the key sort before it spills to disk (backends that sort before loading).
        self.sort_budget_bytes = sort_budget_bytes or self.settings.sort_budget_bytes
        self._connection: Any = None
        self._watchdog: Watchdog | None = None  # guards the current transaction, if any
        self.last_sort_strategy = ""  # how the last load ordered its rows (logs, tests)

    def _sorted_rows(self, table: TableSpec, source: ParquetSource) -> SortedRows:
        """``source``'s rows in primary-key order, within the sort budget (runs spilled to the
        load's scratch directory). The sort's first pass reads the whole file before the first
        row is sent: that is client work, not an awaited answer, so the watchdog sets no limit
        until the load switches it again."""
        if self._watchdog is not None:
            self._watchdog.idle()
        rows = SortedRows(
            source, table.primary_key, self.sort_budget_bytes, source.scratch_directory
        )
        self.last_sort_strategy = rows.strategy
        return rows

    # ---- hooks -------------------------------------------------------------------------------

    @abstractmethod
    def _connect(self) -> Any:
        """A new DB-API connection, not in autocommit mode (SQLite: explicit BEGIN)."""

    @abstractmethod
    def quote(self, name: str) -> str:
        """A quoted identifier."""

    @abstractmethod
    def column_type(self, table: TableSpec, column_name: str, logical: str) -> str:
        """SQL type of a column with logical type ``logical``."""

    @abstractmethod
    def _bulk_load(self, cursor: Any, table: TableSpec, target: str, source: ParquetSource) -> int:
        """Stream ``source`` into the (quoted) ``target`` table; return the rows the database
        reports as loaded."""

    @abstractmethod
    def _create_staging(self, cursor: Any, table: TableSpec) -> str:
        """Create an empty temporary copy of ``table`` (same columns and primary key, no foreign
        keys) for this transaction; return its quoted name."""

    @abstractmethod
    def _upsert_from(self, table: TableSpec, staging: str) -> str:
        """``INSERT INTO table SELECT … FROM staging`` updating rows whose key exists."""

    @abstractmethod
    def _drop_staging(self, cursor: Any, staging: str) -> None:
        """Drop the staging table."""

    @abstractmethod
    def _existing_tables(self, cursor: Any) -> set[str]:
        """Names of the tables of the connected database/schema."""

    @abstractmethod
    def _server_version(self, cursor: Any) -> str:
        """The server's version string."""

    def table_options(self) -> str:
        """Text after ``CREATE TABLE (...)`` (MySQL: engine and charset)."""
        return ""

    def param(self, value: Any) -> Any:
        """A Python value as this driver should receive it."""
        return value

    def _begin(self, cursor: Any, write: bool) -> None:
        """Start a transaction explicitly where the driver does not (SQLite)."""

    # ---- connection and transactions ----------------------------------------------------------

    @property
    def redacted_url(self) -> str:
        return redact_url(self.url)

    def _clean(self, error: BaseException) -> str:
        """An error's text fit for a message: secrets masked, whitespace collapsed."""
        password = urlsplit(self.url).password
        text = " ".join(str(error).split()) or type(error).__name__
        return redact(text, [password] if password else None)

    def connection(self) -> Any:
        """The open connection (opened on first use)."""
        if self._connection is None:
            try:
                self._connection = self._connect()
            except LoadError:
                raise
            except Exception as error:  # every driver has its own error classes
                # "from None": a chained driver traceback would print the error unredacted.
                raise LoadError(
                    f"cannot connect to the {self.dialect} warehouse {self.redacted_url}: "
                    f"{self._clean(error)}. {URL_HINT}"
                ) from None
        return self._connection

    def _guard(self, connection: Any) -> contextlib.AbstractContextManager[Watchdog | None]:
        """A :class:`Watchdog` for drivers without their own timeouts (PostgreSQL)."""
        return contextlib.nullcontext()

    def _lost_connection(self, error: BaseException) -> str | None:
        """Why ``error`` means the connection is gone (a timeout fired), or None."""
        return None

    def _drop_connection(self) -> None:
        """Forget a connection that can no longer be used (closed without waiting)."""
        connection, self._connection = self._connection, None
        with contextlib.suppress(Exception):
            connection.close()

    @contextlib.contextmanager
    def _transaction(self, write: bool = False) -> Iterator[Any]:
        """A cursor inside one transaction: committed on success, rolled back on any error.

        A connection cut by the watchdog or by a driver timeout is dropped (the server rolls
        back what it never saw committed) and the error says which limit fired."""
        connection = self.connection()
        with self._guard(connection) as guard:
            self._watchdog = guard
            cursor = connection.cursor()
            try:
                self._begin(cursor, write)
                yield cursor
                connection.commit()
            except BaseException as error:
                lost = guard.reason if guard is not None else None
                lost = lost or self._lost_connection(error)
                if lost:
                    self._drop_connection()
                    raise LoadError(lost) from error
                with contextlib.suppress(Exception):
                    connection.rollback()
                raise
            finally:
                self._watchdog = None
                with contextlib.suppress(Exception):
                    cursor.close()

    @contextlib.contextmanager
    def _failing_as_load_error(self, action: str) -> Iterator[None]:
        """Turn a driver error during ``action`` into a LoadError with a redacted message."""
        try:
            yield
        except LoadError:
            raise
        except Exception as error:
            raise LoadError(
                f"{action} failed on the {self.dialect} warehouse {self.redacted_url}: "
                f"{self._clean(error)}"
            ) from error

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self._transaction() as cursor:
            cursor.execute(sql, [self.param(value) for value in params])
            return list(cursor.fetchall())

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._transaction(write=True) as cursor:
            cursor.execute(sql, [self.param(value) for value in params])
            return cursor.rowcount

    def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.close()
            self._connection = None

    def ping(self) -> str:
        with self._failing_as_load_error("ping"), self._transaction() as cursor:
            return self._server_version(cursor)

    # ---- schema -------------------------------------------------------------------------------

    def _placeholders(self, count: int) -> str:
        return ", ".join([self.placeholder] * count)

    def _columns_sql(self, names: Sequence[str]) -> str:
        return ", ".join(self.quote(check_identifier(name)) for name in names)

    def column_definitions(self, table: TableSpec) -> list[str]:
        """``"name" TYPE [NOT NULL]`` for every column (key columns are always NOT NULL)."""
        definitions = []
        for column in table.columns:
            not_null = not column.nullable or column.name in table.primary_key
            definitions.append(
                f"{self.quote(check_identifier(column.name))} "
                f"{self.column_type(table, column.name, column.type)}"
                + (" NOT NULL" if not_null else "")
            )
        return definitions

    def create_table_statements(self, table: TableSpec) -> list[str]:
        """``CREATE TABLE IF NOT EXISTS`` with keys, then its indexes (idempotent)."""
        name = self.quote(check_identifier(table.name))
        parts = self.column_definitions(table)
        if table.primary_key:
            parts.append(f"PRIMARY KEY ({self._columns_sql(table.primary_key)})")
        for foreign_key in table.foreign_keys:
            parts.append(
                f"FOREIGN KEY ({self._columns_sql(foreign_key.columns)}) REFERENCES "
                f"{self.quote(check_identifier(foreign_key.ref_table))} "
                f"({self._columns_sql(foreign_key.ref_columns)})"
            )
        indexes = [(index_name(table.name, cols), cols) for cols in table_indexes(table)]
        if self.inline_indexes:
            parts.extend(
                f"KEY {self.quote(ix)} ({self._columns_sql(cols)})" for ix, cols in indexes
            )
        body = ",\n  ".join(parts)
        statements = [f"CREATE TABLE IF NOT EXISTS {name} (\n  {body}\n){self.table_options()}"]
        if not self.inline_indexes:
            statements.extend(
                f"CREATE INDEX IF NOT EXISTS {self.quote(ix)} ON {name} ({self._columns_sql(cols)})"
                for ix, cols in indexes
            )
        return statements

    def schema_statements(self, tables: Sequence[TableSpec]) -> list[str]:
        """Every statement :meth:`ensure_schema` runs, in order (audit table first)."""
        statements: list[str] = []
        for table in [AUDIT_SPEC, *dependency_order(tables)]:
            statements.extend(self.create_table_statements(table))
        return statements

    def ensure_schema(self, tables: Sequence[TableSpec]) -> None:
        statements = self.schema_statements(tables)
        with (
            self._failing_as_load_error("creating the schema"),
            self._transaction(write=True) as cursor,
        ):
            for statement in statements:
                cursor.execute(statement)
        logger.info("schema ensured on %s: %d tables", self.redacted_url, len(tables) + 1)

    def missing_tables(self, tables: Sequence[TableSpec]) -> list[str]:
        with self._failing_as_load_error("listing tables"), self._transaction() as cursor:
            existing = self._existing_tables(cursor)
        wanted = [AUDIT_SPEC.name, *(table.name for table in dependency_order(tables))]
        return [name for name in wanted if name not in existing]

    def _audit_exists(self) -> bool:
        with self._transaction() as cursor:
            return AUDIT_SPEC.name in self._existing_tables(cursor)

    # ---- audit markers ------------------------------------------------------------------------

    def _audit_where(self) -> str:
        return (
            f"{self.quote('table_name')} = {self.placeholder} AND "
            f"{self.quote('partition_key')} = {self.placeholder}"
        )

    def is_loaded(self, table: str, partition: str, sha256: str) -> bool:
        with self._failing_as_load_error(f"reading the load marker of {table} {partition}"):
            if not self._audit_exists():
                return False  # the schema task has not run yet: nothing is loaded
            rows = self._query(
                f"SELECT 1 FROM {self.quote(AUDIT_SPEC.name)} WHERE {self._audit_where()} "
                f"AND {self.quote('sha256')} = {self.placeholder}",
                (table, partition, sha256),
            )
        return bool(rows)

    def remove_marker(self, table: str, partition: str) -> int:
        with self._failing_as_load_error(f"removing the load marker of {table} {partition}"):
            if not self._audit_exists():
                return 0
            return self._execute(
                f"DELETE FROM {self.quote(AUDIT_SPEC.name)} WHERE {self._audit_where()}",
                (table, partition),
            )

    def markers(self, partition: str | None = None) -> list[dict]:
        sql = f"SELECT {self._columns_sql(AUDIT_COLUMNS)} FROM {self.quote(AUDIT_SPEC.name)}"
        params: tuple = ()
        if partition is not None:
            sql += f" WHERE {self.quote('partition_key')} = {self.placeholder}"
            params = (partition,)
        sql += f" ORDER BY {self.quote('table_name')}, {self.quote('partition_key')}"
        with self._failing_as_load_error("reading load markers"):
            if not self._audit_exists():
                return []
            rows = self._query(sql, params)
        return [self._marker_dict(row) for row in rows]

    def _marker_dict(self, row: tuple) -> dict:
        marker = dict(zip(AUDIT_COLUMNS, row, strict=True))
        marker["rows"] = int(marker["rows"])
        marker["loaded_at"] = self._as_utc(marker["loaded_at"])
        return marker

    @staticmethod
    def _as_utc(value: Any) -> dt.datetime:
        """``loaded_at`` as an aware UTC datetime, however the driver returned it."""
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)

    def _write_marker(self, cursor: Any, marker: LoadMarker, rows: int) -> None:
        audit = self.quote(AUDIT_SPEC.name)
        cursor.execute(
            f"DELETE FROM {audit} WHERE {self._audit_where()}",
            [marker.table, marker.partition],
        )
        cursor.execute(
            f"INSERT INTO {audit} ({self._columns_sql(AUDIT_COLUMNS)}) "
            f"VALUES ({self._placeholders(len(AUDIT_COLUMNS))})",
            [
                self.param(value)
                for value in (
                    marker.task_id,
                    marker.table,
                    marker.partition,
                    rows,
                    marker.sha256,
                    utc_now(),
                )
            ],
        )

    # ---- loading ------------------------------------------------------------------------------

    def count_rows(self, table: str, where: str = "", params: Sequence = ()) -> int:
        """``SELECT count(*)``; placeholders in ``where`` are ``%s`` on every backend."""
        sql = f"SELECT count(*) FROM {self.quote(check_identifier(table))}"
        if where:
            sql += " WHERE " + where.replace("%s", self.placeholder)
        with self._failing_as_load_error(f"counting rows of {table}"):
            return int(self._query(sql, params)[0][0])

    def _partition_value(self, table: TableSpec, partition: dt.date) -> Any:
        column = next(c for c in table.columns if c.name == table.partition_column)
        return self.param(partition if column.type == "date" else partition.isoformat())

    def load_partition(
        self, table: TableSpec, parquet_path: Path, partition: dt.date, marker: LoadMarker
    ) -> int:
        what = f"{table.name} partition {partition.isoformat()} ({self.redacted_url})"
        if (marker.table, marker.partition) != (table.name, partition.isoformat()):
            raise LoadError(
                f"cannot load {what}: the marker names {marker.table} {marker.partition}; "
                "build the marker from the same table and date"
            )
        source = ParquetSource(Path(parquet_path), table, partition, self.batch_rows)
        if self.uses_scratch:
            source.scratch_directory = load_scratch(Path(parquet_path), table.name)
        try:
            with self._transaction(write=True) as cursor:
                loaded = self._load_rows(cursor, table, partition, source)
                if loaded != source.num_rows or source.rows_read != source.num_rows:
                    raise LoadError(
                        f"the database took {loaded} rows but {source.path} holds "
                        f"{source.num_rows} (read {source.rows_read}); check the file and the "
                        "warehouse logs"
                    )
                self._write_marker(cursor, marker, loaded)
        except Exception as error:
            # One message shape for every failure: what, where, that nothing changed, the cause.
            raise LoadError(
                f"loading {what} from {source.path} failed and was rolled back (the previous rows "
                f"and marker of this partition are intact): {self._clean(error)}"
                + ("" if isinstance(error, LoadError) else ". Fix the cause and rerun the load")
            ) from error
        finally:
            source.close()
            if source.scratch_directory is not None:
                remove_scratch(source.scratch_directory)
        logger.info("loaded %d rows into %s", loaded, what)
        return loaded

    def _load_rows(
        self, cursor: Any, table: TableSpec, partition: dt.date, source: ParquetSource
    ) -> int:
        """Everything of a load except the marker and the commit."""
        name = self.quote(check_identifier(table.name))
        if table.mode == "partition":
            cursor.execute(
                f"DELETE FROM {name} WHERE {self.quote(table.partition_column or '')} = "
                f"{self.placeholder}",
                [self._partition_value(table, partition)],
            )
            return self._bulk_load(cursor, table, name, source)
        staging = self._create_staging(cursor, table)
        loaded = self._bulk_load(cursor, table, staging, source)
        cursor.execute(self._upsert_from(table, staging))
        self._drop_staging(cursor, staging)
        return loaded

    def _on_conflict_upsert(
        self, table: TableSpec, staging: str, target: str, source_filter: str = ""
    ) -> str:
        """``INSERT ... SELECT ... ON CONFLICT (pk) DO UPDATE`` (PostgreSQL and SQLite spelling)."""
        columns = self._columns_sql(table.column_names)
        updates = self._update_columns(table)
        action = (
            "DO UPDATE SET "
            + ", ".join(f"{self.quote(name)} = excluded.{self.quote(name)}" for name in updates)
            if updates
            else "DO NOTHING"
        )
        return (
            f"INSERT INTO {target} ({columns}) SELECT {columns} FROM {staging}{source_filter} "
            f"ON CONFLICT ({self._columns_sql(table.primary_key)}) {action}"
        )

    def _update_columns(self, table: TableSpec) -> list[str]:
        """Columns an upsert overwrites: every column outside the primary key."""
        return [name for name in table.column_names if name not in table.primary_key]
