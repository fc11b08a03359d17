"""Temporary files of a load live under the output directory and a later load removes them
(issue 12 item 8; defect 8: a kill during a MariaDB load left ``/tmp/etl-feed-*`` forever).

The real case: a child process loads a file into MariaDB and is killed with SIGKILL while its
named pipe feeds LOAD DATA; the pipe must be under ``<Parquet directory>/.etl-scratch/`` (not in
``/tmp``), still there after the kill, and gone after the next load of the table, which loads
every row.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from etl_tasks.warehouse.mysql import MySQLWarehouse
from etl_tasks.warehouse.scratch import SCRATCH_DIRECTORY, load_scratch, remove_stale
from tests.warehouse.contract import DAY, marker_for
from tests.warehouse.test_partition import TABLE, rows_file

ROWS = 400_000
CHILD = """
import os, sys
from pathlib import Path
from etl_tasks.warehouse.mysql import MySQLWarehouse
from tests.warehouse.contract import DAY, marker_for
from tests.warehouse.test_partition import TABLE
with MySQLWarehouse(os.environ["ETL_TEST_URL"]) as warehouse:
    warehouse.load_partition(TABLE, Path(sys.argv[1]), DAY, marker_for(TABLE, "killed"))
"""


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_load_removes_what_earlier_loads_and_dead_processes_left(tmp_path: Path) -> None:
    parquet = tmp_path / "t.parquet"
    root = tmp_path / SCRATCH_DIRECTORY
    same_table = root / f"positions-{dead_pid()}-aaaa1111"
    other_dead = root / f"events-{dead_pid()}-bbbb2222"
    other_live = root / f"events-{os.getppid()}-cccc3333"  # a live process loading another table
    foreign = root / "not-ours"
    for directory in (same_table, other_dead, other_live, foreign):
        directory.mkdir(parents=True)
    os.mkfifo(same_table / "rows.csv")
    mine = load_scratch(parquet, "positions")
    assert mine.parent == root and mine.is_dir()
    assert not same_table.exists() and not other_dead.exists()
    assert other_live.exists() and foreign.exists()
    assert remove_stale(root, "events") == 1  # now the live one of another table is "earlier"


@pytest.mark.mysql
def test_a_kill_during_a_mariadb_load_leaves_its_pipe_only_until_the_next_load(
    mysql_url: str, tmp_path: Path
) -> None:
    big = rows_file(tmp_path / "big.parquet", ROWS)
    with MySQLWarehouse(mysql_url) as warehouse:
        warehouse.ensure_schema([TABLE])
    root = tmp_path / SCRATCH_DIRECTORY
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(big)],
        env={**os.environ, "ETL_TEST_URL": mysql_url},
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        deadline = time.monotonic() + 120
        pipes: list[Path] = []
        while not pipes and time.monotonic() < deadline and child.poll() is None:
            pipes = [
                path
                for path in root.glob("*/etl-feed-*/rows.csv")
                if stat.S_ISFIFO(path.lstat().st_mode)
            ]
            time.sleep(0.05)
        assert pipes, "the child never opened its named pipe under the output directory"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert pipes[0].exists()  # nothing could clean up after SIGKILL
    assert str(child.pid) in pipes[0].parent.parent.name
    with MySQLWarehouse(mysql_url) as warehouse:
        loaded = warehouse.load_partition(TABLE, big, DAY, marker_for(TABLE, "rerun"))
        assert loaded == ROWS
        assert warehouse.count_rows(TABLE.name) == ROWS
    assert not pipes[0].exists()
    assert not root.exists()  # this load's own directory went too, and the emptied root
