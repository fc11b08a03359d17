"""Feed a stream of byte chunks to a driver that insists on reading a file by name.

``LOAD DATA LOCAL INFILE`` makes the server ask the client for a file *name*, which pymysql then
opens and streams. Writing the whole CSV to a temporary file first would serialise the work:
render everything, then let the server ingest. A named pipe (FIFO) in a private directory under
the load's scratch directory lets a producer thread render and write while the driver reads and
the server ingests on the other core, so the load costs little more than the server's own
time (DESIGN.md §5). Where FIFOs do not exist (Windows) the chunks are written to a temporary
file first.

Failure handling, the part that makes a pipe safe to use:

* the producer opens the FIFO without blocking and retries until a reader appears or the feed is
  closed, so a statement that fails before opening the file cannot leave a thread stuck;
* if the reader goes away (driver error), the producer's next write fails with EPIPE and it ends;
* if the producer fails, it closes the pipe (the server sees a short file) and :meth:`finish`
  re-raises its error, so the caller rolls the transaction back instead of committing a part.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path

from etl_tasks.core.closing import Closing

_OPEN_POLL_SECONDS = 0.002
_PIPE_BYTES = 1 << 20  # a larger pipe buffer means fewer wake-ups of reader and writer
_JOIN_SECONDS = 60.0


class PipeFeed(Closing):
    """Context manager: ``path`` is readable once, yielding the concatenated ``chunks``."""

    def __init__(
        self,
        chunks: Iterable[bytes | memoryview | object],
        prefix: str = "etl-feed-",
        directory: Path | None = None,
    ):
        self._chunks = chunks
        # ``directory``: the load's scratch directory (etl_tasks.warehouse.scratch), so a killed
        # process leaves its FIFO where the next run removes it, not in /tmp forever.
        self._directory = Path(tempfile.mkdtemp(prefix=prefix, dir=directory))
        self.path = str(self._directory / "rows.csv")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.bytes_written = 0
        self.uses_fifo = hasattr(os, "mkfifo")

    def __enter__(self) -> PipeFeed:
        if self.uses_fifo:
            os.mkfifo(self.path, 0o600)
            self._thread = threading.Thread(target=self._produce, name="pipe-feed", daemon=True)
            self._thread.start()
        else:
            with open(self.path, "wb") as handle:
                for chunk in self._chunks:
                    self.bytes_written += handle.write(chunk)
        return self

    def _open_writer(self) -> int | None:
        while not self._stop.is_set():
            try:
                return os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as error:
                if error.errno != errno.ENXIO:  # ENXIO: no reader has opened the FIFO yet
                    raise
            self._stop.wait(_OPEN_POLL_SECONDS)
        return None

    def _produce(self) -> None:
        try:
            descriptor = self._open_writer()
            if descriptor is None:
                return
            os.set_blocking(descriptor, True)
            with contextlib.suppress(AttributeError, OSError):
                import fcntl

                fcntl.fcntl(descriptor, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
            with open(descriptor, "wb") as pipe:
                for chunk in self._chunks:
                    if self._stop.is_set():
                        return
                    self.bytes_written += pipe.write(chunk)
        except BaseException as error:  # handed to the caller by finish()
            self.error = error

    def finish(self) -> None:
        """Wait for the producer to finish and re-raise its error, if any."""
        if self._thread is not None:
            self._thread.join(_JOIN_SECONDS)
            if self._thread.is_alive():
                raise TimeoutError("the pipe feed producer did not finish after the reader did")
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        """Stop the producer and remove the pipe's directory (the ``with`` block is over)."""
        self._stop.set()
        if self._thread is not None and self._thread.is_alive():
            # A producer blocked on a full pipe whose reader is gone gets EPIPE; one that never
            # met a reader sees the stop flag within a poll interval.
            self._thread.join(_JOIN_SECONDS)
        shutil.rmtree(self._directory, ignore_errors=True)
