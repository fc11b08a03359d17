"""A Parquet file's rows in primary-key order, in bounded memory at any size (every SQL load path).

InnoDB stores a table as a B-tree clustered on its primary key. ``LOAD DATA`` of rows in key order
appends to the last page; rows in API order (random keys) split pages all over a tree larger than
the buffer pool, which measured 8.4x slower (DESIGN.md §5). So the MySQL loader sorts first. The
PostgreSQL primary-key index is a B-tree too: a binary COPY of 1M stream rows in key order cost
the server half the time it took in API order, so that loader sorts as well, and so does SQLite's.

An external merge sort whose memory is set by ``budget`` (bytes of Arrow data, the setting
``[warehouse] sort_budget_mib``; default measured by ``benchmarks/load_benchmark.py``):

1. **Presorted?** The key columns alone are streamed once and checked batch by batch (a transform
   that sorts needs no reordering): then the file is streamed as it is at load time.
2. **Runs.** Otherwise the file is streamed in record batches; batches accumulate until they hold
   ``budget / 2`` bytes (the other half is for ordering them: the key ranks and one taken batch),
   are put in key order (:func:`key_order`: dense ranks of each key column combined into one
   integer, ordered by direct addressing or ``argsort``) and written as a sorted run (Arrow IPC)
   to a private spill directory under the load's scratch directory. The last run stays in
   memory; a file that fits one run never touches the disk (strategy ``memory``).
   Text columns whose values repeat (:meth:`ParquetSource.repetitive_text`: fund codes, sections,
   issuers) are read dictionary-encoded and stay so up to the CSV writer: Parquet hands its
   dictionary pages over instead of materialising every string (decoding 1M position rows
   measured 0.3-0.6 s instead of 0.7-0.9 s, 98 instead of 154 MiB), ranking a key column sorts
   its dictionary, not a hash of every row, and ordering a run moves 4-byte indices. This is the
   time before ``LOAD DATA`` gets its first row, when the server has nothing to do: it halved
   (1M rows, same machine, interleaved: 1.2-3.3 s against 2.6-5.5 s).
3. **Merge** (strategy ``merge``), while ``LOAD DATA`` ingests: every run is read back one batch at
   a time. Each step takes the smallest of the runs' last buffered keys as a bound; the rows at or
   below it, in every run's buffer, are a prefix of each (found by binary search), and together
   they are exactly the next rows of the output: they are ordered with :func:`key_order` and sent.
   Every run's buffer is then topped up to at least half a batch, so the bound lies that far
   ahead in every run and a step sends about half a batch of each run (refilling only the run
   whose buffer ran out made a step send one batch however many runs there were, each step
   searching them all: 10M stream rows, 76 runs, took minutes of CPU to merge). Memory: the
   last run, at most two batches per run and one merged step — whatever the file's size; no
   per-row rank of the whole file is ever held. Disk: one copy of the data.

Arrow orders strings by bytes, which is code point order — Python's order for ``str`` (the binary
search compares key tuples in Python) and the order of ``utf8mb4_bin`` (up to its trailing-space
padding, which changes nothing but speed). Key columns are NOT NULL in the table, so a NULL key is
refused before anything is sent.
"""

from __future__ import annotations

import contextlib
import math
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from etl_tasks.errors import LoadError
from etl_tasks.warehouse.parquet_source import ParquetSource
from etl_tasks.warehouse.prefetch import Prefetch

DEFAULT_SORT_BUDGET_BYTES = 64 * 1024 * 1024
_OUTPUT_BATCH_ROWS = 32_768
_COUNTING_SORT_SPREAD = 8  # direct addressing while the key range is at most 8 slots per row
_MIN_RUN_BYTES = 1  # tests use a budget of 1 byte: every batch is a run
_MIN_SPILL_BATCH_ROWS = 256
_READ_AHEAD = 4  # batches decoded ahead of the run being sorted


def dense_ranks(values: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, int]:
    """Rank of each value among the column's distinct values (0-based), and how many there are.

    A dictionary-encoded column is ranked through its dictionary (a few thousand values, not a
    hash of every row); a dictionary's unused or repeated entries only leave gaps or ties."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_dictionary(values.type):
        dictionary, indices = values.dictionary, values.indices
        if not len(dictionary):
            return np.zeros(len(values), dtype=np.int32), 1
        # Dense ranks start at 1: equal dictionary values share one.
        rank_of_entry = pc.rank(dictionary, "ascending", tiebreaker="dense").to_numpy()
        rank_type = np.int32 if len(dictionary) < 2**31 else np.int64
        rank_of_entry = (rank_of_entry - 1).astype(rank_type)
        cardinality = int(rank_of_entry.max()) + 1
    else:
        encoded = pc.dictionary_encode(values)
        distinct_order = pc.sort_indices(encoded.dictionary).to_numpy()
        if not len(distinct_order):
            return np.zeros(len(values), dtype=np.int32), 1
        rank_type = np.int32 if len(distinct_order) < 2**31 else np.int64
        rank_of_entry = np.empty(len(distinct_order), dtype=rank_type)
        rank_of_entry[distinct_order] = np.arange(len(distinct_order), dtype=rank_type)
        cardinality, indices = len(distinct_order), encoded.indices
    # Key columns are NOT NULL in the table; a null sorts first and the database rejects the row.
    return rank_of_entry[pc.fill_null(indices, 0).to_numpy(zero_copy_only=False)], cardinality


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
        else:
            order = _distinct_argsort(combined)
        return order if order is not None else np.argsort(combined, kind="stable")
    # np.lexsort sorts by its last key first.
    return np.lexsort([ranks for ranks, _ in reversed(ranked)])


def _distinct_argsort(combined: np.ndarray) -> np.ndarray | None:
    """``argsort`` by numpy's unstable (SIMD) sort, about twice as fast as the stable one; the
    order is the stable one when no key repeats (a primary key), which is checked. None when keys
    repeat."""
    order = np.argsort(combined)
    ordered = combined[order]
    return None if bool(np.any(ordered[1:] == ordered[:-1])) else order


def _unique_key_order(combined: np.ndarray, key_range: int) -> np.ndarray | None:
    """Order of distinct integer keys in ``[0, key_range)`` by direct addressing, O(n + range):
    a primary key is unique and its dense-rank range is small, so this beats a comparison sort.
    None when keys repeat (the database will report the duplicate; argsort keeps every row)."""
    slot_type = np.int32 if len(combined) < 2**31 else np.int64  # 4 bytes a slot when possible
    slots = np.full(key_range, -1, dtype=slot_type)
    slots[combined] = np.arange(len(combined), dtype=slot_type)
    order = slots[slots >= 0].astype(np.int64)
    return order if len(order) == len(combined) else None


def _identity(rows: int) -> np.ndarray:
    return np.arange(rows, dtype=np.int64)


def _is_identity(order: np.ndarray) -> bool:
    return bool(np.all(order == _identity(len(order))))


def _key_at(batch: pa.RecordBatch | pa.Table, keys: Sequence[str], row: int) -> tuple:
    return tuple(batch.column(name)[row].as_py() for name in keys)


def _rows_up_to(batch: pa.RecordBatch, keys: Sequence[str], bound: tuple) -> int:
    """How many leading rows of the key-ordered ``batch`` have a key <= ``bound``."""
    low, high = 0, batch.num_rows
    while low < high:
        middle = (low + high) // 2
        if _key_at(batch, keys, middle) <= bound:
            low = middle + 1
        else:
            high = middle
    return low


def _take_batches(table: pa.Table, order: np.ndarray, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """The rows of ``table`` in ``order``, as contiguous batches of at most ``batch_rows``."""
    for start in range(0, len(order), batch_rows):
        taken = table.take(pa.array(order[start : start + batch_rows])).combine_chunks()
        yield from taken.to_batches()


class SortedRows:
    """The rows of ``source`` in ``key_columns`` order; strategy and memory in the module doc."""

    def __init__(
        self,
        source: ParquetSource,
        key_columns: Sequence[str],
        budget_bytes: int = DEFAULT_SORT_BUDGET_BYTES,
        spill_root: Path | None = None,
    ) -> None:
        self.source = source
        self.keys = list(key_columns)
        self.batch_rows = min(source.batch_rows, _OUTPUT_BATCH_ROWS)
        self.run_bytes = max(budget_bytes // 2, _MIN_RUN_BYTES)
        self.spill_root = spill_root
        self.spill_directory: Path | None = None
        self.run_count = 0  # sorted runs written to disk
        self._runs: list[Path] = []
        self._last: tuple[pa.Table, np.ndarray] | None = None  # the run kept in memory
        if not self.keys or self._presorted():
            self.strategy = "presorted"
            return
        self._make_runs()
        self.strategy = "merge" if self._runs else "memory"

    def _check_keys(self, batch: pa.RecordBatch) -> None:
        for name in self.keys:
            nulls = batch.column(name).null_count
            if nulls:
                raise LoadError(
                    f"{self.source.path} has {nulls} rows with NULL in the primary-key column "
                    f"{name} of {self.source.table.name}; key columns are NOT NULL — fix the "
                    "transform"
                )

    def _presorted(self) -> bool:
        """True when the rows already are in key order (one streaming pass over the keys)."""
        previous: tuple | None = None
        for batch in self.source.batches(self.keys, threads=True):
            if not batch.num_rows:
                continue
            self._check_keys(batch)
            if previous is not None and _key_at(batch, self.keys, 0) < previous:
                return False
            if not _is_identity(key_order(pa.Table.from_batches([batch]))):
                return False
            previous = _key_at(batch, self.keys, batch.num_rows - 1)
        return True

    def _make_runs(self) -> None:
        """Stream the file into sorted runs: spilled to disk, except the last."""
        pending: list[pa.RecordBatch] = []
        pending_bytes = 0
        # The server waits for the first sorted row: use both cores. A thread decodes the next
        # batches (Arrow releases the GIL) while this one orders and spills the previous run.
        batches = self.source.batches(threads=True, dictionary=self.source.repetitive_text())
        with Prefetch(batches, _READ_AHEAD, "keysort-read") as batches:
            for batch in batches:
                self._check_keys(batch)  # the merge compares keys as Python values
                pending.append(batch)
                pending_bytes += batch.nbytes
                if pending_bytes >= self.run_bytes:
                    self._spill(self._sorted(pending))
                    pending, pending_bytes = [], 0
        self._last = self._sorted(pending)

    def _sorted(self, batches: list[pa.RecordBatch]) -> tuple[pa.Table, np.ndarray]:
        if not batches:
            empty = self.source.file.schema_arrow.empty_table()
            return empty.select(self.source.table.column_names), _identity(0)
        # Contiguous columns: ``take`` from one chunk measured twice as fast as from many.
        table = pa.Table.from_batches(batches).combine_chunks()
        batches.clear()  # the caller's list: free the chunks now, not after the sort
        return table, key_order(table.select(self.keys))

    def _spill_batch_rows(self, table: pa.Table) -> int:
        """Rows per batch of a spilled run, so that one batch of every run (what the merge
        buffers) takes about a quarter of the budget, however many runs the file needs."""
        row_bytes = max(table.nbytes / max(table.num_rows, 1), 1.0)
        expected_runs = max(math.ceil(row_bytes * self.source.num_rows / self.run_bytes), 2)
        rows = int(self.run_bytes / 2 / expected_runs / row_bytes)
        return max(_MIN_SPILL_BATCH_ROWS, min(rows, self.batch_rows))

    def _spill(self, run: tuple[pa.Table, np.ndarray]) -> None:
        table, order = run
        if self.spill_directory is None:
            if self.spill_root is not None:
                self.spill_root.mkdir(parents=True, exist_ok=True)
            self.spill_directory = Path(tempfile.mkdtemp(prefix="keysort-", dir=self.spill_root))
        path = self.spill_directory / f"run-{len(self._runs):05d}.arrow"
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
            for batch in _take_batches(table, order, self._spill_batch_rows(table)):
                writer.write_batch(batch)
        self._runs.append(path)
        self.run_count = len(self._runs)

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Record batches in key order (each at most ``batch_rows`` rows)."""
        try:
            if self.strategy == "presorted":
                yield from self.source.batches()
            elif self.strategy == "memory":
                assert self._last is not None
                table, order = self._last
                self._last = None
                yield from _take_batches(table, order, self.batch_rows)
            else:
                yield from self._merged()
        finally:
            self.close()

    def _run_batches(self, path: Path) -> Iterator[pa.RecordBatch]:
        with pa.OSFile(str(path), "rb") as handle, pa.ipc.open_stream(handle) as reader:
            yield from reader
        path.unlink(missing_ok=True)

    def _merged(self) -> Iterator[pa.RecordBatch]:
        assert self._last is not None
        table, order = self._last
        self._last = None
        sources: list[Iterator[pa.RecordBatch]] = [self._run_batches(path) for path in self._runs]
        sources.append(_take_batches(table, order, self.batch_rows))
        yield from self._merge(sources)

    def _merge(self, sources: list[Iterator[pa.RecordBatch]]) -> Iterator[pa.RecordBatch]:
        """The key-ordered merge of ``sources``, each a stream of key-ordered batches."""
        heads: list[list[Any]] = []  # [run, its buffered rows not yet sent, its last batch's rows]
        for run in sources:
            self._top_up(heads, run, None, 0)
        while len(heads) > 1:
            bound = min(_key_at(buffer, self.keys, buffer.num_rows - 1) for _, buffer, _ in heads)
            parts = []
            for head in heads:
                count = _rows_up_to(head[1], self.keys, bound)
                if count:
                    parts.append(head[1].slice(0, count))
                    head[1] = head[1].slice(count)
            step = pa.Table.from_batches(parts).combine_chunks()
            yield from _take_batches(step, key_order(step.select(self.keys)), self.batch_rows)
            current, heads = heads, []
            for run, buffer, size in current:
                self._top_up(heads, run, buffer, size)
        for run, buffer, _ in heads:  # one run left: the rest of it is in order
            for start in range(0, buffer.num_rows, self.batch_rows):
                yield buffer.slice(start, self.batch_rows)
            yield from run

    @staticmethod
    def _top_up(
        heads: list[list[Any]], run: Iterator[pa.RecordBatch], buffer: Any, size: int
    ) -> None:
        """Keep ``run`` among ``heads`` with at least half a batch buffered, unless it is used up.

        Why not refill only an empty buffer: a step sends the rows up to the smallest last key
        buffered, so it would send about one batch while searching every run (10M stream rows,
        76 runs: 43 s of CPU even merged in groups). With every buffer kept at half a batch or
        more, the bound lies that far ahead in every run and a step sends about a batch of each."""
        while buffer is None or buffer.num_rows * 2 < max(size, 1):
            batch = next(run, None)
            if batch is None:
                break
            size = batch.num_rows
            buffer = (
                batch
                if buffer is None or not buffer.num_rows
                else pa.concat_batches([buffer, batch])
            )
        if buffer is not None and buffer.num_rows:
            heads.append([run, buffer, size])

    def close(self) -> None:
        """Free the in-memory run and delete the spill files (idempotent)."""
        self._last = None
        if self.spill_directory is not None:
            for path in self._runs:
                path.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                self.spill_directory.rmdir()
            self.spill_directory = None
