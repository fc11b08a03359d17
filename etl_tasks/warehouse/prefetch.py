"""Run an iterator in a background thread, a bounded number of items ahead of its consumer.

A bulk load is a pipeline: read Parquet → render CSV (our process) → parse and insert (the
server). Rendered synchronously, the server would sit idle every time the client renders the next
batch: a 1 MiB pipe or socket buffer lasts ~30 ms of server work, a batch takes ~75 ms to render.
With the rendering a couple of chunks ahead in its own thread, the server always has data waiting
(Arrow releases the GIL while it computes, so the two threads really run in parallel).

Memory: at most ``depth`` items waiting, plus the one being produced and the one being consumed.
Errors raised by the producer are re-raised in the consumer, at the item where they happened.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

from etl_tasks.core.closing import Closing

T = TypeVar("T")

_ITEM, _END, _ERROR = "item", "end", "error"
_PUT_POLL_SECONDS = 0.1
_JOIN_SECONDS = 60.0


class Prefetch(Closing, Generic[T]):
    """Iterate ``items`` in a daemon thread; iterate this object to consume them in order.

    Use as a context manager (or call :meth:`close`) so an abandoned consumer stops the producer.
    """

    def __init__(self, items: Iterable[T], depth: int = 2, name: str = "prefetch") -> None:
        self._queue: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=max(depth, 1))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, args=(items,), name=name, daemon=True)
        self._thread.start()

    def _put(self, kind: str, value: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put((kind, value), timeout=_PUT_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self, items: Iterable[T]) -> None:
        try:
            for item in items:
                if not self._put(_ITEM, item):
                    return
            self._put(_END, None)
        except BaseException as error:  # re-raised in the consumer
            self._put(_ERROR, error)

    def __iter__(self) -> Iterator[T]:
        while True:
            kind, value = self._queue.get()
            if kind == _END:
                return
            if kind == _ERROR:
                assert isinstance(value, BaseException)
                raise value
            yield value  # type: ignore[misc]

    def close(self) -> None:
        """Stop the producer (it finishes the item in hand) and wait for it."""
        self._stop.set()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._thread.join(_JOIN_SECONDS)
