"""Record batches → CSV bytes, as a stream: the wire format of COPY and LOAD DATA.

Arrow's C++ CSV writer renders each batch (``pyarrow.csv.write_csv``). Its "needed" quoting style
quotes every value of a string column — whatever the content — and never quotes numbers, dates or
nulls, which is exactly what keeps the cases apart that escaping bugs usually merge:

* NULL is the unquoted ``null_token`` (PostgreSQL: nothing; MySQL: the word ``NULL``);
* the empty string is ``""`` and the text ``NULL`` is ``"NULL"``, both quoted, so never NULL;
* quotes are doubled inside quotes; tabs, newlines, CR, commas and backslashes are literal there
  (PostgreSQL CSV has no backslash escapes; MySQL is told ``ESCAPED BY ''``), so ``\\N`` is text.

:class:`ChunkReader` turns the stream into the file object ``cursor.copy_expert`` reads from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import pyarrow as pa
import pyarrow.csv as pacsv

COPY_READ_BYTES = 1 << 20  # psycopg2 asks the reader for this much per COPY data message
_WRITER_BATCH_ROWS = 8192  # rows the C++ writer converts at a time (default 1024 is slower)


def csv_options(null_token: str) -> pacsv.WriteOptions:
    """Writer options: no header, ``\\n`` line ends, strings quoted, nulls as ``null_token``."""
    return pacsv.WriteOptions(
        include_header=False,
        batch_size=_WRITER_BATCH_ROWS,
        delimiter=",",
        quoting_style="needed",
        null_string=null_token,
    )


def csv_bytes(batch: pa.RecordBatch, options: pacsv.WriteOptions) -> pa.Buffer:
    """One batch as CSV, in an Arrow buffer (no copy into a Python bytes object)."""
    sink = pa.BufferOutputStream()
    pacsv.write_csv(batch, sink, options)
    return sink.getvalue()


def csv_chunks(batches: Iterable[pa.RecordBatch], null_token: str) -> Iterator[pa.Buffer]:
    """CSV of each batch, in order."""
    options = csv_options(null_token)
    for batch in batches:
        if batch.num_rows:
            yield csv_bytes(batch, options)


class ChunkReader:
    """A read-only file object over a stream of byte chunks (what ``copy_expert`` consumes).

    ``read(n)`` returns at most ``n`` bytes and ``b""`` only at the end, so one large chunk is
    handed out in ``n``-sized slices and never copied whole."""

    def __init__(
        self,
        chunks: Iterable[pa.Buffer | bytes],
        on_read: Callable[[], None] | None = None,
        on_end: Callable[[], None] | None = None,
    ) -> None:
        self._chunks = iter(chunks)
        self._view = memoryview(b"")
        self.bytes_read = 0
        # Progress callbacks (etl_tasks.warehouse.watchdog): the driver asks for more data only
        # once the connection took the previous piece.
        self._on_read, self._on_end = on_read, on_end

    def read(self, size: int = -1) -> bytes:
        if self._on_read is not None:
            self._on_read()
        while not self._view:
            chunk = next(self._chunks, None)
            if chunk is None:
                if self._on_end is not None:
                    self._on_end()
                return b""
            self._view = memoryview(chunk)
        if size is None or size < 0:
            size = len(self._view)
        piece, self._view = self._view[:size], self._view[size:]
        self.bytes_read += len(piece)
        return piece.tobytes()
