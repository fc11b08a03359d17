"""Dated partition targets: ``<root>/<pipeline>/<stage>/<entity>/date=YYYY-MM-DD/``.

A partition directory holds ``data.parquet`` and the ``_meta.json`` sidecar. Both are written to a
temporary name in the same directory and renamed into place, the sidecar last, so a partition is
complete exactly when its sidecar exists: a crash leaves nothing Luigi would take as done, and the
temporary files it leaves behind never block a rerun (they are swept on the next write).
A failed run leaves ``_failed.json`` instead, which the report reads and the next success removes.
What the two files hold is typed in :mod:`etl_tasks.core.sidecar`; :meth:`PartitionTarget.meta`,
``sidecar()``, ``failure()`` and ``record()`` read them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import luigi
import pyarrow as pa
import pyarrow.parquet as pq

from etl_tasks.core.sidecar import (
    FAILED_FILE,
    META_FILE,
    Failure,
    PartitionRecord,
    Sidecar,
    read_failure,
    read_partition,
    read_sidecar,
)
from etl_tasks.core.sidecar import read_json as read_json  # re-exported for report.json readers

DATA_FILE = "data.parquet"
TEMP_MARK = ".tmp-"


def partition_dir(root: Path, pipeline: str, stage: str, entity: str, date: dt.date) -> Path:
    """Directory of one dated partition."""
    return Path(root) / pipeline / stage / entity / f"date={date.isoformat()}"


def _temp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}{TEMP_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}")


def sweep_temp_files(directory: Path) -> None:
    """Remove temporaries left by a crashed writer (safe: live writers use unique names and
    a partition is written by one task at a time, which Luigi guarantees)."""
    if directory.is_dir():
        for leftover in directory.glob(f".*{TEMP_MARK}*"):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` so readers see the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = _temp_name(path)
    try:
        with open(temp, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise


def atomic_write_json(path: Path, document: dict[str, Any]) -> None:
    """Atomically write a JSON document (UTF-8, sorted keys, dates as ISO strings)."""
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    atomic_write_bytes(path, text.encode("utf-8") + b"\n")


@contextlib.contextmanager
def atomic_parquet_writer(path: Path, schema: pa.Schema) -> Iterator[pq.ParquetWriter]:
    """A ParquetWriter on a temporary file, renamed to ``path`` only if the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = _temp_name(path)
    writer = pq.ParquetWriter(temp, schema, compression="zstd")
    try:
        yield writer
        writer.close()
        os.replace(temp, path)
    except BaseException:
        writer.close()
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise


def file_sha256(path: Path, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


class PartitionTarget(luigi.Target):
    """A dated partition directory; complete when its ``_meta.json`` sidecar exists."""

    def __init__(self, directory: Path, requires_data: bool = True) -> None:
        self.directory = Path(directory)
        self.requires_data = requires_data

    @property
    def data_path(self) -> Path:
        return self.directory / DATA_FILE

    @property
    def meta_path(self) -> Path:
        return self.directory / META_FILE

    @property
    def failed_path(self) -> Path:
        return self.directory / FAILED_FILE

    def exists(self) -> bool:
        if not self.meta_path.is_file():
            return False
        return self.data_path.is_file() or not self.requires_data

    def meta(self) -> Sidecar:
        """The sidecar of a complete partition."""
        sidecar = read_sidecar(self.directory)
        if sidecar is None:
            raise FileNotFoundError(f"partition {self.directory} is not complete (no {META_FILE})")
        return sidecar

    def sidecar(self) -> Sidecar | None:
        """The sidecar, or None while the partition is not complete."""
        return read_sidecar(self.directory)

    def failure(self) -> Failure | None:
        """The record of the last failed attempt, if any."""
        return read_failure(self.directory)

    def record(self) -> PartitionRecord:
        """Sidecar and failure record together (the report's view of the partition)."""
        return read_partition(self.directory)

    def remove(self) -> None:
        """Delete the partition's files (used by forced reruns)."""
        for name in (META_FILE, DATA_FILE, FAILED_FILE):
            with contextlib.suppress(FileNotFoundError):
                (self.directory / name).unlink()
        sweep_temp_files(self.directory)
        with contextlib.suppress(OSError):
            self.directory.rmdir()

    def __repr__(self) -> str:
        return f"PartitionTarget({str(self.directory)!r})"
