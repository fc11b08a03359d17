"""Where a load keeps its named pipes and spill files: under the run's own output directory.

A load's temporary files (the FIFO that feeds ``LOAD DATA LOCAL``, the key sort's sorted runs) live
in ``<directory of the Parquet file>/.etl-scratch/<table>-<pid>-<random>/``, never in ``/tmp``: a
process killed mid-load (``kill -9``, OOM, a reboot) cannot clean up after itself, and what it
leaves must be found and removed by the next run of the same deployment instead of accumulating
in a shared directory forever. Two deployments on one machine therefore never see each other's
files.

:func:`load_scratch` is called at the start of every load: it removes what earlier loads of the
same table left (a partition is loaded by one task at a time, which Luigi guarantees) and the
directories of processes that no longer exist, then creates this load's own directory. If the
output directory is not writable, the system temporary directory is used instead.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from pathlib import Path

SCRATCH_DIRECTORY = ".etl-scratch"


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: leave its files alone
    return True


def _owner(entry: Path) -> tuple[str, int] | None:
    """(table, pid) from ``<table>-<pid>-<random>``, or None for a foreign name."""
    parts = entry.name.rsplit("-", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1])


def remove_stale(root: Path, table: str) -> int:
    """Remove leftovers of earlier loads of ``table`` and of dead processes; returns how many."""
    removed = 0
    if not root.is_dir():
        return 0
    for entry in root.iterdir():
        owner = _owner(entry)
        if owner is None:
            continue
        owner_table, pid = owner
        if (owner_table == table and pid != os.getpid()) or not _pid_alive(pid):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
            removed += 1
    return removed


def load_scratch(parquet_path: Path, table: str) -> Path:
    """A fresh private directory for one load of ``table`` (stale ones removed first)."""
    root = Path(parquet_path).resolve().parent / SCRATCH_DIRECTORY
    try:
        root.mkdir(exist_ok=True)
        remove_stale(root, table)
        directory = root / f"{table}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        directory.mkdir(mode=0o700)
    except OSError:
        directory = Path(tempfile.mkdtemp(prefix=f"etl-load-{table}-"))
    return directory


def remove_scratch(directory: Path) -> None:
    """Remove a load's scratch directory, and the scratch root too once nothing else is in it
    (a partition directory keeps only its own files after a successful load)."""
    shutil.rmtree(directory, ignore_errors=True)
    if directory.parent.name == SCRATCH_DIRECTORY:
        with contextlib.suppress(OSError):
            directory.parent.rmdir()  # fails while another load's directory is there
