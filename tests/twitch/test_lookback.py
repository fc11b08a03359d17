"""Late data: a run with lookback 1 re-pulls the previous date's videos and clips, replaces exactly
those partitions in the warehouse, and a rerun changes nothing.

The sandbox's clips keep appearing after a snapshot (broadcasts go on after 15:00), so the re-pull
of 2025-04-09 made on 2025-04-10 finds clips the first pull could not; the expected rows come from
the sandbox's dataset as of the re-pull."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pyarrow.parquet as pq
import pytest

from etl_sandbox.twitch_data import TwitchDataset
from etl_tasks.twitch.tasks import final_tasks
from tests.luigi_helpers import build
from tests.twitch.helpers import partition, settings, sidecar

DAY, PREVIOUS, UNTOUCHED = dt.date(2025, 4, 10), dt.date(2025, 4, 9), dt.date(2025, 4, 8)

pytestmark = pytest.mark.usefixtures("fast_retries")


def rows(workdir, sql: str, *params) -> list[tuple]:
    with sqlite3.connect(workdir / "warehouse.db") as connection:
        return connection.execute(sql, params).fetchall()


def markers(workdir) -> dict[tuple[str, str], tuple]:
    found = rows(workdir, "SELECT table_name, partition_key, sha256, loaded_at FROM etl_load_audit")
    return {(table, key): (sha, at) for table, key, sha, at in found}


def run_day(sandbox, day: dt.date, lookback: int = 0):
    sandbox.control("clock", {"now": f"{day.isoformat()}T15:00:00Z"})
    with settings("pipelines", btg="false"):
        return build(*final_tasks(day, lookback=lookback))


def test_lookback_replaces_exactly_the_previous_days_and_a_rerun_changes_nothing(
    sandbox, workdir
):
    for day in (UNTOUCHED, PREVIOUS):
        assert run_day(sandbox, day).ok
    first_clips = {r[0] for r in rows(workdir, "SELECT id FROM twitch_clips WHERE created_date"
                                               " = ?", PREVIOUS.isoformat())}
    before = markers(workdir)
    untouched_meta = sidecar("extract", "clips", UNTOUCHED)

    result = run_day(sandbox, DAY, lookback=1)
    assert result.ok, result.failed
    assert {"TwitchExtractVideos", "TwitchExtractClips", "TwitchLoadClips"} <= result.ran

    # The previous day's clips are those of its scope as the API shows them now.
    dataset = TwitchDataset(42)
    repulled_at = dt.datetime.fromisoformat(sidecar("extract", "clips", PREVIOUS)["finished_at"])
    assert sidecar("extract", "clips", PREVIOUS)["extra"]["pulled_on"] == DAY.isoformat()
    snapshot = pq.read_table(partition("extract", "streams", PREVIOUS) / "data.parquet")
    scope = set(snapshot["user_id"].to_pylist())
    sandbox_now = dt.datetime(2025, 4, 10, 15, tzinfo=dt.timezone.utc) + (
        repulled_at - dt.datetime.fromisoformat(sidecar("extract", "clips", PREVIOUS)
                                                ["started_at"]))
    expected = {c["id"] for b in scope for c in dataset.clips_created_on(b, PREVIOUS,
                                                                         sandbox_now)}
    loaded = {r[0] for r in rows(workdir, "SELECT id FROM twitch_clips WHERE created_date = ?",
                                 PREVIOUS.isoformat())}
    assert loaded == expected
    assert first_clips < loaded  # late clips arrived and replaced the partition, none doubled
    assert rows(workdir, "SELECT count(*) - count(DISTINCT id) FROM twitch_clips") == [(0,)]

    after = markers(workdir)
    assert after[("twitch_clips", PREVIOUS.isoformat())] != before[("twitch_clips",
                                                                    PREVIOUS.isoformat())]
    for key, value in before.items():
        if key[1] == UNTOUCHED.isoformat():
            assert after[key] == value, key
    assert sidecar("extract", "clips", UNTOUCHED) == untouched_meta

    table_rows = {t: rows(workdir, f"SELECT * FROM {t} ORDER BY 1")
                  for t in ("twitch_videos", "twitch_clips")}
    rerun = run_day(sandbox, DAY, lookback=1)
    assert rerun.ok and rerun.ran == set(), rerun.ran
    assert markers(workdir) == after
    assert {t: rows(workdir, f"SELECT * FROM {t} ORDER BY 1") for t in table_rows} == table_rows


def test_a_lookback_is_a_run_option_of_run_all_not_global_configuration() -> None:
    from luigi.configuration import get_config

    from etl_tasks.run_all import RunAll

    configured = get_config().get("twitch", "lookback", None)
    with_lookback = RunAll(date=DAY, pipelines="twitch", options={"twitch": {"lookback": 2}})
    plain = RunAll(date=DAY, pipelines="twitch")

    repulls = sorted(
        (task.task_family, task.date.isoformat())
        for task in with_lookback.requires().requires()
        if getattr(task, "refresh_on", None) == DAY
    )
    assert repulls == [
        ("TwitchLoadClips", "2025-04-08"), ("TwitchLoadClips", "2025-04-09"),
        ("TwitchLoadVideos", "2025-04-08"), ("TwitchLoadVideos", "2025-04-09"),
    ]
    assert all(getattr(task, "refresh_on", None) is None for task in plain.requires().requires())
    assert with_lookback.task_id != plain.task_id  # two different runs for luigid too
    assert get_config().get("twitch", "lookback", None) == configured
