"""Two overlapping runs of the same date: the second exits 10 and touches nothing, the first
finishes, and the warehouse holds every row once."""

from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess
import time
from pathlib import Path

from etl_tasks.ops.lock import current_holder
from tests.cli_helpers import BIN, project_env, run_command
from tests.httpfixture import ScriptedServer

DATE = dt.date(2025, 4, 10)
SLOW_POLLING = "\n[btg]\npoll_initial_s = 0.2\npoll_max_interval_s = 0.2\npoll_deadline_s = 60\n"


def table_counts(database: Path) -> dict[str, int]:
    with sqlite3.connect(database) as connection:
        names = [
            r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        return {
            name: connection.execute(f"SELECT count(*) FROM {name}").fetchone()[0] for name in names
        }


def test_second_run_of_a_date_exits_10_and_the_first_finishes(sandbox, tmp_path: Path) -> None:
    # Every BTG ticket answers "Processando" until the test releases it: the first run holds the
    # lock for as long as the test needs, however slow the machine.
    sandbox.control("config", {"SANDBOX_BTG_PROCESSING_POLLS": "1000000"})
    env = project_env(tmp_path, config_text=SLOW_POLLING)
    first_log = open(tmp_path / "first-run.out", "w+")  # noqa: SIM115 - outlives this block; a file, not a pipe nobody drains
    first = subprocess.Popen(
        [str(BIN / "orquestrador-btg"), "--data", DATE.isoformat()],
        cwd=tmp_path,
        env=env,
        stdout=first_log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _while_the_first_runs(sandbox, first, tmp_path, env)
    except BaseException:
        first.kill()  # never leave a run polling the shared sandbox behind a failed assertion
        first.wait(timeout=30)
        raise
    first.wait(timeout=120)
    first_log.seek(0)
    assert first.returncode == 0, first_log.read()[-3000:]
    first_log.close()
    counts = table_counts(tmp_path / "warehouse.db")
    assert (
        counts["btg_fundos"] > 0 and counts["btg_posicoes"] > 0 and counts["btg_rentabilidade"] > 0
    )

    # Once the first run is over, the same command works and changes nothing.
    again = run_command(["orquestrador-btg", "--data", DATE.isoformat()], tmp_path, env)
    assert again.code == 0, again.output[-2000:]
    assert table_counts(tmp_path / "warehouse.db") == counts


def _while_the_first_runs(sandbox, first: subprocess.Popen, tmp_path: Path, env: dict) -> None:
    deadline = time.monotonic() + 30
    # Wait until the first run holds its lock and has its token (its first ticket exists).
    while (
        current_holder("btg", DATE, root=tmp_path / "output") is None
        or sandbox.stats()["btg"]["tickets_issued"] < 1
    ):
        assert first.poll() is None, (tmp_path / "first-run.out").read_text()
        assert time.monotonic() < deadline, "the first run never took its lock"
        time.sleep(0.05)  # polling an observable condition, bounded by the deadline

    # The later runs talk to a server of their own, so "requested nothing" is read from their
    # server alone, never from the sandbox the first run is still using.
    with ScriptedServer() as server:
        others = {**env, "BTG_BASE_URL": server.url}
        second = run_command(["orquestrador-btg", "--data", DATE.isoformat()], tmp_path, others)
        assert second.code == 10, second.output[-2000:]
        assert "another run of btg for 2025-04-10 is in progress" in second.output

        etl_run = run_command(
            ["etl-run", "--date", DATE.isoformat(), "--pipeline", "btg", "--no-validate"],
            tmp_path,
            others,
        )
        assert etl_run.code == 10, etl_run.output[-2000:]
        assert server.requests == []  # neither requested anything
    assert first.poll() is None, "the first run should still be polling its tickets"
    sandbox.control("config", {"SANDBOX_BTG_PROCESSING_POLLS": "0"})  # release the first run
