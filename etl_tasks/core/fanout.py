"""Bounded concurrency with results in input order: ``ordered_map(fetch, items, workers=8)``.

A rate-limited API answering in 150 ms lets one waiting client use only part of its bucket, so
independent calls (one per broadcaster, one per batch of ids) overlap on a small thread pool while
the shared limiter decides when each may go. Results come back in the order of ``items``, so what
is written downstream is deterministic whatever order the answers arrive in, and at most
``workers * 2`` results are held at once, so memory stays bounded however long ``items`` is.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def ordered_map(
    function: Callable[[T], R], items: Iterable[T], workers: int, window: int | None = None
) -> Iterator[R]:
    """``function(item)`` for every item, on ``workers`` threads, yielded in input order.

    At most ``window`` (default ``2 * workers``) calls are submitted ahead of the consumer. The
    first exception (in input order) is raised to the consumer; calls not yet started are
    cancelled, and the generator returns only after the running ones finished.
    """
    if workers < 1:
        raise ValueError("workers must be >= 1")
    if workers == 1:
        yield from map(function, items)
        return
    ahead = max(workers, window or 2 * workers)
    source = iter(items)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fanout")
    pending: deque[Future[R]] = deque()
    try:
        for item in source:
            pending.append(pool.submit(function, item))
            if len(pending) >= ahead:
                break
        while pending:
            result = pending.popleft().result()
            following = next(source, _END)
            if following is not _END:
                pending.append(pool.submit(function, following))  # type: ignore[arg-type]
            yield result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


_END = object()
