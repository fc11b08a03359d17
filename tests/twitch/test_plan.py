"""The Twitch request plan: an estimate before the snapshot, exact once it exists, the sidecars'
requests once the extracts ran; checked against the calls the sandbox counted."""

from __future__ import annotations

import datetime as dt
import math

import pyarrow.parquet as pq
import pytest
from luigi.configuration import get_config

from etl_tasks.cli import run as run_cli
from etl_tasks.twitch.extract import TwitchExtractStreams, TwitchExtractUsers, TwitchExtractVideos
from etl_tasks.twitch.languages import language_partitions
from etl_tasks.twitch.plan import render_plan, request_plan
from tests.luigi_helpers import build
from tests.twitch.helpers import partition, sandbox_calls, settings

DATE = dt.date(2025, 4, 10)

pytestmark = pytest.mark.usefixtures("fast_retries")


def by_entity(stages, date=DATE):
    return {stage.entity: stage for stage in stages if stage.date == date}


def test_plan_is_estimated_then_exact_then_what_was_made(sandbox, workdir):
    configured = ["12345"]
    with settings("twitch", expected_live_streams="1000", broadcaster_ids=configured,
                  top_broadcasters="10"):
        before = by_entity(request_plan(DATE, lookback=0))
        walks = len(language_partitions())  # one walk per language partition, each ends once
        assert before["streams"].kind == "estimate"
        assert before["streams"].calls == 1000 // 100 + walks
        assert before["users"].calls == math.ceil(1001 / 100)
        assert sandbox.stats()["total_requests"] == 0  # planning calls nothing

        assert build(TwitchExtractStreams(date=DATE)).ok
        live = set(pq.read_table(partition("extract", "streams", DATE) / "data.parquet",
                                 columns=["user_id"])["user_id"].to_pylist())
        exact = by_entity(request_plan(DATE, lookback=0))
        assert exact["users"].kind == "exact"
        assert exact["users"].calls == math.ceil(len(live | set(configured)) / 100)
        assert exact["videos"].kind == "at least" and exact["videos"].calls == 11
        assert exact["streams"].kind == "done"
        assert exact["streams"].calls == sandbox_calls(sandbox, "/streams")

        assert build(TwitchExtractUsers(date=DATE), TwitchExtractVideos(date=DATE)).ok
        assert sandbox_calls(sandbox, "/users") == exact["users"].calls
        assert sandbox_calls(sandbox, "/videos") >= exact["videos"].calls
        done = by_entity(request_plan(DATE, lookback=0))
        assert done["videos"].kind == "done"
        assert done["videos"].calls == sandbox_calls(sandbox, "/videos")
        text = render_plan(DATE, request_plan(DATE, lookback=2))
    assert "2025-04-08  videos" in text and "2025-04-09  clips" in text
    assert "min at the bucket" in text


def test_etl_run_plan_prints_and_calls_nothing(sandbox, workdir, capsys):
    configured = get_config().get("twitch", "lookback", None)
    code = run_cli.main(["--date", DATE.isoformat(), "--plan", "--lookback", "1"])

    out = capsys.readouterr().out
    assert code == 0
    # The option went to the plan as a run option, not into the process's Luigi configuration.
    assert get_config().get("twitch", "lookback", None) == configured
    assert out.startswith(f"Twitch request plan for {DATE}")
    assert "2025-04-09  videos" in out
    assert sandbox.stats()["total_requests"] == 0
