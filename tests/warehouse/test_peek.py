"""The no-op rerun's look at a warehouse (etl_tasks.warehouse.peek) sees what the backends see:
the same tables and the same load markers, on SQLite, PostgreSQL and MariaDB/MySQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from etl_tasks.warehouse.factory import connect
from etl_tasks.warehouse.interface import LoadMarker
from etl_tasks.warehouse.peek import AUDIT_TABLE, peek

PARTITION = "2025-04-10"


@pytest.fixture(params=["sqlite", "postgres", "mysql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'warehouse.db'}"
    return request.getfixturevalue("pg_url" if request.param == "postgres" else "mysql_url")


def test_peek_reads_the_tables_and_markers_the_backend_reads(url: str) -> None:
    table = "peek_probe"
    with connect(url) as warehouse:
        warehouse.ensure_schema([])  # the audit table
        with warehouse._transaction(write=True) as cursor:
            warehouse._write_marker(cursor, LoadMarker("T(1)", table, PARTITION, "ab" * 32), 3)
        expected = {
            (m["table_name"], str(m["partition_key"])): m["sha256"]
            for m in warehouse.markers(PARTITION)
        }
        with warehouse._transaction() as cursor:
            tables = warehouse._existing_tables(cursor)

    seen = peek(url, [PARTITION, "1999-01-01"])

    assert seen.markers == expected and seen.markers[(table, PARTITION)] == "ab" * 32
    assert seen.tables == tables and AUDIT_TABLE in seen.tables
    assert peek(url, ["1999-01-01"]).markers == {}


def test_a_sqlite_file_that_does_not_exist_is_empty_and_not_created(tmp_path: Path) -> None:
    path = tmp_path / "absent" / "warehouse.db"
    seen = peek(f"sqlite:///{path}", [PARTITION])
    assert seen.tables == set() and seen.markers == {}
    assert not path.exists() and not path.parent.exists()


def test_an_unreachable_server_raises(tmp_path: Path) -> None:
    with pytest.raises(Exception):  # noqa: B017  (any error: the caller runs the full check)
        peek("postgresql://nobody@127.0.0.1:1/none", [PARTITION])
