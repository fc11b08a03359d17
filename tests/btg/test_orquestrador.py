"""orquestrador-btg as cron runs it: ``python -m etl_tasks.btg ...`` in a subprocess.

Each run gets a temporary working directory, a luigi.cfg (``LUIGI_CONFIG_PATH``) with fast polling
and its own output/logs directories, the sandbox's BTG credentials and a SQLite warehouse. The
tests assert the exit code, the log file's lines, the landed files, the warehouse rows and, through
``/_sandbox/stats``, how many requests reached the API (none for arguments that are wrong or a
date that is not a business day). The business-day choice of ``--dias-atras`` is unit-tested
in-process against hand-checked dates.

Run: .venv/bin/pytest tests/btg/test_orquestrador.py
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from etl_sandbox.btg_data import dataset_for_seed
from etl_tasks.btg.orquestrador import UsageError, reference_date
from tests.btg.orquestrador_run import CONFIG as FAST_CONFIG  # one fast-polling luigi.cfg

DATE = "2025-04-10"


@dataclass
class CliRun:
    """One finished command: exit code, console output and the day's log file."""

    code: int
    output: str
    log: str

    @property
    def last_line(self) -> str:
        lines = self.log.strip().splitlines()
        return lines[-1] if lines else ""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A working directory with its own luigi.cfg; landing defaults under it."""
    (tmp_path / "luigi.cfg").write_text(FAST_CONFIG.format(root=tmp_path), encoding="utf-8")
    return tmp_path


def run_cli(
    project: Path, *args: str, today: str | None = None, extra: dict[str, str] | None = None
) -> CliRun:
    (project / ".env").touch()
    env = {key: value for key, value in os.environ.items() if key != "ETL_TODAY"}
    env.update({
        "LUIGI_CONFIG_PATH": str(project / "luigi.cfg"),
        "ETL_ENV_FILE": str(project / ".env"),  # empty: the environment is the configuration
        "WAREHOUSE_URL": f"sqlite:///{project / 'warehouse.db'}",
        "BTG_REPORT_PATH": str(project / "landing" / "carteira"),
        "BTG_RENTABILIDADE": str(project / "landing" / "rentabilidade"),
    })
    if today:
        env["ETL_TODAY"] = today
    env.update(extra or {})
    completed = subprocess.run(
        [sys.executable, "-m", "etl_tasks.btg", *args], cwd=project, env=env,
        capture_output=True, text=True, timeout=120, check=False,
    )
    logs = sorted((project / "logs").glob("orquestrador_btg_*.log"))
    assert len(logs) == 1, f"one log file expected, found {logs}: {completed.stderr[-2000:]}"
    return CliRun(completed.returncode, completed.stdout + completed.stderr,
                  logs[0].read_text(encoding="utf-8"))


def btg_requests(sandbox, path: str = "") -> int:
    return sum(v for k, v in sandbox.stats()["requests"].items() if k.startswith(f"btg:{path}"))


def table_rows(project: Path, table: str) -> int:
    with sqlite3.connect(project / "warehouse.db") as connection:
        exists = connection.execute(
            "SELECT count(*) FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
        return connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0] if exists else 0


def test_default_tipo_runs_both_reports_into_custom_dirs(sandbox, project) -> None:
    carteira, rentabilidade = project / "dados" / "carteira", project / "dados" / "rent"
    run = run_cli(project, "--data", DATE, "--dir-carteira", str(carteira),
                  "--dir-rentabilidade", str(rentabilidade))
    assert run.code == 0, run.output[-3000:]
    assert run.last_line.endswith("SUCESSO")
    funds = len(dataset_for_seed(42).funds_on(dt.date.fromisoformat(DATE)))
    for step in ("extração da carteira", "extração da rentabilidade",
                 "processamento da carteira (fundos)", "processamento da rentabilidade",
                 "conferência carteira x rentabilidade", "carga de btg_fundos",
                 "carga de btg_posicoes", "carga de btg_rentabilidade"):
        assert f"INÍCIO: {step} de {DATE}" in run.log, step
        assert f"FIM: {step} de {DATE}" in run.log, step
    assert f"RESUMO carteira {DATE}: {funds} fundos" in run.log
    summary = f"RESUMO rentabilidade {DATE}: {funds} fundos; {funds} linhas em btg_rentabilidade"
    assert summary in run.log
    assert "RELATÓRIO FINAL DE EXECUÇÃO" in run.output
    assert (carteira / DATE / "Carteira_20250410.zip").is_file()
    assert (rentabilidade / DATE / "page-1.json").is_file()
    assert not (project / "landing").exists()  # the custom dirs replaced the defaults
    assert table_rows(project, "btg_fundos") == funds
    assert table_rows(project, "btg_rentabilidade") == funds


@pytest.mark.parametrize(("tipo", "endpoint", "other", "table", "other_table"), [
    ("carteira", "POST /reports/Portfolio", "POST /reports/NAVPerformance", "btg_posicoes",
     "btg_rentabilidade"),
    ("rentabilidade", "POST /reports/NAVPerformance", "POST /reports/Portfolio",
     "btg_rentabilidade", "btg_fundos"),
])
def test_each_tipo_touches_only_its_report(sandbox, project, tipo, endpoint, other, table,
                                           other_table) -> None:
    run = run_cli(project, "--tipo", tipo, "--data", DATE)
    assert run.code == 0, run.output[-3000:]
    assert run.last_line.endswith("SUCESSO")
    assert btg_requests(sandbox, endpoint) == 1
    assert btg_requests(sandbox, other) == 0
    assert table_rows(project, table) > 0
    assert table_rows(project, other_table) == 0
    assert f"INÍCIO: extração da {tipo} de {DATE}" in run.log
    assert "conferência carteira x rentabilidade" not in run.log
    assert (project / "landing" / tipo / DATE).is_dir()


def test_dias_atras_counts_business_days_from_today(sandbox, project) -> None:
    # Tuesday 2025-04-22: Monday is Tiradentes, Friday Good Friday -> D-1 is Thursday 2025-04-17.
    run = run_cli(project, "--tipo", "rentabilidade", "--dias-atras", "1", today="2025-04-22")
    assert run.code == 0, run.output[-3000:]
    assert "data 2025-04-17" in run.log
    assert (project / "landing" / "rentabilidade" / "2025-04-17" / "page-1.json").is_file()


def test_carnival_is_a_logged_no_op_without_api_requests(sandbox, project) -> None:
    run = run_cli(project, "--data", "2025-03-04")
    assert run.code == 0, run.output[-3000:]
    assert "2025-03-04 não é dia útil ANBIMA (Carnaval): nada a fazer" in run.log
    assert run.last_line.endswith("SUCESSO")
    assert btg_requests(sandbox) == 0


@pytest.mark.parametrize(("args", "message"), [
    (["--data", "2025-02-30"], "data inválida '2025-02-30'"),
    (["--data", "10/04/2025"], "data inválida '10/04/2025'"),
    (["--dias-atras", "-1"], "--dias-atras deve ser 0 ou mais"),
    (["--data", DATE, "--dias-atras", "2"], "use --data ou --dias-atras, não os dois"),
    (["--tipo", "tudo"], "opção inválida: 'tudo'"),
    (["--dir-carteira", "{file}/sub"], "não é possível gravar no diretório de carteira"),
])
def test_bad_invocations_fail_before_any_api_request(sandbox, project, args, message) -> None:
    blocker = project / "not-a-directory"
    blocker.write_text("a file where a directory is expected", encoding="utf-8")
    args = [arg.replace("{file}", str(blocker)) for arg in args]
    run = run_cli(project, *args)
    assert run.code == 1
    assert message in run.log
    assert run.last_line.endswith("FALHA")
    assert btg_requests(sandbox) == 0


def test_a_wrong_database_fails_before_any_api_request(sandbox, project) -> None:
    """Issue 8: the set-up (here: a database that does not exist) is checked before the first
    ticket is asked for, and said in Portuguese, like the rest of this command."""
    url = "mysql://root@127.0.0.1:3306/etl_no_such_database"
    run = run_cli(project, "--data", DATE, extra={"WAREHOUSE_URL": url})
    assert run.code == 1
    assert "ambiente inválido: btg banco de dados:" in run.log
    assert "no_such_database" in run.log
    assert run.last_line.endswith("FALHA")
    assert btg_requests(sandbox) == 0


def test_failed_step_exits_1_with_the_error_in_the_log(sandbox, project) -> None:
    broken = dataset_for_seed(42).funds_on(dt.date.fromisoformat(DATE))[0]
    sandbox.control("config", {"btg_break_invariant": broken.cnpj})
    run = run_cli(project, "--tipo", "carteira", "--data", DATE)
    assert run.code == 1
    assert f"ERRO em processamento da carteira (fundos) de {DATE}: DataQualityError" in run.log
    assert broken.cnpj in run.log and "difference 0.01" in run.log
    assert run.last_line.endswith("FALHA")
    assert table_rows(project, "btg_fundos") == 0


# --- which date --dias-atras picks (in-process, hand-checked against the ANBIMA 2025 list) -------


@pytest.mark.parametrize(("today", "days", "expected"), [
    ("2025-04-14", 1, "2025-04-11"),  # Monday -> Friday
    ("2025-04-22", 1, "2025-04-17"),  # Tuesday after Tiradentes (Mon) and Good Friday -> Thursday
    ("2025-04-21", 1, "2025-04-17"),  # on Tiradentes itself: Friday 18 is Good Friday
    ("2025-04-21", 0, "2025-04-17"),  # 0 = today, or the last business day before a holiday
    ("2025-04-22", 3, "2025-04-15"),  # 17, 16, 15
    ("2025-03-05", 1, "2025-02-28"),  # Ash Wednesday: Carnival Mon/Tue and the weekend skipped
    ("2025-04-12", 1, "2025-04-11"),  # Saturday: the weekend day itself is not counted
])
def test_dias_atras_business_day_choice(monkeypatch, today, days, expected) -> None:
    monkeypatch.setenv("ETL_TODAY", today)
    assert reference_date(None, days) == dt.date.fromisoformat(expected)


def test_default_is_one_business_day_back_and_data_wins(monkeypatch) -> None:
    monkeypatch.setenv("ETL_TODAY", "2025-04-14")
    assert reference_date(None, None) == dt.date(2025, 4, 11)
    assert reference_date("2025-04-10", None) == dt.date(2025, 4, 10)
    with pytest.raises(UsageError):
        reference_date("2025-04-10", 1)
