"""A transform's Parquet file as the input of a warehouse load: streamed, checked, counted.

Loads never read the whole file at once: :meth:`ParquetSource.batches` streams record batches
(``ParquetFile.iter_batches``), so memory is bounded by one batch plus the row group being decoded,
whatever the file size. Columns come out in the :class:`TableSpec` order the bulk statements name.

Checks that protect the warehouse before a byte is sent:

* every column of the table exists in the file (a transform that forgot one fails loudly instead
  of loading NULLs);
* in partition mode every row carries the partition's date in the partition column, since a row
  of another date would survive the next reload's ``DELETE ... WHERE column = date`` and double.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from etl_tasks.errors import LoadError
from etl_tasks.warehouse.arrow_text import decode_dictionary, utc_microseconds
from etl_tasks.warehouse.model import TableSpec

DEFAULT_BATCH_ROWS = 16_384  # small batches keep little in flight and start the server sooner


def count_not_equal(values: pa.Array, expected: object) -> int:
    """How many values differ from ``expected`` (nulls count as different)."""
    if not len(values):
        return 0
    equal = pc.fill_null(pc.equal(values, pa.scalar(expected, values.type)), False)
    return len(values) - pc.sum(equal.cast(pa.int64())).as_py()


class ParquetSource:
    """The Parquet file of one load, read as batches in table column order."""

    def __init__(
        self,
        path: Path,
        table: TableSpec,
        partition: dt.date | None = None,
        batch_rows: int = DEFAULT_BATCH_ROWS,
    ) -> None:
        self.path, self.table, self.batch_rows = Path(path), table, batch_rows
        # Only partition loads pin the partition column; a dimension's rows span dates.
        self.partition = partition if table.mode == "partition" else None
        if not self.path.is_file():
            raise LoadError(
                f"cannot load {table.name}: {self.path} does not exist; run the transform first"
            )
        try:
            self.file = pq.ParquetFile(self.path)
        except (OSError, pa.ArrowException) as error:
            raise LoadError(
                f"cannot load {table.name}: {self.path} is not a readable Parquet file ({error}); "
                "delete it and rerun the transform"
            ) from error
        present = set(self.file.schema_arrow.names)
        missing = [name for name in table.column_names if name not in present]
        if missing:
            raise LoadError(
                f"cannot load {table.name}: {self.path} lacks columns {missing}; the transform "
                "must write every column of the table spec"
            )
        self.num_rows: int = self.file.metadata.num_rows
        self.rows_read = 0
        self.estimated_bytes = 0  # Arrow size of the whole file, once read_within() has looked

    def close(self) -> None:
        """Close the Parquet file (idempotent)."""
        self.file.close()

    def batches(self, columns: Sequence[str] | None = None) -> Iterator[pa.RecordBatch]:
        """Record batches of ``columns`` (default: the table's), in that order, checked."""
        names = list(columns or self.table.column_names)
        self.rows_read = 0
        for batch in self.file.iter_batches(batch_size=self.batch_rows, columns=names):
            batch = batch.select(names)
            self.check_partition(batch)
            self.rows_read += batch.num_rows
            yield batch

    def read_columns(self, columns: Sequence[str]) -> pa.Table:
        """Whole columns (sort keys), decoded with Arrow's thread pool, partition-checked."""
        table = self.file.read(columns=list(columns)).select(list(columns))
        self._check_table(table)
        return table

    def read_within(
        self, budget_bytes: int, columns: Sequence[str], go: threading.Event | None = None
    ) -> pa.Table | None:
        """Whole ``columns``, checked — or None when their Arrow size, estimated from the first
        rows (:attr:`estimated_bytes`), exceeds ``budget_bytes``. ``ParquetFile.read`` decodes
        the columns in parallel into one contiguous array each (taking rows from those is twice
        as fast as from per-row-group chunks), from a memory map. Uses its own ParquetFile, so it
        may run in a thread while another reads :attr:`file`; with ``go``, the bulk read waits
        for that event (after the estimate), so two reads do not share Arrow's thread pool."""
        names = list(columns)
        self.estimated_bytes = self.estimate_bytes(names)
        if self.estimated_bytes > budget_bytes:
            return None
        if go is not None:
            go.wait()
        with pq.ParquetFile(self.path, memory_map=True) as mapped:
            table = mapped.read(columns=names).select(names)
        self._check_table(table)
        return table

    def estimate_bytes(self, columns: Sequence[str], sample_rows: int = 8192) -> int:
        """Arrow size of ``columns`` over the whole file, extrapolated from its first rows."""
        if not self.num_rows or not columns:
            return 0
        with pq.ParquetFile(self.path) as sample_file:  # own instance: callers may be threads
            rows = min(sample_rows, self.num_rows)
            sample = next(sample_file.iter_batches(batch_size=rows, columns=list(columns)))
        return int(sample.nbytes / max(sample.num_rows, 1) * self.num_rows)

    def _check_table(self, table: pa.Table) -> None:
        for batch in table.to_batches():
            self.check_partition(batch)

    def check_partition(self, batch: pa.RecordBatch) -> None:
        """Raise :class:`LoadError` when a row of ``batch`` belongs to another partition."""
        column = self.table.partition_column
        if self.partition is None or column is None or column not in batch.schema.names:
            return
        values = decode_dictionary(batch.column(column))
        if pa.types.is_timestamp(values.type):
            values = utc_microseconds(values).cast(pa.date32())
        elif pa.types.is_date64(values.type):
            values = values.cast(pa.date32())
        is_date = pa.types.is_date32(values.type)
        expected = self.partition if is_date else self.partition.isoformat()
        if not is_date and not pa.types.is_string(values.type):
            values = values.cast(pa.string())
        wrong = count_not_equal(values, expected)
        if wrong:
            raise LoadError(
                f"cannot load {self.table.name} partition {self.partition.isoformat()}: "
                f"{self.path} has {wrong} rows whose {column} is not "
                f"{self.partition.isoformat()} (or is NULL); a partition file must hold only its "
                "own date — fix the transform"
            )
