"""Helix endpoint logic of the sandbox: parameter rules, filtering, ordering, paging (A5).

Each endpoint is ``(Params, TwitchDataset, now) -> payload`` and raises :class:`HelixError` for a
400/404; authentication and rate limiting happen before, in ``twitch_api.py``. Multi-value filters
repeat the key (``id=1&id=2``); a comma-joined value is one opaque value that matches nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from etl_sandbox.framework import parse_timestamp
from etl_sandbox.twitch_data import (
    CLIPS_PER_QUERY,
    VIDEOS_PER_GAME,
    Item,
    TwitchDataset,
    clip_order,
)
from etl_sandbox.twitch_paging import InvalidCursorError, PageWindow, fingerprint, page_window

MAX_IDS = 100
DEFAULT_FIRST = 20
VIDEO_PERIODS = {"all": None, "day": 1, "week": 7, "month": 30}
VIDEO_SORTS = ("time", "trending", "views")
VIDEO_TYPES = ("all", "archive", "highlight", "upload")
STREAM_TYPES = ("all", "live")
CLIP_WINDOW_DEFAULT = timedelta(days=7)

Payload = dict[str, Any]
Endpoint = Callable[["Params", TwitchDataset, float], Payload]


class HelixError(Exception):
    """A 4xx the endpoint answers with the Helix error body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Params:
    """Query parameters with Helix's validation rules."""

    def __init__(self, query: dict[str, list[str]], dangling_cursors: bool = False) -> None:
        self.query = query
        # The sandbox's real-day profile: a last page's cursor leads to an empty page.
        self.dangling_cursors = dangling_cursors

    def values(self, name: str, limit: int = MAX_IDS) -> list[str]:
        """Every value of a repeatable parameter; more than ``limit`` is a 400."""
        values = self.query.get(name, [])
        if len(values) > limit:
            raise HelixError(400, f'The parameter "{name}" was malformed: the value must be at '
                                  f"most {limit} values, got {len(values)}")
        return values

    def single(self, name: str) -> str | None:
        """A parameter that may appear once; repeating it is a 400."""
        values = self.query.get(name, [])
        if len(values) > 1:
            raise HelixError(400, f'The parameter "{name}" was malformed: it must appear only once')
        return values[0] if values else None

    def choice(self, name: str, allowed: tuple[str, ...] | dict[str, Any], default: str) -> str:
        """An enumerated, case-sensitive parameter; other values are a 400."""
        value = self.single(name)
        if value is None:
            return default
        if value not in allowed:
            raise HelixError(400, f'The parameter "{name}" was malformed: the value must be one '
                                  f"of {', '.join(allowed)}")
        return value

    def first(self) -> int:
        """Page size 1..100 (default 20); anything else is a 400."""
        raw = self.single("first")
        if raw is None:
            return DEFAULT_FIRST
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_IDS:
            raise HelixError(400, 'The parameter "first" was malformed: the value must be an '
                                  "integer between 1 and 100")
        return int(raw)

    def cursors(self) -> tuple[str | None, str | None]:
        """``(after, before)``; both at once is a 400."""
        after, before = self.single("after"), self.single("before")
        if after is not None and before is not None:
            raise HelixError(400, "The after and before query parameters are mutually exclusive")
        return after, before

    def present(self, *names: str) -> list[str]:
        """Which of ``names`` appear in the query."""
        return [name for name in names if name in self.query]


def page_of(params: Params, total: int) -> PageWindow:
    """Which slice of a list of ``total`` items this request gets (400 on a bad cursor/first)."""
    first = params.first()
    after, before = params.cursors()
    try:
        return page_window(total, first, after, before, fingerprint(params.query),
                           dangling=params.dangling_cursors)
    except InvalidCursorError as error:
        raise HelixError(400, str(error)) from error


def paginate(items: list[Any], params: Params) -> tuple[list[Any], dict[str, str]]:
    """The page of ``items`` this request asks for and the ``pagination`` object to send."""
    window = page_of(params, len(items))
    return items[window.start:window.stop], window.pagination()


def get_users(params: Params, data: TwitchDataset, now: float) -> Payload:
    """GET /helix/users."""
    ids, logins = params.query.get("id", []), params.query.get("login", [])
    if not ids and not logins:
        raise HelixError(400, "Must provide an ID, Login or OAuth Token")
    if len(ids) + len(logins) > MAX_IDS:
        raise HelixError(400, f"The id and login parameters combined may name at most {MAX_IDS} "
                              f"users, got {len(ids) + len(logins)}")
    return {"data": data.users_by(ids, logins)}


def get_games(params: Params, data: TwitchDataset, now: float) -> Payload:
    """GET /helix/games."""
    ids = params.query.get("id", [])
    names = params.query.get("name", [])
    igdb_ids = params.query.get("igdb_id", [])
    if not (ids or names or igdb_ids):
        raise HelixError(400, "at least one name, id, or igdb_id is required")
    if len(ids) + len(names) + len(igdb_ids) > MAX_IDS:
        raise HelixError(400, f"id, name and igdb_id combined may name at most {MAX_IDS} games")
    games = data.games()
    wanted: list[int] = []
    for value in ids:
        index = data.game_index(value)
        wanted += [] if index is None else [index]
    wanted += [i for name in names for i, game in enumerate(games) if game["name"] == name]
    wanted += [i for igdb in igdb_ids if igdb for i, game in enumerate(games)
               if game["igdb_id"] == igdb]
    return {"data": [games[i] for i in dict.fromkeys(wanted)]}


def get_top_games(params: Params, data: TwitchDataset, now: float) -> Payload:
    """GET /helix/games/top."""
    page, pagination = paginate(data.top_games(now), params)
    return {"data": [data.game(index) for index in page], "pagination": pagination}


def get_streams(params: Params, data: TwitchDataset, now: float) -> Payload:
    """GET /helix/streams: the live snapshot, filtered (AND across keys, OR within one)."""
    params.choice("type", STREAM_TYPES, "all")  # every sandbox stream is live: both mean "all"
    user_ids = params.values("user_id")
    logins = params.values("user_login")
    game_ids = params.values("game_id")
    languages = params.values("language")
    wanted = (("users", user_ids, data.user_index), ("users", logins, data.login_index),
              ("games", game_ids, data.game_index),
              ("languages", languages, data.language_index))
    filters = tuple((column, _known(lookup, values)) for column, values, lookup in wanted if values)
    selected = data.filtered_snapshot(now, filters)
    window = page_of(params, len(selected))
    page = selected.slice(window.start, window.stop)
    return {"data": data.streams_of(page), "pagination": window.pagination()}


def _known(lookup: Callable[[str], int | None], values: list[str]) -> tuple[int, ...]:
    return tuple(index for index in map(lookup, values) if index is not None)


def _exactly_one(params: Params, names: tuple[str, ...]) -> str:
    present = params.present(*names)
    if len(present) != 1:
        listed = " or ".join(names)
        if present:
            raise HelixError(400, f"The parameters {', '.join(present)} are mutually exclusive; "
                                  f"send exactly one of {listed}")
        raise HelixError(400, f"Missing required parameter: one of {listed} is required")
    return present[0]


def get_videos(params: Params, data: TwitchDataset, now: float) -> Payload:
    """GET /helix/videos."""
    key = _exactly_one(params, ("id", "user_id", "game_id"))
    period = params.choice("period", VIDEO_PERIODS, "all")
    sort = params.choice("sort", VIDEO_SORTS, "time")
    video_type = params.choice("type", VIDEO_TYPES, "all")
    now_ts = int(now)
    if key == "id":
        items = [data.video_by_id(value, now_ts) for value in params.values("id")]
        found = list({item.payload["id"]: item.payload for item in items if item}.values())
        if not found:
            raise HelixError(404, "The requested videos were not found")
        return {"data": found, "pagination": {}}

    # language is only honoured with game_id, as documented.
    language = params.single("language") if key == "game_id" else None
    days = VIDEO_PERIODS[period]

    def accept(item: Item) -> bool:
        return ((video_type == "all" or item.kind == video_type)
                and (days is None or item.created_ts >= now_ts - days * 86400)
                and (language is None or item.payload["language"] == language))

    if key == "user_id":
        index = data.user_index(params.single("user_id") or "")
        items = [] if index is None else [i for i in data.video_items(index, now_ts) if accept(i)]
    else:
        game = data.game_index(params.single("game_id") or "")
        if game is None:
            raise HelixError(404, "The requested game was not found")
        items = data.scan_game("video", game, now_ts, accept, VIDEOS_PER_GAME,
                               (period, video_type, language))
    page, pagination = paginate(_sorted_videos(items, sort, now_ts), params)
    return {"data": [item.payload for item in page], "pagination": pagination}


def _sorted_videos(items: list[Item], sort: str, now_ts: int) -> list[Item]:
    if sort == "views":
        return sorted(items, key=lambda i: (-i.view_count, -i.created_ts, i.payload["id"]))
    if sort == "trending":
        def heat(item: Item) -> float:
            return item.view_count * 3600 / (max(0, now_ts - item.created_ts) + 7200)
        return sorted(items, key=lambda i: (-heat(i), i.payload["id"]))
    return sorted(items, key=lambda i: (-i.created_ts, i.payload["id"]))


def get_clips(params: Params, data: TwitchDataset, now: float) -> Payload:
    """GET /helix/clips."""
    key = _exactly_one(params, ("broadcaster_id", "game_id", "id"))
    now_ts = int(now)
    if key == "id":
        items = [data.clip_by_id(value, now_ts) for value in params.values("id")]
        found = list({item.payload["id"]: item.payload for item in items if item}.values())
        return {"data": found, "pagination": {}}
    window = _clip_window(params)
    featured = params.choice("is_featured", ("true", "false"), "")

    def accept(item: Item) -> bool:
        return ((window is None or window[0] <= item.created_ts < window[1])
                and (featured == "" or item.payload["is_featured"] == (featured == "true")))

    if key == "broadcaster_id":
        index = data.user_index(params.single("broadcaster_id") or "")
        items = [] if index is None else [
            i for i in data.clip_items(index, now_ts, window) if accept(i)
        ]
    else:
        game = data.game_index(params.single("game_id") or "")
        if game is None:
            raise HelixError(404, "The requested game was not found")
        items = data.scan_game("clip", game, now_ts, accept, CLIPS_PER_QUERY, (window, featured))
    ordered = sorted(items, key=clip_order)[:CLIPS_PER_QUERY]
    page, pagination = paginate(ordered, params)
    return {"data": [item.payload for item in page], "pagination": pagination}


def _clip_window(params: Params) -> tuple[int, int] | None:
    """``[started_at, ended_at)`` in epoch seconds; ended_at defaults to started_at + 7 days."""
    started, ended = params.single("started_at"), params.single("ended_at")
    if started is None:
        if ended is not None:
            raise HelixError(400, "ended_at requires started_at")
        return None
    try:
        start = parse_timestamp(started)
        end = parse_timestamp(ended) if ended is not None else start + CLIP_WINDOW_DEFAULT
    except ValueError as error:
        raise HelixError(400, "started_at and ended_at must be RFC3339 timestamps, "
                              "e.g. 2025-04-10T00:00:00Z") from error
    if end < start:
        raise HelixError(400, "ended_at must not be before started_at")
    return int(start.timestamp()), int(end.timestamp())


HELIX_ENDPOINTS: dict[str, Endpoint] = {
    "/users": get_users,
    "/games": get_games,
    "/games/top": get_top_games,
    "/streams": get_streams,
    "/videos": get_videos,
    "/clips": get_clips,
}
