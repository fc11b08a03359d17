"""Tests of etl_tasks.twitch.client over real HTTP.

Run: .venv/bin/pytest tests/twitch/test_client.py

Token edge cases run against the scripted server of tests/httpfixture.py (exact replies, exact
request log); the happy paths run against the project's sandbox (``sandbox`` fixture), whose
``/_sandbox/stats`` shows what actually reached the API.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import random
from collections.abc import Iterator
from typing import Any

import pytest

from etl_tasks.core.http import Clocks, RetryPolicy
from etl_tasks.errors import AuthError, ConfigError
from etl_tasks.twitch.client import TwitchClient, chunked
from tests.httpfixture import Reply, ScriptedServer

CLIENT_ID = "scriptedclientid000000000000001"
SECRET = "s3cret-value-never-shown"
SERVER_NOW = dt.datetime(2025, 4, 10, 15, 0, 0, tzinfo=dt.timezone.utc)


class FakeTime:
    """Wall clock, monotonic clock and sleep under the test's control."""

    def __init__(self) -> None:
        self.wall = 1_900_000_000.0
        self.mono = 1000.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.wall += seconds
        self.mono += seconds


def token_reply(token: str, expires_in: int = 3600) -> Reply:
    body = {"access_token": token, "expires_in": expires_in, "token_type": "bearer"}
    return Reply(200, json=body)


def data_reply(rows: list[dict[str, Any]], cursor: str | None = None, **headers: str) -> Reply:
    body: dict[str, Any] = {"data": rows}
    if cursor is not None:
        body["pagination"] = {"cursor": cursor}
    return Reply(200, json=body, headers=dict(headers))


def http_date(moment: dt.datetime) -> str:
    return email.utils.format_datetime(moment, usegmt=True)


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as running:
        yield running


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


def scripted_client(server: ScriptedServer, fake: FakeTime) -> TwitchClient:
    return TwitchClient(
        CLIENT_ID,
        SECRET,
        server.url,
        f"{server.url}/helix",
        RetryPolicy(max_retries=2, backoff_base_s=0.1, jitter=False),
        clocks=Clocks(
            sleep=fake.sleep,
            clock=lambda: fake.wall,
            monotonic=lambda: fake.mono,
            rng=random.Random(0),
        ),
    )


def bearer_tokens(server: ScriptedServer, path: str) -> list[str | None]:
    return [r.header("Authorization") for r in server.requests_to(path)]


# --- tokens (scripted server) -------------------------------------------------------------------


def test_token_is_requested_with_a_form_body_and_sent_with_client_id(server, fake):
    server.script("/oauth2/token", token_reply("tok1"))
    server.script("/helix/users", data_reply([{"id": "1"}]))

    rows = scripted_client(server, fake).get_users(["1"])

    assert rows == [{"id": "1"}]
    [token_request] = server.requests_to("/oauth2/token")
    assert token_request.method == "POST" and token_request.query == []
    assert token_request.form() == {
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "grant_type": "client_credentials",
    }
    [users_request] = server.requests_to("/helix/users")
    assert users_request.header("Authorization") == "Bearer tok1"
    assert users_request.header("Client-Id") == CLIENT_ID


@pytest.mark.parametrize(
    ("status", "message"), [(403, "invalid client secret"), (400, "invalid client")]
)
def test_rejected_credentials_raise_auth_error_without_the_secret(
    server, fake, caplog, status, message
):
    server.script("/oauth2/token", Reply(status, json={"status": status, "message": message}))
    caplog.set_level(logging.DEBUG)

    with pytest.raises(AuthError) as caught:
        scripted_client(server, fake).get_users(["1"])

    text = str(caught.value)
    assert "TWITCH_CLIENT_ID/SECRET rejected by Twitch" in text and message in text
    assert "check TWITCH_CLIENT_ID and TWITCH_CLIENT_SECRET in .env" in text
    assert SECRET not in text and SECRET not in caplog.text
    assert len(server.requests) == 1 and fake.sleeps == []


def test_token_endpoint_5xx_is_retried(server, fake):
    server.script("/oauth2/token", Reply(503), token_reply("tok1"))
    server.script("/helix/games", data_reply([{"id": "509658"}]))

    assert scripted_client(server, fake).get_games(["509658"]) == [{"id": "509658"}]
    assert len(server.requests_to("/oauth2/token")) == 2 and fake.sleeps == [0.1]


def test_helix_401_renews_the_token_and_retries_once(server, fake):
    server.script("/oauth2/token", token_reply("tok1"), token_reply("tok2"))
    server.script("/helix/users", Reply(401, json={"message": "Invalid OAuth token"}))
    server.script("/helix/users", data_reply([{"id": "7"}]))
    client = scripted_client(server, fake)

    assert client.get_users(["7"]) == [{"id": "7"}]

    assert bearer_tokens(server, "/helix/users") == ["Bearer tok1", "Bearer tok2"]
    assert client.auth.tokens_fetched == 2 and client.stats.retries == 1


def test_second_helix_401_is_fatal(server, fake, caplog):
    server.script("/oauth2/token", token_reply("tok1"), token_reply("tok2"))
    server.always("/helix/users", Reply(401, json={"message": "Invalid OAuth token"}))
    caplog.set_level(logging.DEBUG)

    with pytest.raises(AuthError, match="401 again") as caught:
        scripted_client(server, fake).get_users(["7"])

    assert len(server.requests_to("/helix/users")) == 2
    assert len(server.requests_to("/oauth2/token")) == 2
    for secret in (SECRET, "tok1", "tok2"):
        assert secret not in str(caught.value) and secret not in caplog.text


def test_token_is_renewed_before_it_expires(server, fake):
    server.script("/oauth2/token", token_reply("tok1", expires_in=1000), token_reply("tok2"))
    server.always("/helix/games", data_reply([]))
    client = scripted_client(server, fake)

    client.get_games(["1"])
    fake.mono += 850  # 15 % of the lifetime left: keep it
    client.get_games(["1"])
    fake.mono += 100  # 5 % left: renew before using it
    client.get_games(["1"])

    assert bearer_tokens(server, "/helix/games") == ["Bearer tok1", "Bearer tok1", "Bearer tok2"]
    assert len(server.requests_to("/oauth2/token")) == 2


# --- requests and pages (scripted server) --------------------------------------------------------


def test_ids_are_repeated_keys_in_batches_of_100(server, fake):
    server.script("/oauth2/token", token_reply("tok1"))
    server.always("/helix/users", data_reply([]))
    ids = [str(n) for n in range(1000, 1150)] + ["1000"]  # one duplicate

    scripted_client(server, fake).get_users(ids)

    batches = [r.query for r in server.requests_to("/helix/users")]
    assert [len(batch) for batch in batches] == [100, 50]
    assert all(key == "id" and "," not in value for batch in batches for key, value in batch)
    assert [value for batch in batches for _, value in batch] == ids[:150]


def test_empty_id_list_makes_no_call(server, fake):
    assert scripted_client(server, fake).get_users([]) == []
    assert server.requests == []


def test_stream_pages_share_the_server_time_of_the_first_page(server, fake):
    later = SERVER_NOW + dt.timedelta(seconds=3)
    server.script("/oauth2/token", token_reply("tok1"))
    server.script(
        "/helix/streams",
        data_reply([{"id": "s1"}, {"id": "s2"}], "c1", Date=http_date(SERVER_NOW)),
        data_reply([{"id": "s2"}], "", Date=http_date(later)),
    )

    pages = list(scripted_client(server, fake).iter_streams(page_size=2))

    assert [(p.page, [r["id"] for r in p.rows]) for p in pages] == [(1, ["s1", "s2"]), (2, ["s2"])]
    assert {p.captured_at for p in pages} == {SERVER_NOW}
    queries = [r.query for r in server.requests_to("/helix/streams")]
    assert queries == [[("first", "2")], [("first", "2"), ("after", "c1")]]


def test_top_games_stop_at_the_limit(server, fake):
    server.script("/oauth2/token", token_reply("tok1"))
    server.script(
        "/helix/games/top",
        data_reply([{"id": "1"}, {"id": "2"}], "c1"),
        data_reply([{"id": "3"}, {"id": "4"}], "c2"),
    )

    rows = scripted_client(server, fake).get_top_games(3, page_size=100)

    assert [row["id"] for row in rows] == ["1", "2", "3"]
    assert len(server.requests_to("/helix/games/top")) == 2


def test_clip_window_is_sent_as_rfc3339_utc(server, fake):
    server.script("/oauth2/token", token_reply("tok1"))
    server.script("/helix/clips", data_reply([{"id": "Clip-1"}], ""))
    brt = dt.timezone(dt.timedelta(hours=-3))
    client = scripted_client(server, fake)

    rows = client.get_clips("42", dt.datetime(2025, 4, 9, 21, 0, tzinfo=brt), SERVER_NOW)

    assert rows == [{"id": "Clip-1"}]
    [request] = server.requests_to("/helix/clips")
    assert request.query == [
        ("broadcaster_id", "42"),
        ("started_at", "2025-04-10T00:00:00Z"),
        ("ended_at", "2025-04-10T15:00:00Z"),
        ("first", "100"),
    ]
    with pytest.raises(ValueError, match="timezone"):
        client.get_clips("42", dt.datetime(2025, 4, 9), dt.datetime(2025, 4, 10))


def test_429_waits_for_the_ratelimit_reset_by_the_server_clock(server, fake):
    reset = str(int(SERVER_NOW.timestamp()) + 9)
    limited = {
        "Date": http_date(SERVER_NOW),
        "Ratelimit-Limit": "800",
        "Ratelimit-Remaining": "0",
        "Ratelimit-Reset": reset,
    }
    server.script("/oauth2/token", token_reply("tok1"))
    server.script(
        "/helix/games",
        Reply(429, json={"error": "Too Many Requests"}, headers=limited),
        data_reply([{"id": "1"}]),
    )
    client = scripted_client(server, fake)

    assert client.get_games(["1"]) == [{"id": "1"}]
    assert len(fake.sleeps) == 1 and 9.0 <= fake.sleeps[0] <= 9.5  # reset - Date, + jitter
    assert client.stats.http_429 == 1


def test_page_size_out_of_range_is_a_config_error(server, fake):
    with pytest.raises(ConfigError, match="page_size"):
        next(scripted_client(server, fake).iter_streams(page_size=500))
    assert server.requests == []


def test_chunked_keeps_order_drops_duplicates_and_refuses_non_strings():
    assert list(chunked(["b", "a", "b", "c"], size=2)) == [["b", "a"], ["c"]]
    with pytest.raises(TypeError, match="strings"):
        list(chunked(["1", 2]))  # type: ignore[list-item]


def test_from_env_reads_credentials_and_base_urls(server, monkeypatch, workdir):
    monkeypatch.setenv("TWITCH_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("TWITCH_CLIENT_SECRET", SECRET)
    monkeypatch.setenv("TWITCH_AUTH_BASE_URL", server.url)
    monkeypatch.setenv("TWITCH_API_BASE_URL", f"{server.url}/helix/")
    server.script("/oauth2/token", token_reply("tok1"))
    server.script("/helix/games", data_reply([{"id": "9"}]))

    with TwitchClient.from_env() as client:
        assert client.get_games(["9"]) == [{"id": "9"}]
        assert min(client.http.policy.timeout_s) > 0


def test_from_env_without_credentials_is_a_config_error(monkeypatch):
    monkeypatch.setenv("TWITCH_CLIENT_ID", "")
    with pytest.raises(ConfigError, match="TWITCH_CLIENT_ID"):
        TwitchClient.from_env()


# --- happy paths against the sandbox -------------------------------------------------------------

FAST_POLICY = RetryPolicy(max_retries=3, backoff_base_s=0.05, backoff_max_s=0.2, timeout_s=(5, 10))
SANDBOX_NOW = dt.datetime(2025, 4, 10, 15, 0, 0, tzinfo=dt.timezone.utc)  # set by the fixture


@pytest.fixture
def live(sandbox, workdir) -> Iterator[TwitchClient]:
    with TwitchClient.from_env(policy=FAST_POLICY) as client:
        yield client


def calls_to(sandbox, path: str, status: int | None = None) -> int:
    """Requests the sandbox counted for ``GET <path>`` (optionally: answered with ``status``)."""
    stats = sandbox.stats()
    if status is None:
        return sum(n for key, n in stats["requests"].items() if key.endswith(f"GET {path}"))
    return sum(
        by_status.get(str(status), 0)
        for key, by_status in stats["responses"].items()
        if key.endswith(f"GET {path}")
    )


def live_user_ids(client: TwitchClient) -> list[str]:
    return list(
        dict.fromkeys(row["user_id"] for page in client.iter_streams() for row in page.rows)
    )


def test_sandbox_stream_snapshot_pages_carry_the_sandbox_clock(sandbox, live):
    pages = list(live.iter_streams(page_size=20))

    assert len(pages) >= 2 and sum(len(p.rows) for p in pages) > 20
    assert calls_to(sandbox, "/helix/streams") == len(pages)
    captured = {p.captured_at for p in pages}
    assert len(captured) == 1
    assert abs((captured.pop() - SANDBOX_NOW).total_seconds()) < 60
    rows = [row for page in pages for row in page.rows]
    assert all(isinstance(row["id"], str) and row["type"] == "live" for row in rows)


def test_sandbox_users_are_fetched_100_ids_per_call(sandbox, live):
    real_ids = live_user_ids(live)
    unknown_ids = [f"99999{n:07d}" for n in range(120 - len(real_ids))]
    before = calls_to(sandbox, "/helix/users")

    rows = live.get_users(real_ids + unknown_ids)

    assert calls_to(sandbox, "/helix/users") - before == 2
    assert sorted(row["id"] for row in rows) == sorted(real_ids)
    assert all(row["login"] and "email" not in row for row in rows)


def test_sandbox_top_games_and_games_by_id(sandbox, live):
    top = live.get_top_games(25, page_size=10)

    assert len(top) == 25 and len({g["id"] for g in top}) == 25
    assert calls_to(sandbox, "/helix/games/top") == 3
    by_id = {g["id"]: g["name"] for g in live.get_games([g["id"] for g in top])}
    assert by_id == {g["id"]: g["name"] for g in top}


def test_sandbox_videos_walk_every_page_of_a_broadcaster(sandbox, live):
    for user_id in live_user_ids(live):
        whole = live.get_videos(user_id, page_size=100)
        if len(whole) > 5:
            break
    else:
        pytest.fail("no live broadcaster in the sandbox has more than 5 videos")
    before = calls_to(sandbox, "/helix/videos")

    paged = live.get_videos(user_id, page_size=5)

    assert [v["id"] for v in paged] == [v["id"] for v in whole]
    assert all(v["user_id"] == user_id for v in paged)
    assert calls_to(sandbox, "/helix/videos") - before >= (len(whole) + 4) // 5


def test_sandbox_clips_stay_inside_the_window(sandbox, live):
    start, end = SANDBOX_NOW - dt.timedelta(days=30), SANDBOX_NOW
    for user_id in live_user_ids(live):
        clips = live.get_clips(user_id, start, end, page_size=20)
        if clips:
            break
    else:
        pytest.fail("no live broadcaster in the sandbox has clips in the last 30 days")

    created = [dt.datetime.fromisoformat(c["created_at"].replace("Z", "+00:00")) for c in clips]
    assert all(start <= moment <= end for moment in created)
    assert all(c["broadcaster_id"] == user_id for c in clips)
    narrow = live.get_clips(user_id, min(created), min(created) + dt.timedelta(seconds=1))
    assert 1 <= len(narrow) < len(clips) or len(clips) == 1


def test_sandbox_expired_token_is_renewed_once(sandbox, live):
    live.get_games(["509658"])
    sandbox.control("tokens/expire")

    live.get_games(["509658"])

    assert live.auth.tokens_fetched == 2
    assert sandbox.stats()["tokens_issued"]["twitch"] == 2
    assert calls_to(sandbox, "/helix/games", 401) == 1


def test_sandbox_503_is_retried(sandbox, live):
    sandbox.control(
        "faults", {"api": "twitch", "path": "/helix/streams", "status": 503, "count": 1}
    )

    pages = list(live.iter_streams())

    assert pages and calls_to(sandbox, "/helix/streams", 503) == 1
    assert live.stats.http_5xx == 1 and live.stats.retries == 1


def test_sandbox_validate_token(sandbox, live):
    body = live.validate_token()
    assert body["client_id"] == sandbox.credentials()["twitch"]["client_id"]
    assert body["expires_in"] > 0


def test_sandbox_pacer_avoids_429_on_a_small_bucket(sandbox, workdir):
    sandbox.control("config", {"twitch_ratelimit": 10})
    waits: list[float] = []

    def sleep_on_sandbox_clock(seconds: float) -> None:
        # The wait happens on the sandbox's clock, so the bucket refills without real waiting.
        waits.append(seconds)
        sandbox.control("clock", {"advance_seconds": seconds})

    clocks = Clocks(sleep=sleep_on_sandbox_clock)
    with TwitchClient.from_env(policy=FAST_POLICY, clocks=clocks) as client:
        for _ in range(25):
            client.get_games(["509658"])

    assert calls_to(sandbox, "/helix/games") == 25
    assert calls_to(sandbox, "/helix/games", 429) == 0 and client.stats.http_429 == 0
    assert len(waits) >= 2 and all(0 < w <= 66 for w in waits)
