"""etl-backfill against the sandbox: every date covered (no 100-day cap), resume after a failure and
after a SIGKILL, locked dates left alone, and the --plan grid read from disk without any API call.

Past dates give skipped stream snapshots (by design) and real, empty videos/clips partitions, so a
Twitch day takes a fraction of a second and 120 days fit in a test.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from etl_tasks.cli import backfill
from etl_tasks.errors import ConfigError
from etl_tasks.ops.dates import calendar_days, schedule
from tests.cli_helpers import project_env, run_command
from tests.ops.test_lock import holding_lock

pytestmark = pytest.mark.usefixtures("fast_retries")


def reports(output: Path) -> list[str]:
    """Dates whose report.json says they finished (done, skipped or failed), sorted. A date being
    run has a report from its first finished stage on, saying INCOMPLETE."""
    return sorted(
        p.parent.name.removeprefix("date=") for p in output.glob("reports/date=*/report.json")
        if json.loads(p.read_text())["status"] not in ("INCOMPLETE", "NOT RUN")
    )


def sidecar_times(output: Path, dates: list[str]) -> dict[str, int]:
    """mtime of every sidecar and report of the given dates (unchanged = not rerun)."""
    times = {}
    for day in dates:
        for path in [
            *output.glob(f"twitch/*/*/date={day}/_meta.json"),
            *output.glob(f"reports/date={day}/report.json"),
        ]:
            times[str(path)] = path.stat().st_mtime_ns
    return times


def api_calls(sandbox) -> dict:
    """The sandbox's request counters (its clock runs on, so it is left out)."""
    return {key: value for key, value in sandbox.stats().items() if key != "clock"}


def grid_rows(text: str) -> list[str]:
    """The date rows of a printed plan."""
    return [
        line
        for line in text.splitlines()
        if len(line) > 10 and line[:4].isdigit() and line[4] == "-"
    ]


def test_date_lists_are_inclusive_uncapped_and_btg_follows_anbima() -> None:
    days = calendar_days(dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    assert len(days) == 365 and days[0] == dt.date(2025, 1, 1) and days[-1] == dt.date(2025, 12, 31)
    assert calendar_days(dt.date(2025, 4, 10), dt.date(2025, 4, 10)) == [dt.date(2025, 4, 10)]
    with pytest.raises(ConfigError, match="is after the end date"):
        calendar_days(dt.date(2025, 4, 10), dt.date(2025, 4, 9))
    # Carnival 2025 (Mon 3 and Tue 4 March) and the weekend: BTG runs only on Wed 5 March;
    # with --pipeline all, Twitch still runs every day.
    week = schedule(dt.date(2025, 3, 1), dt.date(2025, 3, 5), ["twitch", "btg"])
    assert [(d.day, names) for d, names in week] == [
        (1, ["twitch"]),
        (2, ["twitch"]),
        (3, ["twitch"]),
        (4, ["twitch"]),
        (5, ["twitch", "btg"]),
    ]
    assert [d for d, _ in schedule(dt.date(2025, 3, 1), dt.date(2025, 3, 5), ["btg"])] == [
        dt.date(2025, 3, 5)
    ]
    # Dec 24 and Dec 31 are ANBIMA business days (B3 closes, banks do not)
    assert dt.date(2024, 12, 24) in [
        d for d, _ in schedule(dt.date(2024, 12, 23), dt.date(2024, 12, 31), ["btg"])
    ]


# 120 Luigi runs: ~3 min on an idle 2-core machine, 612 s measured under `make test-stress` with
# five other test suites on the host. Its hang guard is longer than the suite's 600 s default.
@pytest.mark.timeout(1800)
def test_120_days_all_run_then_plan_shows_120_complete_rows_without_api_calls(
    sandbox, workdir, capsys
) -> None:
    start, end = dt.date(2024, 12, 11), dt.date(2025, 4, 9)  # 120 days, all before the API's today
    started = time.perf_counter()
    code = backfill.main(["--start", str(start), "--end", str(end), "--no-validate"])
    elapsed = time.perf_counter() - started
    out = capsys.readouterr().out
    assert code == 0, out[-2000:]
    assert len(reports(workdir / "output")) == 120
    assert (
        reports(workdir / "output")[0] == "2024-12-11"
        and reports(workdir / "output")[-1] == "2025-04-09"
    )
    assert "backfill twitch: 120/120 dates done (0 failed, 120 skipped)" in out
    assert "backfill twitch: 60/120 dates done (0 failed, 60 skipped); 2025-02-08 ran" in out
    assert "120 ran, 0 were already complete" in out
    print(f"120-day backfill: {elapsed:.1f} s")  # a budget belongs in a benchmark, not here

    calls_before = api_calls(sandbox)
    assert backfill.main(["--start", str(start), "--end", str(end), "--plan"]) == 0
    plan = capsys.readouterr().out
    assert api_calls(sandbox) == calls_before, "the plan must not call any API"
    rows = grid_rows(plan)
    assert len(rows) == 120
    assert rows[0].split() == [
        "2024-12-11",
        "Wed",
        "s....",
        "..s..",
        ".",
        "..s..",
        "|",
        ".",
        "complete",
    ]
    assert all(row.endswith("complete") for row in rows)
    totals = next(line for line in plan.splitlines() if line.startswith("totals"))
    assert totals.split() == [
        "totals",
        "600/600",
        "600/600",
        "120/120",
        "600/600",
        "|",
        "120/120",
        "120/120",
        "complete",
    ]
    assert (
        "twitch streams: skipped on 120 date(s) (2024-12-11 .. 2025-04-09), "
        "by design: live snapshot" in plan
    )


def test_failed_dates_exit_30_and_the_rerun_runs_only_them(sandbox, workdir, capsys) -> None:
    output = workdir / "output"
    args = ["--start", "2025-04-08", "--end", "2025-04-12", "--no-validate"]
    # The API's clock says 2025-04-10: the 11th and 12th are in its future and fail.
    assert backfill.main(args) == 30
    out = capsys.readouterr().out
    assert "backfill twitch: 5/5 dates done (2 failed, 2 skipped)" in out
    assert "failed dates (2): 2025-04-11, 2025-04-12" in out
    assert "2025-04-11 is in the future for the Twitch API" in out
    done = ["2025-04-08", "2025-04-09", "2025-04-10"]
    assert reports(output) == [*done, "2025-04-11", "2025-04-12"]  # failed dates get a report too
    before = sidecar_times(output, done)

    assert backfill.main([*args, "--plan"]) == 0
    rows = grid_rows(capsys.readouterr().out)
    assert [row.split()[-1] for row in rows] == ["complete"] * 3 + ["failed"] * 2
    assert rows[2].split() == [
        "2025-04-10",
        "Thu",
        ".....",
        ".....",
        ".",
        ".....",
        "|",
        ".",
        "complete",
    ]
    assert rows[3].split()[:6] == ["2025-04-11", "Fri", "F----", "--~--", ".", "--~--"]

    sandbox.control("clock", {"now": "2025-04-12T15:00:00Z"})
    assert backfill.main(args) == 0
    out = capsys.readouterr().out
    assert (
        "backfill twitch: 5/5 dates done (0 failed, 3 skipped): 2 ran, 3 were already complete"
        in out
    )
    assert sidecar_times(output, done) == before
    snapshot = json.loads(
        (output / "twitch/extract/streams/date=2025-04-12/_meta.json").read_text()
    )
    assert snapshot["status"] == "done" and snapshot["rows"] > 0
    for day in ("2025-04-11", "2025-04-12"):
        assert (
            json.loads((output / f"reports/date={day}/report.json").read_text())["status"]
            == "SUCCESS"
        )


def test_a_killed_backfill_resumes_where_it_stopped(sandbox, tmp_path) -> None:
    env = project_env(tmp_path)
    command = [
        sys.executable,
        "-m",
        "etl_tasks.cli.backfill",
        "--start",
        "2025-03-01",
        "--end",
        "2025-03-30",
    ]
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    output = tmp_path / "output"
    try:
        deadline = time.monotonic() + 60
        while len(reports(output)) < 3 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)  # polling the files the run writes, bounded by the deadline
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finished = reports(output)
    assert 3 <= len(finished) < 30, finished
    before = sidecar_times(output, finished)

    rerun = run_command(["python", *command[1:]], tmp_path, env)
    assert rerun.code == 0, rerun.output[-3000:]  # not 10: the killed run's lock died with it
    assert "backfill twitch: 30/30 dates done (0 failed, 30 skipped)" in rerun.stdout
    assert len(reports(output)) == 30
    assert sidecar_times(output, finished) == before
    already = int(rerun.stdout.split(" were already complete")[0].rsplit(" ", 1)[-1])
    assert already >= len(finished)


def test_a_locked_date_is_left_alone_and_the_exit_code_is_10(sandbox, workdir, capsys) -> None:
    with holding_lock(workdir / "output", "twitch", dt.date(2025, 4, 9)) as holder:
        code = backfill.main(["--start", "2025-04-08", "--end", "2025-04-09", "--no-validate"])
        out = capsys.readouterr().out
        assert backfill.main(["--start", "2025-04-08", "--end", "2025-04-09", "--plan"]) == 0
        plan = capsys.readouterr().out
    assert f"running now: twitch 2025-04-09 (pid {holder.pid}, started" in plan
    assert code == 10
    assert "backfill twitch: 2/2 dates done (0 failed, 1 skipped, 1 locked)" in out
    assert (
        f"left alone (locked): 2025-04-09: another run of twitch for 2025-04-09 is in progress "
        f"(pid {holder.pid}, started"
    ) in out
    assert reports(workdir / "output") == ["2025-04-08"]
    assert not (workdir / "output/twitch/extract/streams/date=2025-04-09").exists()


def test_plan_with_the_warehouse_down_shows_loads_as_unknown(
    sandbox, workdir, capsys, monkeypatch
) -> None:
    args = ["--start", "2025-04-08", "--end", "2025-04-09"]
    assert backfill.main([*args, "--no-validate"]) == 0
    capsys.readouterr()
    monkeypatch.setenv(
        "TWITCH_WAREHOUSE_URL", "postgresql://etl:pw-secret-93@127.0.0.1:1/analytics"
    )
    assert backfill.main([*args, "--plan"]) == 0
    plan = capsys.readouterr().out
    rows = grid_rows(plan)
    assert [row.split()[2:7] for row in rows] == [["s....", "..s..", "?", "?????", "|"]] * 2
    assert all(row.endswith("unknown") for row in rows)
    assert (
        "? loads and schema shown as ?: warehouse unreachable, postgresql://etl:***@127.0.0.1:1/analytics"
        in plan
    )
    assert "pw-secret-93" not in plan


def test_plan_of_dates_not_run_yet_predicts_the_skipped_snapshots(workdir, capsys) -> None:
    assert backfill.main(["--start", "2025-04-01", "--end", "2025-04-02", "--plan"]) == 0
    plan = capsys.readouterr().out
    assert [row.split()[2:6] for row in grid_rows(plan)] == [["~----", "--~--", "-", "--~--"]] * 2
    assert "~ twitch streams: 2 date(s) before today" in plan
    assert not (workdir / "output" / "twitch").exists(), "the plan must write nothing"
    assert not (workdir / "warehouse.db").exists(), "the plan must not create the warehouse"


def test_bad_ranges_are_usage_errors(tmp_path) -> None:
    env = project_env(tmp_path)
    result = run_command(
        ["python", "-m", "etl_tasks.cli.backfill", "--start", "2025-04-10", "--end", "2025-04-01"],
        tmp_path,
        env,
    )
    assert result.code == 2
    assert "the start date 2025-04-10 is after the end date 2025-04-01" in result.stderr
    missing = run_command(
        ["python", "-m", "etl_tasks.cli.backfill", "--start", "2025-04-10"], tmp_path, env
    )
    assert missing.code == 2 and "--end" in missing.stderr


def test_a_range_without_business_days_has_nothing_to_run_for_btg(workdir, capsys) -> None:
    code = backfill.main(["--start", "2025-03-01", "--end", "2025-03-04", "--pipeline", "btg"])
    assert code == 0
    assert "backfill btg: no date to run in 2025-03-01 .. 2025-03-04" in capsys.readouterr().out
    assert not (workdir / "output").exists()
