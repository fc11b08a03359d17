"""Which BTG report chain is running right now, across ``--workers`` processes (advisory flocks).

    with chain_running(task):          # held by an extract/transform while its run() works
        ...
    side_running("rentabilidade", date)  # True while any task of that chain holds its lock

A lock is a file ``<output>/btg/_running/<date>/<TaskFamily>.lock`` locked with ``flock``: the
kernel drops it when the process dies, so a killed worker never leaves a chain "running". The
cross-check uses it to wait for the other report instead of judging it half-done.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from etl_tasks.core.stage import output_root

SIDE_FAMILIES = {
    "carteira": ("BtgExtractCarteira", "BtgTransformFundos", "BtgTransformPosicoes"),
    "rentabilidade": ("BtgExtractRentabilidade", "BtgTransformRentabilidade"),
}


def lock_path(family: str, date: dt.date) -> Path:
    return output_root() / "btg" / "_running" / date.isoformat() / f"{family}.lock"


@contextlib.contextmanager
def chain_running(family: str, date: dt.date) -> Iterator[None]:
    """Hold the running lock of ``family`` on ``date`` while the block runs."""
    path = lock_path(family, date)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the flock


def is_held(path: Path) -> bool:
    """True when another process holds the flock of ``path``."""
    if not path.is_file():
        return False
    descriptor = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)
    return False


def side_running(side: str, date: dt.date) -> bool:
    """True while a task of the ``side`` report chain of ``date`` is running in any process."""
    return any(is_held(lock_path(family, date)) for family in SIDE_FAMILIES[side])
