"""Schema evolution: compare the declared tables (TableSpec) with the live ones and migrate them.

    with connect(url) as warehouse:
        changes = plan_changes(warehouse, BTG_TABLES)   # what differs, column by column
        apply_changes(warehouse, BTG_TABLES)            # lossless ones applied; else LoadError

Run by the schema task only (never inside a load: MySQL commits DDL implicitly), so a release
that widens a column (e.g. BTG quotes ``decimal(28,8)`` → ``decimal(34,14)``) reaches a warehouse
created by an older release on its next run. What is compared, per backend:

* PostgreSQL: ``format_type()`` of every column (``numeric(34,14)``, ``timestamp with time
  zone``...) and ``NOT NULL``; migrated with ``ALTER TABLE … ALTER COLUMN … TYPE … USING``,
  ``DROP NOT NULL``, ``ADD COLUMN``, all in one transaction.
* MySQL/MariaDB: ``information_schema.columns.column_type`` (display widths ignored; MariaDB
  shows JSON as ``longtext``) and ``is_nullable``; migrated with one ``ALTER TABLE … MODIFY
  COLUMN …, ADD COLUMN …`` per table (each ALTER is atomic in InnoDB; rows are kept).
* SQLite: ``PRAGMA table_info``; SQLite cannot change a column type, so the table is rebuilt in one
  transaction: create the new table, copy every row, drop the old one, rename, recreate indexes,
  ``PRAGMA foreign_key_check``. (Decimals are exact TEXT there, so a decimal widening changes
  nothing on SQLite.)

Only lossless changes are applied automatically: a decimal that keeps at least its integer digits
and its scale, ``integer`` → ``bigint``/``double``, ``NOT NULL`` dropped, a nullable column added.
Anything else (narrowing, another type family, a new ``NOT NULL`` column) stops with a LoadError
that prints the exact SQL to run after checking the data; a column that exists only in the live
table is left alone (and named in the log).
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from etl_tasks.errors import LoadError
from etl_tasks.warehouse.ddl import check_identifier, dependency_order
from etl_tasks.warehouse.model import TableSpec

logger = logging.getLogger(__name__)

DECIMAL_SQL = re.compile(r"^(?:decimal|numeric)\((\d+),\s*(\d+)\)$")
INT_WIDTH = re.compile(r"^(tinyint|smallint|mediumint|int|integer|bigint)\(\d+\)")
INTEGER_NAMES = {"int", "integer"}
DOUBLE_NAMES = {"double", "double precision", "real"}
MIGRATE_HINT = "then run the schema task again (e.g. etl-run for the date)"


@dataclass(frozen=True)
class LiveColumn:
    """A column as the database reports it (type normalised for comparison)."""

    type: str
    nullable: bool


@dataclass(frozen=True)
class Change:
    """One difference between the declaration and the live table."""

    table: str
    column: str
    kind: str  # "type" | "nullable" | "add"
    live: str
    declared: str
    lossless: bool

    def describe(self) -> str:
        if self.kind == "add":
            return f"{self.table}.{self.column}: missing, add {self.declared}"
        if self.kind == "nullable":
            return f"{self.table}.{self.column}: NOT NULL -> nullable"
        return f"{self.table}.{self.column}: {self.live} -> {self.declared}"


# ---- live schema -------------------------------------------------------------------------------


def _normalise(dialect: str, sql_type: str) -> str:
    text = " ".join(sql_type.strip().lower().split())
    if dialect == "mysql":
        if text.startswith("tinyint(1)"):
            return "tinyint(1)"
        text = INT_WIDTH.sub(lambda match: match.group(1), text)
        if text == "json":
            return "longtext"  # MariaDB stores JSON as LONGTEXT + CHECK (json_valid)
    if dialect == "postgresql" and text == "timestamptz":
        return "timestamp with time zone"
    if dialect == "sqlite":
        return text.upper()
    return text.replace(", ", ",")


def live_columns(warehouse: Any, table: str) -> dict[str, LiveColumn]:
    """The live table's columns, in order, with normalised types."""
    check_identifier(table)
    dialect = warehouse.dialect
    with warehouse._transaction() as cursor:
        if dialect == "postgresql":
            cursor.execute(
                "SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull "
                "FROM pg_attribute a JOIN pg_class c ON a.attrelid = c.oid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relname = %s AND n.nspname = current_schema() AND a.attnum > 0 "
                "AND NOT a.attisdropped ORDER BY a.attnum",
                (table,),
            )
            rows = [(name, kind, bool(nullable)) for name, kind, nullable in cursor.fetchall()]
        elif dialect == "mysql":
            cursor.execute(
                "SELECT column_name, column_type, is_nullable FROM information_schema.columns "
                "WHERE table_schema = DATABASE() AND table_name = %s ORDER BY ordinal_position",
                (table,),
            )
            rows = [(name, kind, nullable == "YES") for name, kind, nullable in cursor.fetchall()]
        elif dialect == "sqlite":
            cursor.execute(f"PRAGMA table_info({warehouse.quote(table)})")
            rows = [(row[1], row[2], not row[3] and not row[5]) for row in cursor.fetchall()]
        else:  # pragma: no cover - every backend is listed above
            raise LoadError(f"schema comparison is not implemented for {dialect}")
    return {str(name): LiveColumn(_normalise(dialect, str(kind)), nullable)
            for name, kind, nullable in rows}


def declared_type(warehouse: Any, spec: TableSpec, column: str) -> str:
    logical = next(c.type for c in spec.columns if c.name == column)
    return _normalise(warehouse.dialect, warehouse.column_type(spec, column, logical))


def declared_nullable(spec: TableSpec, column: str) -> bool:
    item = next(c for c in spec.columns if c.name == column)
    return item.nullable and column not in spec.primary_key


# ---- comparison --------------------------------------------------------------------------------


def type_change_is_lossless(live: str, declared: str) -> bool:
    """Whether every value of a ``live`` column fits the ``declared`` type unchanged."""
    old, new = DECIMAL_SQL.match(live.lower()), DECIMAL_SQL.match(declared.lower())
    if old and new:
        old_p, old_s, new_p, new_s = (int(v) for v in (*old.groups(), *new.groups()))
        return new_s >= old_s and new_p - new_s >= old_p - old_s
    if live.lower() in INTEGER_NAMES:
        return declared.lower() == "bigint" or declared.lower() in DOUBLE_NAMES
    return False


def table_changes(warehouse: Any, spec: TableSpec) -> list[Change]:
    """Differences between ``spec`` and its live table (which must exist)."""
    live = live_columns(warehouse, spec.name)
    changes: list[Change] = []
    for column in spec.column_names:
        wanted = declared_type(warehouse, spec, column)
        nullable = declared_nullable(spec, column)
        if column not in live:
            changes.append(Change(spec.name, column, "add", "", wanted, lossless=nullable))
            continue
        current = live[column]
        if current.type != wanted:
            changes.append(Change(spec.name, column, "type", current.type, wanted,
                                  type_change_is_lossless(current.type, wanted)))
        elif current.nullable != nullable:
            changes.append(Change(spec.name, column, "nullable", "NOT NULL" if not current.nullable
                                  else "NULL", "NULL" if nullable else "NOT NULL",
                                  lossless=nullable))
    extra = sorted(set(live) - set(spec.column_names))
    if extra:
        logger.warning("%s has columns the code does not declare (left alone): %s",
                       spec.name, ", ".join(extra))
    return changes


def plan_changes(warehouse: Any, tables: Sequence[TableSpec]) -> list[Change]:
    """Every difference of the existing tables among ``tables`` (missing tables are created by
    ``ensure_schema``, not migrated)."""
    missing = set(warehouse.missing_tables(tables))
    changes: list[Change] = []
    for spec in dependency_order(tables):
        if spec.name not in missing:
            changes.extend(table_changes(warehouse, spec))
    return changes


# ---- statements --------------------------------------------------------------------------------


def _definition(warehouse: Any, spec: TableSpec, column: str) -> str:
    index = spec.column_names.index(column)
    return warehouse.column_definitions(spec)[index]


def alter_statements(warehouse: Any, spec: TableSpec, changes: Sequence[Change]) -> list[str]:
    """The SQL that applies ``changes`` to ``spec``'s table (PostgreSQL/MySQL; SQLite rebuilds)."""
    name = warehouse.quote(check_identifier(spec.name))
    mine = [change for change in changes if change.table == spec.name]
    if not mine:
        return []
    if warehouse.dialect == "mysql":
        clauses = [
            ("ADD COLUMN " if change.kind == "add" else "MODIFY COLUMN ")
            + _definition(warehouse, spec, change.column)
            for change in mine
        ]
        return [f"ALTER TABLE {name} " + ", ".join(clauses)]
    if warehouse.dialect == "postgresql":
        statements = []
        for change in mine:
            column = warehouse.quote(change.column)
            if change.kind == "add":
                statements.append(
                    f"ALTER TABLE {name} ADD COLUMN {_definition(warehouse, spec, change.column)}"
                )
            elif change.kind == "nullable":
                verb = "DROP" if change.declared == "NULL" else "SET"
                statements.append(f"ALTER TABLE {name} ALTER COLUMN {column} {verb} NOT NULL")
            else:
                statements.append(
                    f"ALTER TABLE {name} ALTER COLUMN {column} TYPE {change.declared} "
                    f"USING {column}::{change.declared}"
                )
        return statements
    return sqlite_rebuild_statements(warehouse, spec)


def sqlite_rebuild_statements(warehouse: Any, spec: TableSpec) -> list[str]:
    """SQLite's documented 12-step table change, minus the PRAGMA steps (done around it)."""
    live = live_columns(warehouse, spec.name)
    staging = dataclasses.replace(spec, name=f"_migrate_{spec.name}", indexes=())
    creates = warehouse.create_table_statements(staging)
    copied = [column for column in spec.column_names if column in live]
    columns = ", ".join(warehouse.quote(column) for column in copied)
    name, new = warehouse.quote(spec.name), warehouse.quote(staging.name)
    indexes = warehouse.create_table_statements(spec)[1:]
    return [
        f"DROP TABLE IF EXISTS {new}",
        *(create.replace("CREATE TABLE IF NOT EXISTS", "CREATE TABLE", 1) for create in creates
          if create.startswith("CREATE TABLE")),
        f"INSERT INTO {new} ({columns}) SELECT {columns} FROM {name}",
        f"DROP TABLE {name}",
        f"ALTER TABLE {new} RENAME TO {name}",
        *indexes,
    ]


def manual_command(warehouse: Any, tables: Sequence[TableSpec], changes: Sequence[Change]) -> str:
    """The exact SQL a person runs for changes the schema task will not make by itself."""
    lines = []
    for spec in tables:
        lines += alter_statements(warehouse, spec, changes)
    return "; ".join(lines)


# ---- applying ----------------------------------------------------------------------------------


def apply_changes(warehouse: Any, tables: Sequence[TableSpec]) -> list[Change]:
    """Apply every lossless change; LoadError naming the others with the SQL that makes them."""
    changes = plan_changes(warehouse, tables)
    lossy = [change for change in changes if not change.lossless]
    if lossy:
        by_name = {spec.name: spec for spec in tables}
        specs = [by_name[name] for name in dict.fromkeys(change.table for change in lossy)]
        raise LoadError(
            f"the {warehouse.dialect} warehouse {warehouse.redacted_url} has tables that differ "
            "from the code in a way that may lose data, so the schema task did not change them: "
            + "; ".join(change.describe() for change in lossy)
            + ". Check the data, run: " + manual_command(warehouse, specs, lossy)
            + f"; {MIGRATE_HINT}."
        )
    if not changes:
        return []
    specs = [spec for spec in dependency_order(tables)
             if any(change.table == spec.name for change in changes)]
    with warehouse._failing_as_load_error("migrating the schema"):
        if warehouse.dialect == "sqlite":
            _apply_sqlite(warehouse, specs, changes)
        else:
            with warehouse._transaction(write=True) as cursor:
                for spec in specs:
                    for statement in alter_statements(warehouse, spec, changes):
                        logger.info("migrating: %s", statement)
                        cursor.execute(statement)
    for change in changes:
        logger.info("migrated %s on %s", change.describe(), warehouse.redacted_url)
    return changes


def _apply_sqlite(warehouse: Any, specs: Sequence[TableSpec], changes: Sequence[Change]) -> None:
    statements = [s for spec in specs for s in sqlite_rebuild_statements(warehouse, spec)]
    connection = warehouse.connection()
    connection.execute("PRAGMA foreign_keys = OFF")  # only outside a transaction
    try:
        with warehouse._transaction(write=True) as cursor:
            for statement in statements:
                logger.info("migrating: %s", statement)
                cursor.execute(statement)
            cursor.execute("PRAGMA foreign_key_check")
            broken = cursor.fetchall()
            if broken:
                raise LoadError(f"migration would break foreign keys: {broken[:5]}")
    finally:
        connection.execute("PRAGMA foreign_keys = ON")
