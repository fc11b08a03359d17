"""MySQLWarehouse against the real MariaDB/MySQL server: the shared warehouse contract plus MySQL's
own concerns — VARCHAR keys and utf8mb4_bin DDL, rows sorted by primary key before LOAD DATA
(in memory, presorted, or by an external merge), and a producer that fails mid-stream.

Run: .venv/bin/pytest tests/warehouse/test_mysql.py   (needs MariaDB at 127.0.0.1:3306)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow as pa
import pymysql
import pytest

from etl_tasks.errors import LoadError
from etl_tasks.warehouse.factory import connect
from etl_tasks.warehouse.model import Column, TableSpec
from etl_tasks.warehouse.mysql import MySQLWarehouse
from tests.warehouse.contract import (
    DAY,
    Reader,
    WarehouseContract,
    events_spec,
    marker_for,
    users_spec,
    write_parquet,
)

pytestmark = pytest.mark.mysql


@pytest.fixture(scope="module")
def my_reader(mysql_url: str) -> Iterator[Reader]:
    parts = urlsplit(mysql_url)
    connection = pymysql.connect(
        host=parts.hostname,
        port=parts.port or 3306,
        user=parts.username or "root",
        password=parts.password or "",
        database=parts.path.lstrip("/"),
        charset="utf8mb4",
        autocommit=True,  # a fresh snapshot per statement: every read sees the last commit
    )

    def query(sql: str) -> list[tuple]:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return list(cursor.fetchall())

    yield Reader(query, lambda name: f"`{name}`", "mysql")
    connection.close()


class TestMySQLContract(WarehouseContract):
    """The shared contract on MariaDB/MySQL."""

    @pytest.fixture
    def url(self, mysql_url: str) -> str:
        return mysql_url

    @pytest.fixture
    def db(self, my_reader: Reader) -> Reader:
        return my_reader


def column_types(reader: Reader, table: str) -> dict[str, str]:
    return dict(
        reader.query(
            "SELECT column_name, column_type FROM information_schema.columns "
            f"WHERE table_schema = DATABASE() AND table_name = '{table}'"
        )
    )


def test_text_in_keys_is_varchar_other_text_longtext_and_tables_are_utf8mb4_bin(
    mysql_url: str, my_reader: Reader
) -> None:
    users, events = users_spec("myddl_"), events_spec("myddl_")
    with connect(mysql_url) as warehouse:
        assert isinstance(warehouse, MySQLWarehouse)
        warehouse.ensure_schema([events, users])
    types = column_types(my_reader, events.name)
    assert types["id"] == types["user_id"] == "varchar(191)"  # primary key / foreign key + index
    assert types["note"] == "longtext"
    assert types["at"] == "datetime(6)"
    assert types["flag"] == "tinyint(1)"
    assert types["amount"] == "decimal(28,8)"
    assert types["tags"] in ("json", "longtext")  # MariaDB's JSON is LONGTEXT + json_valid()
    assert column_types(my_reader, users.name)["id"] == "varchar(191)"
    tables = dict(
        my_reader.query(
            "SELECT table_name, concat(engine, ' ', table_collation) FROM information_schema.tables"
            " WHERE table_schema = DATABASE() AND table_name LIKE 'myddl\\_%'"
        )
    )
    assert tables == {users.name: "InnoDB utf8mb4_bin", events.name: "InnoDB utf8mb4_bin"}


def positions_spec(name: str) -> TableSpec:
    return TableSpec(
        name=name,
        partition_column="day",
        columns=(
            Column("fund", "text", nullable=False),
            Column("day", "date", nullable=False),
            Column("asset", "text", nullable=False),
            Column("qty", "decimal(28,8)", nullable=False),
        ),
        primary_key=("fund", "day", "asset"),
    )


def positions_file(path: Path, rows: list[tuple[str, str, str]], day: dt.date = DAY) -> Path:
    return write_parquet(
        path,
        {
            "fund": pa.array([row[0] for row in rows], pa.string()),
            "day": pa.array([day] * len(rows), pa.date32()),
            "asset": pa.array([row[1] for row in rows], pa.string()),
            "qty": pa.array([row[2] for row in rows], pa.string()).cast(pa.decimal128(28, 8)),
        },
    )


RANDOM_ORDER = [
    ("f2", "b", "1.5"), ("f1", "z", "2"), ("f3", "a", "-0.00000001"), ("f1", "a", "0"),
    ("f2", "a", "3"), ("f3", "c", "12345678901234.12345678"), ("f1", "m", "7"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("budget", "strategy"), [(256 * 2**20, "memory"), (1, "merge")], ids=["memory", "merge"]
)
def test_rows_in_api_order_are_sorted_by_key_in_memory_or_by_external_merge(
    mysql_url: str, my_reader: Reader, tmp_path: Path, budget: int, strategy: str
) -> None:
    table = positions_spec(f"mysort_{strategy}")
    source = positions_file(tmp_path / "p.parquet", RANDOM_ORDER)
    with MySQLWarehouse(mysql_url, sort_budget_bytes=budget) as warehouse:
        warehouse.batch_rows = 2  # several batches and several sorted runs from seven rows
        warehouse.ensure_schema([table])
        assert warehouse.load_partition(table, source, DAY, marker_for(table, "p")) == 7
        assert warehouse.last_sort_strategy == strategy
    rows = my_reader.query(f"SELECT fund, asset, qty FROM {table.name} ORDER BY fund, asset")
    assert rows == sorted((f, a, Decimal(q)) for f, a, q in RANDOM_ORDER)


def test_a_file_already_in_key_order_is_streamed_without_reordering(
    mysql_url: str, my_reader: Reader, tmp_path: Path
) -> None:
    table = positions_spec("mysort_presorted")
    source = positions_file(tmp_path / "p.parquet", sorted(RANDOM_ORDER))
    with MySQLWarehouse(mysql_url, sort_budget_bytes=1) as warehouse:
        warehouse.batch_rows = 2
        warehouse.ensure_schema([table])
        warehouse.load_partition(table, source, DAY, marker_for(table, "p"))
        assert warehouse.last_sort_strategy == "presorted"
    assert my_reader.query(f"SELECT count(*) FROM {table.name}") == [(7,)]


def test_a_producer_failing_mid_stream_rolls_the_load_back(
    mysql_url: str, my_reader: Reader, tmp_path: Path
) -> None:
    """Presorted and over budget: rows stream from the file during LOAD DATA, and the partition
    check fails on the last batch after the server has received the first ones."""
    table = positions_spec("mysort_midstream")
    good = positions_file(tmp_path / "good.parquet", [("f0", "a", "1")])
    rows = sorted(RANDOM_ORDER)
    bad = write_parquet(
        tmp_path / "bad.parquet",
        {
            "fund": pa.array([r[0] for r in rows]),
            "day": pa.array([DAY] * (len(rows) - 1) + [DAY + dt.timedelta(days=1)], pa.date32()),
            "asset": pa.array([r[1] for r in rows]),
            "qty": pa.array([r[2] for r in rows]).cast(pa.decimal128(28, 8)),
        },
    )
    with MySQLWarehouse(mysql_url, sort_budget_bytes=1) as warehouse:
        warehouse.batch_rows = 2
        warehouse.ensure_schema([table])
        warehouse.load_partition(table, good, DAY, marker_for(table, "good"))
        with pytest.raises(LoadError, match="1 rows whose day is not 2025-04-10"):
            warehouse.load_partition(table, bad, DAY, marker_for(table, "bad"))
        assert warehouse.is_loaded(table.name, DAY.isoformat(), "good")
    assert my_reader.query(f"SELECT fund, asset FROM {table.name}") == [("f0", "a")]


def test_text_too_long_for_a_key_column_is_refused_not_truncated(
    mysql_url: str, my_reader: Reader, tmp_path: Path
) -> None:
    table = positions_spec("mylong_key")
    source = positions_file(tmp_path / "p.parquet", [("f" * 192, "a", "1")])
    with connect(mysql_url) as warehouse:
        warehouse.ensure_schema([table])
        with pytest.raises(LoadError, match="warnings"):
            warehouse.load_partition(table, source, DAY, marker_for(table, "p"))
    assert my_reader.query(f"SELECT count(*) FROM {table.name}") == [(0,)]


def test_unreachable_server_raises_a_redacted_load_error_with_a_hint() -> None:
    url = "mysql://etl:Sup3rS3cret@127.0.0.1:1/warehouse"
    with connect(url) as warehouse, pytest.raises(LoadError) as caught:
        warehouse.missing_tables([])
    message = str(caught.value)
    assert "Sup3rS3cret" not in message
    assert "mysql://etl:***@127.0.0.1:1/warehouse" in message
    assert "WAREHOUSE_URL" in message and ".env" in message


def test_a_url_without_a_database_is_refused_with_the_expected_form() -> None:
    with (
        connect("mysql://root@127.0.0.1:3306") as warehouse,
        pytest.raises(LoadError, match="names no database"),
    ):
        warehouse.ping()
