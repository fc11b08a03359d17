"""SQLiteWarehouse on a real SQLite file: the shared warehouse contract plus SQLite's own
concerns — URL forms and parent directories, exact decimals as text, enforced foreign keys.

Run: .venv/bin/pytest tests/warehouse/test_sqlite.py
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from etl_tasks.errors import LoadError
from etl_tasks.warehouse.factory import connect
from etl_tasks.warehouse.model import Column, TableSpec
from etl_tasks.warehouse.sqlite import SQLiteWarehouse, sqlite_path
from tests.warehouse.contract import DAY, Reader, WarehouseContract, marker_for, write_parquet


@pytest.fixture(scope="module")
def sqlite_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sqlite") / "nested" / "dirs" / "warehouse.db"


@pytest.fixture(scope="module")
def sqlite_reader(sqlite_file: Path) -> Iterator[Reader]:
    sqlite_file.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(sqlite_file, isolation_level=None)

    def query(sql: str) -> list[tuple]:
        return connection.execute(sql).fetchall()

    yield Reader(query, lambda name: f'"{name}"', "sqlite")
    connection.close()


class TestSQLiteContract(WarehouseContract):
    """The shared contract on SQLite."""

    @pytest.fixture
    def url(self, sqlite_file: Path) -> str:
        return f"sqlite:///{sqlite_file}"

    @pytest.fixture
    def db(self, sqlite_reader: Reader) -> Reader:
        return sqlite_reader


def test_urls_relative_absolute_and_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert sqlite_path("sqlite:///output/warehouse/etl.db") == "output/warehouse/etl.db"
    assert sqlite_path("sqlite:////var/data/etl.db") == "/var/data/etl.db"
    assert sqlite_path("sqlite:///:memory:") == ":memory:"
    for bad in ("sqlite://", "sqlite:///", "postgresql://x/y"):
        with pytest.raises(LoadError, match=r"sqlite:///relative/path\.db"):
            sqlite_path(bad)
    monkeypatch.chdir(tmp_path)
    with connect("sqlite:///a/b/rel.db") as warehouse:
        assert isinstance(warehouse, SQLiteWarehouse)
        warehouse.ensure_schema([])
    assert (tmp_path / "a" / "b" / "rel.db").is_file()
    with connect("sqlite:///:memory:") as warehouse:
        assert warehouse.missing_tables([]) == ["etl_load_audit"]


def test_decimals_are_exact_text_and_types_are_sqlite_affinities(tmp_path: Path) -> None:
    table = TableSpec(
        name="amounts",
        partition_column="day",
        columns=(
            Column("day", "date", False),
            Column("id", "integer", False),
            Column("qty", "decimal(28,8)"),
            Column("flag", "boolean"),
            Column("at", "timestamp"),
        ),
        primary_key=("day", "id"),
    )
    values = ["12345678901234.12345678", "-0.00000001", "0", "0.0000001", None]
    source = write_parquet(
        tmp_path / "a.parquet",
        {
            "day": pa.array([DAY] * 5, pa.date32()),
            "id": pa.array(range(5), pa.int32()),
            "qty": pa.array([Decimal(v) if v else None for v in values], pa.decimal128(28, 8)),
            "flag": pa.array([True, False, None, True, False]),
            "at": pa.array([None] * 5, pa.timestamp("us", "UTC")),
        },
    )
    url = f"sqlite:///{tmp_path / 'w.db'}"
    with connect(url) as warehouse:
        warehouse.ensure_schema([table])
        warehouse.load_partition(table, source, DAY, marker_for(table, "a"))
    connection = sqlite3.connect(tmp_path / "w.db")
    rows = connection.execute(
        "SELECT qty, typeof(qty), flag, typeof(day) FROM amounts ORDER BY id"
    ).fetchall()
    assert [row[0] for row in rows] == [
        "12345678901234.12345678",
        "-0.00000001",
        "0.00000000",
        "0.00000010",
        None,
    ]
    assert {row[1] for row in rows[:4]} == {"text"} and {row[3] for row in rows} == {"text"}
    assert [row[2] for row in rows] == [1, 0, None, 1, 0]
    assert connection.execute("PRAGMA foreign_keys").fetchone() == (0,)  # off by default...
    connection.close()
    with connect(url) as warehouse:  # ...but on in every warehouse connection
        assert warehouse.connection().execute("PRAGMA foreign_keys").fetchone() == (1,)


def test_an_unusable_path_raises_a_load_error_with_a_hint(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with connect(f"sqlite:///{blocker}/sub/w.db") as warehouse, pytest.raises(LoadError) as caught:
        warehouse.ping()
    assert "WAREHOUSE_URL" in str(caught.value)
