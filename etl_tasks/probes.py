"""Set-up probes that look without creating: what ``etl-validate`` (and every command's
validation) may do to a fresh project directory is read, never write.

A directory that does not exist yet is fine when the nearest existing parent is writable (the
first run creates it); a SQLite warehouse file that does not exist yet is fine on the same terms,
and an existing one is opened read-only. Opening it read-write, as a load does, would create an
empty ``etl.db`` (and WAL files) in a directory the user only wanted to check.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from etl_tasks.warehouse.sqlite import sqlite_path


def nearest_existing(path: Path) -> Path:
    """``path`` itself or its closest ancestor that exists."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def directory_status(path: Path) -> str:
    """The directory's state, or :class:`PermissionError` / :class:`NotADirectoryError`."""
    existing = nearest_existing(path)
    if not existing.is_dir():
        raise NotADirectoryError(f"{existing} exists and is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PermissionError(f"{existing} is not writable by this user")
    if existing == path.absolute():
        return str(existing.resolve())
    return f"{path.absolute()} (not there yet: the first run creates it under {existing})"


def sqlite_status(url: str) -> str:
    """The SQLite version and the database file's state; an existing file is opened read-only."""
    path = sqlite_path(url)
    if path == ":memory:":
        return f"SQLite {sqlite3.sqlite_version}, in memory"
    database = Path(path)
    if not database.exists():
        directory_status(database.parent)  # raises when the first run could not create it
        return f"SQLite {sqlite3.sqlite_version}; no file yet: the first run creates it"
    connection = sqlite3.connect(f"{database.absolute().as_uri()}?mode=ro", uri=True)
    try:
        tables = connection.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'")
        count = tables.fetchone()[0]
    finally:
        connection.close()
    return f"SQLite {sqlite3.sqlite_version}, {count} tables"
