"""The Twitch part of the sandbox over real HTTP: tokens, Helix endpoints, errors, paging, limits.

Every test talks to the sandbox subprocess started by ``tests/conftest.py`` (reset to seed 42 at
2025-04-10T15:00:00Z) and compares what comes back with rows computed in-process by
:class:`TwitchDataset`, so the HTTP layer (filters, order, paging) is checked against an
independent path through the data. The clock ticks from 15:00:00, so the whole test stays inside
that simulated minute unless it moves the clock itself.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any

import pytest
import requests

from etl_sandbox.twitch_data import TwitchDataset
from etl_sandbox.twitch_model import TwitchModel, minute_of
from etl_sandbox.twitch_paging import encode_cursor, fingerprint
from etl_sandbox.twitch_text import NASTY_TEXT

CLIENT_ID = "sandboxtwitchclientid0000000001"
CLIENT_SECRET = "sandbox-twitch-secret"
DEMO_AT = datetime(2025, 4, 10, 15, 0, tzinfo=timezone.utc)
DEMO_DAY = date(2025, 4, 10)
DURATION = re.compile(r"^(\d+h)?(\d+m)?\d+s$")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
HELIX_ERROR_KEYS = {"error", "status", "message"}


class Helix:
    """A minimal Helix caller with a fresh app token (the test's stand-in for a client)."""

    def __init__(self, sandbox: Any) -> None:
        self.sandbox = sandbox
        self.session = requests.Session()
        self.token = self.new_token()

    def new_token(self) -> str:
        response = requests.post(f"{self.sandbox.twitch_auth_url}/oauth2/token", data={
            "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "grant_type": "client_credentials"}, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Client-Id": CLIENT_ID}

    def get(self, path: str, params: Any = None, headers: dict[str, str] | None = None
            ) -> requests.Response:
        return self.session.get(f"{self.sandbox.twitch_api_url}{path}", params=params,
                                headers=self.headers() if headers is None else headers,
                                timeout=30)

    def ok(self, path: str, params: Any = None) -> dict[str, Any]:
        response = self.get(path, params)
        assert response.status_code == 200, response.text
        return response.json()

    def all_pages(self, path: str, params: list[tuple[str, str]]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        cursor = None
        for _ in range(1000):
            body = self.ok(path, params + ([("after", cursor)] if cursor else []))
            rows += body["data"]
            cursor = body["pagination"].get("cursor")
            if not cursor or not body["data"]:
                return rows
        raise AssertionError("pagination did not end")


@pytest.fixture(scope="module")
def dataset() -> TwitchDataset:
    return TwitchDataset(42)


@pytest.fixture
def helix(sandbox: Any) -> Helix:
    return Helix(sandbox)


def assert_helix_error(response: requests.Response, status: int, message: str | None = None
                       ) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == HELIX_ERROR_KEYS
    assert body["status"] == status
    assert body["error"] == HTTPStatus(status).phrase
    if message is not None:
        assert body["message"] == message
    return body


# ----- authentication ------------------------------------------------------------------------

def test_token_from_form_and_from_query_string(sandbox: Any) -> None:
    url = f"{sandbox.twitch_auth_url}/oauth2/token"
    params = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
              "grant_type": "client_credentials"}
    for response in (requests.post(url, data=params, timeout=10),
                     requests.post(url, params=params, timeout=10)):
        assert response.status_code == 200
        body = response.json()
        assert re.fullmatch(r"[a-z0-9]{30}", body["access_token"])
        assert body["expires_in"] == 5011271 and body["token_type"] == "bearer"
    # The form body wins over the query string.
    response = requests.post(url, params={**params, "client_secret": "wrong"}, data=params,
                             timeout=10)
    assert response.status_code == 200
    assert sandbox.stats()["tokens_issued"]["twitch"] == 3


@pytest.mark.parametrize(("override", "status", "message"), [
    ({"client_id": "someoneelse"}, 400, "invalid client"),
    ({"client_id": ""}, 400, "missing client id"),
    ({"client_secret": "wrong"}, 403, "invalid client secret"),
    ({"grant_type": "authorization_code"}, 400, "invalid grant type"),
    ({"grant_type": ""}, 400, "invalid grant type"),
])
def test_token_errors_use_the_id_twitch_tv_shape(sandbox: Any, override: dict, status: int,
                                                 message: str) -> None:
    form = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "grant_type": "client_credentials", **override}
    response = requests.post(f"{sandbox.twitch_auth_url}/oauth2/token", data=form, timeout=10)
    assert response.status_code == status
    assert response.json() == {"status": status, "message": message}


def test_validate_accepts_oauth_and_bearer(helix: Helix) -> None:
    url = f"{helix.sandbox.twitch_auth_url}/oauth2/validate"
    for scheme in ("OAuth", "Bearer"):
        body = requests.get(url, headers={"Authorization": f"{scheme} {helix.token}"},
                            timeout=10).json()
        assert body["client_id"] == CLIENT_ID and body["scopes"] == []
        assert 5011200 < body["expires_in"] <= 5011271
    response = requests.get(url, headers={"Authorization": "OAuth nope"}, timeout=10)
    assert response.status_code == 401
    assert response.json() == {"status": 401, "message": "invalid access token"}


def test_helix_401_variants(helix: Helix) -> None:
    missing = helix.get("/streams", headers={"Client-Id": CLIENT_ID})
    assert_helix_error(missing, 401, "OAuth token is missing")
    assert "Ratelimit-Limit" not in missing.headers
    invalid = helix.get("/streams", headers={"Authorization": "Bearer nope",
                                             "Client-Id": CLIENT_ID})
    assert_helix_error(invalid, 401, "Invalid OAuth token")
    assert invalid.headers["WWW-Authenticate"].startswith('OAuth realm="TwitchTV"')
    no_client = helix.get("/streams", headers={"Authorization": f"Bearer {helix.token}"})
    assert_helix_error(no_client, 401, "Client-Id header is missing")
    other = helix.get("/streams", headers={"Authorization": f"Bearer {helix.token}",
                                           "Client-Id": "another-client-id"})
    assert_helix_error(other, 401, "Client ID and OAuth token do not match")


def test_expired_tokens_get_401_and_a_new_token_works(helix: Helix) -> None:
    assert helix.get("/games/top").status_code == 200
    helix.sandbox.control("tokens/expire")
    assert_helix_error(helix.get("/games/top"), 401, "Invalid OAuth token")
    helix.token = helix.new_token()
    assert helix.get("/games/top").status_code == 200


def test_tokens_expire_by_the_simulated_clock(helix: Helix) -> None:
    helix.sandbox.control("config", {"twitch_token_ttl": 3600})
    helix.token = helix.new_token()
    assert helix.get("/games/top").status_code == 200
    helix.sandbox.control("clock", {"advance_seconds": 3601})
    assert_helix_error(helix.get("/games/top"), 401, "Invalid OAuth token")


# ----- rate limiting ---------------------------------------------------------------------------

def test_rate_limit_headers_and_429_after_the_bucket_empties(helix: Helix) -> None:
    helix.sandbox.control("config", {"twitch_ratelimit": 5})
    remaining = []
    for _ in range(5):
        response = helix.get("/games/top")
        assert response.status_code == 200
        assert response.headers["Ratelimit-Limit"] == "5"
        remaining.append(int(response.headers["Ratelimit-Remaining"]))
    assert remaining == [4, 3, 2, 1, 0]
    limited = helix.get("/games/top")
    assert_helix_error(limited, 429, "Request limit exceeded")
    assert limited.headers["Ratelimit-Remaining"] == "0"
    assert "Retry-After" not in limited.headers
    server_now = parsedate_to_datetime(limited.headers["Date"]).timestamp()
    # Empty bucket of 5 refills at 5/60 per second: full again in about 60 s of server time.
    assert 55 <= int(limited.headers["Ratelimit-Reset"]) - server_now <= 62
    # 400s of authenticated requests carry the headers and cost a point too.
    helix.sandbox.control("clock", {"advance_seconds": 60})
    bad = helix.get("/streams", {"first": "0"})
    assert_helix_error(bad, 400)
    assert bad.headers["Ratelimit-Remaining"] == "4"
    assert helix.sandbox.stats()["twitch"]["rate_limited"] == 1


def test_bucket_refills_with_simulated_time(helix: Helix) -> None:
    helix.sandbox.control("config", {"twitch_ratelimit": 2})
    assert [helix.get("/games/top").status_code for _ in range(3)] == [200, 200, 429]
    helix.sandbox.control("clock", {"advance_seconds": 30})  # one point per 30 s at L=2
    assert helix.get("/games/top").status_code == 200


# ----- faults ----------------------------------------------------------------------------------

def test_injected_503_fires_once_then_recovers(helix: Helix) -> None:
    helix.sandbox.control("faults", {"api": "twitch", "path": "/helix/streams", "status": 503,
                                     "count": 1})
    failed = helix.get("/streams")
    assert_helix_error(failed, 503)
    assert helix.get("/streams").status_code == 200
    responses = helix.sandbox.stats()["responses"]["twitch:GET /helix/streams"]
    assert responses == {"503": 1, "200": 1}


def test_injected_429_has_the_helix_shape_and_headers(helix: Helix) -> None:
    helix.sandbox.control("faults", {"api": "twitch", "path": "/helix/users", "status": 429})
    response = helix.get("/users", {"id": "1"})
    assert_helix_error(response, 429, "Request limit exceeded")
    assert response.headers["Ratelimit-Remaining"] == "0"
    assert int(response.headers["Ratelimit-Reset"]) > DEMO_AT.timestamp()


# ----- users and games -------------------------------------------------------------------------

def test_users_by_repeated_id_and_login(helix: Helix, dataset: TwitchDataset) -> None:
    first, second, third = (dataset.user(i) for i in (0, 1, 2))
    body = helix.ok("/users", [("id", first["id"]), ("id", second["id"]),
                               ("login", third["login"]), ("id", "999"), ("login", "nobody")])
    assert body == {"data": [first, second, third]}
    assert set(first) == {"id", "login", "display_name", "type", "broadcaster_type",
                          "description", "profile_image_url", "offline_image_url",
                          "view_count", "created_at"}
    assert first["broadcaster_type"] == "partner" and first["view_count"] == 0
    comma = helix.ok("/users", {"id": f"{first['id']},{second['id']}"})
    assert comma == {"data": []}


def test_users_parameter_errors(helix: Helix, dataset: TwitchDataset) -> None:
    assert_helix_error(helix.get("/users"), 400, "Must provide an ID, Login or OAuth Token")
    too_many = [("id", dataset.user_id(i)) for i in range(60)] + [
        ("login", dataset.login(i)) for i in range(60, 101)]
    assert_helix_error(helix.get("/users", too_many), 400)
    assert len(helix.ok("/users", too_many[:100])["data"]) == 100


def test_games_lookups_and_errors(helix: Helix, dataset: TwitchDataset) -> None:
    games = dataset.games()
    with_igdb = next(g for g in games if g["igdb_id"])
    body = helix.ok("/games", [("id", games[0]["id"]), ("name", games[1]["name"]),
                               ("igdb_id", with_igdb["igdb_id"]), ("id", games[0]["id"]),
                               ("id", "0")])
    assert body["data"] == list({g["id"]: g for g in (games[0], games[1], with_igdb)}.values())
    assert "pagination" not in body
    assert "{width}x{height}" in games[0]["box_art_url"]
    assert any(g["igdb_id"] == "" for g in games)
    assert_helix_error(helix.get("/games"), 400)
    assert_helix_error(helix.get("/games", [("id", str(n)) for n in range(101)]), 400)


def test_top_games_order_and_pagination(helix: Helix, dataset: TwitchDataset) -> None:
    expected = [dataset.game(i) for i in dataset.top_games(DEMO_AT.timestamp())]
    assert helix.all_pages("/games/top", [("first", "7")]) == expected
    body = helix.ok("/games/top", {"first": "100"})
    assert body["data"] == expected and body["pagination"] == {}


# ----- streams ---------------------------------------------------------------------------------

def test_streams_snapshot_matches_the_dataset(helix: Helix, dataset: TwitchDataset) -> None:
    expected = dataset.live_streams(DEMO_AT)
    assert 30 <= len(expected) <= 70  # ~25 % of 200 users
    assert expected[0]["user_id"] == dataset.user_id(0)  # the partner is live and on top
    pages = helix.all_pages("/streams", [("first", "15")])
    assert pages == expected
    viewers = [s["viewer_count"] for s in pages]
    assert viewers == sorted(viewers, reverse=True)
    stream = pages[0]
    assert set(stream) == {"id", "user_id", "user_login", "user_name", "game_id", "game_name",
                           "type", "title", "tags", "viewer_count", "started_at", "language",
                           "thumbnail_url", "tag_ids", "is_mature"}
    assert stream["type"] == "live" and stream["tag_ids"] == [] and stream["is_mature"] is False
    assert TIMESTAMP.match(stream["started_at"]) and stream["started_at"] < "2025-04-10T15:00:00Z"
    assert stream["thumbnail_url"].endswith("-{width}x{height}.jpg")


def test_streams_default_page_and_end_of_list(helix: Helix) -> None:
    first_page = helix.ok("/streams")
    assert len(first_page["data"]) == 20 and first_page["pagination"]["cursor"]
    everything = helix.ok("/streams", {"first": "100"})
    assert everything["pagination"] == {}
    after_end = helix.ok("/streams", {"first": "100", "after": encode_cursor(
        500, 100, fingerprint({"first": ["100"]}))})
    assert after_end == {"data": [], "pagination": {}}


def test_streams_before_cursor_returns_the_previous_page(helix: Helix) -> None:
    page1 = helix.ok("/streams", {"first": "5"})
    page2 = helix.ok("/streams", {"first": "5", "after": page1["pagination"]["cursor"]})
    page3 = helix.ok("/streams", {"first": "5", "after": page2["pagination"]["cursor"]})
    back = helix.ok("/streams", {"first": "5", "before": page3["pagination"]["cursor"]})
    assert back["data"] == page2["data"]
    back_again = helix.ok("/streams", {"first": "5", "before": back["pagination"]["cursor"]})
    assert back_again["data"] == page1["data"]
    forward = helix.ok("/streams", {"first": "5", "after": back_again["pagination"]["cursor"]})
    assert forward["data"] == page2["data"]


def test_streams_filters(helix: Helix, dataset: TwitchDataset) -> None:
    live = dataset.live_streams(DEMO_AT)
    picked = [live[3], live[7]]
    by_id = helix.ok("/streams", [("user_id", s["user_id"]) for s in picked] + [("user_id", "1")])
    assert by_id["data"] == picked
    by_login = helix.ok("/streams", {"user_login": picked[1]["user_login"]})
    assert by_login["data"] == [picked[1]]
    game_id = live[0]["game_id"]
    by_game = helix.all_pages("/streams", [("game_id", game_id), ("first", "2")])
    assert by_game == [s for s in live if s["game_id"] == game_id]
    by_language = helix.all_pages("/streams", [("language", "pt"), ("language", "en")])
    assert by_language == [s for s in live if s["language"] in ("pt", "en")]
    both = helix.ok("/streams", [("user_id", live[0]["user_id"]), ("language", "xx")])
    assert both["data"] == []  # AND across keys
    comma = helix.ok("/streams", {"user_id": ",".join(s["user_id"] for s in picked)})
    assert comma["data"] == []
    assert helix.ok("/streams", {"type": "live", "first": "100"})["data"] == live


@pytest.mark.parametrize("params", [
    {"first": "0"}, {"first": "101"}, {"first": "abc"}, {"first": "-5"},
    {"type": "Live"}, {"type": "vodcast"}, {"after": "not-a-cursor"},
    {"after": encode_cursor(0, 20, "deadbeef")},
])
def test_streams_bad_parameters_are_400(helix: Helix, params: dict[str, str]) -> None:
    assert_helix_error(helix.get("/streams", params), 400)


def test_streams_cursor_of_other_filters_is_rejected(helix: Helix) -> None:
    cursor = helix.ok("/streams", {"first": "2"})["pagination"]["cursor"]
    assert_helix_error(helix.get("/streams", {"first": "2", "language": "pt", "after": cursor}),
                       400, "The cursor in the after or before query parameter is not valid")
    assert_helix_error(helix.get("/streams", {"after": cursor, "before": cursor}), 400)
    assert_helix_error(helix.get("/streams", [("user_id", str(n)) for n in range(101)]), 400)


def test_clock_drives_the_live_set_and_viewers_drift(helix: Helix, dataset: TwitchDataset
                                                     ) -> None:
    at_three = datetime(2025, 4, 10, 3, 0, tzinfo=timezone.utc)
    helix.sandbox.control("clock", {"now": "2025-04-10T03:00:00Z"})
    night = helix.all_pages("/streams", [("first", "100")])
    assert night == dataset.live_streams(at_three)
    day = dataset.live_streams(DEMO_AT)
    assert {s["id"] for s in night} != {s["id"] for s in day}
    helix.sandbox.control("clock", {"now": "2025-04-10T15:01:00Z"})
    later = {s["id"]: s["viewer_count"] for s in helix.all_pages("/streams", [("first", "100")])}
    now = {s["id"]: s["viewer_count"] for s in day}
    common = set(later) & set(now)
    assert len(common) > 20
    assert sum(later[i] != now[i] for i in common) > len(common) // 2


def test_response_date_header_follows_the_simulated_clock(helix: Helix) -> None:
    response = helix.get("/streams")
    served = parsedate_to_datetime(response.headers["Date"])
    assert 0 <= (served - DEMO_AT).total_seconds() < 30


# ----- videos ----------------------------------------------------------------------------------

def test_videos_of_a_live_broadcaster_include_today_archive(helix: Helix, dataset: TwitchDataset
                                                            ) -> None:
    live = dataset.live_streams(DEMO_AT)
    star = live[0]
    videos = helix.all_pages("/videos", [("user_id", star["user_id"]), ("first", "30")])
    assert videos == dataset.videos_of(star["user_id"], DEMO_AT)
    archive = videos[0]
    assert archive["type"] == "archive" and archive["stream_id"] == star["id"]
    assert archive["created_at"] == star["started_at"] and archive["thumbnail_url"] == ""
    assert {v["type"] for v in videos} == {"archive", "highlight", "upload"}
    assert all(DURATION.match(v["duration"]) for v in videos)
    assert all(v["stream_id"] is None for v in videos if v["type"] != "archive")
    assert all("%{width}x%{height}" in v["thumbnail_url"] for v in videos[1:])
    muted = [v["muted_segments"] for v in videos]
    assert None in muted and [] in muted and any(m for m in muted)
    created = [v["created_at"] for v in videos]
    assert created == sorted(created, reverse=True)
    with_today = [s for s in live if dataset.videos_created_on(s["user_id"], DEMO_DAY, DEMO_AT)]
    assert len(with_today) >= len(live) // 2


def test_video_filters_sorts_and_lookups(helix: Helix, dataset: TwitchDataset) -> None:
    user_id = dataset.user_id(0)
    everything = dataset.videos_of(user_id, DEMO_AT)
    archives = helix.all_pages("/videos", [("user_id", user_id), ("type", "archive"),
                                           ("first", "100")])
    assert archives == [v for v in everything if v["type"] == "archive"]
    week = helix.all_pages("/videos", [("user_id", user_id), ("period", "week"),
                                       ("first", "100")])
    assert week == [v for v in everything if v["created_at"] >= "2025-04-03T15:00:00Z"]
    by_views = helix.ok("/videos", {"user_id": user_id, "sort": "views", "first": "100"})["data"]
    assert [v["view_count"] for v in by_views] == sorted(
        (v["view_count"] for v in everything), reverse=True)
    wanted = [everything[2], everything[0]]
    body = helix.ok("/videos", [("id", wanted[0]["id"]), ("id", "1234"), ("id", wanted[1]["id"])])
    assert body["data"] == wanted
    game_id = helix.ok("/streams", {"first": "1"})["data"][0]["game_id"]
    by_game = helix.ok("/videos", {"game_id": game_id, "first": "100"})["data"]
    assert by_game and all(v["user_id"] for v in by_game)


@pytest.mark.parametrize(("params", "status"), [
    ({}, 400), ({"id": "1", "user_id": "2"}, 400), ({"user_id": "2", "game_id": "3"}, 400),
    ({"user_id": "1", "period": "year"}, 400), ({"user_id": "1", "sort": "Time"}, 400),
    ({"user_id": "1", "type": "clip"}, 400), ({"user_id": "1", "first": "101"}, 400),
    ({"id": "1"}, 404), ({"game_id": "0"}, 404),
])
def test_video_errors(helix: Helix, params: dict[str, str], status: int) -> None:
    assert_helix_error(helix.get("/videos", params), status)


# ----- clips -----------------------------------------------------------------------------------

def test_clips_in_a_day_window(helix: Helix, dataset: TwitchDataset) -> None:
    live = dataset.live_streams(DEMO_AT)
    checked = 0
    for stream in live[:12]:
        expected = dataset.clips_created_on(stream["user_id"], DEMO_DAY, DEMO_AT)
        got = helix.all_pages("/clips", [("broadcaster_id", stream["user_id"]),
                                         ("started_at", "2025-04-10T00:00:00Z"),
                                         ("ended_at", "2025-04-11T00:00:00Z"), ("first", "5")])
        assert got == expected
        checked += len(got)
    assert checked > 0
    clip = next(c for s in live for c in dataset.clips_of(s["user_id"], DEMO_AT))
    assert set(clip) == {"id", "url", "embed_url", "broadcaster_id", "broadcaster_name",
                         "creator_id", "creator_name", "video_id", "game_id", "language",
                         "title", "view_count", "created_at", "thumbnail_url", "duration",
                         "vod_offset", "is_featured"}


def test_a_windowed_clip_query_finds_the_same_clips_as_a_full_scan(
    dataset: TwitchDataset,
) -> None:
    now = int(DEMO_AT.timestamp())
    windows = [(now - days * 86_400 - 3_600 * hours, now - days * 86_400 + 3_600 * (24 - hours))
               for days, hours in ((0, 15), (1, 0), (3, 7), (20, 2))]
    compared = 0
    for index in range(0, 3_000, 7):
        everything = dataset.clip_items(index, now)
        for start, end in windows:
            windowed = dataset.clip_items(index, now, (start, end))
            inside = [i.payload for i in everything if start <= i.created_ts < end]
            assert [i.payload for i in windowed if start <= i.created_ts < end] == inside
            compared += len(inside)
    assert compared > 100


def test_clip_order_lookups_and_vod_links(helix: Helix, dataset: TwitchDataset) -> None:
    user_id = dataset.user_id(0)
    clips = dataset.clips_of(user_id, DEMO_AT)
    got = helix.all_pages("/clips", [("broadcaster_id", user_id), ("first", "100")])
    assert got == clips
    assert [c["view_count"] for c in got] == sorted((c["view_count"] for c in got), reverse=True)
    assert any(c["video_id"] == "" for c in clips) and any(c["video_id"] for c in clips)
    assert all(c["vod_offset"] is None for c in clips if c["video_id"] == "")
    assert all(isinstance(c["duration"], float) for c in clips)
    wanted = [clips[5]["id"], "NoSuchClip-AAAAAAAAAAA", clips[1]["id"]]
    body = helix.ok("/clips", [("id", w) for w in wanted])
    assert [c["id"] for c in body["data"]] == [clips[5]["id"], clips[1]["id"]]
    featured = helix.all_pages("/clips", [("broadcaster_id", user_id), ("is_featured", "true"),
                                          ("first", "100")])
    assert featured == [c for c in clips if c["is_featured"]]
    week = helix.all_pages("/clips", [("broadcaster_id", user_id),
                                      ("started_at", "2025-04-01T00:00:00Z"), ("first", "100")])
    assert week == [c for c in clips if "2025-04-01T00:00:00Z" <= c["created_at"] < "2025-04-08"]
    game_id = clips[0]["game_id"]
    by_game = helix.ok("/clips", {"game_id": game_id, "first": "100"})["data"]
    assert by_game and all(c["game_id"] == game_id for c in by_game)


@pytest.mark.parametrize(("params", "status"), [
    ({}, 400), ({"broadcaster_id": "1", "game_id": "2"}, 400), ({"id": "x", "game_id": "2"}, 400),
    ({"broadcaster_id": "1", "ended_at": "2025-04-10T00:00:00Z"}, 400),
    ({"broadcaster_id": "1", "started_at": "yesterday"}, 400),
    ({"broadcaster_id": "1", "is_featured": "yes"}, 400),
    ({"broadcaster_id": "1", "first": "0"}, 400), ({"game_id": "0"}, 404),
])
def test_clip_errors(helix: Helix, params: dict[str, str], status: int) -> None:
    assert_helix_error(helix.get("/clips", params), status)


# ----- data properties (in-process) ------------------------------------------------------------

def test_referential_integrity_over_http(helix: Helix, dataset: TwitchDataset) -> None:
    live = helix.all_pages("/streams", [("first", "100")])
    user_ids = sorted({s["user_id"] for s in live})
    users = helix.ok("/users", [("id", u) for u in user_ids])["data"]
    assert sorted(u["id"] for u in users) == user_ids
    game_ids = sorted({s["game_id"] for s in live})
    games = helix.ok("/games", [("id", g) for g in game_ids])["data"]
    assert sorted(g["id"] for g in games) == game_ids


def test_dataset_content_rules(dataset: TwitchDataset) -> None:
    everyone = [dataset.user_id(i) for i in range(dataset.user_count)]
    known_games = {g["id"] for g in dataset.games()}
    videos = [v for u in everyone for v in dataset.videos_of(u, DEMO_AT)]
    clips = [c for u in everyone for c in dataset.clips_of(u, DEMO_AT)]
    assert all(dataset.user_by_id(c["creator_id"]) for c in clips)
    assert all(c["game_id"] in known_games for c in clips)
    video_ids = {v["id"] for v in videos}
    assert all(c["video_id"] in video_ids for c in clips if c["video_id"])
    # Partners keep 60 days of archives (Twitch's retention), so a daily partner passes 40.
    counts = {u: len(dataset.videos_of(u, DEMO_AT)) for u in everyone}
    assert max(n for u, n in counts.items() if dataset.user_by_id(u)["broadcaster_type"]
               != "partner") <= 40
    assert any(len(dataset.videos_of(u, DEMO_AT)) == 0 for u in everyone)
    texts = ([v["title"] for v in videos] + [v["description"] for v in videos]
             + [c["title"] for c in clips] + [dataset.user(i)["description"] for i in range(200)])
    for nasty in ("\\N", "NULL", "", "linha 1\nlinha 2", "tab\tseparated\ttitle"):
        assert nasty in texts
    assert any("ç" in t or "ã" in t for t in texts) and any("🎮" in t for t in texts)
    assert set(NASTY_TEXT) & set(texts)
    window = DEMO_AT.timestamp() - 90 * 86400
    assert all(datetime.fromisoformat(c["created_at"]).timestamp() >= window for c in clips)


def test_vectorised_live_set_equals_the_per_user_computation() -> None:
    model = TwitchModel(7, 500, 40)
    for minute in (minute_of(DEMO_AT.timestamp()), minute_of(DEMO_AT.timestamp()) + 733):
        snapshot = model.live_snapshot(minute)
        expected = []
        for user in range(500):
            session = model.live_session(user, minute)
            if session is not None:
                expected.append((-model.viewers(session, minute), user, session.day,
                                 session.game))
        expected.sort()
        got = list(zip((-snapshot.viewers).tolist(), snapshot.users.tolist(),
                       snapshot.days.tolist(), snapshot.games.tolist(), strict=True))
        assert got == expected


def test_same_seed_same_data_other_seed_other_data(helix: Helix) -> None:
    first = helix.all_pages("/streams", [("first", "100")])
    helix.sandbox.control("reset", {"seed": 42})
    helix.sandbox.control("clock", {"now": "2025-04-10T15:00:00Z"})
    helix.token = helix.new_token()
    assert helix.all_pages("/streams", [("first", "100")]) == first
    helix.sandbox.control("reset", {"seed": 7})
    helix.sandbox.control("clock", {"now": "2025-04-10T15:00:00Z"})
    helix.token = helix.new_token()
    other = helix.all_pages("/streams", [("first", "100")])
    assert other == TwitchDataset(7).live_streams(DEMO_AT)
    assert {s["user_id"] for s in other} != {s["user_id"] for s in first}


def test_large_dataset_is_lazy(helix: Helix) -> None:
    helix.sandbox.control("config", {"twitch_users": 1_000_000})
    page = helix.ok("/streams", {"first": "100"})
    assert len(page["data"]) == 100 and page["pagination"]["cursor"]
    assert helix.sandbox.stats()["twitch"]["users"] == 1_000_000
    user = helix.ok("/users", {"id": page["data"][-1]["user_id"]})["data"]
    assert user and user[0]["login"] == page["data"][-1]["user_login"]


def test_stats_count_requests_by_path_and_status(helix: Helix) -> None:
    helix.get("/streams")
    helix.get("/streams", {"first": "0"})
    helix.get("/nope")
    stats = helix.sandbox.stats()
    assert stats["requests"]["twitch:GET /helix/streams"] == 2
    assert stats["responses"]["twitch:GET /helix/streams"] == {"200": 1, "400": 1}
    assert stats["responses"]["twitch:GET /helix/nope"] == {"404": 1}
    assert stats["requests"]["twitch:POST /id/oauth2/token"] == 1
    assert stats["tokens_issued"]["twitch"] == 1 and stats["twitch"]["tokens_active"] == 1


@pytest.mark.parametrize("knob", [{"twitch_ratelimit": "abc"}, {"twitch_ratelimit": 0},
                                  {"twitch_users": 0}, {"twitch_games": 999},
                                  {"twitch_token_ttl": "soon"}, {"twitch_profile": "busy"},
                                  {"twitch_latency_ms": "slow"},
                                  {"twitch_partner_history_days": 10}])
def test_bad_twitch_settings_are_rejected_and_nothing_changes(sandbox: Any, knob: dict) -> None:
    response = requests.post(f"{sandbox.base_url}/_sandbox/config", json=knob, timeout=10)
    assert response.status_code == 400 and "nothing changed" in response.json()["error"]
    settings = requests.get(f"{sandbox.base_url}/_sandbox/config", timeout=10).json()["settings"]
    assert not any(key.startswith("SANDBOX_TWITCH") for key in settings)
    assert sandbox.stats()["twitch"]["users"] == 200


def test_dangling_cursor_leads_the_last_page_to_an_empty_one(helix: Helix) -> None:
    helix.sandbox.control("config", {"twitch_dangling_cursors": 1})
    user = TwitchDataset(42).user_id(0)
    params = {"user_id": user, "first": "100", "type": "archive"}

    first = helix.ok("/videos", params)
    assert first["data"] and first["pagination"]["cursor"]
    pages = [first]
    while pages[-1]["data"]:
        pages.append(helix.ok("/videos", {**params, "after": pages[-1]["pagination"]["cursor"]}))

    assert pages[-1] == {"data": [], "pagination": {}}
    expected = [v["id"] for v in TwitchDataset(42).videos_of(user, DEMO_AT)
                if v["type"] == "archive"]
    assert [v["id"] for page in pages for v in page["data"]] == expected


def test_partner_history_gives_partners_hundreds_of_videos(helix: Helix) -> None:
    helix.sandbox.control("config", {"twitch_partner_history_days": 1000})
    dataset = TwitchDataset(42, partner_history_days=1000)
    star = dataset.user_id(0)
    ids: list[str] = []
    cursor = None
    while True:
        page = helix.ok("/videos", {"user_id": star, "first": "100",
                                    **({"after": cursor} if cursor else {})})
        ids += [v["id"] for v in page["data"]]
        cursor = page["pagination"].get("cursor")
        if not cursor:
            break
    assert len(ids) > 300
    assert ids == [v["id"] for v in dataset.videos_of(star, DEMO_AT)]
    assert len(TwitchDataset(42).videos_of(star, DEMO_AT)) < 100  # the default stays small


def test_real_day_profile_sets_the_defaults_of_its_knobs(helix: Helix) -> None:
    helix.sandbox.control("config", {"twitch_profile": "real-day", "twitch_latency_ms": 0,
                                     "twitch_users": 5000})
    stats = helix.sandbox.stats()["twitch"]
    assert stats["users"] == 5000  # explicit settings win over the profile
    response = helix.get("/games/top", {"first": "1"})
    assert response.headers["Ratelimit-Limit"] == "800"
    last = helix.ok("/games/top", {"first": "100"})
    assert last["pagination"]["cursor"]  # dangling: even the only page carries a cursor
