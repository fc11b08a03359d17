"""PostgresWarehouse against the real PostgreSQL server: the shared warehouse contract (schema,
partition reloads, upserts, markers, rollbacks, exact values) plus PostgreSQL's own DDL.

Run: .venv/bin/pytest tests/warehouse/test_postgres.py   (needs PostgreSQL at 127.0.0.1:5432)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from etl_tasks.errors import LoadError
from etl_tasks.warehouse.factory import connect
from etl_tasks.warehouse.postgres import PostgresWarehouse
from tests.warehouse.contract import Reader, WarehouseContract, events_spec, users_spec

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg_reader(pg_url: str) -> Iterator[Reader]:
    connection = psycopg2.connect(pg_url)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("SET TIME ZONE 'America/Sao_Paulo'")  # results must not depend on it

    def query(sql: str) -> list[tuple]:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall()

    yield Reader(query, lambda name: f'"{name}"', "postgresql")
    connection.close()


class TestPostgresContract(WarehouseContract):
    """The shared contract on PostgreSQL."""

    @pytest.fixture
    def url(self, pg_url: str) -> str:
        return pg_url

    @pytest.fixture
    def db(self, pg_reader: Reader) -> Reader:
        return pg_reader


def test_connect_builds_a_postgres_warehouse(pg_url: str) -> None:
    assert isinstance(connect(pg_url), PostgresWarehouse)
    assert isinstance(connect(pg_url.replace("postgresql://", "postgres://")), PostgresWarehouse)


def test_column_types_keys_and_indexes(pg_url: str, pg_reader: Reader) -> None:
    users, events = users_spec("pgddl_"), events_spec("pgddl_")
    with connect(pg_url) as warehouse:
        warehouse.ensure_schema([users, events])
    types = dict(
        pg_reader.query(
            "SELECT column_name, data_type || coalesce('(' || numeric_precision || ',' || "
            "numeric_scale || ')', '') FROM information_schema.columns "
            f"WHERE table_name = '{events.name}'"
        )
    )
    assert types["at"] == "timestamp with time zone"
    assert types["tags"] == "jsonb"
    assert types["amount"] == "numeric(28,8)"
    assert types["flag"] == "boolean"
    assert types["day"] == "date"
    indexes = {
        name: definition
        for name, definition in pg_reader.query(
            f"SELECT indexname, indexdef FROM pg_indexes WHERE tablename = '{events.name}'"
        )
    }
    assert "ix_pgddl_events_user_id" in indexes
    # day leads the primary key, so no separate partition index is created for it
    assert not [name for name in indexes if name.endswith("_day")]
    constraints = pg_reader.query(
        "SELECT constraint_type FROM information_schema.table_constraints "
        f"WHERE table_name = '{events.name}' ORDER BY constraint_type"
    )
    assert [row[0] for row in constraints if row[0] != "CHECK"] == ["FOREIGN KEY", "PRIMARY KEY"]


def test_partition_column_outside_the_key_gets_its_own_index(
    pg_url: str, pg_reader: Reader
) -> None:
    from etl_tasks.warehouse.model import Column, TableSpec

    table = TableSpec(
        name="pgidx_videos",
        partition_column="created_date",
        columns=(Column("id", "text", False), Column("created_date", "date", False)),
        primary_key=("id",),
    )
    with connect(pg_url) as warehouse:
        warehouse.ensure_schema([table])
    names = [
        row[0]
        for row in pg_reader.query(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'pgidx_videos' ORDER BY 1"
        )
    ]
    assert names == ["ix_pgidx_videos_created_date", "pgidx_videos_pkey"]


def test_unreachable_server_raises_a_redacted_load_error_with_a_hint(tmp_path: Path) -> None:
    url = "postgresql://etl:Sup3rS3cret@127.0.0.1:1/warehouse"
    with PostgresWarehouse(url) as warehouse, pytest.raises(LoadError) as caught:
        warehouse.ping()
    message = str(caught.value)
    assert "Sup3rS3cret" not in message
    assert "postgresql://etl:***@127.0.0.1:1/warehouse" in message
    assert "WAREHOUSE_URL" in message and ".env" in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
