"""Completeness of a BTG day (issue 12 defect 4) and independence of the two report types.

Against the sandbox over HTTP into SQLite: a fund missing from one report, a carteira answering
"No records" while rentabilidade has funds, a rentabilidade that fails on its own, and the
``[btg] missing_funds = warning`` switch.

Run: .venv/bin/pytest tests/btg/test_completeness.py
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import luigi
import pytest

from etl_sandbox.btg_data import dataset_for_seed
from etl_tasks.btg.tasks import final_tasks
from etl_tasks.btg.transform_tasks import (
    BtgCrossCheckCarteira,
    BtgCrossCheckRentabilidade,
    BtgTransformRentabilidade,
)
from etl_tasks.core.targets import read_json
from tests.luigi_helpers import build

DATE = dt.date(2025, 4, 10)


def rows(workdir: Path, table: str) -> int:
    with sqlite3.connect(workdir / "warehouse.db") as connection:
        exists = connection.execute("SELECT count(*) FROM sqlite_master WHERE name = ?",
                                    (table,)).fetchone()[0]
        return connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0] if exists else 0


def failure_message(task: luigi.Task) -> str:
    document = read_json(task.partition().failed_path)
    assert document is not None, f"{task.task_family} recorded no failure"
    return document["message"]


@pytest.fixture
def missing_funds_warning() -> Iterator[None]:
    config = luigi.configuration.get_config()
    config.set("btg", "missing_funds", "warning")
    yield
    config.remove_option("btg", "missing_funds")


def test_fund_missing_from_the_carteira_is_named_and_blocks_both(sandbox, workdir, landing
                                                                 ) -> None:
    funds = dataset_for_seed(42).funds_on(DATE)
    sandbox.control("config", {"btg_omit_from_carteira": funds[0].cnpj})
    result = build(*final_tasks(DATE))
    assert not result.ok
    assert {"BtgCrossCheckCarteira", "BtgCrossCheckRentabilidade"} <= result.failed
    message = failure_message(BtgCrossCheckCarteira(date=DATE))
    assert (f"fund {funds[0].cnpj} ({funds[0].name}) is in the rentabilidade of 2025-04-10 but "
            "not in its carteira") in message
    assert "--baixar-novamente ambos" in message
    for table in ("btg_fundos", "btg_posicoes", "btg_rentabilidade"):
        assert rows(workdir, table) == 0, table


def test_carteira_no_records_on_a_day_with_returns_is_not_success(sandbox, workdir, landing
                                                                  ) -> None:
    funds = dataset_for_seed(42).funds_on(DATE)
    sandbox.control("config", {"btg_omit_from_carteira": "*"})
    result = build(*final_tasks(DATE))
    assert not result.ok
    message = failure_message(BtgCrossCheckRentabilidade(date=DATE))
    assert all(fund.cnpj in message for fund in funds[:5])
    assert f"and {len(funds) - 20} more" in message if len(funds) > 20 else True
    assert rows(workdir, "btg_rentabilidade") == 0 and rows(workdir, "btg_fundos") == 0


def test_missing_fund_as_a_documented_warning(sandbox, workdir, landing,
                                              missing_funds_warning) -> None:
    funds = dataset_for_seed(42).funds_on(DATE)
    sandbox.control("config", {"btg_omit_from_carteira": funds[0].cnpj})
    result = build(*final_tasks(DATE))
    assert result.ok, result.failed
    assert rows(workdir, "btg_fundos") == len(funds) - 1
    assert rows(workdir, "btg_rentabilidade") == len(funds)
    meta = BtgCrossCheckCarteira(date=DATE).partition().meta()
    assert meta.extra["only_in_rentabilidade"] == [funds[0].cnpj]
    assert any(funds[0].cnpj in note and "warning" in note for note in meta.extra["notes"])


def test_failed_rentabilidade_never_blocks_the_carteira(sandbox, workdir, landing) -> None:
    sandbox.control("faults", {"api": "btg", "path": "/reports/NAVPerformance",
                               "status": 400, "count": 5})
    result = build(*final_tasks(DATE))
    assert not result.ok and "BtgExtractRentabilidade" in result.failed
    funds = dataset_for_seed(42).funds_on(DATE)
    assert rows(workdir, "btg_fundos") == len(funds)
    assert rows(workdir, "btg_posicoes") > len(funds)
    assert rows(workdir, "btg_rentabilidade") == 0
    gate = BtgCrossCheckCarteira(date=DATE).partition().meta()
    assert gate.status == "skipped"
    assert gate.skip_reason.startswith(
        "cross-check not run: rentabilidade of 2025-04-10 failed (BtgExtractRentabilidade failed")
    assert not BtgTransformRentabilidade(date=DATE).complete()
    # Next night BTG answers: the rentabilidade loads and its gate compares both reports.
    sandbox.clear_faults()
    second = build(*final_tasks(DATE))
    assert second.ok, second.failed
    assert "BtgCrossCheckRentabilidade" in second.ran
    assert rows(workdir, "btg_rentabilidade") == len(funds)
    meta = BtgCrossCheckRentabilidade(date=DATE).partition().meta()
    assert meta.status == "done" and meta.extra["funds_compared"] == len(funds)
    # The carteira's gate, "not run" last night, was compared again too (no stale note).
    carteira_gate = BtgCrossCheckCarteira(date=DATE).partition().meta()
    assert carteira_gate.status == "done" and carteira_gate.extra["funds_compared"] == len(funds)


def test_two_workers_still_compare_both_reports(sandbox, workdir, landing) -> None:
    result = build(*final_tasks(DATE), workers=2)
    assert result.ok, result.failed
    for gate in (BtgCrossCheckCarteira(date=DATE), BtgCrossCheckRentabilidade(date=DATE)):
        meta = gate.partition().meta()
        assert meta.status == "done", meta.skip_reason
        assert meta.extra["funds_compared"] == len(dataset_for_seed(42).funds_on(DATE))
