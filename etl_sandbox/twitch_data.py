"""The Twitch sandbox dataset: users, games, live streams, videos and clips as Helix JSON objects.

``TwitchDataset(seed, users=200, games=40)`` is lazy: objects are built from
:class:`~etl_sandbox.twitch_model.TwitchModel` when asked for, so a 4-million-user dataset
starts instantly. Tests use the same class in-process to compute the rows they expect from the
HTTP API::

    data = TwitchDataset(42)
    at = datetime(2025, 4, 10, 15, tzinfo=timezone.utc)
    streams = data.live_streams(at)                       # what GET /helix/streams pages through
    videos = data.videos_created_on(streams[0]["user_id"], date(2025, 4, 10), at)
    clips = data.clips_created_on(streams[0]["user_id"], date(2025, 4, 10), at)

Content rules (api-contract.md A6): the first user is a partner live every day 10:00-20:00 UTC with
every kind of content; ~25 % of users are live at any minute. Videos and clips come from the
broadcasts themselves, so every live broadcaster has an archive (``stream_id`` = the live stream's
id) created the day the broadcast started and usually clips of it. Archives are kept 7 / 14 / 60
days (none / affiliate / partner, Twitch's retention); highlights, uploads and clips are visible
for :data:`CONTENT_DAYS` days after creation. A clip whose archive is gone has ``video_id ""`` and
``vod_offset null``. Every stream, video and clip references an existing user and game. Texts mix
Portuguese, emoji and :data:`~etl_sandbox.twitch_text.NASTY_TEXT`.

``partner_history_days`` (default :data:`CONTENT_DAYS`) gives partners a back catalogue: uploads
stay visible that many days and a partner uploads on about a third of them, so a partner of the
real-day profile has hundreds of past videos, as on the real API, and a ``/videos`` walk of a whole
history costs several pages.
"""

from __future__ import annotations

import random
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

import numpy as np

from etl_sandbox.twitch_model import (
    EPOCH_TS,
    MAX_USERS,
    MINUTES_PER_DAY,
    SECONDS_PER_DAY,
    STAR_USER,
    Session,
    Snapshot,
    TwitchModel,
    bits,
    derive,
    minute_of,
    seed_key,
)
from etl_sandbox.twitch_text import (
    ADJECTIVES,
    CLIP_ADJECTIVES,
    CLIP_ANIMALS,
    CLIP_EMOTES,
    CLIP_TITLES,
    DESCRIPTIONS,
    GAMES,
    LANGUAGE_CODES,
    LOCALIZED_NAMES,
    NASTY_TEXT,
    NOUNS,
    TAGS,
    TITLES,
    VIDEO_DESCRIPTIONS,
)

DEFAULT_USERS = 200
DEFAULT_GAMES = 40
MAX_GAMES = len(GAMES)
CONTENT_DAYS = 90
PARTNER_UPLOAD_ODDS = 340  # per 1024 days, when a back catalogue is configured
RETENTION_DAYS = {"partner": 60, "affiliate": 14, "": 7}
VIDEOS_PER_GAME = 500  # Helix: at most 500 videos reachable per game
CLIPS_PER_QUERY = 1000  # Helix: about 1,000 clips reachable per query
# Game-wide video/clip queries scan users in index order; beyond this many users the sandbox stops
# looking (multi-million-user datasets exist for the streams benchmark, not for game scans).
GAME_SCAN_USERS = 50_000
USER_ID_PRIME = 2_147_483_647
STREAM_ID_BASE = 10_000_000_000
VIDEO_ID_BASE = 1_000_000_000
USER_SLOTS = MAX_USERS
VIDEO_KINDS = ("archive", "highlight", "upload")
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
CLIP_SUFFIX_LENGTH = 11  # 62**11 > 2**64

SALT_USER_ID = 0x68E31DA4
SALT_GAMES = 0xB5297A4D
SALT_TITLE = 0x1B56C4E9
SALT_TAGS = 0x7FEB352D
SALT_VIDEO = 0x846CA68B
SALT_UPLOAD = 0x3C6EF372
SALT_CLIP = 0xA54FF53A
SALT_CLIP_KEY = 0x510E527F
SALT_SLUG = 0x9B05688C

USER_CACHE_SIZE = 262_144
# Game scans and stream selections kept (a language-partitioned walk holds ~30 selections).
SCAN_CACHE_SIZE = 64
_LOGIN = re.compile(r"([a-z]+)(0|[1-9][0-9]{0,6})")
_DIGITS = re.compile(r"[1-9][0-9]{0,11}")


def rfc3339(ts: float) -> str:
    """Epoch seconds as Helix writes timestamps (``2025-04-14T13:05:22Z``)."""
    # The hottest function of a page (every item has two or three timestamps): the date part is
    # cached per day and the time of day is plain arithmetic (strftime per call cost 10 % of the
    # sandbox's CPU on an unthrottled day).
    day, seconds = divmod(int(ts), SECONDS_PER_DAY)
    hours, rest = divmod(seconds, 3600)
    return f"{_utc_day(day)}T{hours:02d}:{rest // 60:02d}:{rest % 60:02d}Z"


@lru_cache(maxsize=4096)
def _utc_day(day: int) -> str:
    return (datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(days=day)).strftime("%Y-%m-%d")


def _may_clip_within(session: Session, window: tuple[int, int]) -> bool:
    """Whether a clip of ``session`` can be created in ``window``: a clip's creation time is the
    session's start plus an offset below ``max(60, length)`` (:meth:`TwitchDataset._clip`)."""
    first = session.started_at_ts
    last = first + max(60, session.end_ts - session.started_at_ts)
    return first < window[1] and last > window[0]


def twitch_duration(seconds: int) -> str:
    """Twitch's ``1h2m3s`` duration form (``3m21s``, ``45s``)."""
    hours, rest = divmod(max(0, int(seconds)), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def pick_text(h: int, normal: tuple[str, ...], nasty_per_1024: int) -> str:
    """A normal string, or (with the given odds) one of the loader-hostile strings."""
    if bits(h, 0, 10) < nasty_per_1024:
        return NASTY_TEXT[bits(h, 10, 8) % len(NASTY_TEXT)]
    return normal[bits(h, 18, 16) % len(normal)]


def base62(number: int, width: int) -> str:
    """Fixed-width base-62 text of a non-negative integer."""
    digits = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        digits.append(BASE62[digit])
    return "".join(reversed(digits))


def unbase62(text: str) -> int | None:
    """Inverse of :func:`base62`, None for characters outside the alphabet."""
    value = 0
    for char in text:
        digit = BASE62.find(char)
        if digit < 0:
            return None
        value = value * 62 + digit
    return value


@dataclass(frozen=True)
class Item:
    """A video or clip plus the internal facts queries filter and sort on."""

    payload: dict[str, Any]
    user: int
    game: int
    created_ts: int
    view_count: int
    kind: str  # video type, or "clip"


class TwitchDataset:
    """Deterministic, lazily built Twitch data for one seed (see module docstring)."""

    def __init__(self, seed: int, users: int = DEFAULT_USERS, games: int = DEFAULT_GAMES,
                 partner_history_days: int = CONTENT_DAYS) -> None:
        if not 1 <= games <= MAX_GAMES:
            raise ValueError(f"twitch games must be 1..{MAX_GAMES}, got {games}")
        if partner_history_days < CONTENT_DAYS:
            raise ValueError(f"partner history must be at least {CONTENT_DAYS} days")
        self.seed = seed
        self.partner_history_days = partner_history_days
        self.model = TwitchModel(seed, users, games)
        self.user_count = users
        self.game_count = games
        self._id_multiplier = 1 + seed_key(seed, SALT_USER_ID) % (USER_ID_PRIME - 2)
        self._id_inverse = pow(self._id_multiplier, -1, USER_ID_PRIME)
        self._clip_key = seed_key(seed, SALT_CLIP_KEY)
        self._games = self._build_games(seed, games)
        self._game_by_id = {game["id"]: index for index, game in enumerate(self._games)}
        # Big enough for every live user of a ~1M-record day (~160,000 streams), whose Get Users
        # calls follow the streams walk: a smaller cache regenerated every one of them.
        self.user = lru_cache(maxsize=USER_CACHE_SIZE)(self._user)
        self._scan_cache: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._scan_lock = threading.Lock()

    # ----- games ------------------------------------------------------------------------------
    @staticmethod
    def _build_games(seed: int, count: int) -> list[dict[str, str]]:
        rng = random.Random(seed_key(seed, SALT_GAMES))
        catalogue = list(GAMES)
        rng.shuffle(catalogue)
        ids = rng.sample(range(10_000, 1_000_000), count)
        return [
            {"id": str(game_id), "name": name,
             "box_art_url": f"https://static-cdn.jtvnw.net/ttv-boxart/{game_id}-{{width}}x{{height}}.jpg",
             "igdb_id": igdb}
            for game_id, (name, igdb) in zip(ids, catalogue[:count], strict=True)
        ]

    def game(self, index: int) -> dict[str, str]:
        """Get Games object of category ``index``."""
        return dict(self._games[index])

    def games(self) -> list[dict[str, str]]:
        """Every category (Get Games objects), in index order."""
        return [dict(game) for game in self._games]

    def game_index(self, game_id: str) -> int | None:
        """Index of a category id, None when unknown."""
        return self._game_by_id.get(game_id)

    # ----- users ------------------------------------------------------------------------------
    def user_id(self, index: int) -> str:
        """Opaque numeric id of user ``index`` (a seed-keyed permutation, not the index)."""
        return str((index + 1) * self._id_multiplier % USER_ID_PRIME)

    def user_index(self, user_id: str) -> int | None:
        """Index of a user id, None when it is not one of this dataset's ids."""
        if not _DIGITS.fullmatch(user_id) or int(user_id) >= USER_ID_PRIME:
            return None
        index = int(user_id) * self._id_inverse % USER_ID_PRIME - 1
        return index if 0 <= index < self.user_count else None

    def login(self, index: int) -> str:
        """Login of user ``index``: two words and the index (unique, lowercase ASCII)."""
        h = self.model.traits(index).extra_hash
        adjective = ADJECTIVES[bits(h, 56, 8) % len(ADJECTIVES)]
        return f"{adjective}{NOUNS[bits(h, 0, 8) % len(NOUNS)]}{index}"

    def login_index(self, login: str) -> int | None:
        """Index of a login (case-insensitive), None when unknown."""
        match = _LOGIN.fullmatch(login.lower())
        if not match:
            return None
        index = int(match.group(2))
        if index >= self.user_count or self.login(index) != login.lower():
            return None
        return index

    def display_name(self, index: int) -> str:
        """Display name: the login capitalised, or (some users) a localized name with accents."""
        h = self.model.traits(index).extra_hash
        if index != STAR_USER and bits(h, 51, 5) < 2:
            return f"{LOCALIZED_NAMES[bits(h, 8, 8) % len(LOCALIZED_NAMES)]}{index}"
        parts = re.findall(r"[a-z]+|[0-9]+", self.login(index))
        return "".join(part.capitalize() for part in parts)

    def broadcaster_type(self, index: int) -> str:
        """``partner``, ``affiliate`` or ``""``."""
        traits = self.model.traits(index)
        if index == STAR_USER:
            return "partner"
        draw = bits(traits.extra_hash, 40, 10)
        if traits.streamer and draw < 30:
            return "partner"
        return "affiliate" if draw < 450 else ""

    def _user(self, index: int) -> dict[str, Any]:
        h = self.model.traits(index).extra_hash
        login = self.login(index)
        role = bits(h, 10, 10)
        user_type = "" if index == STAR_USER or role > 10 else (
            "staff" if role < 5 else "admin" if role < 8 else "global_mod")
        return {
            "id": self.user_id(index),
            "login": login,
            "display_name": self.display_name(index),
            "type": user_type,
            "broadcaster_type": self.broadcaster_type(index),
            "description": (DESCRIPTIONS[1] if index == STAR_USER
                            else pick_text(derive(h, 1), DESCRIPTIONS, 150)),
            "profile_image_url": f"https://static-cdn.jtvnw.net/jtv_user_pictures/{login}-profile_image-300x300.png",
            "offline_image_url": (
                f"https://static-cdn.jtvnw.net/jtv_user_pictures/{login}-channel_offline_image-1920x1080.png"
                if index == STAR_USER or bits(h, 50, 1) else ""),
            "view_count": 0,
            "created_at": rfc3339(EPOCH_TS - 1 - bits(h, 20, 29) % (10 * 365 * SECONDS_PER_DAY)),
        }

    def users_by(self, ids: Iterable[str] = (), logins: Iterable[str] = ()) -> list[dict[str, Any]]:
        """Get Users answer: known ids then known logins, request order, each user once."""
        seen: set[int] = set()
        found = []
        lookups = [self.user_index(value) for value in ids] + [self.login_index(v) for v in logins]
        for index in lookups:
            if index is not None and index not in seen:
                seen.add(index)
                found.append(self.user(index))
        return found

    def user_by_id(self, user_id: str) -> dict[str, Any] | None:
        """Get Users object of one id, None when unknown."""
        index = self.user_index(user_id)
        return None if index is None else self.user(index)

    # ----- streams ----------------------------------------------------------------------------
    def stream_id(self, index: int, day: int) -> str:
        """Id of the broadcast of user ``index`` on schedule ``day``."""
        return str(STREAM_ID_BASE + day * USER_SLOTS + index)

    def session_title(self, session: Session) -> str:
        """Title of a broadcast (also its archive's title)."""
        return pick_text(derive(session.hash, SALT_TITLE), TITLES, 160)

    def session_tags(self, session: Session) -> list[str]:
        """0-4 distinct tags of a broadcast."""
        h = derive(session.hash, SALT_TAGS)
        tags = [TAGS[bits(h, 3 + 6 * k, 6) % len(TAGS)] for k in range(bits(h, 0, 3) % 5)]
        return list(dict.fromkeys(tags))

    def snapshot(self, at_ts: float) -> Snapshot:
        """Live set at an instant (epoch seconds), ordered by viewers desc."""
        return self.model.live_snapshot(minute_of(at_ts))

    def filtered_snapshot(self, at_ts: float, filters: tuple[tuple[str, tuple[int, ...]], ...]
                          ) -> Snapshot:
        """The live set at ``at_ts`` restricted by Get Streams filters: ``(column, indexes)``
        pairs over ``users``/``games``/``languages``, AND across pairs, OR within one. Cached per
        minute and filters: a walk asks for the same selection on every page, and selecting from
        a ~160,000-stream snapshot cost more than building the page."""
        snapshot = self.snapshot(at_ts)
        if not filters:
            return snapshot
        key = ("streams", snapshot.minute, filters)
        cached = self._cached(key)
        if cached is not None:
            return cached
        mask = np.ones(len(snapshot), dtype=bool)
        for column, indexes in filters:
            mask &= np.isin(getattr(snapshot, column), np.array(indexes, dtype=np.int64))
        selected = snapshot if mask.all() else snapshot.select(mask)
        self._remember(key, selected)
        return selected

    def _cached(self, key: tuple[Any, ...]) -> Any:
        """A remembered game scan or stream selection (None when not kept)."""
        with self._scan_lock:
            found = self._scan_cache.get(key)
            if found is not None:
                self._scan_cache.move_to_end(key)
            return found

    def _remember(self, key: tuple[Any, ...], value: Any) -> None:
        """Keep ``value`` under ``key``, forgetting the least recently used beyond the limit."""
        with self._scan_lock:
            self._scan_cache[key] = value
            while len(self._scan_cache) > SCAN_CACHE_SIZE:
                self._scan_cache.popitem(last=False)

    def stream(self, index: int, day: int, viewers: int) -> dict[str, Any]:
        """Get Streams object of the broadcast of user ``index`` on ``day``."""
        session = self.model.session(index, day)
        if session is None:
            raise ValueError(f"user {index} did not stream on day {day}")
        user = self.user(index)
        game = self._games[session.game]
        return {
            "id": self.stream_id(index, day),
            "user_id": user["id"],
            "user_login": user["login"],
            "user_name": user["display_name"],
            "game_id": game["id"],
            "game_name": game["name"],
            "type": "live",
            "title": self.session_title(session),
            "tags": self.session_tags(session),
            "viewer_count": viewers,
            "started_at": rfc3339(session.started_at_ts),
            "language": self.model.traits(index).language,
            "thumbnail_url": f"https://static-cdn.jtvnw.net/previews-ttv/live_user_{user['login']}-{{width}}x{{height}}.jpg",
            "tag_ids": [],
            "is_mature": False,
        }

    def streams_of(self, snapshot: Snapshot) -> list[dict[str, Any]]:
        """Get Streams objects for every row of a snapshot (keep it small)."""
        return [self.stream(int(u), int(d), int(v))
                for u, d, v in zip(snapshot.users, snapshot.days, snapshot.viewers, strict=True)]

    def live_streams(self, at: datetime) -> list[dict[str, Any]]:
        """Every stream live at ``at``, as Get Streams returns them across all pages."""
        return self.streams_of(self.snapshot(at.timestamp()))

    def top_games(self, at_ts: float) -> list[int]:
        """Category indexes ordered by current viewers desc (then index)."""
        snapshot = self.snapshot(at_ts)
        totals = np.bincount(snapshot.games, weights=snapshot.viewers, minlength=self.game_count)
        return [int(g) for g in np.lexsort((np.arange(self.game_count), -totals))]

    # ----- videos -----------------------------------------------------------------------------
    def video_id(self, index: int, day: int, kind: str) -> str:
        """Id of a video: encodes user, schedule day and kind."""
        slot = day * len(VIDEO_KINDS) + VIDEO_KINDS.index(kind)
        return str(VIDEO_ID_BASE + slot * USER_SLOTS + index)

    def _archive(self, session: Session, now_ts: int) -> Item | None:
        index = session.user
        started = now_ts >= EPOCH_TS + session.start_minute * 60
        if not (started and self.model.traits(index).vods_enabled):
            return None
        retention = RETENTION_DAYS[self.broadcaster_type(index)] * SECONDS_PER_DAY
        if now_ts - session.started_at_ts > retention:
            return None
        h = derive(session.hash, SALT_VIDEO)
        in_progress = now_ts < session.end_ts
        duration = min(now_ts, session.end_ts) - session.started_at_ts
        stream_id = self.stream_id(index, session.day)
        login = self.login(index)
        thumbnail = "" if in_progress else (
            f"https://static-cdn.jtvnw.net/cf_vods/{h & 0xFFFFFFFFFFFF:012x}/{login}_{stream_id}"
            f"/thumb/thumb0-%{{width}}x%{{height}}.jpg")
        view_count = 1 + self.model.traits(index).popularity * (bits(h, 0, 10) + 64) // 256
        return self._video_item(
            index, session.day, "archive", session.game, session.started_at_ts,
            session.started_at_ts, duration, view_count,
            title=self.session_title(session),
            description=pick_text(derive(h, 1), VIDEO_DESCRIPTIONS, 120),
            thumbnail=thumbnail, stream_id=stream_id,
            muted=self._muted_segments(h, duration, session.end_ts - session.started_at_ts),
        )

    @staticmethod
    def _muted_segments(h: int, duration: int, full_duration: int) -> list[dict[str, int]] | None:
        draw = bits(h, 20, 7)
        if draw < 70:
            return None  # the real API's "no muted segments"
        if draw < 90:
            return []  # what twitch-cli's mock sends; clients must accept both
        segments = []
        for k in range(1 + bits(h, 27, 2) % 3):
            length = 30 * (1 + bits(h, 29 + 8 * k, 3))
            offset = bits(h, 32 + 8 * k, 14) * 7 % max(1, full_duration - length)
            if offset + length <= duration:
                segments.append({"duration": length, "offset": offset})
        return sorted(segments, key=lambda s: s["offset"])

    def _highlight(self, session: Session, now_ts: int) -> Item | None:
        h = derive(session.hash, SALT_VIDEO ^ 1)
        if bits(h, 0, 10) >= 80:
            return None
        created = session.end_ts + 600 + bits(h, 10, 13) % 6600
        if not now_ts - CONTENT_DAYS * SECONDS_PER_DAY <= created <= now_ts:
            return None
        view_count = 1 + self.model.traits(session.user).popularity * bits(h, 23, 8) // 64
        return self._video_item(
            session.user, session.day, "highlight", session.game, created, created,
            30 + bits(h, 31, 11) % 1170, view_count,
            title=f"Highlight: {self.session_title(session)}",
            description=pick_text(derive(h, 1), VIDEO_DESCRIPTIONS, 120),
            thumbnail=(f"https://static-cdn.jtvnw.net/cf_vods/{h & 0xFFFFFFFFFFFF:012x}/highlight"
                       f"/thumb/thumb0-%{{width}}x%{{height}}.jpg"),
            stream_id=None, muted=None,
        )

    def _upload_days(self, index: int) -> int:
        """How many days back the uploads of user ``index`` stay visible."""
        if self.partner_history_days > CONTENT_DAYS and self.broadcaster_type(index) == "partner":
            return self.partner_history_days
        return CONTENT_DAYS

    def _upload(self, index: int, day: int, now_ts: int) -> Item | None:
        traits = self.model.traits(index)
        h = derive(traits.static_hash ^ SALT_UPLOAD, day)
        days = self._upload_days(index)
        odds = PARTNER_UPLOAD_ODDS if days > CONTENT_DAYS else (110 if index == STAR_USER else 25)
        if not traits.streamer or bits(h, 0, 10) >= odds:
            return None
        created = EPOCH_TS + day * SECONDS_PER_DAY + bits(h, 10, 17) % SECONDS_PER_DAY
        if not now_ts - days * SECONDS_PER_DAY <= created <= now_ts:
            return None
        return self._video_item(
            index, day, "upload", traits.favourite_games[0], created,
            created + bits(h, 27, 9), 60 + bits(h, 36, 12) % 3540,
            1 + traits.popularity * bits(h, 48, 8) // 128,
            title=pick_text(derive(h, 1), TITLES, 160),
            description=pick_text(derive(h, 2), VIDEO_DESCRIPTIONS, 120),
            thumbnail=(f"https://static-cdn.jtvnw.net/cf_vods/{h & 0xFFFFFFFFFFFF:012x}/upload"
                       f"/thumb/thumb0-%{{width}}x%{{height}}.jpg"),
            stream_id=None, muted=None,
        )

    def _video_item(self, index: int, day: int, kind: str, game: int, created: int,
                    published: int, duration: int, view_count: int, *, title: str,
                    description: str, thumbnail: str, stream_id: str | None,
                    muted: list[dict[str, int]] | None) -> Item:
        user = self.user(index)
        video_id = self.video_id(index, day, kind)
        payload = {
            "id": video_id,
            "stream_id": stream_id,
            "user_id": user["id"],
            "user_login": user["login"],
            "user_name": user["display_name"],
            "title": title,
            "description": description,
            "created_at": rfc3339(created),
            "published_at": rfc3339(published),
            "url": f"https://www.twitch.tv/videos/{video_id}",
            "thumbnail_url": thumbnail,
            "viewable": "public",
            "view_count": view_count,
            "language": self.model.traits(index).language,
            "type": kind,
            "duration": twitch_duration(duration),
            "muted_segments": muted,
        }
        return Item(payload, index, game, created, view_count, kind)

    def _recent_sessions(self, index: int, now_ts: int) -> list[Session]:
        now_minute = minute_of(now_ts)
        first = now_minute - (CONTENT_DAYS + 1) * MINUTES_PER_DAY
        return self.model.sessions_started(index, first, now_minute)

    def video_items(self, index: int, now_ts: int) -> list[Item]:
        """Every video of user ``index`` visible at ``now_ts``, newest first."""
        if not self.model.traits(index).streamer:
            return []
        items: list[Item] = []
        for session in self._recent_sessions(index, now_ts):
            for item in (self._archive(session, now_ts), self._highlight(session, now_ts)):
                if item is not None:
                    items.append(item)
        last_day = (int(now_ts) - EPOCH_TS) // SECONDS_PER_DAY
        for day in range(max(0, last_day - self._upload_days(index)), last_day + 1):
            upload = self._upload(index, day, now_ts)
            if upload is not None:
                items.append(upload)
        items.sort(key=lambda item: (-item.created_ts, item.payload["id"]))
        return items

    def video_by_id(self, video_id: str, now_ts: int) -> Item | None:
        """The video with this id if it is visible at ``now_ts``."""
        if not _DIGITS.fullmatch(video_id) or int(video_id) < VIDEO_ID_BASE:
            return None
        slot, index = divmod(int(video_id) - VIDEO_ID_BASE, USER_SLOTS)
        day, kind_number = divmod(slot, len(VIDEO_KINDS))
        if index >= self.user_count:
            return None
        kind = VIDEO_KINDS[kind_number]
        if kind == "upload":
            return self._upload(index, day, now_ts)
        session = self.model.session(index, day)
        if session is None:
            return None
        if kind == "archive":
            return self._archive(session, now_ts)
        return self._highlight(session, now_ts)

    def videos_of(self, user_id: str, at: datetime) -> list[dict[str, Any]]:
        """Get Videos objects of one user visible at ``at``, newest first."""
        index = self.user_index(user_id)
        if index is None:
            return []
        return [item.payload for item in self.video_items(index, int(at.timestamp()))]

    def videos_created_on(self, user_id: str, day: date, at: datetime) -> list[dict[str, Any]]:
        """Videos of one user whose ``created_at`` falls on UTC ``day``, as visible at ``at``."""
        prefix = day.isoformat()
        return [video for video in self.videos_of(user_id, at)
                if video["created_at"].startswith(prefix)]

    # ----- clips ------------------------------------------------------------------------------
    def clip_slug(self, index: int, day: int, number: int) -> str:
        """Clip id: CamelCase words plus a base-62 suffix that encodes (user, day, number)."""
        scrambled = ((day * USER_SLOTS + index) * 4 + number) ^ self._clip_key
        h = derive(SALT_SLUG, scrambled)
        words = (CLIP_ADJECTIVES[bits(h, 0, 4)] + CLIP_ADJECTIVES[bits(h, 4, 4)]
                 + CLIP_ANIMALS[bits(h, 8, 4)] + CLIP_EMOTES[bits(h, 12, 8) % len(CLIP_EMOTES)])
        return f"{words}-{base62(scrambled, CLIP_SUFFIX_LENGTH)}"

    def clip_items(
        self, index: int, now_ts: int, window: tuple[int, int] | None = None
    ) -> list[Item]:
        """Every clip of broadcaster ``index`` visible at ``now_ts`` (unordered); with ``window``
        (``[start, end)`` epoch seconds) only the sessions that can hold a clip created in it are
        generated, so a one-day query costs a day of sessions, not :data:`CONTENT_DAYS` of them
        (the answer is the same: the caller still filters each clip by its ``created_at``)."""
        if not self.model.traits(index).streamer:
            return []
        items = []
        for session in self._recent_sessions(index, now_ts):
            if window is None or _may_clip_within(session, window):
                items.extend(self._session_clips(session, now_ts))
        return items

    def _session_clips(self, session: Session, now_ts: int) -> list[Item]:
        traits = self.model.traits(session.user)
        h = derive(session.hash, SALT_CLIP)
        most = min(3, traits.popularity_bits >> 8)
        archive = self._archive(session, now_ts)
        length = session.end_ts - session.started_at_ts
        clips = []
        for number in range(bits(h, 0, 2) % (most + 1)):
            clip = self._clip(session, number, derive(h, number + 1), length, archive, now_ts)
            if clip is not None:
                clips.append(clip)
        return clips

    def _clip(self, session: Session, number: int, h: int, length: int, archive: Item | None,
              now_ts: int) -> Item | None:
        offset = bits(h, 0, 20) % max(60, length)
        created = session.started_at_ts + offset
        if not now_ts - CONTENT_DAYS * SECONDS_PER_DAY <= created <= now_ts:
            return None
        index = session.user
        traits = self.model.traits(index)
        user = self.user(index)
        creator = self.user(derive(h, 7) % self.user_count)
        duration = (50 + bits(h, 20, 10) % 551) / 10
        view_count = 1 + traits.popularity * bits(h, 30, 10) // 512
        slug = self.clip_slug(index, session.day, number)
        # The VOD offset is computed a few minutes after the clip exists.
        settled = archive is not None and now_ts - created >= 300
        payload = {
            "id": slug,
            "url": f"https://clips.twitch.tv/{slug}",
            "embed_url": f"https://clips.twitch.tv/embed?clip={slug}",
            "broadcaster_id": user["id"],
            "broadcaster_name": user["display_name"],
            "creator_id": creator["id"],
            "creator_name": creator["display_name"],
            "video_id": archive.payload["id"] if archive is not None else "",
            "game_id": self._games[session.game]["id"],
            "language": traits.language,
            "title": pick_text(derive(h, 2), CLIP_TITLES, 100),
            "view_count": view_count,
            "created_at": rfc3339(created),
            "thumbnail_url": (f"https://clips-media-assets2.twitch.tv/"
                              f"{slug.rsplit('-', 1)[1]}-preview-480x272.jpg"),
            "duration": duration,
            "vod_offset": max(0, offset - int(duration)) if settled else None,
            "is_featured": bits(h, 40, 4) == 0,
        }
        return Item(payload, index, session.game, created, view_count, "clip")

    def clip_by_id(self, slug: str, now_ts: int) -> Item | None:
        """The clip with this id if it is visible at ``now_ts``."""
        _, dash, suffix = slug.rpartition("-")
        if not dash or len(suffix) != CLIP_SUFFIX_LENGTH:
            return None
        scrambled = unbase62(suffix)
        if scrambled is None or scrambled >> 64:
            return None
        rest, number = divmod(scrambled ^ self._clip_key, 4)
        day, index = divmod(rest, USER_SLOTS)
        if index >= self.user_count or self.clip_slug(index, day, number) != slug:
            return None
        session = self.model.session(index, day)
        if session is None:
            return None
        return next((clip for clip in self._session_clips(session, now_ts)
                     if clip.payload["id"] == slug), None)

    def clips_of(self, user_id: str, at: datetime) -> list[dict[str, Any]]:
        """Get Clips objects of one broadcaster visible at ``at`` (most viewed first)."""
        index = self.user_index(user_id)
        if index is None:
            return []
        items = sorted(self.clip_items(index, int(at.timestamp())), key=clip_order)
        return [item.payload for item in items]

    def clips_created_on(self, user_id: str, day: date, at: datetime) -> list[dict[str, Any]]:
        """Clips of one broadcaster whose ``created_at`` falls on UTC ``day``, visible at ``at``."""
        prefix = day.isoformat()
        clips = self.clips_of(user_id, at)
        return [clip for clip in clips if clip["created_at"].startswith(prefix)]

    # ----- game-wide scans --------------------------------------------------------------------
    def scan_game(self, kind: str, game: int, now_ts: int, accept: Callable[[Item], bool],
                  cap: int, cache_key: tuple[Any, ...]) -> list[Item]:
        """Videos or clips of category ``game`` accepted by ``accept``, scanning users in index
        order until ``cap`` are found (Helix only exposes that many). Cached per minute."""
        key = (kind, game, minute_of(now_ts), *cache_key)
        cached = self._cached(key)
        if cached is not None:
            return cached
        found: list[Item] = []
        source = self.video_items if kind == "video" else self.clip_items
        for index in range(min(self.user_count, GAME_SCAN_USERS)):
            found.extend(item for item in source(index, now_ts)
                         if item.game == game and accept(item))
            if len(found) >= cap:
                break
        found = found[:cap]
        self._remember(key, found)
        return found

    def language_index(self, code: str) -> int | None:
        """Index of a stream language code, None for codes no user has."""
        return LANGUAGE_CODES.index(code) if code in LANGUAGE_CODES else None


def clip_order(item: Item) -> tuple[int, int, str]:
    """Get Clips order: most viewed first, then newest, then id."""
    return (-item.view_count, -item.created_ts, item.payload["id"])

