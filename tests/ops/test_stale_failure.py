"""No stale failure state: after any transient fault, a plain rerun with everything healthy exits 0
and the date's report says SUCCESS — every time, not only once.

The fault matrix, each case in its own project directory against the sandbox, real commands:

* the warehouse unreachable after a good run (issue 12 defect 1: ``etl-run`` 0, then
  ``WAREHOUSE_URL=sqlite:////proc/nope/x.db etl-run --no-validate`` fails, then ``etl-run`` was 30
  forever because the failed completeness check's ``_failed.json`` outlived the outage);
* the warehouse unreachable on the first run of a date;
* the Twitch API answering 503 to every /helix/clips request;
* the BTG API answering 503 to the carteira request (``orquestrador-btg``);
* the disk refusing a partition's file (a directory where data.parquet must go).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli_helpers import Completed, project_env, run_command
from tests.state_helpers import assert_report_matches_disk

DATE = "2025-04-10"
UNREACHABLE = "sqlite:////proc/nope/x.db"
TWITCH_RUN = ["etl-run", "--date", DATE]
BTG_RUN = ["orquestrador-btg", "--data", DATE]


@dataclass
class Case:
    """One transient fault: what breaks, the command, how the fault is undone."""

    name: str
    command: list[str]
    pipeline: str
    good_run_first: bool = False
    inject: Callable[[object, Path, dict[str, str]], dict[str, str]] = lambda s, p, e: e
    heal: Callable[[object, Path], None] = lambda s, p: None


def unreachable_warehouse(sandbox, project: Path, env: dict[str, str]) -> dict[str, str]:
    return {**env, "WAREHOUSE_URL": UNREACHABLE}


def api_503(api: str, path: str) -> Callable[[object, Path, dict[str, str]], dict[str, str]]:
    def inject(sandbox, project: Path, env: dict[str, str]) -> dict[str, str]:
        sandbox.control("faults", {"api": api, "path": path, "status": 503, "count": 10_000})
        return env

    return inject


def partition_dir(project: Path) -> Path:
    return project / "output" / "twitch" / "transform" / "clips" / f"date={DATE}"


def blocked_partition(sandbox, project: Path, env: dict[str, str]) -> dict[str, str]:
    """A directory where the partition's data.parquet must be renamed to (the disk refuses the
    write, like a full or read-only volume would; root ignores permissions, so not chmod)."""
    blocker = partition_dir(project) / "data.parquet"
    blocker.mkdir(parents=True)
    (blocker / "keep").write_text("occupied", encoding="utf-8")
    return env


def unblock_partition(sandbox, project: Path) -> None:
    blocker = partition_dir(project) / "data.parquet"
    (blocker / "keep").unlink()
    blocker.rmdir()


def clear_faults(sandbox, project: Path) -> None:
    sandbox.clear_faults()


CASES = [
    Case("warehouse down after a good run", [*TWITCH_RUN, "--no-validate"], "twitch",
         good_run_first=True, inject=unreachable_warehouse),
    Case("warehouse down on the first run", [*TWITCH_RUN, "--no-validate"], "twitch",
         inject=unreachable_warehouse),
    Case("twitch API 503", TWITCH_RUN, "twitch", inject=api_503("twitch", "/helix/clips"),
         heal=clear_faults),
    Case("btg API 503", BTG_RUN, "btg", inject=api_503("btg", "/reports/Portfolio"),
         heal=clear_faults),
    Case("disk refuses a partition", TWITCH_RUN, "twitch", inject=blocked_partition,
         heal=unblock_partition),
]


def rerun(command: list[str]) -> list[str]:
    return [arg for arg in command if arg != "--no-validate"]


def report(project: Path) -> dict:
    return json.loads((project / f"output/reports/date={DATE}/report.json").read_text())


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_plain_rerun_after_a_transient_fault_succeeds(sandbox, tmp_path, case: Case) -> None:
    env = project_env(tmp_path, sandbox.client_env())
    if case.good_run_first:
        good = run_command(rerun(case.command), tmp_path, env)
        assert good.code == 0, good.output[-3000:]

    broken: Completed = run_command(case.command, tmp_path, case.inject(sandbox, tmp_path, env))
    assert broken.code != 0, broken.output[-3000:]
    state = report(tmp_path)
    assert state["pipeline_status"][case.pipeline] == "FAILED", state["errors"]
    failed_run = json.loads((tmp_path / "output/runs.jsonl").read_text().splitlines()[-1])
    failed_tasks = [t for t in state["tasks"] if t["status"] == "FAILED"]
    # The failure record names the attempt that made it.
    assert {t["failed_run_id"] for t in failed_tasks} == {failed_run["run_id"]}
    print(f"{case.name}: exit {broken.code}, {len(failed_tasks)} failed task(s)")

    case.heal(sandbox, tmp_path)
    for attempt in (1, 2):  # the second rerun proves nothing stale is left to trip over
        healed = run_command(rerun(case.command), tmp_path, env)
        assert healed.code == 0, (attempt, healed.output[-3000:])
        state = assert_report_matches_disk(tmp_path / "output", DATE)
        assert state["pipeline_status"][case.pipeline] == "SUCCESS"
        assert state["status"] == "SUCCESS" and state["errors"] == []
        assert not list((tmp_path / "output").glob(f"*/*/*/date={DATE}/_failed.json"))
    print(f"{case.name}: reruns exit 0, 0")
