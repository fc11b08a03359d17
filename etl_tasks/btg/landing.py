"""The raw landing directory of one report and date: what BTG sent, never overwritten.

    kept = land_files(Path("/dados/btg/carteira/2025-04-10"), {"Carteira_20250410.zip": data})

Each extract writes its files under ``<landing dir>/YYYY-MM-DD/`` (atomically). When that
directory already holds files of an earlier attempt that differ from the new ones (BTG re-sent a
corrected file, or the date was re-fetched with ``orquestrador-btg --baixar-novamente``), those
files are first moved, together, to ``anteriores/<UTC time of the move>/`` beside the new ones,
so the audit copy of every attempt survives. Identical files (a plain rerun) are left as they
are: nothing is duplicated.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from pathlib import Path

from etl_tasks.core.targets import atomic_write_bytes

PREVIOUS_DIR = "anteriores"


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def current_files(landing: Path) -> list[Path]:
    """The files of the latest attempt (top level, not hidden, not temporary)."""
    if not landing.is_dir():
        return []
    return sorted(path for path in landing.iterdir()
                  if path.is_file() and not path.name.startswith("."))


def _unchanged(existing: list[Path], files: Mapping[str, bytes]) -> bool:
    if sorted(path.name for path in existing) != sorted(files):
        return False
    return all(_digest(path) == hashlib.sha256(files[path.name]).hexdigest() for path in existing)


def keep_previous_attempt(landing: Path, files: Mapping[str, bytes]) -> Path | None:
    """Move the earlier attempt's files to ``anteriores/<stamp>/`` unless they are exactly
    ``files``; returns where they went (None when nothing moved)."""
    existing = current_files(landing)
    if not existing or _unchanged(existing, files):
        return None
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    target = landing / PREVIOUS_DIR / stamp
    target.mkdir(parents=True, exist_ok=False)
    for path in existing:
        path.rename(target / path.name)
    return target


def land_files(landing: Path, files: Mapping[str, bytes]) -> Path | None:
    """Write ``files`` as the latest attempt (earlier different files kept); returns where the
    earlier attempt was moved, if it was."""
    kept = keep_previous_attempt(landing, files)
    for name, payload in files.items():
        atomic_write_bytes(landing / name, payload)
    return kept


def previous_attempts(landing: Path) -> list[Path]:
    """Directories of earlier attempts, oldest first."""
    root = landing / PREVIOUS_DIR
    return sorted(path for path in root.iterdir() if path.is_dir()) if root.is_dir() else []
