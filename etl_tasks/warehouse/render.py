"""Turn a Parquet record batch into the column types a database's bulk path reads back exactly.

The Parquet file carries Arrow types; each backend needs a few of them as text (JSON, timestamps in
its format, decimals for SQLite) or as integers (MySQL booleans). :func:`render_batch` does that
column by column with Arrow compute, driven by the column's logical type in the :class:`TableSpec`,
and leaves every other column to the CSV writer (or to ``to_pylist`` for SQLite), which prints
integers, doubles, dates and decimals exactly.

A column that already arrives as text (a timestamp written as an ISO string, JSON as a string) is
passed through for the database to parse.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa

from etl_tasks.warehouse.arrow_text import (
    decimal_text,
    decode_dictionary,
    json_column,
    timestamp_text,
    utc_microseconds,
)
from etl_tasks.warehouse.model import DECIMAL_TYPE, TableSpec


@dataclass(frozen=True)
class Rendering:
    """How one backend wants its values."""

    name: str
    boolean_as_int: bool = False  # MySQL: BOOLEAN is TINYINT(1) and LOAD DATA wants 1/0
    timestamp_separator: str = " "
    timestamp_suffix: str = ""  # PostgreSQL timestamptz: "+00" makes the instant explicit
    dates_as_text: bool = False  # SQLite has no date type
    plain_decimals: bool = False  # SQLite stores the decimal text itself


POSTGRES = Rendering("postgresql", timestamp_suffix="+00")
MYSQL = Rendering("mysql", boolean_as_int=True)  # DATETIME(6) holds the UTC wall clock
SQLITE = Rendering(
    "sqlite", timestamp_separator="T", timestamp_suffix="Z", dates_as_text=True, plain_decimals=True
)


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def render_column(values: pa.Array, logical: str, rendering: Rendering) -> pa.Array:
    """One column in the form ``rendering`` loads exactly."""
    if (
        logical == "text"
        and pa.types.is_dictionary(values.type)
        and _is_text(values.type.value_type)
    ):
        # The key sort reads repetitive text dictionary-encoded; the CSV writer and to_pylist
        # print its values exactly as the plain strings (no decoded copy needed).
        return values
    values = decode_dictionary(values)
    kind = values.type
    if logical == "json":
        return json_column(values)
    if logical == "text":
        return values if _is_text(kind) else values.cast(pa.string())
    if logical == "boolean" and pa.types.is_boolean(kind) and rendering.boolean_as_int:
        return values.cast(pa.int8())
    if logical == "timestamp" and pa.types.is_timestamp(kind):
        return timestamp_text(values, rendering.timestamp_separator, rendering.timestamp_suffix)
    if logical == "date":
        if pa.types.is_timestamp(kind):
            values = utc_microseconds(values).cast(pa.date32())
        if rendering.dates_as_text and not _is_text(values.type):
            return values.cast(pa.string())
        return values
    if DECIMAL_TYPE.match(logical) and pa.types.is_decimal(kind) and rendering.plain_decimals:
        return decimal_text(values)
    if DECIMAL_TYPE.match(logical) and rendering.plain_decimals and not _is_text(kind):
        return values.cast(pa.string())
    return values


def render_batch(batch: pa.RecordBatch, table: TableSpec, rendering: Rendering) -> pa.RecordBatch:
    """``batch`` (columns already in ``table`` order) with every column rendered."""
    columns = [
        render_column(batch.column(index), column.type, rendering)
        for index, column in enumerate(table.columns)
    ]
    return pa.RecordBatch.from_arrays(columns, names=table.column_names)


def sqlite_rows(batch: pa.RecordBatch) -> Iterator[tuple]:
    """Rows of a rendered batch as tuples for ``executemany`` (Arrow converts each column in C)."""
    return zip(*(column.to_pylist() for column in batch.columns), strict=True)
