"""Schema evolution on a warehouse created by the previous release: MariaDB, PostgreSQL, SQLite.

The previous release's BTG tables are a frozen copy kept here (``PREVIOUS_TYPES``: the column
types of etl_tasks/btg/tables.py on main before the precision policy), created with the DDL
renderer, filled with rows through plain SQL; then the real schema task (BtgSchema, through
Luigi) runs against it. The live column types are read back from the database's own catalogue
(information_schema / pg_attribute / PRAGMA), not through the code under test.

Run: .venv/bin/pytest tests/btg/test_migration.py
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2
import pymysql
import pytest

from etl_tasks.btg.load import BtgSchema
from etl_tasks.btg.tables import BTG_TABLES
from etl_tasks.errors import LoadError
from etl_tasks.warehouse.factory import connect
from etl_tasks.warehouse.migrate import apply_changes, plan_changes
from etl_tasks.warehouse.model import Column, TableSpec
from tests.conftest import with_database
from tests.luigi_helpers import build

DATE = dt.date(2025, 4, 10)
# Frozen: the column types the previous release declared where this one differs.
PREVIOUS_TYPES = {
    "btg_rentabilidade": {"cota_liquida": "decimal(28,8)", "cota_bruta": "decimal(28,8)",
                          **{name: "decimal(18,10)" for name in (
                              "ret_day_frac", "ret_month_frac", "ret_year_frac", "ret_12m_frac",
                              "ret_24m_frac", "ret_36m_frac", "cdi_ret_day_frac",
                              "cdi_ret_month_frac", "cdi_ret_year_frac", "cdi_ret_12m_frac",
                              "cdi_ret_24m_frac", "cdi_ret_36m_frac", "cdi_ret_accum_frac",
                              "cdi_ratio_day_frac", "cdi_ratio_month_frac", "cdi_ratio_year_frac",
                              "cdi_ratio_12m_frac", "cdi_ratio_24m_frac", "cdi_ratio_36m_frac",
                              "cdi_ratio_accum_frac")}},
    "btg_posicoes": {"percentual_indexador_frac": "decimal(18,10)"},
}
NEW_TYPES = {"cota_liquida": (34, 14), "cota_bruta": (34, 14), "ret_day_frac": (24, 14),
             "cdi_ratio_accum_frac": (24, 14)}


def previous_release_tables() -> list[TableSpec]:
    specs = []
    for spec in BTG_TABLES:
        old = PREVIOUS_TYPES.get(spec.name, {})
        columns = tuple(dataclasses.replace(c, type=old.get(c.name, c.type)) for c in spec.columns)
        specs.append(dataclasses.replace(spec, columns=columns))
    return specs


INSERT = (
    "INSERT INTO btg_rentabilidade (cnpj, data_referencia, nome_fundo, cota_liquida, cota_bruta, "
    "patrimonio_liquido, quantidade_cotas, ret_day_frac, extracted_at) VALUES "
    "('45112233000114', '2025-04-10', 'SANDBOX ALFA', 1.52345678, 1.52401234, 100008843.78, "
    "65646000.12345678, 0.0005480000, '2025-04-10 12:00:00')"
)
ROW_SQL = ("SELECT cota_liquida, cota_bruta, patrimonio_liquido, quantidade_cotas, ret_day_frac "
           "FROM btg_rentabilidade")
EXPECTED_ROW = (Decimal("1.52345678"), Decimal("1.52401234"), Decimal("100008843.78"),
                Decimal("65646000.12345678"), Decimal("0.000548"))


@pytest.fixture
def fresh_pg(pg_url: str) -> Iterator[str]:
    name = f"etl_mig_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(with_database(pg_url, "postgres"))
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(pg_url, name)
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def mysql_rows(url: str, sql: str) -> list[tuple]:
    parts = urlsplit(url)
    connection = pymysql.connect(host=parts.hostname, port=parts.port or 3306,
                                 user=parts.username or "root", password=parts.password or "",
                                 database=parts.path.lstrip("/"), autocommit=True)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return list(cursor.fetchall())
    finally:
        connection.close()


def pg_rows(url: str, sql: str) -> list[tuple]:
    connection = psycopg2.connect(url)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return list(cursor.fetchall()) if cursor.description else []
    finally:
        connection.close()


def create_previous_release(url: str) -> None:
    with connect(url) as warehouse:
        warehouse.ensure_schema(previous_release_tables())


def run_schema_task(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BTG_WAREHOUSE_URL", url)
    with connect(url) as warehouse:
        assert plan_changes(warehouse, BTG_TABLES), "the previous release's tables must differ"
    result = build(BtgSchema(date=DATE))
    assert result.ok, result.failed
    assert "BtgSchema" in result.ran
    meta = BtgSchema(date=DATE).partition().meta()
    assert any("cota_liquida" in line for line in meta.extra["migrated"])
    with connect(url) as warehouse:
        assert plan_changes(warehouse, BTG_TABLES) == []
    assert BtgSchema(date=DATE).complete()


def test_mariadb_previous_release_is_migrated_rows_kept(workdir: Path, fresh_mysql: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    create_previous_release(fresh_mysql)
    mysql_rows(fresh_mysql, INSERT)
    types_sql = ("SELECT column_name, numeric_precision, numeric_scale FROM "
                 "information_schema.columns WHERE table_schema = DATABASE() AND "
                 "table_name = 'btg_rentabilidade'")
    before = {name: (p, s) for name, p, s in mysql_rows(fresh_mysql, types_sql)}
    assert before["cota_liquida"] == (28, 8) and before["ret_day_frac"] == (18, 10)
    run_schema_task(fresh_mysql, monkeypatch)
    after = {name: (p, s) for name, p, s in mysql_rows(fresh_mysql, types_sql)}
    assert {name: after[name] for name in NEW_TYPES} == NEW_TYPES
    assert [tuple(Decimal(v) for v in row) for row in mysql_rows(fresh_mysql, ROW_SQL)] == [
        EXPECTED_ROW]
    # The widened column now takes what the API sends: a 12-decimal raw quote.
    mysql_rows(fresh_mysql, "UPDATE btg_rentabilidade SET cota_bruta = 1.524012345678")
    assert mysql_rows(fresh_mysql, "SELECT cota_bruta FROM btg_rentabilidade") == [
        (Decimal("1.52401234567800"),)]


def test_postgresql_previous_release_is_migrated_rows_kept(workdir: Path, fresh_pg: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    create_previous_release(fresh_pg)
    pg_rows(fresh_pg, INSERT)
    types_sql = ("SELECT column_name, numeric_precision, numeric_scale FROM "
                 "information_schema.columns WHERE table_schema = current_schema() AND "
                 "table_name = 'btg_rentabilidade'")
    before = {name: (p, s) for name, p, s in pg_rows(fresh_pg, types_sql)}
    assert before["cota_liquida"] == (28, 8) and before["ret_day_frac"] == (18, 10)
    run_schema_task(fresh_pg, monkeypatch)
    after = {name: (p, s) for name, p, s in pg_rows(fresh_pg, types_sql)}
    assert {name: after[name] for name in NEW_TYPES} == NEW_TYPES
    assert pg_rows(fresh_pg, ROW_SQL) == [EXPECTED_ROW]


def test_sqlite_previous_release_needs_no_change_rows_kept(workdir: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite stores decimals as exact TEXT: the widening is no DDL change there."""
    url = f"sqlite:///{workdir / 'old.db'}"
    create_previous_release(url)
    with connect(url) as warehouse:
        warehouse._execute(INSERT.replace("1.52345678,", "'1.52345678',"))
        assert plan_changes(warehouse, BTG_TABLES) == []
    monkeypatch.setenv("BTG_WAREHOUSE_URL", url)
    assert build(BtgSchema(date=DATE)).ok
    with connect(url) as warehouse:
        assert warehouse.count_rows("btg_rentabilidade") == 1


SQLITE_OLD = TableSpec(
    name="mig_demo", partition_column="day", primary_key=("id", "day"), indexes=(("name",),),
    columns=(Column("id", "text", nullable=False), Column("day", "date", nullable=False),
             Column("name", "text"), Column("score", "integer"),
             Column("flag", "integer", nullable=False)),
)
SQLITE_NEW = dataclasses.replace(SQLITE_OLD, columns=(
    Column("id", "text", nullable=False), Column("day", "date", nullable=False),
    Column("name", "text"), Column("score", "double"), Column("flag", "integer"),
    Column("added", "text")))


def test_sqlite_type_change_rebuilds_the_table_in_one_transaction(workdir: Path) -> None:
    url = f"sqlite:///{workdir / 'rebuild.db'}"
    with connect(url) as warehouse:
        warehouse.ensure_schema([SQLITE_OLD])
        warehouse._execute("INSERT INTO mig_demo VALUES ('a', '2025-04-10', 'Ana', 7, 1)")
        warehouse._execute("INSERT INTO mig_demo VALUES ('b', '2025-04-10', 'Bia', 9, 0)")
        kinds = {change.column: change.kind for change in plan_changes(warehouse, [SQLITE_NEW])}
        assert kinds == {"score": "type", "flag": "nullable", "added": "add"}
        apply_changes(warehouse, [SQLITE_NEW])
        assert plan_changes(warehouse, [SQLITE_NEW]) == []
        rows = warehouse._query("SELECT id, name, score, typeof(score), flag, added FROM mig_demo "
                                "ORDER BY id")
        indexes = warehouse._query("SELECT name FROM sqlite_master WHERE type = 'index' AND "
                                   "tbl_name = 'mig_demo' AND name LIKE 'ix_%'")
        info = {row[1]: row[2] for row in warehouse._query("PRAGMA table_info(mig_demo)")}
    assert rows == [("a", "Ana", 7.0, "real", 1, None), ("b", "Bia", 9.0, "real", 0, None)]
    assert sorted(indexes) == [("ix_mig_demo_day",), ("ix_mig_demo_name",)]  # recreated
    assert info["score"] == "REAL"


def test_lossy_change_stops_with_the_exact_command(workdir: Path, fresh_pg: str) -> None:
    narrower = dataclasses.replace(SQLITE_OLD, columns=tuple(
        dataclasses.replace(c, type="decimal(10,2)") if c.name == "score" else c
        for c in SQLITE_OLD.columns))
    wider = dataclasses.replace(narrower, columns=tuple(
        dataclasses.replace(c, type="decimal(8,1)") if c.name == "score" else c
        for c in narrower.columns))
    with connect(fresh_pg) as warehouse:
        warehouse.ensure_schema([narrower])
        warehouse._execute("INSERT INTO mig_demo VALUES ('a', '2025-04-10', 'Ana', 7.25, 1)")
        with pytest.raises(LoadError) as caught:
            apply_changes(warehouse, [wider])
    message = str(caught.value)
    assert "mig_demo.score: numeric(10,2) -> numeric(8,1)" in message
    command = message.split("run: ", 1)[1].split("; then run the schema task")[0]
    assert command == ('ALTER TABLE "mig_demo" ALTER COLUMN "score" TYPE numeric(8,1) '
                       'USING "score"::numeric(8,1)')
    pg_rows(fresh_pg, command)  # what a person runs after checking the data
    with connect(fresh_pg) as warehouse:
        assert plan_changes(warehouse, [wider]) == []
    assert pg_rows(fresh_pg, "SELECT score FROM mig_demo") == [(Decimal("7.3"),)]
