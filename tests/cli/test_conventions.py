"""What every command does the same way, run as real processes: ``--version``, a ``--help`` with
examples and exit codes, ``python -m etl_tasks``, a missing ``ETL_ENV_FILE``, validation that
creates nothing, and a central scheduler (luigid) that does not answer."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

from etl_sandbox.launcher import free_port
from tests.cli_helpers import project_env, run_command

DATE = "2025-04-10"
CONSOLE_SCRIPTS = sorted(
    point.name
    for point in importlib.metadata.distribution("etl_tasks").entry_points
    if point.group == "console_scripts"
)
# Every command a user runs, as they type it.
COMMANDS = [[name] for name in CONSOLE_SCRIPTS] + [
    ["python", "-m", "etl_tasks.demo"],
    ["python", "-m", "etl_tasks.status_page"],
]
ENV_FILE_COMMANDS = {  # command line -> its documented configuration-error exit code
    ("etl-run", "--date", DATE): 3,
    ("etl-validate",): 3,
    ("etl-backfill", "--start", DATE, "--end", DATE): 3,
    ("etl-invalidate", "--date", DATE, "--task", "TwitchLoadStreams", "--dry-run"): 3,
    ("orquestrador-btg", "--data", DATE): 1,
    ("luigi", "--module", "etl_tasks", "RunAll", "--date", DATE, "--local-scheduler"): 3,
}


def test_every_console_script_is_expected() -> None:
    assert {"etl-run", "etl-validate", "orquestrador-btg", "etl-backfill", "etl-invalidate",
            "etl-scheduler", "etl-sandbox"} <= set(CONSOLE_SCRIPTS)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_version_comes_from_the_package_metadata(command: list[str], tmp_path: Path) -> None:
    result = run_command([*command, "--version"], tmp_path, project_env(tmp_path))
    assert result.code == 0, result.output
    version = importlib.metadata.version("etl_tasks")
    assert f" {version} (etl_tasks; luigi {importlib.metadata.version('luigi')}" in result.stdout
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_has_examples_and_exit_codes(command: list[str], tmp_path: Path) -> None:
    result = run_command([*command, "--help"], tmp_path, project_env(tmp_path))
    assert result.code == 0, result.output
    text = result.stdout.lower()
    assert "exit codes" in text or "códigos de saída" in text  # orquestrador-btg is Portuguese
    name = command[-1] if command[0] == "python" else command[0]
    examples = [line for line in result.stdout.splitlines()
                if line.startswith("    ") and line.split()[0] in (name, "python")]
    assert examples, f"no example command line in {command} --help:\n{result.stdout}"


def test_python_m_etl_tasks_lists_and_dispatches(tmp_path: Path) -> None:
    env = project_env(tmp_path)
    listing = run_command(["python", "-m", "etl_tasks"], tmp_path, env)
    assert listing.code == 0, listing.output
    for name in CONSOLE_SCRIPTS:
        assert f"  {name} " in listing.stdout
    same = run_command(["python", "-m", "etl_tasks", "validate", "--offline"], tmp_path, env)
    direct = run_command(["etl-validate", "--offline"], tmp_path, env)
    assert (same.code, same.stdout) == (direct.code, direct.stdout)
    unknown = run_command(["python", "-m", "etl_tasks", "no-such-command"], tmp_path, env)
    assert unknown.code == 2 and "unknown command 'no-such-command'" in unknown.stderr


@pytest.mark.parametrize("command", sorted(ENV_FILE_COMMANDS), ids=" ".join)
def test_missing_etl_env_file_is_a_one_line_error(command: tuple[str, ...], tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "prod.env"
    env = project_env(tmp_path, {"ETL_ENV_FILE": str(missing)})
    result = run_command(list(command), tmp_path, env)
    assert result.code == ENV_FILE_COMMANDS[command], result.output[-3000:]
    assert f"ETL_ENV_FILE={missing} does not exist" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "output").exists()


def tree(directory: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``directory`` with its size and modification time (ns)."""
    return {str(path.relative_to(directory)): (path.stat().st_size, path.stat().st_mtime_ns)
            for path in sorted(directory.rglob("*"))}


def test_validation_creates_nothing(sandbox, tmp_path: Path) -> None:
    env = project_env(tmp_path)
    env.pop("WAREHOUSE_URL")  # the default: sqlite:///output/warehouse/etl.db, not there yet
    before = tree(tmp_path)
    result = run_command(["etl-validate", "--pipeline", "all"], tmp_path, env)
    assert result.code == 0, result.output[-3000:]
    assert "the first run creates it" in result.stdout
    assert tree(tmp_path) == before


def test_validation_opens_an_existing_sqlite_warehouse_read_only(sandbox, tmp_path: Path) -> None:
    import sqlite3

    database = tmp_path / "existing.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE kept (id INTEGER)")
    connection.close()
    env = project_env(tmp_path, {"WAREHOUSE_URL": f"sqlite:///{database}"})
    before = tree(tmp_path)
    result = run_command(["etl-validate", "--pipeline", "twitch"], tmp_path, env)
    assert result.code == 0, result.output[-3000:]
    assert "1 tables" in result.stdout
    assert tree(tmp_path) == before  # no -wal/-shm files, no journal-mode change


def test_plain_luigi_without_a_running_luigid_is_one_line(tmp_path: Path) -> None:
    port = free_port()
    result = run_command(["luigi", "--module", "etl_tasks", "RunAll", "--date", DATE,
                          "--scheduler-port", str(port)], tmp_path, project_env(tmp_path))
    assert result.code == 3, result.output[-3000:]
    assert f"cannot reach the Luigi scheduler (luigid) at http://localhost:{port}/" in result.output
    assert "--local-scheduler" in result.output
    assert "Traceback" not in result.output and "Retrying attempt" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_etl_run_with_a_dead_scheduler_url_is_one_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = run_command(["etl-run", "--date", DATE, "--scheduler-url", url], tmp_path,
                         project_env(tmp_path))
    assert result.code == 3, result.output[-3000:]
    assert result.stderr.strip() == (
        f"etl-run: configuration error: cannot reach the Luigi scheduler (luigid) at {url} "
        "(connection refused): start it (etl-scheduler --background, or make luigid) or run "
        "with the local scheduler (luigi: --local-scheduler; the project's commands: leave out "
        "--scheduler-url)"
    )
    assert not (tmp_path / "output" / "reports").exists()


def test_orquestrador_btg_with_a_dead_scheduler_url_fails_with_exit_1(tmp_path: Path) -> None:
    """Its guide promises cron 0 or 1 (10: the date is locked): a dead luigid is a failure (1),
    said in Portuguese, before any lock, API call or report."""
    url = f"http://127.0.0.1:{free_port()}"
    result = run_command(["orquestrador-btg", "--data", DATE, "--scheduler-url", url], tmp_path,
                         project_env(tmp_path))
    assert result.code == 1, result.output[-3000:]
    assert (f"o agendador central (luigid) em {url} não responde: inicie-o (etl-scheduler "
            "--background ou make luigid) ou omita --scheduler-url") in result.output
    assert "Traceback" not in result.output and "cannot reach" not in result.output
    assert result.output.rstrip().endswith("FALHA")
    assert not (tmp_path / "output" / "reports").exists()
    assert not (tmp_path / "output" / "btg").exists()
