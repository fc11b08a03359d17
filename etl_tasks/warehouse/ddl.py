"""Dialect-neutral pieces of the warehouse DDL: the audit table, identifiers, index names, and the
order in which tables must be created so every foreign key finds its referenced table.

Each backend renders column types itself (``column_type``); everything here is shared so the three
databases get the same keys, the same indexes and the same names.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from etl_tasks.warehouse.model import AUDIT_TABLE, Column, TableSpec

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_IDENTIFIER = 63  # PostgreSQL's limit (MySQL allows 64, SQLite more)

AUDIT_SPEC = TableSpec(
    name=AUDIT_TABLE,
    mode="upsert",
    columns=(
        Column("task_id", "text", nullable=False),
        Column("table_name", "text", nullable=False),
        Column("partition_key", "text", nullable=False),
        Column("rows", "bigint", nullable=False),
        Column("sha256", "text", nullable=False),
        Column("loaded_at", "timestamp", nullable=False),
    ),
    primary_key=("table_name", "partition_key"),
)
AUDIT_COLUMNS = AUDIT_SPEC.column_names


def check_identifier(name: str) -> str:
    """``name`` if it is a plain SQL identifier (specs are code, but DDL is built from them)."""
    if not IDENTIFIER.match(name):
        raise ValueError(f"{name!r} is not a plain identifier (letters, digits, underscore)")
    return name


def index_name(table: str, columns: Sequence[str]) -> str:
    """``ix_<table>_<cols>``, shortened with a hash suffix when it exceeds 63 characters."""
    name = f"ix_{table}_{'_'.join(columns)}"
    if len(name) <= MAX_IDENTIFIER:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:10]
    return f"{name[: MAX_IDENTIFIER - 11]}_{digest}"


def table_indexes(table: TableSpec) -> list[tuple[str, ...]]:
    """The table's declared indexes plus one on the partition column, unless the primary key or a
    declared index already starts with it (then the partition delete can use that one)."""
    indexes = [tuple(columns) for columns in table.indexes]
    column = table.partition_column
    if table.mode == "partition" and column:
        leading = {columns[0] for columns in indexes if columns}
        if table.primary_key[:1] != (column,) and column not in leading:
            indexes.append((column,))
    return indexes


def key_columns(table: TableSpec) -> set[str]:
    """Columns that take part in a key or an index (MySQL needs a bounded type for them)."""
    keyed = set(table.primary_key)
    for foreign_key in table.foreign_keys:
        keyed.update(foreign_key.columns)
    for columns in table_indexes(table):
        keyed.update(columns)
    if table.partition_column:
        keyed.add(table.partition_column)
    return keyed


def dependency_order(tables: Sequence[TableSpec]) -> list[TableSpec]:
    """``tables`` ordered so every table comes after the tables its foreign keys reference
    (stable: the given order wherever it already works). References to tables outside the list
    are assumed to exist."""
    by_name = {table.name: table for table in tables}
    ordered: list[TableSpec] = []
    placed: set[str] = set()
    pending = list(tables)
    while pending:
        ready = [
            table
            for table in pending
            if all(
                fk.ref_table in placed or fk.ref_table not in by_name or fk.ref_table == table.name
                for fk in table.foreign_keys
            )
        ]
        if not ready:
            names = sorted(table.name for table in pending)
            raise ValueError(f"foreign keys form a cycle among {names}; break it in the specs")
        ordered.append(ready[0])
        placed.add(ready[0].name)
        pending.remove(ready[0])
    return ordered
