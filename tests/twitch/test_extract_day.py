"""The Twitch extract at day scale, against the sandbox over HTTP: bounded scope, /videos walks
that stop at the date's window, requests counted per broadcaster, schema drift, one app token
shared by every task and worker process, quiet INFO logs.

Expected values come from the sandbox's own dataset (:mod:`etl_sandbox.twitch_data`) and from
plain reads of the files and counters, never from the code under test.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import stat

import pyarrow.parquet as pq
import pytest

from etl_sandbox.twitch_data import TwitchDataset
from etl_tasks.core.stage import output_root
from etl_tasks.twitch.client import TwitchClient
from etl_tasks.twitch.extract import (
    PROGRESS_INTERVAL_S,
    TwitchExtractUsers,
    TwitchExtractVideos,
    day_window,
)
from etl_tasks.twitch.tasks import final_tasks
from tests.luigi_helpers import build
from tests.twitch.helpers import partition, sandbox_calls, settings, sidecar

DATE = dt.date(2025, 4, 10)
SANDBOX_NOW = dt.datetime(2025, 4, 10, 15, 0, tzinfo=dt.timezone.utc)

pytestmark = pytest.mark.usefixtures("fast_retries")


def test_videos_walk_stops_at_the_first_video_older_than_the_window(sandbox, workdir):
    # A partner with hundreds of past videos, and last pages whose cursor leads to an empty page.
    sandbox.control("config", {"twitch_partner_history_days": 1000,
                               "twitch_dangling_cursors": 1})
    dataset = TwitchDataset(42, partner_history_days=1000)
    star = dataset.user_id(0)
    history = dataset.videos_of(star, SANDBOX_NOW)
    of_the_date = {v["id"] for v in dataset.videos_created_on(star, DATE, SANDBOX_NOW)}
    assert len(history) > 300 and of_the_date  # the case the early stop is for

    start, _ = day_window(DATE)
    with TwitchClient.from_env() as client:
        walk = client.videos_since(star, start, page_size=100)

    assert sandbox_calls(sandbox, "/videos") == walk.requests == 1
    assert {row["id"] for row in walk.rows} == of_the_date
    # The whole history would have cost every page plus the dangling one.
    assert math.ceil(len(history) / 100) + 1 >= 5


def top_by_viewers(snapshot: pq.ParquetFile, count: int) -> list[str]:
    best: dict[str, int] = {}
    for row in snapshot.to_pylist():
        best[row["user_id"]] = max(best.get(row["user_id"], 0), row["viewer_count"])
    return sorted(best, key=lambda user: (-best[user], user))[:count]


def test_scope_is_the_top_broadcasters_plus_configured_ids_and_requests_are_counted(
    sandbox, workdir
):
    dataset = TwitchDataset(42)
    offline = next(dataset.user_id(i) for i in range(200)
                   if not dataset.videos_of(dataset.user_id(i), SANDBOX_NOW)
                   and all(s["user_id"] != dataset.user_id(i)
                           for s in dataset.live_streams(SANDBOX_NOW)))
    with settings("twitch", top_broadcasters="5", broadcaster_ids=[offline]):
        result = build(TwitchExtractVideos(date=DATE))
        assert result.ok, result.failed

        snapshot = pq.read_table(partition("extract", "streams", DATE) / "data.parquet",
                                 columns=["user_id", "viewer_count"])
        live = len(set(snapshot["user_id"].to_pylist()))
        top = top_by_viewers(snapshot, 5)
        meta = sidecar("extract", "videos", DATE)
        extra = meta["extra"]

    assert extra["scope"] == {"broadcasters": 6, "live": live, "top_broadcasters": 5,
                              "configured_added": [offline]}
    assert f"scope: top 5 of {live:,} live broadcasters by viewers + 1 configured ids" in (
        extra["notes"])
    per_broadcaster = {int(k): v for k, v in extra["requests_per_broadcaster"].items()}
    assert sum(per_broadcaster.values()) == 6
    assert sum(k * v for k, v in per_broadcaster.items()) == sandbox_calls(sandbox, "/videos")
    assert extra["requests"] == sandbox_calls(sandbox, "/videos")
    assert extra["points"] == sandbox_calls(sandbox, "/videos")
    assert extra["wait_s"] >= 0 and meta["http"]["requests"] == extra["requests"]
    rows = pq.read_table(partition("extract", "videos", DATE) / "data.parquet")
    expected = {v["id"] for user in top for v in dataset.videos_created_on(user, DATE,
                                                                            SANDBOX_NOW)}
    assert set(rows["id"].to_pylist()) == expected
    assert set(rows["user_id"].to_pylist()) <= set(top)


def user_body(**changes):
    user = {"id": "4242", "login": "drifter", "display_name": "Drifter", "type": "",
            "broadcaster_type": "", "description": "", "profile_image_url": "https://x/p.png",
            "offline_image_url": "", "view_count": 0, "created_at": "2020-01-01T00:00:00Z"}
    user.update(changes)
    return {"data": [{k: v for k, v in user.items() if v is not ...}]}


def fault_users_answer(sandbox, body) -> None:
    sandbox.control("faults", {"api": "twitch", "path": "/helix/users", "status": 200,
                               "count": 1000, "body": body})


def test_a_new_api_field_is_named_in_the_sidecar_and_kept(sandbox, workdir):
    assert build(TwitchExtractUsers(date=DATE).requires()["streams"]).ok
    fault_users_answer(sandbox, user_body(brand_new_field={"nested": [1, 2]}))

    assert build(TwitchExtractUsers(date=DATE)).ok

    extra = sidecar("extract", "users", DATE)["extra"]
    assert extra["new_fields"] == ["brand_new_field"]
    assert any("brand_new_field" in note for note in extra["notes"])
    raw = pq.read_table(partition("extract", "users", DATE) / "data.parquet")
    kept = {json.loads(text)["brand_new_field"]["nested"][1]
            for text in raw["unknown_fields"].to_pylist()}
    assert kept == {2}


@pytest.mark.parametrize(
    ("changes", "field", "problem"),
    [({"login": ...}, "login", "is missing"),
     ({"created_at": 20200101}, "created_at", "expected a string")],
)
def test_a_required_field_gone_or_retyped_fails_naming_entity_field_and_id(
    sandbox, workdir, changes, field, problem
):
    assert build(TwitchExtractUsers(date=DATE).requires()["streams"]).ok
    fault_users_answer(sandbox, user_body(**changes))

    result = build(TwitchExtractUsers(date=DATE))

    assert not result.ok
    users = partition("extract", "users", DATE)
    failure = json.loads((users / "_failed.json").read_text("utf-8"))["message"]
    assert f"users data[0].{field}" in failure and problem in failure
    assert "first offending id '4242'" in failure
    assert not (users / "_meta.json").exists() and not (users / "data.parquet").exists()


def test_one_app_token_for_a_whole_run_of_two_worker_processes(sandbox, workdir):
    with settings("pipelines", btg="false"):
        result = build(*final_tasks(DATE), workers=2)
    assert result.ok, result.failed

    assert sandbox.stats()["tokens_issued"]["twitch"] == 1
    token_files = list((output_root() / "tokens").glob("twitch-*.json"))
    assert len(token_files) == 1
    assert stat.S_IMODE(token_files[0].stat().st_mode) == 0o600
    token = json.loads(token_files[0].read_text())["token"]
    logged = "".join(p.read_text("utf-8") for p in workdir.rglob("*.log"))
    metas = "".join(p.read_text("utf-8") for p in output_root().rglob("_meta.json"))
    assert token not in logged and token not in metas

    # A forced 401 costs exactly one more token, shared again by the next client.
    sandbox.control("tokens/expire")
    with TwitchClient.from_env() as first:
        first.get_games(["509658"])
    with TwitchClient.from_env() as second:
        second.get_games(["509658"])
    assert sandbox.stats()["tokens_issued"]["twitch"] == 2


def test_a_paced_run_logs_a_few_progress_lines_not_one_per_request(sandbox, workdir, caplog):
    # A small bucket: the limiter waits before many requests of this run.
    sandbox.control("config", {"twitch_ratelimit": 100})
    caplog.set_level(logging.INFO)
    with settings("pipelines", btg="false"):
        result = build(*final_tasks(DATE))
    assert result.ok, result.failed

    requests = sum(n for key, n in sandbox.stats()["requests"].items()
                   if key.startswith("twitch:"))
    waited = sum(sidecar("extract", e, DATE)["extra"]["wait_s"]
                 for e in ("streams", "users", "games", "videos", "clips"))
    info = [r for r in caplog.records if r.levelno == logging.INFO]
    per_request = [r for r in info if r.name.startswith(("etl_tasks.core.http",
                                                          "etl_tasks.core.ratelimit"))]
    assert waited > 0 and requests > 100  # the run was paced
    assert per_request == []
    for entity in ("streams", "users", "games", "videos", "clips"):
        family = f"TwitchExtract{entity.capitalize()}"
        lines = [r for r in info if r.name == "etl_tasks.core.stage"
                 and r.getMessage().startswith(f"{family}:")]
        seconds = sidecar("extract", entity, DATE)["duration_s"]
        # "started", "done", the final progress line, and at most one per interval between.
        assert len(lines) <= 3 + seconds / PROGRESS_INTERVAL_S, (entity, lines)
    assert len(info) <= 150


def test_clips_of_the_top_games_bring_their_broadcasters_user_rows(sandbox, workdir):
    import sqlite3

    with settings("twitch", clip_top_games="2"), settings("pipelines", btg="false"):
        result = build(*final_tasks(DATE))
        assert result.ok, result.failed
        extra = sidecar("extract", "clips", DATE)["extra"]
        snapshot = pq.read_table(partition("extract", "streams", DATE) / "data.parquet")

    games = extra["game_walks"]["games"]
    per_game: dict[str, dict[str, int]] = {}
    for game, viewers, stream in zip(snapshot["game_id"].to_pylist(),
                                     snapshot["viewer_count"].to_pylist(),
                                     snapshot["id"].to_pylist(), strict=True):
        per_game.setdefault(game, {})[stream] = max(viewers, per_game.get(game, {}).get(stream, 0))
    ranked = sorted(per_game, key=lambda g: (-sum(per_game[g].values()), g))
    assert games == ranked[:2]
    dataset = TwitchDataset(42)
    expected = {c["id"] for i in range(200) for c in dataset.clips_created_on(
        dataset.user_id(i), DATE, SANDBOX_NOW) if c["game_id"] in games}
    with sqlite3.connect(workdir / "warehouse.db") as connection:
        loaded = {row[0] for row in connection.execute("SELECT id FROM twitch_clips")}
        users = {row[0] for row in connection.execute("SELECT id FROM twitch_users")}
        owners = {row[0] for row in connection.execute("SELECT broadcaster_id FROM twitch_clips")}
    live = set(snapshot["user_id"].to_pylist())
    assert expected <= loaded
    assert owners <= users and owners - live  # offline broadcasters' clips, with their users
