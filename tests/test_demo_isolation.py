"""The demo keeps to its own root: after ``python -m etl_tasks.demo`` in a project directory, a
real run of the demo's date pointed at an API that does not answer fails and loads nothing (before,
it found the demo's sandbox targets in ``output/`` and loaded them without calling the API)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from etl_sandbox.launcher import free_port
from tests.cli_helpers import project_env, run_command

pytestmark = pytest.mark.slow

DATE = "2025-04-10"


def table_counts(database: Path) -> dict[str, int]:
    """Rows per table of a SQLite file (empty when the file does not exist)."""
    if not database.exists():
        return {}
    with sqlite3.connect(database) as connection:
        names = [row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {name: connection.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
                for name in names}


def test_demo_reruns_as_a_no_op_and_a_real_run_never_sees_its_targets(tmp_path: Path) -> None:
    demo = run_command(["python", "-m", "etl_tasks.demo"], tmp_path, project_env(tmp_path),
                       timeout=400)
    assert demo.code == 0, demo.output[-4000:]

    root = tmp_path / "output" / "demo"
    demo_rows = table_counts(root / "warehouse" / "demo.db")
    assert demo_rows.get("twitch_streams", 0) > 0 and demo_rows.get("btg_posicoes", 0) > 0
    assert list((root / "twitch").rglob("data.parquet"))
    assert list((root / "landing" / "btg" / "carteira" / DATE).iterdir())
    assert (root / "reports" / f"date={DATE}" / "report.txt").is_file()
    # Nothing of the demo outside its root: no real targets, reports, landing files or logs.
    assert sorted(p.name for p in (tmp_path / "output").iterdir()) == ["demo"]
    assert not (tmp_path / "logs").exists()

    # Again: the same sandbox port (its targets record that base URL), so no stage runs.
    again = run_command(["python", "-m", "etl_tasks.demo"], tmp_path, project_env(tmp_path),
                        timeout=400)
    assert again.code == 0, again.output[-4000:]
    assert " 0 tasks run · exit 0 (SUCCESS)" in again.output, again.output[-2000:]
    assert table_counts(root / "warehouse" / "demo.db") == demo_rows

    dead = f"http://127.0.0.1:{free_port()}"
    real_warehouse = tmp_path / "real.db"
    env = project_env(tmp_path, {
        "TWITCH_CLIENT_ID": "real-client-id", "TWITCH_CLIENT_SECRET": "real-secret",
        "TWITCH_AUTH_BASE_URL": dead, "TWITCH_API_BASE_URL": f"{dead}/helix",
        "BTG_CLIENT_ID": "real-btg-id", "BTG_CLIENT_SECRET": "real-btg-secret",
        "BTG_BASE_URL": dead, "WAREHOUSE_URL": f"sqlite:///{real_warehouse}",
        "ETL_TODAY": DATE,
    })
    real = run_command(["luigi", "--module", "etl_tasks", "RunAll", "--date", DATE,
                        "--local-scheduler"], tmp_path, env)
    assert real.code == 30, real.output[-4000:]
    loaded = {name: rows for name, rows in table_counts(real_warehouse).items() if rows}
    assert loaded == {}, f"the real run loaded rows: {loaded}"
    assert not list((tmp_path / "output").glob("*/extract/*/date=*/data.parquet"))
    assert table_counts(root / "warehouse" / "demo.db") == demo_rows
