"""A network partition in the middle of a bulk load, on both server warehouses (issue 12 item 2).

The warehouse is reached through :class:`etl_sandbox.tcp_freeze.FreezeProxy` on 127.0.0.1, which
freezes the connection after the ``COPY`` / ``LOAD DATA`` statement and the first megabyte of
rows: both sockets stay open and nothing moves, what a dropped route looks like. The load must
end with a LoadError naming the warehouse and the limit that fired (instead of hanging until
pytest-timeout), the partition must keep its previous rows and marker, and once the proxy heals
a plain rerun must load everything. The seconds to the clean failure are printed (run with
``-s``; the README's load section quotes them).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pyarrow as pa
import pytest

from etl_sandbox.tcp_freeze import FreezeProxy
from etl_tasks.errors import LoadError
from etl_tasks.warehouse.model import Column, TableSpec
from etl_tasks.warehouse.mysql import MySQLWarehouse
from etl_tasks.warehouse.postgres import PostgresWarehouse
from etl_tasks.warehouse.settings import WarehouseSettings
from etl_tasks.warehouse.sql_base import SqlWarehouse
from tests.warehouse.contract import DAY, marker_for, write_parquet

STALL_S = 2.0
SETTINGS = WarehouseSettings(statement_timeout_s=60, stall_timeout_s=STALL_S, keepalive_idle_s=5)
ROWS = 400_000  # tens of MB on the wire: far more than the socket buffers of both ends

TABLE = TableSpec(
    name="partitioned_load",
    partition_column="day",
    columns=(
        Column("day", "date", False),
        Column("id", "text", False),
        Column("note", "text"),
        Column("amount", "decimal(20,2)"),
    ),
    primary_key=("day", "id"),
)


def through(url: str, proxy: FreezeProxy) -> str:
    """``url`` with its host and port replaced by the proxy's."""
    parts = urlsplit(url)
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{proxy.port}"))


def rows_file(path: Path, count: int) -> Path:
    ids = pa.array([f"id{n:09d}" for n in range(count)])
    return write_parquet(
        path,
        {
            "day": pa.array([DAY] * count, pa.date32()),
            "id": ids,
            "note": pa.array(["a note about the row, long enough to fill the wire"] * count),
            "amount": pa.array([Decimal("12.34")] * count, pa.decimal128(20, 2)),
        },
    )


def partition_mid_load(
    url: str,
    factory: Callable[[str, WarehouseSettings], SqlWarehouse],
    marker: bytes,
    tmp_path: Path,
) -> None:
    """The whole scenario, for one server."""
    host, port = urlsplit(url).hostname or "127.0.0.1", urlsplit(url).port
    assert port is not None
    good, big = rows_file(tmp_path / "good.parquet", 3), rows_file(tmp_path / "big.parquet", ROWS)
    with factory(url, SETTINGS) as direct:
        direct.ensure_schema([TABLE])
        direct.load_partition(TABLE, good, DAY, marker_for(TABLE, "good"))
    with FreezeProxy(host, port) as proxy:
        proxied_url = through(url, proxy)
        with factory(proxied_url, SETTINGS) as warehouse:
            proxy.freeze_on(marker, after=1 << 20)
            started = time.monotonic()
            with pytest.raises(LoadError) as failure:
                warehouse.load_partition(TABLE, big, DAY, marker_for(TABLE, "big"))
            seconds = time.monotonic() - started
        assert proxy.frozen.is_set(), "the proxy never froze: the test did not test anything"
        message = str(failure.value)
        assert warehouse.redacted_url in message  # names the warehouse
        assert "stall_timeout_s" in message and "rolled back" in message
        assert "\n" not in message
        assert proxy.frozen_at is not None
        print(
            f"\n{warehouse.dialect}: clean failure {seconds:.1f} s after the load started, "
            f"{time.monotonic() - proxy.frozen_at:.1f} s after the freeze "
            f"(stall_timeout_s = {STALL_S:g})"
        )
        proxy.heal()  # the partition ends; the server's side of the frozen session closes
        with factory(url, SETTINGS) as direct:
            assert direct.count_rows(TABLE.name) == 3  # the previous rows are intact
            assert direct.is_loaded(TABLE.name, DAY.isoformat(), "good")
        with factory(proxied_url, SETTINGS) as warehouse:  # the rerun, same route
            assert warehouse.load_partition(TABLE, big, DAY, marker_for(TABLE, "big")) == ROWS
    with factory(url, SETTINGS) as direct:
        assert direct.count_rows(TABLE.name) == ROWS
        assert direct.is_loaded(TABLE.name, DAY.isoformat(), "big")


@pytest.mark.postgres
def test_postgres_partition_mid_copy_fails_cleanly_and_the_rerun_loads(
    pg_url: str, tmp_path: Path
) -> None:
    partition_mid_load(
        pg_url, lambda url, settings: PostgresWarehouse(url, settings), b"COPY", tmp_path
    )


@pytest.mark.mysql
def test_mariadb_partition_mid_load_data_fails_cleanly_and_the_rerun_loads(
    mysql_url: str, tmp_path: Path
) -> None:
    partition_mid_load(
        mysql_url,
        lambda url, settings: MySQLWarehouse(url, settings=settings),
        b"LOAD DATA",
        tmp_path,
    )


@pytest.mark.postgres
def test_postgres_statement_without_an_answer_is_abandoned(pg_url: str) -> None:
    """A statement whose answer never comes (frozen after the query was sent) ends after
    statement_timeout_s + the grace, and the message says which limit fired."""
    parts = urlsplit(pg_url)
    settings = WarehouseSettings(statement_timeout_s=1, stall_timeout_s=STALL_S)
    with FreezeProxy(parts.hostname or "127.0.0.1", parts.port or 5432) as proxy:
        with PostgresWarehouse(through(pg_url, proxy), settings) as warehouse:
            warehouse.ping()
            proxy.freeze_on(b"count(*)")
            with pytest.raises(LoadError, match="statement_timeout_s") as failure:
                warehouse.count_rows("pg_class")
            assert warehouse.redacted_url in str(failure.value)
        proxy.heal()


def test_settings_default_to_limits_that_fit_a_long_load() -> None:
    settings = WarehouseSettings.from_config()
    assert settings.statement_timeout_s >= 600 and settings.stall_timeout_s >= 30
    assert settings.answer_timeout_s > settings.statement_timeout_s
    assert WarehouseSettings(statement_timeout_s=0).answer_timeout_s == float("inf")
