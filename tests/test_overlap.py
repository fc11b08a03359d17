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

DATE = dt.date(2025, 4, 10)
SLOW_POLLING = "\n[btg]\npoll_initial_s = 0.2\npoll_max_interval_s = 0.2\npoll_deadline_s = 60\n"


def table_counts(database: Path) -> dict[str, int]:
    with sqlite3.connect(database) as connection:
        names = [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {name: connection.execute(f"SELECT count(*) FROM {name}").fetchone()[0] for name in names}


def test_second_run_of_a_date_exits_10_and_the_first_finishes(sandbox, tmp_path: Path) -> None:
    # Each BTG ticket answers "Processando" 15 times (0.2 s apart): the first run holds the lock
    # for about 3 s per report.
    sandbox.control("config", {"SANDBOX_BTG_PROCESSING_POLLS": "15"})
    env = project_env(tmp_path, config_text=SLOW_POLLING)
    first = subprocess.Popen(
        [str(BIN / "orquestrador-btg"), "--data", DATE.isoformat()],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    deadline = time.monotonic() + 30
    while current_holder("btg", DATE, root=tmp_path / "output") is None:
        assert first.poll() is None, first.stdout.read()
        assert time.monotonic() < deadline, "the first run never took its lock"
        time.sleep(0.05)  # polling an observable condition, bounded by the deadline

    tickets_before = sandbox.stats()["btg"]["tickets_issued"]
    second = run_command(["orquestrador-btg", "--data", DATE.isoformat()], tmp_path, env)
    assert second.code == 10, second.output[-2000:]
    assert "another run of btg for 2025-04-10 is in progress" in second.output
    assert sandbox.stats()["btg"]["tickets_issued"] == tickets_before  # it requested nothing

    etl_run = run_command(["etl-run", "--date", DATE.isoformat(), "--pipeline", "btg"], tmp_path, env)
    assert etl_run.code == 10, etl_run.output[-2000:]

    output, _ = first.communicate(timeout=120)
    assert first.returncode == 0, output[-3000:]
    counts = table_counts(tmp_path / "warehouse.db")
    assert counts["btg_fundos"] > 0 and counts["btg_posicoes"] > 0 and counts["btg_rentabilidade"] > 0

    # Once the first run is over, the same command works and changes nothing.
    again = run_command(["orquestrador-btg", "--data", DATE.isoformat()], tmp_path, env)
    assert again.code == 0, again.output[-2000:]
    assert table_counts(tmp_path / "warehouse.db") == counts
