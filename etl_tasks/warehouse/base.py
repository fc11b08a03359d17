"""The warehouse interface: one small contract, one module per database.

Tables are declared once as :class:`TableSpec` (logical column types) and each backend renders its
own DDL, so PostgreSQL, MySQL and SQLite never drift apart. A partition load is one transaction:

    delete the partition's rows (or, for dimensions, upsert by primary key),
    bulk-load the Parquet file by streaming record batches (COPY / LOAD DATA / executemany),
    write the ``etl_load_audit`` marker row,

and commits all of it or none of it, so a rerun replaces and never doubles.

Logical column types (``Column.type``):
    text, bigint, integer, double, boolean, date, timestamp (UTC), json (Parquet list/struct or
    a JSON string, stored as JSON), decimal(P,S).
"""

from __future__ import annotations

import datetime as dt
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

AUDIT_TABLE = "etl_load_audit"
DECIMAL_TYPE = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")
LOGICAL_TYPES = {"text", "bigint", "integer", "double", "boolean", "date", "timestamp", "json"}


@dataclass(frozen=True)
class Column:
    """A column: name, logical type, nullability."""

    name: str
    type: str
    nullable: bool = True

    def __post_init__(self) -> None:
        if self.type not in LOGICAL_TYPES and not DECIMAL_TYPE.match(self.type):
            raise ValueError(f"column {self.name}: unknown logical type {self.type!r}")


def not_null(name: str, logical: str) -> Column:
    """A NOT NULL column (the API guarantees a value)."""
    return Column(name, logical, nullable=False)


# Logical type -> Arrow type of the transform output (json travels as compact JSON text).
ARROW_TYPES: dict[str, pa.DataType] = {
    "text": pa.string(),
    "bigint": pa.int64(),
    "integer": pa.int32(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "json": pa.string(),
}


def arrow_type(logical: str) -> pa.DataType:
    """The Arrow type that carries a logical column type in transform Parquet files."""
    decimal = DECIMAL_TYPE.match(logical)
    if decimal:
        return pa.decimal128(int(decimal.group(1)), int(decimal.group(2)))
    return ARROW_TYPES[logical]


@dataclass(frozen=True)
class ForeignKey:
    """``columns`` reference ``ref_table(ref_columns)``."""

    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]


@dataclass(frozen=True)
class TableSpec:
    """A warehouse table.

    ``mode="partition"``: fact table; a load deletes ``WHERE partition_column = date`` then inserts.
    ``mode="upsert"``: dimension; a load inserts or updates rows by ``primary_key``.
    """

    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    partition_column: str | None = None
    mode: str = "partition"
    foreign_keys: tuple[ForeignKey, ...] = ()
    indexes: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if self.mode not in ("partition", "upsert"):
            raise ValueError(f"table {self.name}: mode must be partition or upsert")
        if self.mode == "partition" and self.partition_column not in names:
            raise ValueError(f"table {self.name}: partition_column must be one of its columns")
        missing = [k for k in self.primary_key if k not in names]
        if missing:
            raise ValueError(f"table {self.name}: primary key columns {missing} are not columns")

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]



def arrow_schema(spec: TableSpec) -> pa.Schema:
    """The exact Arrow schema a transform must produce for ``spec`` (names, order, types, nulls)."""
    return pa.schema(
        [pa.field(c.name, arrow_type(c.type), nullable=c.nullable) for c in spec.columns]
    )


@dataclass(frozen=True)
class LoadMarker:
    """The audit row that says "this table's partition holds exactly this Parquet file"."""

    task_id: str
    table: str
    partition: str  # ISO date of the partition
    sha256: str
    rows: int = 0
    extra: dict = field(default_factory=dict, compare=False, hash=False)


class Warehouse(ABC):
    """A connection to one warehouse database (one URL)."""

    dialect: str = ""

    @abstractmethod
    def ensure_schema(self, tables: Sequence[TableSpec]) -> None:
        """Create ``etl_load_audit`` and every table (with keys, FKs, indexes) if missing.

        Idempotent; the only place DDL runs (MySQL commits DDL implicitly)."""

    @abstractmethod
    def load_partition(
        self, table: TableSpec, parquet_path: Path, partition: dt.date, marker: LoadMarker
    ) -> int:
        """Replace the partition (or upsert the dimension rows) with the Parquet file's rows and
        write ``marker``, in one transaction. Returns the number of rows loaded. Raises
        :class:`etl_tasks.errors.LoadError` (after rollback) on any failure."""

    @abstractmethod
    def is_loaded(self, table: str, partition: str, sha256: str) -> bool:
        """True when the audit table says this partition holds the file with this sha256."""

    @abstractmethod
    def remove_marker(self, table: str, partition: str) -> int:
        """Delete the audit row(s) of a partition (forced rerun); returns how many."""

    @abstractmethod
    def markers(self, partition: str | None = None) -> list[dict]:
        """Audit rows (task_id, table_name, partition_key, rows, sha256, loaded_at)."""

    @abstractmethod
    def missing_tables(self, tables: Sequence[TableSpec]) -> list[str]:
        """Names of the given tables (plus the audit table) that do not exist yet."""

    @abstractmethod
    def count_rows(self, table: str, where: str = "", params: Sequence = ()) -> int:
        """``SELECT count(*)`` helper for reports, validation and tests."""

    @abstractmethod
    def ping(self) -> str:
        """Open a connection and return the server version; raises LoadError with a hint."""

    @abstractmethod
    def close(self) -> None:
        """Close the connection."""

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(url: str) -> Warehouse:
    """A :class:`Warehouse` for a URL: ``postgresql://``, ``mysql://`` (pymysql), ``sqlite:///``."""
    scheme = url.split(":", 1)[0].lower()
    if scheme in ("postgresql", "postgres"):
        from etl_tasks.warehouse.postgres import PostgresWarehouse

        return PostgresWarehouse(url)
    if scheme in ("mysql", "mysql+pymysql", "mariadb"):
        from etl_tasks.warehouse.mysql import MySQLWarehouse

        return MySQLWarehouse(url)
    if scheme == "sqlite":
        from etl_tasks.warehouse.sqlite import SQLiteWarehouse

        return SQLiteWarehouse(url)
    from etl_tasks.errors import ConfigError

    raise ConfigError(
        f"unsupported warehouse URL scheme {scheme!r}: use postgresql://, mysql:// or sqlite:///"
    )
