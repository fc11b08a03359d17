"""End to end: the BTG graph against the sandbox over real HTTP into MariaDB (and SQLite).

Expected rows come from the sandbox's own dataset (``etl_sandbox.btg_data``, independent of
the ETL code); the warehouse is read back with plain SQL. Polling and HTTP retries are made fast
through luigi config, the way luigi.cfg would.

Run: .venv/bin/pytest tests/btg/test_pipeline.py
"""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import luigi
import pyarrow.parquet as pq
import pymysql
import pytest

from etl_sandbox.btg_data import dataset_for_seed
from etl_tasks.btg.extract import BtgExtractCarteira, BtgExtractRentabilidade
from etl_tasks.btg.tasks import TIPOS, final_tasks, stage_tasks
from etl_tasks.btg.transform_tasks import (
    BtgCrossCheckRentabilidade,
    BtgTransformFundos,
    BtgTransformRentabilidade,
)
from etl_tasks.core.stage import StageTask, output_root
from etl_tasks.core.targets import read_json
from etl_tasks.report import read_report
from etl_tasks.run_all import RunAll
from tests.luigi_helpers import build

DATE = dt.date(2025, 4, 10)
ASSET_SECTIONS = ("titpublico", "titprivado", "debenture", "acoes", "cotas", "caixa")
CARTEIRA_TASKS = {cls.__name__ for cls in TIPOS["carteira"]}
RENTABILIDADE_TASKS = {cls.__name__ for cls in TIPOS["rentabilidade"]}
def set_poll_deadline(seconds: float) -> None:
    luigi.configuration.get_config().set("btg", "poll_deadline_s", str(seconds))


def mysql_query(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    parts = urlsplit(url)
    connection = pymysql.connect(host=parts.hostname, port=parts.port or 3306,
                                 user=parts.username or "root", password=parts.password or "",
                                 database=parts.path.lstrip("/"), charset="utf8mb4")
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall())
    finally:
        connection.close()


def sqlite_query(workdir: Path, sql: str, params: tuple = ()) -> list[tuple]:
    with sqlite3.connect(workdir / "warehouse.db") as connection:
        return connection.execute(sql, params).fetchall()


def sqlite_table_rows(workdir: Path, table: str) -> int:
    exists = sqlite_query(workdir, "SELECT count(*) FROM sqlite_master WHERE name = ?", (table,))
    return sqlite_query(workdir, f"SELECT count(*) FROM {table}")[0][0] if exists[0][0] else 0


def parquet_rows(stage: str, entity: str, date: dt.date = DATE) -> int:
    path = output_root() / "btg" / stage / entity / f"date={date}" / "data.parquet"
    return pq.read_metadata(path).num_rows


def btg_api_requests(sandbox) -> int:
    return sum(v for k, v in sandbox.stats()["requests"].items() if k.startswith("btg:"))


def failure(task: StageTask) -> dict:
    document = read_json(task.partition().failed_path)
    assert document is not None, f"{task.task_family} recorded no failure"
    return document


@pytest.mark.mysql
def test_date_into_mariadb_exactly_then_reruns(sandbox, workdir, landing, mysql_url,
                                               monkeypatch) -> None:
    monkeypatch.setenv("BTG_WAREHOUSE_URL", mysql_url)
    data = dataset_for_seed(42)
    funds = data.funds_on(DATE)
    first = build(*final_tasks(DATE))
    assert first.ok, first.failed
    assert {task.task_family for task in stage_tasks(DATE)} <= first.ran

    # Row counts: MariaDB == Parquet == the sandbox's own dataset.
    sections = {fund.cnpj: data.portfolio(fund, DATE).sections for fund in funds}
    expected = {"btg_fundos": len(funds), "btg_rentabilidade": len(funds),
                "btg_posicoes": sum(len(s) for s in sections.values())}
    where = {"btg_fundos": "data_posicao", "btg_posicoes": "data_posicao",
             "btg_rentabilidade": "data_referencia"}

    def counts() -> dict[str, int]:
        return {table: mysql_query(mysql_url, f"SELECT count(*) FROM {table} WHERE {column} = %s",
                                   (DATE,))[0][0] for table, column in where.items()}

    assert counts() == expected
    assert {"btg_fundos": parquet_rows("transform", "fundos"),
            "btg_posicoes": parquet_rows("transform", "posicoes"),
            "btg_rentabilidade": parquet_rows("transform", "rentabilidade")} == expected

    # Positions add up to each XML's valorativos, to the cent, in the warehouse.
    placeholders = ", ".join(["%s"] * len(ASSET_SECTIONS))
    sums = dict(mysql_query(
        mysql_url,
        f"SELECT cnpj_fundo, SUM(valor_mercado) FROM btg_posicoes WHERE data_posicao = %s "
        f"AND secao IN ({placeholders}) GROUP BY cnpj_fundo", (DATE, *ASSET_SECTIONS)))
    for fund in funds:
        header = dict(data.portfolio(fund, DATE).header)
        assert sums[fund.cnpj] == header["valorativos"], fund.name

    # Fund headers and returns equal the sandbox's numbers, as DECIMAL.
    for cnpj, quota, patliq in mysql_query(
            mysql_url, "SELECT cnpj, valor_cota, patrimonio_liquido FROM btg_fundos"):
        fund = next(f for f in funds if f.cnpj == cnpj)
        assert (quota, patliq) == (data.nav(fund, DATE).quota, data.nav(fund, DATE).patliq)
    for cnpj, quota, day_frac in mysql_query(
            mysql_url, "SELECT cnpj, cota_liquida, ret_day_frac FROM btg_rentabilidade"):
        record = data.nav_record(next(f for f in funds if f.cnpj == cnpj), DATE, ["CDIE"])
        assert isinstance(quota, Decimal) and quota == record["liquidQuote"]
        assert day_frac == record["profitability"]["day"] / 100

    # Accented names round-trip byte for byte (utf8mb4).
    previdencia = next(f for f in funds if f.key == "PREV")
    assert mysql_query(mysql_url, "SELECT nome, nome_administrador FROM btg_fundos WHERE cnpj = %s",
                       (previdencia.cnpj,)) == [("SANDBOX PREVIDÊNCIA RENDA FIXA FIRF",
                                                 "BTG PACTUAL SERVIÇOS FINANCEIROS S.A. DTVM")]
    assert mysql_query(mysql_url, "SELECT nome_fundo FROM btg_rentabilidade WHERE cnpj = %s",
                       (previdencia.cnpj,)) == [("SANDBOX PREVIDÊNCIA RENDA FIXA FIRF",)]
    assert (landing["carteira"] / "2025-04-10" / "Carteira_20250410.zip").is_file()
    assert (landing["rentabilidade"] / "2025-04-10" / "page-1.json").is_file()

    # Rerun: nothing runs, nothing is loaded twice.
    requests_before = btg_api_requests(sandbox)
    again = build(*final_tasks(DATE))
    assert again.ok and again.ran == set()
    assert counts() == expected
    assert btg_api_requests(sandbox) == requests_before

    # Lose rentabilidade's landing files and Parquet: only rentabilidade runs again.
    shutil.rmtree(landing["rentabilidade"])
    BtgExtractRentabilidade(date=DATE).output().remove()
    BtgTransformRentabilidade(date=DATE).output().remove()
    partial = build(*final_tasks(DATE))
    assert partial.ok, partial.failed
    assert {"BtgExtractRentabilidade", "BtgTransformRentabilidade"} <= partial.ran
    assert partial.ran <= RENTABILIDADE_TASKS | {"BtgCrossCheckRentabilidade"}
    assert not partial.ran & CARTEIRA_TASKS
    assert counts() == expected
    assert (landing["rentabilidade"] / "2025-04-10" / "page-1.json").is_file()


def test_run_all_with_defaults_into_sqlite(sandbox, workdir, landing) -> None:
    config = luigi.configuration.get_config()
    saved = config.get("pipelines", "twitch", None)
    config.set("pipelines", "twitch", "false")
    try:
        result = build(RunAll(date=DATE))
    finally:
        config.set("pipelines", "twitch", saved or "true")
    assert result.ok, result.failed
    assert {task.task_family for task in stage_tasks(DATE)} <= result.ran
    report = read_report(DATE)
    assert report is not None and report["status"] == "SUCCESS"
    assert {task["task_family"] for task in report["tasks"] if task["pipeline"] == "btg"} == {
        task.task_family for task in stage_tasks(DATE)}
    # The report is the state of the date: the pipeline not run is shown, never dropped.
    assert report["pipeline_status"]["twitch"] == "NOT RUN"
    funds = len(dataset_for_seed(42).funds_on(DATE))
    assert sqlite_table_rows(workdir, "btg_fundos") == funds
    assert sqlite_table_rows(workdir, "btg_rentabilidade") == funds
    assert sqlite_table_rows(workdir, "btg_posicoes") == parquet_rows("transform", "posicoes")
    # SQLite keeps the decimal text exactly, at the column's scale (quotes: 14 decimals).
    quotas = sqlite_query(workdir, "SELECT cota_liquida FROM btg_rentabilidade")
    assert all(len(text.split(".")[1]) == 14 for (text,) in quotas)


def test_corrupt_xml_fails_the_carteira_only(sandbox, workdir, landing) -> None:
    broken = dataset_for_seed(42).funds_on(DATE)[2]
    sandbox.control("config", {"btg_corrupt_fund": broken.cnpj})
    result = build(*final_tasks(DATE))
    assert not result.ok
    assert "BtgTransformFundos" in result.failed
    assert "BtgExtractCarteira" in result.ran  # the raw file is still landed, for audit
    assert (landing["carteira"] / "2025-04-10" / "Carteira_20250410.zip").is_file()
    assert not {"BtgLoadFundos", "BtgLoadPosicoes"} & result.ran
    message = failure(BtgTransformFundos(date=DATE))["message"]
    assert "not well-formed" in message and "_20250410.xml" in message
    for table in ("btg_fundos", "btg_posicoes"):
        assert sqlite_table_rows(workdir, table) == 0
    # The rentabilidade of the date is independent: it loads, the cross-check is "not run".
    assert "BtgLoadRentabilidade" in result.ran
    funds = len(dataset_for_seed(42).funds_on(DATE))
    assert sqlite_table_rows(workdir, "btg_rentabilidade") == funds
    gate = read_json(BtgCrossCheckRentabilidade(date=DATE).partition().meta_path)
    assert gate["status"] == "skipped"
    assert "carteira of 2025-04-10 failed (BtgTransformFundos failed" in gate["skip_reason"]


def test_invariant_break_names_fund_date_and_difference_and_blocks_the_carteira(
        sandbox, workdir, landing) -> None:
    broken = dataset_for_seed(42).funds_on(DATE)[1]
    sandbox.control("config", {"btg_break_invariant": broken.cnpj})
    result = build(*final_tasks(DATE))
    assert not result.ok and "BtgTransformFundos" in result.failed
    record = failure(BtgTransformFundos(date=DATE))
    assert record["error_type"] == "DataQualityError"
    assert broken.cnpj in record["message"] and "2025-04-10" in record["message"]
    assert "difference 0.01" in record["message"]
    assert not {"BtgLoadFundos", "BtgLoadPosicoes"} & result.ran
    for table in ("btg_fundos", "btg_posicoes"):
        assert sqlite_table_rows(workdir, table) == 0
    assert sqlite_table_rows(workdir, "btg_rentabilidade") == len(
        dataset_for_seed(42).funds_on(DATE))


def test_ticket_stuck_processing_fails_after_the_deadline(sandbox, workdir, landing) -> None:
    sandbox.control("config", {"btg_processing_polls": 100000})
    set_poll_deadline(0.3)
    result = build(*final_tasks(DATE))
    assert not result.ok
    assert {"BtgExtractCarteira", "BtgExtractRentabilidade"} <= result.failed
    record = failure(BtgExtractCarteira(date=DATE))
    assert record["error_type"] == "TicketTimeoutError"
    assert "run again later" in record["message"]
    assert sqlite_table_rows(workdir, "btg_fundos") == 0


def test_no_records_is_a_successful_empty_day(sandbox, workdir, landing) -> None:
    before_data = dt.date(2023, 6, 1)  # a business day before the sandbox's first published day
    result = build(*final_tasks(before_data))
    assert result.ok, result.failed
    for task in (BtgExtractCarteira(date=before_data), BtgExtractRentabilidade(date=before_data)):
        meta = task.output().meta()
        assert (meta.status, meta.rows, meta.extra["no_records"]) == ("done", 0, True)
    assert BtgTransformFundos(date=before_data).output().meta().extra["no_records"] is True
    assert sqlite_table_rows(workdir, "btg_fundos") == 0
    audited = sqlite_query(workdir, "SELECT table_name, rows FROM etl_load_audit ORDER BY 1")
    assert audited == [("btg_fundos", 0), ("btg_posicoes", 0), ("btg_rentabilidade", 0)]


def test_non_business_day_is_a_recorded_no_op_without_api_calls(sandbox, workdir, landing) -> None:
    carnival = dt.date(2025, 3, 4)
    result = build(*final_tasks(carnival))
    assert result.ok, result.failed
    assert btg_api_requests(sandbox) == 0
    for task in stage_tasks(carnival):
        if task.stage in ("extract", "transform", "check", "load"):
            meta = read_json(task.partition().meta_path)
            assert meta["status"] == "skipped", task.task_family
            assert meta["skip_reason"] == "2025-03-04 não é dia útil ANBIMA (Carnaval)"
    saturday = BtgExtractCarteira(date=dt.date(2025, 4, 12))
    assert build(saturday).ok
    assert saturday.output().meta().skip_reason == "2025-04-12 não é dia útil ANBIMA (sábado)"
    assert btg_api_requests(sandbox) == 0
    assert saturday.output().meta().rows == 0


def test_one_tipo_loads_skip_the_gate_by_parameter_not_by_global_configuration() -> None:
    from luigi.configuration import get_config

    from etl_tasks.btg.tasks import tipo_loads

    day = dt.date(2025, 4, 10)
    configured = get_config().get("btg", "cross_check", None)

    def upstream_families(task: luigi.Task) -> set[str]:
        found: set[str] = set()
        for required in luigi.task.flatten(task.requires()):
            found |= {required.task_family, *upstream_families(required)}
        return found

    alone = set().union(*(upstream_families(load) for load in tipo_loads("carteira", day)))
    assert "BtgLoadFundos" in alone  # positions wait for the fund headers, which skip it too
    assert not {"BtgCrossCheckCarteira", "BtgCrossCheckRentabilidade"} & alone
    both = set().union(*(upstream_families(load) for load in tipo_loads("ambos", day)))
    assert {"BtgCrossCheckCarteira", "BtgCrossCheckRentabilidade"} <= both
    assert get_config().get("btg", "cross_check", None) == configured
