"""Scale-out through luigid: a run visible in the scheduler (progress, history), and two worker
processes on one graph sharing one Helix rate limit — each task once, no 429.

Everything is real: `etl-scheduler --background` on a free port, `luigi` worker processes, the
sandbox over loopback, a SQLite warehouse. Task history needs SQLAlchemy < 2 (the `history` extra).
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import re
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import luigi
import pytest
import requests

from etl_tasks.core.stage import StageTask
from etl_tasks.run_all import RunAll
from tests.cli_helpers import BIN, project_env, run_command
from tests.scheduler_helpers import api, running_scheduler

DATE = "2025-04-10"
REPO_ROOT = Path(__file__).resolve().parents[2]
TWITCH_ONLY = "\n[pipelines]\nbtg = false\n"
# Several processes on one graph: a worker waits for tasks another process is running instead of
# leaving at once, and polls luigid often (the defaults, 1 s + up to 5 s jitter, make tests crawl).
KEEP_ALIVE = "\n[worker]\nkeep_alive = true\nwait_interval = 0.2\nwait_jitter = 0.2\n"
SMALL_BUCKET = 80  # Helix points per minute: a run needs ~90, so the pacer must wait, briefly
RUNNING = re.compile(r"running\s+(\w+)\(date=" + DATE + r"[,)]")  # RunAll(date=D, pipelines=…)


def graph_tasks() -> list[luigi.Task]:
    """Every task RunAll(DATE) needs, Twitch pipeline only (computed here, not asked of luigid)."""
    config = luigi.configuration.get_config()
    config.set("pipelines", "btg", "false")
    try:
        seen: dict[str, luigi.Task] = {}
        pending: list[luigi.Task] = [RunAll(date=dt.date.fromisoformat(DATE))]
        while pending:
            task = pending.pop()
            if task.task_id not in seen:
                seen[task.task_id] = task
                pending.extend(luigi.task.flatten(task.requires()))
        return list(seen.values())
    finally:
        config.set("pipelines", "btg", "true")
        luigi.task_register.Register.clear_instance_cache()


def project(directory: Path, sandbox, overlay: str = "") -> dict[str, str]:
    """A project directory: the repository's luigi.cfg plus a test overlay, Twitch only."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO_ROOT / "luigi.cfg", directory / "luigi.cfg")
    return project_env(directory, sandbox.client_env(), config_text=TWITCH_ONLY + overlay)


def luigi_run_all(*options: str) -> list[str]:
    return [str(BIN / "luigi"), "--module", "etl_tasks", "RunAll", "--date", DATE, *options]


def twitch_requests(sandbox) -> dict[str, int]:
    return {k: n for k, n in sandbox.stats()["requests"].items() if k.startswith("twitch:")}


def history_done(database: Path) -> set[str]:
    """Task families luigid's history recorded as DONE."""
    with sqlite3.connect(database) as connection:
        rows = connection.execute(
            "SELECT DISTINCT t.name FROM tasks t JOIN task_events e ON e.task_id = t.id "
            "WHERE e.event_name = 'DONE'"
        ).fetchall()
    return {name for (name,) in rows}


def test_run_through_luigid_shows_progress_and_history(sandbox, tmp_path: Path) -> None:
    pytest.importorskip("sqlalchemy", reason="task history needs the history extra")
    env = project(tmp_path, sandbox)
    expected = graph_tasks()
    with running_scheduler(tmp_path, env) as url:
        result = run_command(luigi_run_all("--scheduler-url", url), tmp_path, env, timeout=120)
        assert result.code == 0, result.output[-3000:]

        done = api(url, "task_list", status="DONE")
        assert {task["name"] for task in done.values()} == {t.task_family for t in expected}
        assert set(done) == {t.task_id for t in expected}
        for status in ("PENDING", "RUNNING", "FAILED"):
            assert api(url, "task_list", status=status) == {}, status
        stages = [t for t in expected if isinstance(t, StageTask) and t.stage != "schema"]
        assert len(stages) == 15
        for task in stages:
            shown = done[task.task_id]
            assert shown["progress_percentage"] == 100, shown
            assert shown["status_message"].startswith("done: "), shown
        loads = [done[t.task_id]["status_message"] for t in stages if t.stage == "load"]
        assert all(re.fullmatch(r"done: \d+ rows in twitch_\w+", m) for m in loads), loads

        page = requests.get(f"{url}/history", timeout=10)
        assert page.status_code == 200 and "RunAll" in page.text
    history = history_done(tmp_path / "output" / "luigid" / "history.db")
    assert history == {t.task_family for t in expected}


def test_two_worker_processes_share_the_graph_and_the_rate_limit(sandbox, tmp_path: Path) -> None:
    expected = {t.task_family for t in graph_tasks()}
    # Baseline: one process, local scheduler, the same sandbox state.
    single = tmp_path / "single"
    env = project(single, sandbox)
    alone = run_command(luigi_run_all("--local-scheduler"), single, env, timeout=120)
    assert alone.code == 0, alone.output[-3000:]
    baseline = twitch_requests(sandbox)
    assert baseline["twitch:GET /helix/clips"] > 10  # enough requests to need pacing below

    sandbox.control("reset", {"seed": 42})
    sandbox.control("clock", {"now": "2025-04-10T15:00:00Z"})
    sandbox.control("config", {"SANDBOX_TWITCH_RATELIMIT": str(SMALL_BUCKET)})
    assert sum(baseline[k] for k in baseline if "/helix/" in k) > SMALL_BUCKET
    shared = tmp_path / "shared"
    env = project(shared, sandbox, KEEP_ALIVE)
    with running_scheduler(shared, env, "--no-history") as url:
        started = time.monotonic()
        workers = [
            subprocess.Popen(
                # Luigi itself lets one copy of a command line run per host: allow two.
                luigi_run_all("--scheduler-url", url, "--workers", "2", "--lock-size", "2"),
                cwd=shared,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in range(2)
        ]
        outputs = [worker.communicate(timeout=110)[0] for worker in workers]
        elapsed = time.monotonic() - started
        done = api(url, "task_list", status="DONE")
        failed = api(url, "task_list", status="FAILED")
    print(f"two worker processes, bucket {SMALL_BUCKET}/min: {elapsed:.1f} s")

    # Each process's exit code is Luigi's summary of what *it* saw: 10 when tasks it wanted were
    # run by the other process, 25 when such tasks finished elsewhere between two of its polls.
    # Both happen although the graph completed; success is told by luigid and by the report.
    codes = {worker.returncode for worker in workers}
    assert codes <= {0, 10, 25}, "\n".join(o[-2000:] for o in outputs)
    assert failed == {}
    report_path = shared / "output" / "reports" / f"date={DATE}" / "report.json"
    report = json.loads(report_path.read_text())
    assert report["status"] == "SUCCESS"
    assert {task["name"] for task in done.values()} == expected
    ran = collections.Counter(name for out in outputs for name in RUNNING.findall(out))
    assert set(ran) == expected and set(ran.values()) == {1}, ran
    by_process = [set(RUNNING.findall(out)) for out in outputs]
    assert all(by_process), by_process  # both processes did part of the work
    # Same requests as one process alone, and the shared pacer kept every one under the limit.
    stats = sandbox.stats()
    assert twitch_requests(sandbox) == baseline
    assert stats["statuses"].get("429", 0) == 0 and stats["twitch"]["rate_limited"] == 0
    waited = [
        json.loads(meta.read_text())["http"]["wait_s"]
        for meta in (shared / "output" / "twitch" / "extract").glob("*/date=*/_meta.json")
    ]
    assert len(waited) == 5 and sum(waited) > 0, waited  # pacing really happened
