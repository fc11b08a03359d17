"""The warehouse table model: tables declared once, in logical column types.

Tables are declared once as :class:`TableSpec` (logical column types) and each backend renders its
own DDL, so PostgreSQL, MySQL and SQLite never drift apart; a transform produces exactly
:func:`arrow_schema` of its table. Pure data: no database driver, no backend is imported here.

Logical column types (``Column.type``):
    text, bigint, integer, double, boolean, date, timestamp (UTC), json (Parquet list/struct or
    a JSON string, stored as JSON), decimal(P,S).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyarrow as pa

from etl_tasks.warehouse.peek import AUDIT_TABLE as AUDIT_TABLE  # the audit table's one name

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
