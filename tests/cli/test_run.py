"""The Twitch entry points as a user runs them: etl-validate, etl-run, plain `luigi`, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_helpers import project_env, run_command

DATE = "2025-04-10"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return tmp_path


def all_text(directory: Path) -> str:
    """Every log and report file written under the project directory."""
    texts = []
    for path in [
        *directory.glob("logs/*.log"),
        *directory.glob("output/**/*.json"),
        *directory.glob("output/**/*.txt"),
    ]:
        texts.append(path.read_text(encoding="utf-8", errors="replace"))
    return "\n".join(texts)


def test_etl_run_success_prints_report_and_logs(sandbox, project) -> None:
    result = run_command(["etl-run", "--date", DATE], project, project_env(project))
    assert result.code == 0, result.output[-3000:]
    assert "📋 === RELATÓRIO FINAL DE EXECUÇÃO ===" in result.stdout
    assert "✅ NENHUM ERRO ENCONTRADO" in result.stdout
    report = json.loads((project / f"output/reports/date={DATE}/report.json").read_text())
    assert report["status"] == "SUCCESS" and report["total_records"] > 0
    assert f"Total de Registros Processados: {report['total_records']}" in result.stdout
    logs = list((project / "logs").glob("etl_*.log"))
    assert len(logs) == 1
    assert " INFO " in logs[0].read_text() and "etl-run finished: SUCCESS" in logs[0].read_text()


def test_bad_date_is_a_usage_error(project) -> None:
    result = run_command(["etl-run", "--date", "2025-13-40"], project, project_env(project))
    assert result.code == 2
    assert "invalid date '2025-13-40': expected YYYY-MM-DD" in result.stderr


def test_missing_credentials_fail_validation_with_a_fix(project) -> None:
    env = project_env(project, keep=False)
    result = run_command(["etl-run", "--date", DATE], project, env)
    assert result.code == 3
    assert "TWITCH_CLIENT_ID" in result.output and "copy .env.example to .env" in result.output
    assert not (project / "output/twitch").exists()


def test_wrong_secret_is_rejected_and_never_printed(sandbox, project) -> None:
    secret = "wrong-secret-value-1234"
    env = project_env(project, {"TWITCH_CLIENT_SECRET": secret})
    result = run_command(["etl-run", "--date", DATE], project, env)
    assert result.code == 3
    assert "Twitch API" in result.output
    assert secret not in result.output and secret not in all_text(project)


def test_validate_reports_each_check(sandbox, project) -> None:
    result = run_command(["etl-validate", "--pipeline", "twitch"], project, project_env(project))
    assert result.code == 0, result.stdout
    for name in (
        "twitch credentials",
        "python package luigi",
        "luigi.cfg",
        "[retcode]",
        "twitch warehouse",
        "Twitch API",
        "output directory",
        "logs directory",
    ):
        assert f"✅ {name}" in result.stdout, name


def test_validate_database_down_names_the_fix_not_the_password(sandbox, project) -> None:
    url = "postgresql://etl:hunter2-secret@127.0.0.1:1/analytics"
    env = project_env(project, {"TWITCH_WAREHOUSE_URL": url})
    result = run_command(["etl-validate", "--pipeline", "twitch"], project, env)
    assert result.code == 1
    assert "❌ twitch warehouse" in result.stdout
    assert "TWITCH_WAREHOUSE_URL" in result.stdout
    assert "hunter2-secret" not in result.output


def test_luigi_command_exit_codes_and_partial_rerun(sandbox, project) -> None:
    command = ["luigi", "--module", "etl_tasks", "RunAll", "--date", DATE, "--local-scheduler"]
    env = project_env(project, config_text="\n[pipelines]\nbtg = false\n")
    sandbox.control(
        "faults", {"api": "twitch", "path": "/helix/clips", "status": 503, "count": 10_000}
    )
    failed = run_command(command, project, env)
    assert failed.code == 30, failed.output[-3000:]
    report_text = (project / f"output/reports/date={DATE}/report.txt").read_text()
    assert "Status: FAILED" in report_text and "TwitchExtractClips" in report_text
    assert "ERROS ENCONTRADOS (1)" in report_text

    sandbox.clear_faults()
    rerun = run_command(command, project, env)
    assert rerun.code == 0, rerun.output[-3000:]
    assert "5 ran successfully" in rerun.output  # clips extract/transform/load, report, RunAll
    assert (
        "NENHUM ERRO ENCONTRADO" in (project / f"output/reports/date={DATE}/report.txt").read_text()
    )


def test_warehouse_down_during_run_is_reported(sandbox, project) -> None:
    env = project_env(
        project, {"TWITCH_WAREHOUSE_URL": "postgresql://etl:pw-secret-77@127.0.0.1:1/x"}
    )
    result = run_command(["etl-run", "--date", DATE, "--no-validate"], project, env)
    assert result.code in (30, 35), result.output[-3000:]
    report = json.loads((project / f"output/reports/date={DATE}/report.json").read_text())
    assert report["status"] == "FAILED"
    assert any("127.0.0.1:1" in error for error in report["errors"]), report["errors"]
    assert "pw-secret-77" not in result.output and "pw-secret-77" not in all_text(project)
    # the extracts and transforms are kept: the next run only loads
    assert (project / f"output/twitch/transform/streams/date={DATE}/_meta.json").exists()
