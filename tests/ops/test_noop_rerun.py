"""A complete day's rerun is answered by the no-op shortcut (etl_tasks.ops.noop) — no Luigi, Arrow,
numpy or pandas imported, no task run, report.json left byte-identical, one run record appended —
and any change (a deleted target, a removed load marker, another configuration) still goes through
the full check and runs the work it finds.

Each test runs the real ``etl-run`` against the sandbox in its own project directory; the import
graph of the rerun is read from ``python -X importtime`` (which modules were imported, not how
long they took).
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import pytest

from tests.cli_helpers import BIN, Completed, project_env, run_command

DATE = "2025-04-10"
RUN = ["etl-run", "--date", DATE, "--pipeline", "all", "--no-validate"]
HEAVY = ("luigi", "pyarrow", "numpy", "pandas")

pytestmark = pytest.mark.slow


def records(project: Path) -> list[dict]:
    lines = (project / "output" / "runs.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def report_json(project: Path) -> Path:
    return project / "output" / "reports" / f"date={DATE}" / "report.json"


def imported(stderr: str) -> set[str]:
    """Top-level packages of every module ``-X importtime`` reported."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


def rerun(project: Path, env: dict[str, str], command: list[str] = RUN) -> tuple[Completed, set]:
    """``command`` under ``python -X importtime``: its result and the packages it imported."""
    done = run_command(
        [sys.executable, "-X", "importtime", str(BIN / command[0]), *command[1:]], project, env
    )
    return done, imported(done.stderr)


@pytest.fixture
def complete_day(sandbox, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A project whose 2025-04-10 ran completely, both pipelines, through ``etl-run``."""
    env = project_env(tmp_path, sandbox.client_env())
    first = run_command(RUN, tmp_path, env)
    assert first.code == 0, first.output[-3000:]
    assert records(tmp_path)[-1]["tasks_run"], "the first run did the work"
    return tmp_path, env


def test_a_complete_days_rerun_imports_no_luigi_runs_nothing_and_rewrites_nothing(
    complete_day,
) -> None:
    project, env = complete_day
    before, count = report_json(project).read_bytes(), len(records(project))

    done, modules = rerun(project, env)

    assert done.code == 0, done.output[-3000:]
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))
    assert "sqlite3" in modules  # the load markers were asked of the warehouse
    assert report_json(project).read_bytes() == before
    assert len(records(project)) == count + 1
    last = records(project)[-1]
    assert last["tasks_run"] == [] and last["exit_code"] == 0 and last["status"] == "SUCCESS"
    assert "RELATÓRIO FINAL DE EXECUÇÃO" in done.stdout
    assert done.stdout.strip().splitlines()[-1].startswith(f"run {last['run_id']}:")

    # orquestrador-btg on the same day: nothing to run either (its own selection and scope).
    btg = run_command(["orquestrador-btg", "--data", DATE], project, env)
    assert btg.code == 0, btg.output[-3000:]
    assert records(project)[-1]["tasks_run"] == []
    assert report_json(project).read_bytes() == before


def test_a_deleted_target_or_another_configuration_goes_through_the_full_check(
    complete_day,
) -> None:
    project, env = complete_day
    data = project / "output" / "twitch" / "transform" / "games" / f"date={DATE}" / "data.parquet"
    data.unlink()

    done, modules = rerun(project, env)

    assert done.code == 0, done.output[-3000:]
    assert "luigi" in modules
    assert "TwitchTransformGames" in records(project)[-1]["tasks_run"]
    assert data.is_file()

    # Complete again: the shortcut answers the next rerun.
    done, modules = rerun(project, env)
    assert done.code == 0 and records(project)[-1]["tasks_run"] == []
    assert not modules & set(HEAVY)

    # Another luigi.cfg (even one that changes nothing of the day) is not the manifest's: the
    # full check answers, finds the day complete and leaves a manifest for the next rerun.
    config = Path(env["LUIGI_CONFIG_PATH"])
    config.write_text(config.read_text() + "\n# edited\n")
    done, modules = rerun(project, env)
    assert done.code == 0 and records(project)[-1]["tasks_run"] == []
    assert "luigi" in modules
    done, modules = rerun(project, env)
    assert done.code == 0 and records(project)[-1]["tasks_run"] == []
    assert not modules & set(HEAVY)


def test_a_removed_load_marker_runs_the_load_again(complete_day) -> None:
    project, env = complete_day
    with sqlite3.connect(project / "warehouse.db") as connection:
        removed = connection.execute(
            "DELETE FROM etl_load_audit WHERE table_name = 'btg_fundos' AND partition_key = ?",
            (DATE,),
        ).rowcount
    assert removed == 1
    before = report_json(project).read_bytes()

    done, modules = rerun(project, env)

    assert done.code == 0, done.output[-3000:]
    assert "luigi" in modules
    assert "BtgLoadFundos" in records(project)[-1]["tasks_run"]
    assert report_json(project).read_bytes() != before  # the run changed the date: rewritten
    with sqlite3.connect(project / "warehouse.db") as connection:
        (count,) = connection.execute(
            "SELECT count(*) FROM etl_load_audit WHERE table_name = 'btg_fundos'"
        ).fetchone()
    assert count == 1
