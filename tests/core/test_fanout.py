"""ordered_map: bounded concurrency, results in input order, first error raised."""

from __future__ import annotations

import threading
import time

import pytest

from etl_tasks.core.fanout import ordered_map


def test_results_keep_input_order_whatever_order_they_finish_in():
    def slow_for_small(n: int) -> int:
        time.sleep(0.002 * (10 - n % 10))  # early items finish last
        return n * n

    assert list(ordered_map(slow_for_small, range(40), workers=4)) == [n * n for n in range(40)]


def test_calls_overlap_but_never_exceed_the_worker_count():
    lock = threading.Lock()
    running = peak = 0

    def work(n: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.01)
        with lock:
            running -= 1
        return n

    assert list(ordered_map(work, range(30), workers=3)) == list(range(30))
    assert 1 < peak <= 3


def test_items_are_consumed_lazily_within_the_window():
    taken: list[int] = []

    def source():
        for n in range(1000):
            taken.append(n)
            yield n

    results = ordered_map(lambda n: n, source(), workers=2, window=4)
    assert next(results) == 0
    assert len(taken) <= 6
    results.close()


def test_the_first_error_in_input_order_reaches_the_consumer():
    def fail_on_five(n: int) -> int:
        if n == 5:
            raise ValueError("five")
        return n

    seen = []
    with pytest.raises(ValueError, match="five"):
        for value in ordered_map(fail_on_five, range(100), workers=4):
            seen.append(value)
    assert seen == [0, 1, 2, 3, 4]


def test_workers_must_be_positive():
    with pytest.raises(ValueError):
        list(ordered_map(lambda n: n, [1], workers=0))
