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
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from etl_tasks.errors import LoadError
from etl_tasks.warehouse.arrow_text import decode_dictionary, utc_microseconds
from etl_tasks.warehouse.model import TableSpec

DEFAULT_BATCH_ROWS = 16_384  # small batches keep little in flight and start the server sooner


def use_lean_memory_pool() -> None:
    """Make jemalloc Arrow's default memory pool for this process, unless the environment chose
    one (``ARROW_DEFAULT_MEMORY_POOL``) or this build of pyarrow lacks it.

    A load allocates and frees batch-sized buffers all the time; the default mimalloc pool keeps
    freed memory resident: the PostgreSQL load of 1M stream rows (key sort included) peaked at
    363 MiB with mimalloc and 290 MiB with jemalloc, at the same speed, and a 1M-row position
    load into MariaDB 353 against 263 MiB (mimalloc keeps the pages the reading, sorting and
    rendering threads freed in per-thread heaps). Buffers remember the pool that allocated them,
    so switching while others are alive is safe."""
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return
    try:
        pool = pa.jemalloc_memory_pool()
    except (NotImplementedError, pa.ArrowException):  # built without jemalloc
        return
    if pa.default_memory_pool().backend_name != pool.backend_name:
        pa.set_memory_pool(pool)


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
        use_lean_memory_pool()
        # Only partition loads pin the partition column; a dimension's rows span dates.
        self.partition = partition if table.mode == "partition" else None
        if not self.path.is_file():
            raise LoadError(
                f"cannot load {table.name}: {self.path} does not exist; run the transform first"
            )
        try:
            # pre_buffer=False: with the default, iter_batches buffers the whole compressed file
            # (791 MiB for 10M rows); without, it reads one column chunk at a time (flat memory).
            self.file = pq.ParquetFile(self.path, pre_buffer=False)
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
        self.scratch_directory: Path | None = None  # temporary files of this load (scratch.py)
        self._dictionary_files: dict[tuple[str, ...], pq.ParquetFile] = {}

    def close(self) -> None:
        """Close the Parquet file (idempotent)."""
        self.file.close()
        for handle in self._dictionary_files.values():
            handle.close()
        self._dictionary_files.clear()

    def repetitive_text(self, sample_rows: int = 16_384) -> list[str]:
        """The table's string columns whose first ``sample_rows`` values repeat (at most one
        distinct value in four): read as dictionaries, they decode in about half the time and take
        a third less memory, and sorting or taking them moves 4-byte indices, not strings."""
        names = [
            column.name
            for column in self.table.columns
            if pa.types.is_string(self.file.schema_arrow.field(column.name).type)
        ]
        if not names or not self.num_rows:
            return []
        sample = next(self.file.iter_batches(batch_size=sample_rows, columns=names), None)
        if sample is None or not sample.num_rows:
            return []
        limit = max(sample.num_rows // 4, 1)
        return [name for name in names if pc.count_distinct(sample.column(name)).as_py() <= limit]

    def _reader(self, dictionary: Sequence[str]) -> pq.ParquetFile:
        if not dictionary:
            return self.file
        key = tuple(dictionary)
        if key not in self._dictionary_files:
            self._dictionary_files[key] = pq.ParquetFile(
                self.path, pre_buffer=False, read_dictionary=list(key)
            )
        return self._dictionary_files[key]

    def batches(
        self,
        columns: Sequence[str] | None = None,
        threads: bool = False,
        dictionary: Sequence[str] = (),
    ) -> Iterator[pa.RecordBatch]:
        """Record batches of ``columns`` (default: the table's), in that order, checked.

        ``threads``: decode a row group's columns on Arrow's thread pool. Off by default: while
        the database ingests on the other core, parallel decoding buys nothing and holds more
        column chunks at once (measured 171 vs 209 MiB peak reading 1M stream rows).
        ``dictionary``: string columns to read dictionary-encoded (see :meth:`repetitive_text`)."""
        names = list(columns or self.table.column_names)
        self.rows_read = 0
        batches = self._reader(dictionary).iter_batches(
            batch_size=self.batch_rows, columns=names, use_threads=threads
        )
        for batch in batches:
            batch = batch.select(names)
            self.check_partition(batch)
            self.rows_read += batch.num_rows
            yield batch

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
