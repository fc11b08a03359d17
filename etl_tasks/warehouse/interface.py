"""The warehouse interface: one small contract every backend (one module per database) meets.

A partition load is one transaction:

    delete the partition's rows (or, for dimensions, upsert by primary key),
    bulk-load the Parquet file by streaming record batches (COPY / LOAD DATA / executemany),
    write the ``etl_load_audit`` marker row,

and commits all of it or none of it, so a rerun replaces and never doubles. Backends implement
:class:`Warehouse`; :mod:`etl_tasks.warehouse.factory` picks one by URL scheme.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from etl_tasks.core.closing import Closing
from etl_tasks.warehouse.model import TableSpec


@dataclass(frozen=True)
class LoadMarker:
    """The audit row that says "this table's partition holds exactly this Parquet file"."""

    task_id: str
    table: str
    partition: str  # ISO date of the partition
    sha256: str
    rows: int = 0
    extra: dict = field(default_factory=dict, compare=False, hash=False)


class Warehouse(Closing, ABC):
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

