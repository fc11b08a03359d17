"""MySQL / MariaDB warehouse: Parquet sorted by primary key, streamed through LOAD DATA LOCAL.

Rows are put in primary-key order first (:mod:`etl_tasks.warehouse.key_sort`, bounded memory),
because InnoDB clusters a table on its key and random key order measured 8.4x slower (DESIGN.md
§5). The sorted batches are rendered to CSV by Arrow's C++ writer and fed to ``LOAD DATA LOCAL
INFILE`` through a named pipe (:mod:`etl_tasks.warehouse.pipe_feed`), so rendering overlaps the
server's ingest and no CSV file is written. ``python -m benchmarks.load_benchmark --target mysql``
measures it against the ``mysql`` client loading a ready, sorted file.

CSV dialect: ``FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '"' ESCAPED BY ''``. Every string
is quoted (doubled quotes inside), NULL is the unquoted word ``NULL`` — a quoted ``"NULL"`` is
text — and with no escape character backslashes and ``\\N`` are plain text. In partition mode the
partition column (a ``date``) is not sent: every row was checked to hold the partition's date
before it is rendered, and ``LOAD DATA … SET column = DATE '…'`` stores it, so the server parses
one field less per row than from the sorted file the benchmark compares with.

``LOCAL`` makes the server downgrade bad values, duplicate keys and foreign-key violations to
warnings and skip or coerce the row (it cannot stop the client mid-file). A load therefore fails
on any warning, and on a row count that differs from the Parquet file's.

DDL: text in a key, foreign key or index is ``VARCHAR(191)`` (an index cannot cover an unbounded
TEXT), other text ``LONGTEXT``; timestamps ``DATETIME(6)`` holding UTC (the session time zone is
UTC); json ``JSON``; booleans ``TINYINT(1)`` loaded as 1/0; every table InnoDB, utf8mb4,
``utf8mb4_bin`` (case- and accent-exact comparisons, as in PostgreSQL; one difference remains:
``utf8mb4_bin`` is a PAD SPACE collation, so two key values that differ only by trailing spaces
collide, and such a load fails on the duplicate instead of storing both). DDL commits implicitly in
MySQL, so it runs only in :meth:`ensure_schema`; the staging table of an upsert is ``TEMPORARY``,
which does not commit.

Bounded waits ([warehouse] in luigi.cfg, :mod:`etl_tasks.warehouse.settings`): pymysql's read
and write socket timeouts, TCP keepalives and ``TCP_USER_TIMEOUT`` on the socket, and the
server's ``net_read_timeout`` and statement limit for the session, so a partition mid-LOAD DATA
fails the load with a message instead of hanging the run.

The named pipe and the sort's spill files live in the load's scratch directory under the output
directory (:mod:`etl_tasks.warehouse.scratch`), never in ``/tmp``.

URL: ``mysql://user:password@host:port/database`` (pymysql; ``mariadb://`` and
``mysql+pymysql://`` are accepted too).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pymysql

from etl_tasks.errors import LoadError
from etl_tasks.warehouse.csv_stream import csv_chunks
from etl_tasks.warehouse.ddl import key_columns
from etl_tasks.warehouse.model import DECIMAL_TYPE, TableSpec
from etl_tasks.warehouse.parquet_source import ParquetSource
from etl_tasks.warehouse.peek import mysql_address
from etl_tasks.warehouse.pipe_feed import PipeFeed
from etl_tasks.warehouse.prefetch import Prefetch
from etl_tasks.warehouse.render import MYSQL, render_batch
from etl_tasks.warehouse.settings import set_keepalive
from etl_tasks.warehouse.sql_base import URL_HINT, SqlWarehouse

KEY_TEXT = "VARCHAR(191)"  # 191 x 4 bytes fits the 767-byte index prefix of older InnoDB formats
TYPES = {
    "text": "LONGTEXT",
    "bigint": "BIGINT",
    "integer": "INT",
    "double": "DOUBLE",
    "boolean": "TINYINT(1)",
    "date": "DATE",
    "timestamp": "DATETIME(6)",
    "json": "JSON",
}
MAX_REPORTED = 5
# "The used command is not allowed with this MySQL version" / "Loading local data is disabled".
LOCAL_INFILE_REFUSED = (1148, 3948)


def _socket_timeout(error: BaseException | None) -> BaseException | None:
    """The pymysql socket timeout (2006/2013 with "timed out") behind ``error``, if any.

    The chain is searched because pymysql masks a failed LOAD DATA LOCAL send: its ``finally``
    writes the end-of-file packet on the socket it just closed and raises AttributeError."""
    seen = 0
    while error is not None and seen < 8:
        if (
            isinstance(error, pymysql.err.OperationalError)
            and error.args
            and error.args[0] in (2006, 2013)
            and "timed out" in str(error).lower()
        ):
            return error
        error, seen = error.__cause__ or error.__context__, seen + 1
    return None


class MySQLWarehouse(SqlWarehouse):
    """A MySQL or MariaDB database (one URL); loads with sorted, streamed LOAD DATA."""

    dialect = "mysql"
    inline_indexes = True
    uses_scratch = True

    def _connect(self) -> Any:
        try:
            address = mysql_address(self.url)
        except LoadError:
            raise LoadError(
                f"the warehouse URL {self.redacted_url} names no database: use "
                "mysql://user:password@host:port/database. " + URL_HINT
            ) from None
        settings = self.settings
        answer, stall = settings.answer_timeout_s, settings.stall_limit_s
        connection = pymysql.connect(
            **address,
            charset="utf8mb4",
            local_infile=True,
            autocommit=False,
            connect_timeout=10,
            # Socket timeouts of every read (an answer) and every write (rows of LOAD DATA).
            read_timeout=None if math.isinf(answer) else answer,
            write_timeout=None if math.isinf(stall) else stall,
            init_command="SET time_zone = '+00:00'",
        )
        set_keepalive(connection._sock, settings)  # pymysql has no option for it
        with connection.cursor() as cursor:
            for statement in self._session_limits(str(connection.get_server_info())):
                cursor.execute(statement)
        connection.commit()
        return connection

    def _session_limits(self, version: str) -> list[str]:
        """The server's side of the bounded waits: how long it waits for the client's rows
        (``net_read_timeout``) and answers, and its own statement limit (MariaDB's
        ``max_statement_time``; MySQL only bounds SELECTs, with ``max_execution_time``)."""
        settings = self.settings
        statements = []
        if settings.stall_timeout_s > 0:
            seconds = max(math.ceil(settings.stall_timeout_s), 1)
            statements.append(
                f"SET SESSION net_read_timeout = {seconds}, net_write_timeout = {seconds}"
            )
        if settings.statement_timeout_s > 0:
            if "mariadb" in version.lower():
                statements.append(
                    f"SET SESSION max_statement_time = {float(settings.statement_timeout_s)}"
                )
            else:
                milliseconds = int(settings.statement_timeout_s * 1000)
                statements.append(f"SET SESSION max_execution_time = {milliseconds}")
        return statements

    def _lost_connection(self, error: BaseException) -> str | None:
        timeout = _socket_timeout(error)
        if timeout is None:
            return None
        return (
            f"the connection to the {self.dialect} warehouse {self.redacted_url} timed out "
            f"({self._clean(timeout)}): no data moved for {self.settings.stall_timeout_s:g} s "
            f"while sending rows, or no answer within {self.settings.answer_timeout_s:g} s "
            "(network partition or a frozen server?); the server rolls back what it had not "
            "committed ([warehouse] stall_timeout_s / statement_timeout_s)"
        )

    def quote(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    def column_type(self, table: TableSpec, column_name: str, logical: str) -> str:
        decimal = DECIMAL_TYPE.match(logical)
        if decimal:
            return f"DECIMAL({decimal.group(1)},{decimal.group(2)})"
        if logical == "text" and column_name in key_columns(table):
            return KEY_TEXT
        return TYPES[logical]

    def table_options(self) -> str:
        return " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"

    def param(self, value: Any) -> Any:
        # DATETIME has no zone: store the UTC wall clock.
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value

    def _existing_tables(self, cursor: Any) -> set[str]:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()"
        )
        return {row[0] for row in cursor.fetchall()}

    def _server_version(self, cursor: Any) -> str:
        cursor.execute("SELECT VERSION()")
        return str(cursor.fetchone()[0])

    def _bulk_load(self, cursor: Any, table: TableSpec, target: str, source: ParquetSource) -> int:
        # Arrow allocates from jemalloc here: ParquetSource switched the pool for every load.
        rows = self._sorted_rows(table, source)
        constant = self._constant_column(table, source)
        try:
            rendered = (render_batch(batch, table, MYSQL) for batch in rows.batches())
            if constant is not None:
                rendered = (batch.drop_columns([constant[0]]) for batch in rendered)
            with (
                Prefetch(csv_chunks(rendered, null_token="NULL"), name="load-render") as chunks,
                PipeFeed(chunks, directory=source.scratch_directory) as feed,
            ):
                self._load_data_local(cursor, table, target, feed.path, constant)
                feed.finish()
            loaded = cursor.rowcount
        finally:
            rows.close()
        self._fail_on_warnings(cursor, table)
        return loaded

    def _constant_column(self, table: TableSpec, source: ParquetSource) -> tuple[str, Any] | None:
        """The partition column and its value, when every row of the load holds that value.

        In partition mode :meth:`ParquetSource.check_partition` refuses any batch with a row of
        another date before it is rendered (a refused batch fails the load and rolls it back), so
        the column need not travel: ``LOAD DATA … SET`` stores the value, and the server parses
        one field less per row (the sorted ``LOAD DATA`` baseline parses every field). Only a
        ``date`` column: a timestamp partition column holds many values of one date."""
        name = table.partition_column
        column = next((c for c in table.columns if c.name == name), None)
        if source.partition is None or column is None or column.type != "date":
            return None
        return column.name, source.partition

    def _load_data_local(
        self,
        cursor: Any,
        table: TableSpec,
        target: str,
        path: str,
        constant: tuple[str, Any] | None = None,
    ) -> None:
        names = [name for name in table.column_names if constant is None or name != constant[0]]
        assignment, params = "", [path]
        if constant is not None:
            # A DATE literal: stored as it is, not parsed from a string for every row.
            assignment = f" SET {self.quote(constant[0])} = DATE %s"
            params.append(constant[1])
        try:
            cursor.execute(
                f"LOAD DATA LOCAL INFILE %s INTO TABLE {target} CHARACTER SET utf8mb4 "
                "FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' ESCAPED BY '' "
                f"LINES TERMINATED BY '\\n' ({self._columns_sql(names)}){assignment}",
                params,
            )
        except pymysql.MySQLError as error:
            if error.args and error.args[0] in LOCAL_INFILE_REFUSED:
                raise LoadError(
                    f"the server refuses LOAD DATA LOCAL INFILE ({error.args[-1]}): enable it "
                    "with SET GLOBAL local_infile = 1 (or local_infile = 1 in the server's "
                    "my.cnf)"
                ) from error
            raise

    def _fail_on_warnings(self, cursor: Any, table: TableSpec) -> None:
        """Raise if LOAD DATA LOCAL coerced or skipped anything (see the module docstring)."""
        cursor.execute("SHOW WARNINGS")
        problems = [row for row in cursor.fetchall() if str(row[0]).lower() != "note"]
        if not problems:
            return
        details = "; ".join(f"{row[0]} {row[1]}: {row[2]}" for row in problems[:MAX_REPORTED])
        raise LoadError(
            f"LOAD DATA into {table.name} raised warnings (with LOCAL, MySQL skips or coerces "
            f"such rows, so the load is refused and rolled back): {details}. Fix the data in the "
            "transform (NULL in a NOT NULL column, a missing parent row, a duplicate key, a value "
            "too long or out of range for its column)"
        )

    def _create_staging(self, cursor: Any, table: TableSpec) -> str:
        staging = self.quote(f"_stage_{table.name}")
        # TEMPORARY: no implicit commit, no foreign keys copied, the primary key is kept.
        cursor.execute(f"DROP TEMPORARY TABLE IF EXISTS {staging}")
        cursor.execute(f"CREATE TEMPORARY TABLE {staging} LIKE {self.quote(table.name)}")
        return staging

    def _upsert_from(self, table: TableSpec, staging: str) -> str:
        columns = self._columns_sql(table.column_names)
        updates = self._update_columns(table) or list(table.primary_key[:1])
        assignments = ", ".join(
            f"{self.quote(name)} = VALUES({self.quote(name)})" for name in updates
        )
        # VALUES() is the spelling both MySQL 8 (deprecated, still accepted) and MariaDB know.
        return (
            f"INSERT INTO {self.quote(table.name)} ({columns}) SELECT {columns} FROM {staging} "
            f"ON DUPLICATE KEY UPDATE {assignments}"
        )

    def _drop_staging(self, cursor: Any, staging: str) -> None:
        cursor.execute(f"DROP TEMPORARY TABLE {staging}")
