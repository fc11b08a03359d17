"""A Parquet file's rows in primary-key order, in bounded memory (the MySQL load path).

InnoDB stores a table as a B-tree clustered on its primary key. ``LOAD DATA`` of rows in key order
appends to the last page; rows in API order (random keys) split pages all over a tree larger than
the buffer pool, which measured 8.4x slower (DESIGN.md §5). So the MySQL loader sorts first.

How, and what it costs in memory (``n`` rows, ``budget`` bytes of Arrow memory, default 256 MiB):

* The key order: the key columns are read alone, each is dictionary-encoded and its distinct
  values sorted (dense ranks); the ranks combine into one integer per row, ordered by direct
  addressing when the key range is small (a primary key is unique), else by ``numpy.argsort``
  (``numpy.lexsort`` when the range overflows 63 bits). Memory: the key columns plus a few
  integer arrays, about ``n * (key bytes + 28)``. Meanwhile a worker thread reads the other
  columns, if they fit (next point): two cores, two jobs.
* Then one of three strategies, chosen by :class:`SortedRows`:

  * ``memory``: the other columns fit ``budget`` (estimated from the file's first rows): they
    are read once (in parallel, from a memory map, into contiguous arrays, which ``take`` reads
    twice as fast as per-row-group chunks), and rows are taken in key order a batch at a time.
    Memory: the file's Arrow size (non-key columns at most ``budget``).
  * ``presorted``: the rows already are in key order (a transform that sorts): no reordering;
    a file over budget is then streamed batch by batch. Memory: at most ``budget``, or one batch.
  * ``buckets``: an external distribution sort for a file over budget. Stream the file once,
    appending each row to the spill file of its key-rank range (Arrow IPC in a temporary
    directory), ranges sized so one bucket fits ``budget``; then read back one bucket at a time,
    in range order, and sort it in memory. Memory: one bucket (at most ``budget``) plus one batch
    and the key ranks; disk: one copy of the data.

All the reading and ordering happens in the constructor, before the caller starts ``LOAD DATA``
(the server should not wait on a connection while we read); :meth:`SortedRows.batches` then yields
ordered batches cheaply enough to run concurrently with the server's ingest. Measured on 1M
position rows (47 MiB of Parquet, 153 MiB in Arrow): 0.4 to 0.7 s before the first row is sent,
peak RSS about 490 MiB including the interpreter (``benchmarks/load_benchmark.py``).

Arrow sorts strings by bytes, which is code point order, the order of ``utf8mb4_bin`` (up to its
trailing-space padding, which changes nothing but speed).
"""

from __future__ import annotations

import math
import tempfile
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from etl_tasks.warehouse.arrow_text import decode_dictionary
from etl_tasks.warehouse.parquet_source import ParquetSource

DEFAULT_SORT_BUDGET_BYTES = 256 * 1024 * 1024
_OUTPUT_BATCH_ROWS = 32_768
_COUNTING_SORT_SPREAD = 8  # direct addressing while the key range is at most 8 slots per row
_RANK_COLUMN = "__etl_key_rank"


def dense_ranks(values: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, int]:
    """Rank of each value among the column's distinct values (0-based), and how many there are."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    encoded = pc.dictionary_encode(decode_dictionary(values))
    distinct_order = pc.sort_indices(encoded.dictionary).to_numpy()
    if not len(distinct_order):
        return np.zeros(len(values), dtype=np.int32), 1
    rank_type = np.int32 if len(distinct_order) < 2**31 else np.int64
    rank_of_distinct = np.empty(len(distinct_order), dtype=rank_type)
    rank_of_distinct[distinct_order] = np.arange(len(distinct_order), dtype=rank_type)
    # Key columns are NOT NULL in the table; a null sorts first and the database rejects the row.
    indices = pc.fill_null(encoded.indices, 0).to_numpy(zero_copy_only=False)
    return rank_of_distinct[indices], len(distinct_order)


def key_order(keys: pa.Table) -> np.ndarray:
    """Row positions of ``keys`` in ascending order of its columns (left to right), stable."""
    if keys.num_rows == 0:
        return np.zeros(0, dtype=np.int64)
    ranked = [dense_ranks(keys.column(index)) for index in range(keys.num_columns)]
    key_range = math.prod(cardinality for _, cardinality in ranked)
    if key_range < 2**63:
        combined = np.zeros(keys.num_rows, dtype=np.int64)
        for ranks, cardinality in ranked:
            combined *= cardinality
            combined += ranks
        del ranked  # the per-column ranks are no longer needed: free them before sorting
        if key_range <= _COUNTING_SORT_SPREAD * keys.num_rows:
            order = _unique_key_order(combined, key_range)
            if order is not None:
                return order
        return np.argsort(combined, kind="stable")
    # np.lexsort sorts by its last key first.
    return np.lexsort([ranks for ranks, _ in reversed(ranked)])


def _unique_key_order(combined: np.ndarray, key_range: int) -> np.ndarray | None:
    """Order of distinct integer keys in ``[0, key_range)`` by direct addressing, O(n + range):
    a primary key is unique and its dense-rank range is small, so this beats a comparison sort.
    None when keys repeat (the database will report the duplicate; argsort keeps every row)."""
    slot_type = np.int32 if len(combined) < 2**31 else np.int64  # 4 bytes a slot when possible
    slots = np.full(key_range, -1, dtype=slot_type)
    slots[combined] = np.arange(len(combined), dtype=slot_type)
    order = slots[slots >= 0].astype(np.int64)
    return order if len(order) == len(combined) else None


def _assemble(names: Sequence[str], *parts: pa.Table) -> pa.Table:
    """One table with the columns of ``parts`` in the order ``names``."""
    columns = {name: part.column(name) for part in parts for name in part.column_names}
    return pa.table([columns[name] for name in names], names=list(names))


def _single_batches(table: pa.Table) -> Iterator[pa.RecordBatch]:
    yield from table.combine_chunks().to_batches()


def _identity(rows: int) -> np.ndarray:
    return np.arange(rows, dtype=np.int64)


def _is_identity(order: np.ndarray) -> bool:
    return bool(np.all(order == _identity(len(order))))


class SortedRows:
    """The rows of ``source`` in ``key_columns`` order; strategy and memory in the module doc."""

    def __init__(
        self,
        source: ParquetSource,
        key_columns: Sequence[str],
        budget_bytes: int = DEFAULT_SORT_BUDGET_BYTES,
    ) -> None:
        self.source = source
        # Ordered batches go to the CSV writer while the table is still in memory: smaller ones
        # keep less in flight (the rows are taken from everywhere in the table anyway).
        self.batch_rows = min(source.batch_rows, _OUTPUT_BATCH_ROWS)
        self._spill: tempfile.TemporaryDirectory | None = None
        self._table: pa.Table | None = None
        self.bucket_count = 0
        keys = list(key_columns)
        others = [name for name in source.table.column_names if name not in keys]
        if not keys:  # no primary key: nothing to order by, stream the file as it is
            self._order = _identity(0)
            self.strategy = "presorted"
            return
        # Two cores, two jobs: the worker materialises the other columns (while they fit the
        # budget) as this thread orders the keys. The key columns are read first, alone: both
        # reads decode on Arrow's thread pool, and the order is what everything else waits for.
        # The worker reads through its own ParquetFile: one instance must not serve two threads.
        keys_read = threading.Event()
        with ThreadPoolExecutor(1, thread_name_prefix="keysort-read") as pool:
            rest = pool.submit(source.read_within, budget_bytes, others, keys_read)
            try:
                key_table = source.read_columns(keys)
                keys_read.set()
                self._order = key_order(key_table)
            finally:
                keys_read.set()
                other_table = rest.result()
        if other_table is not None:
            self._table = _assemble(source.table.column_names, key_table, other_table)
            source.rows_read = self._table.num_rows
        del key_table, other_table
        if _is_identity(self._order):
            self.strategy = "presorted"
        elif self._table is not None:
            self.strategy = "memory"
        else:
            self.strategy = "buckets"
            self._distribute(source.estimated_bytes + source.estimate_bytes(keys), budget_bytes)

    def _distribute(self, estimated_bytes: int, budget_bytes: int) -> None:
        """Spill every row to the file of its rank range (one streaming pass)."""
        rows = len(self._order)
        self.bucket_count = max(2, math.ceil(estimated_bytes / budget_bytes))
        bucket_rows = math.ceil(rows / self.bucket_count)
        ranks = np.empty(rows, dtype=np.int64)
        ranks[self._order] = np.arange(rows, dtype=np.int64)
        self._order = np.zeros(0, dtype=np.int64)  # no longer needed: free it before spilling
        self._spill = tempfile.TemporaryDirectory(prefix="etl-keysort-")
        writers: dict[int, pa.ipc.RecordBatchStreamWriter] = {}
        offset = 0
        try:
            for batch in self.source.batches():
                batch_ranks = ranks[offset : offset + batch.num_rows]
                offset += batch.num_rows
                buckets = batch_ranks // bucket_rows
                grouped = np.argsort(buckets, kind="stable")
                grouped_buckets = buckets[grouped]
                ordered = batch.take(pa.array(grouped)).append_column(
                    _RANK_COLUMN, pa.array(batch_ranks[grouped])
                )
                bounds = np.searchsorted(grouped_buckets, np.arange(self.bucket_count + 1))
                for bucket in np.unique(grouped_buckets):
                    start, stop = bounds[bucket], bounds[bucket + 1]
                    if bucket not in writers:
                        writers[bucket] = pa.ipc.new_stream(
                            self._bucket_path(bucket), ordered.schema
                        )
                    writers[bucket].write_batch(ordered.slice(start, stop - start))
        finally:
            for writer in writers.values():
                writer.close()

    def _bucket_path(self, bucket: int) -> Path:
        assert self._spill is not None
        return Path(self._spill.name) / f"bucket-{int(bucket):05d}.arrow"

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Record batches in key order (each at most ``batch_rows`` rows)."""
        try:
            if self.strategy == "presorted" and self._table is not None:
                yield from self._table.to_batches(max_chunksize=self.batch_rows)
            elif self.strategy == "presorted":
                yield from self.source.batches()
            elif self.strategy == "memory":
                yield from self._batches_from_memory()
            else:
                yield from self._batches_from_buckets()
        finally:
            self.close()

    def _batches_from_memory(self) -> Iterator[pa.RecordBatch]:
        assert self._table is not None
        for start in range(0, len(self._order), self.batch_rows):
            chunk = pa.array(self._order[start : start + self.batch_rows])
            yield from _single_batches(self._table.take(chunk))

    def _batches_from_buckets(self) -> Iterator[pa.RecordBatch]:
        for bucket in range(self.bucket_count):
            path = self._bucket_path(bucket)
            if not path.exists():
                continue
            with pa.ipc.open_stream(path) as reader:
                table = reader.read_all()
            path.unlink()
            order = np.argsort(table.column(_RANK_COLUMN).to_numpy(), kind="stable")
            table = table.drop_columns([_RANK_COLUMN])
            for start in range(0, len(order), self.batch_rows):
                yield from _single_batches(
                    table.take(pa.array(order[start : start + self.batch_rows]))
                )

    def close(self) -> None:
        """Free the in-memory table and delete spill files (idempotent)."""
        self._table = None
        if self._spill is not None:
            self._spill.cleanup()
            self._spill = None
