"""The state of a date stays true whichever command ran: a scripted sequence of real commands
(failed then fixed ``orquestrador-btg``, ``etl-run`` for Twitch, plain ``luigi … RunAll`` through
luigid, ``etl-invalidate``, ``etl-backfill``) against the sandbox, with report.json and the status
page compared with the sidecars on disk after every step; the luigid case that used to exit 25;
plain luigi's console; run records; the status page of a failed date in headless Chromium.
"""

from __future__ import annotations

import html
import json
import shutil
from pathlib import Path

from tests.cli_helpers import project_env, run_command
from tests.scheduler_helpers import running_scheduler
from tests.state_helpers import (
    assert_page_matches_disk,
    assert_report_matches_disk,
    on_disk,
    report_of,
)
from tests.test_status_page import run_browser

DATE = "2025-04-10"
CARTEIRA_503 = {"api": "btg", "path": "/reports/Portfolio", "status": 503, "count": 10_000}


def runs_log(project: Path) -> list[dict]:
    path = project / "output" / "runs.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def check_state(project: Path) -> dict:
    output = project / "output"
    report = assert_report_matches_disk(output, DATE)
    assert_page_matches_disk(output, DATE)
    return report


def test_scripted_sequence_keeps_report_and_page_equal_to_the_sidecars(sandbox, tmp_path) -> None:
    project = tmp_path
    env = project_env(project, sandbox.client_env())

    # 1. orquestrador-btg while BTG's carteira endpoint answers 503: FALHA, the state says why.
    sandbox.control("faults", CARTEIRA_503)
    failed = run_command(["orquestrador-btg", "--data", DATE], project, env)
    assert failed.code == 1, failed.output[-3000:]
    report = check_state(project)
    assert report["pipeline_status"]["btg"] == "FAILED"
    assert report["pipeline_status"]["twitch"] == "NOT RUN"
    assert report["rerun_command"].endswith(f"orquestrador-btg --data {DATE}")
    assert runs_log(project)[-1]["exit_code"] == 1

    # 2. The same command once BTG is back: SUCESSO, and the date is no longer failed.
    sandbox.clear_faults()
    fixed = run_command(["orquestrador-btg", "--data", DATE], project, env)
    assert fixed.code == 0, fixed.output[-3000:]
    report = check_state(project)
    assert report["pipeline_status"]["btg"] == "SUCCESS" and report["rerun_command"] is None
    assert report["last_run"]["command"].startswith("orquestrador-btg")

    # 3. etl-run (Twitch by default) keeps BTG in the report.
    twitch = run_command(["etl-run", "--date", DATE], project, env)
    assert twitch.code == 0, twitch.output[-3000:]
    report = check_state(project)
    assert report["pipeline_status"] == {"twitch": "SUCCESS", "btg": "SUCCESS"}
    assert report["status"] == "SUCCESS"

    # 4. Plain luigi through luigid: everything is done, exit 0, state unchanged.
    with running_scheduler(project, env) as url:
        plain = run_command(
            ["luigi", "--module", "etl_tasks", "RunAll", "--date", DATE, "--scheduler-url", url],
            project, env,
        )
    assert plain.code == 0, plain.output[-3000:]
    assert check_state(project)["status"] == "SUCCESS"

    # 5. etl-invalidate: the removed tasks show NOT RUN, right away.
    invalidated = run_command(
        ["etl-invalidate", "--task", "TwitchTransformClips", "--date", DATE], project, env
    )
    assert invalidated.code == 0, invalidated.output[-3000:]
    report = check_state(project)
    statuses = {task["task_family"]: task["status"] for task in report["tasks"]}
    assert statuses["TwitchTransformClips"] == statuses["TwitchLoadClips"] == "NOT RUN"
    assert report["pipeline_status"]["twitch"] == "INCOMPLETE"

    # 6. etl-backfill of that one date, every pipeline: it redoes exactly what was removed.
    backfill = run_command(
        ["etl-backfill", "--start", DATE, "--end", DATE, "--pipeline", "all"], project, env
    )
    assert backfill.code == 0, backfill.output[-3000:]
    report = check_state(project)
    assert report["status"] == "SUCCESS"
    assert sorted(report["last_run"]["tasks_run"]) == [
        "ReportTask", "RunAll", "TwitchLoadClips", "TwitchTransformClips"
    ]

    # Every command appended its run record, and printed it as its last line.
    records = runs_log(project)
    commands = [record["command"].split()[0] for record in records]
    assert commands == [
        "orquestrador-btg", "orquestrador-btg", "etl-run", "luigi", "etl-invalidate",
        "etl-backfill",
    ]
    assert [record["exit_code"] for record in records] == [1, 0, 0, 0, 0, 0]
    # Plain luigi's record: nothing left to do, both pipelines of the date, Luigi's exit code.
    assert records[3]["pipelines"] == ["twitch", "btg"] and records[3]["dates"] == [DATE]
    assert records[3]["tasks_run"] == [] and records[3]["status"] == "SUCCESS"
    assert plain.stdout.strip().splitlines()[-1].startswith(f"run {records[3]['run_id']}:")
    assert all(record["wall_clock_s"] > 0 and record["run_id"] for record in records)
    assert backfill.stdout.strip().splitlines()[-1].startswith(f"run {records[-1]['run_id']}:")


def test_etl_run_then_plain_luigi_on_one_luigid_both_exit_0(sandbox, tmp_path) -> None:
    """Used to exit 25 ("ReportTask, RunAll not granted run permission"): the second RunAll had
    the same task ids as the first (pipelines came from global config), which luigid had marked
    DONE seconds before and so ignored as PENDING (its stable-done cooldown)."""
    env = project_env(tmp_path, sandbox.client_env())
    with running_scheduler(tmp_path, env) as url:
        first = run_command(["etl-run", "--date", DATE, "--scheduler-url", url], tmp_path, env)
        assert first.code == 0, first.output[-3000:]
        second = run_command(
            ["luigi", "--module", "etl_tasks", "RunAll", "--date", DATE, "--scheduler-url", url],
            tmp_path, env,
        )
        assert second.code == 0, second.output[-3000:]
    assert "not granted run permission" not in second.output
    report = check_state(tmp_path)
    assert report["pipeline_status"] == {"twitch": "SUCCESS", "btg": "SUCCESS"}


def test_plain_luigi_prints_the_project_lines_once(sandbox, tmp_path) -> None:
    env = project_env(tmp_path, sandbox.client_env())
    result = run_command(
        ["luigi", "--module", "etl_tasks", "TwitchExtractStreams", "--date", DATE,
         "--local-scheduler"],
        tmp_path, env,
    )
    assert result.code == 0, result.output[-3000:]
    console = result.stderr
    assert console.count("TwitchExtractStreams: started") == 1, console[-3000:]
    assert console.count("TwitchExtractStreams: done:") == 1
    assert console.count("running   TwitchExtractStreams(date=2025-04-10)") == 1  # Luigi's own
    # Like every command, it ends with its run record, also appended to the runs log.
    (record,) = runs_log(tmp_path)
    assert record["command"].startswith("luigi --module etl_tasks TwitchExtractStreams")
    assert record["tasks_run"] == ["TwitchExtractStreams"] and record["exit_code"] == 0
    assert record["pipelines"] == ["twitch"] and record["dates"] == [DATE]
    assert result.stdout.strip().splitlines()[-1] == (
        f"run {record['run_id']}: {record['command']} · twitch · {DATE} · "
        f"{record['wall_clock_s']:.2f} s · 1 tasks run · exit 0 (SUCCESS)"
    )
    log = next((tmp_path / "logs").glob("etl_*.log")).read_text()
    assert log.count("TwitchExtractStreams: started") == 1
    # A plain run of one stage updates the state of its date too.
    report = check_state(tmp_path)
    assert {t["task_family"]: t["status"] for t in report["tasks"]}["TwitchExtractStreams"] == (
        "SUCCESS"
    )


def test_a_failed_date_on_the_status_page_in_chromium(sandbox, tmp_path) -> None:
    env = project_env(tmp_path, sandbox.client_env())
    sandbox.control("faults", {"api": "twitch", "path": "/helix/clips", "status": 503,
                               "count": 10_000})
    failed = run_command(["etl-run", "--date", DATE], tmp_path, env)
    assert failed.code == 30, failed.output[-3000:]
    output = tmp_path / "output"
    page = assert_page_matches_disk(output, DATE)
    report = report_of(output, DATE)
    error = next(item.error for item in on_disk(output, DATE).values() if item.error)
    rerun = report["rerun_command"]
    assert rerun.endswith(f"etl-run --date {DATE} --pipeline twitch")

    index = output / "reports" / "index.html"
    dom, console = run_browser(index, tmp_path / "profile-dom", "--dump-dom")
    assert console == []
    attention = html.unescape(dom[dom.index('id="attention"'):dom.index("</ul>")])
    assert error.split(":")[0] in attention and rerun in attention
    assert "503" in attention
    screenshot = tmp_path / "failed-date.png"
    _, console = run_browser(index, tmp_path / "profile-shot", f"--screenshot={screenshot}",
                             "--window-size=1280,900", "--hide-scrollbars")
    png = screenshot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    shutil.copyfile(screenshot, output / "failed-date.png")
    print(f"screenshot of the failed date: {screenshot}")
    assert "log</a>" in page  # the last run's log is linked
