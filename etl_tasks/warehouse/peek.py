"""A read-only look at one warehouse without the loaders: which tables exist, which load markers.

    seen = peek("sqlite:///output/warehouse/etl.db", ["2025-04-10"])
    seen.tables            # {"etl_load_audit", "twitch_streams", ...}
    seen.markers           # {("twitch_streams", "2025-04-10"): "<sha256 of the loaded file>"}

The no-op rerun (:mod:`etl_tasks.ops.noop`) asks this before it answers "nothing to do", so it must
not import what a load needs (Arrow, the backends): only the database driver of the URL's scheme
(``sqlite3``, ``psycopg2``, ``pymysql``), with the same queries the backends use for
``missing_tables`` and ``markers`` (``information_schema.tables`` of the current schema /
database, ``sqlite_master``; ``etl_load_audit``). A SQLite file that does not exist is an empty
warehouse and is not created by looking at it. Any error is raised: the caller treats it as "not
known to be complete", never as loaded.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from etl_tasks.errors import LoadError
from etl_tasks.warehouse.factory import BACKENDS

AUDIT_TABLE = "etl_load_audit"
URL_HINT = (
    "Is the server running and the URL right? Check <PIPELINE>_WAREHOUSE_URL / WAREHOUSE_URL "
    "in .env"
)
SQLITE_PREFIX = "sqlite:///"
CONNECT_TIMEOUT_S = 10
READ_TIMEOUT_S = 60


@dataclass
class Peek:
    """Tables of one warehouse and the load markers of the partitions asked for."""

    tables: set[str] = field(default_factory=set)
    markers: dict[tuple[str, str], str] = field(default_factory=dict)  # (table, partition) -> sha


def sqlite_path(url: str) -> str:
    """The database path of a ``sqlite:///`` URL (``:memory:`` kept as is)."""
    if not url.lower().startswith(SQLITE_PREFIX) or len(url) == len(SQLITE_PREFIX):
        raise LoadError(
            f"{url!r} is not a SQLite URL: use sqlite:///relative/path.db or "
            f"sqlite:////absolute/path.db. {URL_HINT}"
        )
    return url[len(SQLITE_PREFIX) :]


def absent_sqlite_file(url: str) -> bool:
    """True for a ``sqlite:///`` URL whose database file does not exist (nothing loaded yet)."""
    if not url.lower().startswith(SQLITE_PREFIX) or url.endswith(":memory:"):
        return False
    return not Path(url[len(SQLITE_PREFIX) :]).exists()


def mysql_address(url: str) -> dict[str, Any]:
    """``pymysql.connect`` arguments naming the server, account and database of a mysql:// URL."""
    parts = urlsplit(url)
    database = unquote(parts.path.lstrip("/"))
    if not database:
        raise LoadError(
            "the MySQL warehouse URL names no database: use "
            "mysql://user:password@host:port/database. " + URL_HINT
        )
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 3306,
        "user": unquote(parts.username or "root"),
        "password": unquote(parts.password or ""),
        "database": database,
    }


def _backend(url: str) -> str:
    """``sqlite`` / ``postgres`` / ``mysql``: the backend module serving the URL's scheme."""
    scheme = url.split(":", 1)[0].lower()
    if scheme not in BACKENDS:
        raise LoadError(f"unsupported warehouse URL scheme {scheme!r}")
    return BACKENDS[scheme].split(":")[0].rsplit(".", 1)[-1]


def _connect(url: str) -> tuple[Any, str, str]:
    """(DB-API connection, the query listing its tables, its placeholder)."""
    backend = _backend(url)
    if backend == "sqlite":
        connection = sqlite3.connect(sqlite_path(url), timeout=30.0)
        return connection, "SELECT name FROM sqlite_master WHERE type = 'table'", "?"
    if backend == "postgres":
        import psycopg2

        connection = psycopg2.connect(
            url.replace("postgres://", "postgresql://", 1),
            connect_timeout=CONNECT_TIMEOUT_S,
            application_name="etl_tasks",
        )
        tables = (
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
        return connection, tables, "%s"
    import pymysql

    connection = pymysql.connect(
        **mysql_address(url),
        charset="utf8mb4",
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
    )
    tables = "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()"
    return connection, tables, "%s"


def peek(url: str, partitions: Sequence[str]) -> Peek:
    """The tables of ``url`` and its load markers of ``partitions`` (one short read-only
    connection); raises when the warehouse cannot be read."""
    seen = Peek()
    if absent_sqlite_file(url):
        return seen
    connection, list_tables, placeholder = _connect(url)
    try:
        cursor = connection.cursor()
        cursor.execute(list_tables)
        seen.tables = {str(row[0]) for row in cursor.fetchall()}
        wanted = sorted(set(partitions))
        if AUDIT_TABLE in seen.tables and wanted:
            marks = ", ".join([placeholder] * len(wanted))
            cursor.execute(
                f"SELECT table_name, partition_key, sha256 FROM {AUDIT_TABLE} "
                f"WHERE partition_key IN ({marks})",
                tuple(wanted),
            )
            seen.markers = {(str(t), str(p)): str(sha) for t, p, sha in cursor.fetchall()}
        cursor.close()
    finally:
        connection.close()
    return seen
