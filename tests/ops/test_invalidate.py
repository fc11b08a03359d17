"""etl-invalidate: the downstream set comes from the RunAll graph, the rerun redoes exactly those
tasks and leaves the warehouse as it was, the dry run removes nothing, locks and bad names refuse.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import luigi
import pytest

from etl_tasks.cli import invalidate
from etl_tasks.ops.graph import TaskGraph
from etl_tasks.run_all import RunAll
from etl_tasks.twitch.tasks import EXTRACTS, LOADS, TRANSFORMS
from tests.cli_helpers import project_env, run_command
from tests.luigi_helpers import build
from tests.ops.test_lock import holding_lock

DATE = dt.date(2025, 4, 10)
TWITCH_TABLES = ("twitch_users", "twitch_games", "twitch_streams", "twitch_videos", "twitch_clips")


@pytest.fixture
def twitch_only() -> Iterator[None]:
    """RunAll covers Twitch only (BTG is tested by its own suite)."""
    config = luigi.configuration.get_config()
    config.set("pipelines", "btg", "false")
    yield
    config.set("pipelines", "btg", "true")


def warehouse(workdir: Path) -> dict[str, list[tuple]]:
    """Full contents of every Twitch table, and the audit markers without their load time."""
    with sqlite3.connect(workdir / "warehouse.db") as connection:
        tables = {
            t: connection.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in TWITCH_TABLES
        }
        tables["etl_load_audit"] = connection.execute(
            "SELECT task_id, table_name, partition_key, rows, sha256 FROM etl_load_audit"
            " ORDER BY 2, 3"
        ).fetchall()
    return tables


def stored_files(output: Path) -> set[str]:
    return {
        str(p.relative_to(output))
        for p in output.rglob("*")
        if p.is_file() and "locks" not in p.parts
    }


def test_downstream_sets_come_from_the_run_all_graph(workdir) -> None:
    graph = TaskGraph.walk(RunAll(date=DATE))
    clips = [task.task_family for task in graph.downstream("TwitchTransformClips")]
    assert clips == ["TwitchTransformClips", "TwitchLoadClips", "ReportTask", "RunAll"]
    streams = [task.task_family for task in graph.downstream("TwitchExtractStreams")]
    twitch = {cls.__name__ for cls in (*EXTRACTS, *TRANSFORMS, *LOADS)}
    assert set(streams) == twitch | {"ReportTask", "RunAll"}  # everything but the schema task
    assert streams[0] == "TwitchExtractStreams" and streams[-2:] == ["ReportTask", "RunAll"]
    assert streams.index("TwitchLoadUsers") < streams.index("TwitchLoadStreams")  # dependency order
    assert all(task.date == DATE for task in graph.downstream("TwitchExtractStreams"))
    assert [t.task_family for t in graph.downstream("RunAll")] == ["RunAll"]


def test_invalidated_transform_reruns_exactly_its_downstream_and_the_tables_are_unchanged(
    sandbox, workdir, twitch_only, capsys
) -> None:
    first = build(RunAll(date=DATE))
    assert first.ok, first.failed
    before = warehouse(workdir)
    assert len(before["twitch_clips"]) > 0
    output = workdir / "output"
    files_before = stored_files(output)

    assert invalidate.main(["--task", "TwitchTransformClips", "--date", str(DATE)]) == 0
    printed = capsys.readouterr().out
    assert "2025-04-10: 4 task(s) will run again" in printed
    assert (
        f"etl_load_audit twitch_clips 2025-04-10 in sqlite:///{workdir / 'warehouse.db'}" in printed
    )
    removed = files_before - stored_files(output)
    assert removed == {
        "twitch/transform/clips/date=2025-04-10/data.parquet",
        "twitch/transform/clips/date=2025-04-10/_meta.json",
        "twitch/load/clips/date=2025-04-10/_meta.json",
    }
    # The report is rewritten from the new state: what was removed shows NOT RUN.
    state = json.loads((output / "reports/date=2025-04-10/report.json").read_text())
    statuses = {task["task_family"]: task["status"] for task in state["tasks"]}
    assert statuses["TwitchTransformClips"] == statuses["TwitchLoadClips"] == "NOT RUN"
    assert statuses["TwitchExtractClips"] == "SUCCESS"
    assert state["status"] == "INCOMPLETE"
    markers = warehouse(workdir)["etl_load_audit"]
    assert [m for m in markers if m[1] == "twitch_clips"] == []
    assert len(markers) == len(before["etl_load_audit"]) - 1
    assert warehouse(workdir)["twitch_clips"] == before["twitch_clips"]  # rows stay until the rerun

    rerun = build(RunAll(date=DATE))
    assert rerun.ok, rerun.failed
    assert rerun.ran == {"TwitchTransformClips", "TwitchLoadClips", "ReportTask", "RunAll"}
    assert warehouse(workdir) == before
    assert (
        json.loads((output / "reports/date=2025-04-10/report.json").read_text())["status"]
        == "SUCCESS"
    )


def test_dry_run_prints_the_plan_and_removes_nothing(sandbox, workdir, twitch_only, capsys) -> None:
    assert build(RunAll(date=DATE)).ok
    output = workdir / "output"
    files_before, tables_before = stored_files(output), warehouse(workdir)
    code = invalidate.main(["--task", "TwitchExtractStreams", "--date", str(DATE), "--dry-run"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "2025-04-10: 17 task(s) will run again" in printed
    assert f"{output}/twitch/extract/streams/date=2025-04-10/{{data.parquet,_meta.json}}" in printed
    assert printed.count("marker  etl_load_audit twitch_") == 5
    assert "dry run: nothing was removed" in printed
    assert stored_files(output) == files_before and warehouse(workdir) == tables_before
    assert build(RunAll(date=DATE)).ran == set()


def test_a_range_invalidates_every_date(sandbox, workdir, twitch_only, capsys) -> None:
    days = [DATE - dt.timedelta(days=1), DATE]
    assert build(*(RunAll(date=day) for day in days)).ok
    before = warehouse(workdir)
    code = invalidate.main(
        ["--task", "TwitchLoadStreams", "--start", str(days[0]), "--end", str(DATE)]
    )
    assert code == 0
    assert "removed 2 load marker(s)" in capsys.readouterr().out
    rerun = build(*(RunAll(date=day) for day in days))
    assert rerun.ran == {"TwitchLoadStreams", "ReportTask", "RunAll"}
    assert warehouse(workdir) == before


def test_a_locked_date_is_refused_with_exit_10_and_nothing_removed(
    sandbox, workdir, twitch_only
) -> None:
    assert build(RunAll(date=DATE)).ok
    files_before = stored_files(workdir / "output")
    env = project_env(workdir, config_text="\n[pipelines]\nbtg = false\n")
    command = [
        "python",
        "-m",
        "etl_tasks.cli.invalidate",
        "--task",
        "TwitchTransformClips",
        "--date",
        str(DATE),
    ]
    with holding_lock(workdir / "output", "twitch", DATE) as holder:
        result = run_command(command, workdir, env)
    assert result.code == 10, result.output[-2000:]
    assert f"another run of twitch for 2025-04-10 is in progress (pid {holder.pid}" in result.stderr
    assert stored_files(workdir / "output") == files_before
    after = run_command(command, workdir, env)
    assert after.code == 0, after.output[-2000:]
    assert (
        "the next run redoes: TwitchTransformClips, TwitchLoadClips, ReportTask, RunAll"
        in after.stdout
    )


def test_unknown_task_name_exits_2_listing_the_valid_names(tmp_path) -> None:
    result = run_command(
        [
            "python",
            "-m",
            "etl_tasks.cli.invalidate",
            "--task",
            "TransformClips",
            "--date",
            str(DATE),
        ],
        tmp_path,
        project_env(tmp_path),
    )
    assert result.code == 2
    assert "unknown task 'TransformClips'" in result.stderr
    for name in ("TwitchTransformClips", "TwitchLoadStreams", "ReportTask"):
        assert f"\n  {name}\n" in result.stderr
    both = run_command(
        [
            "python",
            "-m",
            "etl_tasks.cli.invalidate",
            "--task",
            "RunAll",
            "--date",
            str(DATE),
            "--start",
            str(DATE),
        ],
        tmp_path,
        project_env(tmp_path),
    )
    assert both.code == 2 and "either --date or --start/--end" in both.stderr
