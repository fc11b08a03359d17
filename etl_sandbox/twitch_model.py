"""Deterministic generative model behind the Twitch sandbox: who streams when, and how many watch.

Nothing is materialised up front. Every fact is a pure function of ``(seed, user index, day,
minute)`` computed with a 64-bit mixing hash (splitmix64 finaliser), so a dataset of 4 million users
costs nothing until it is asked about, and the same question always gets the same answer.

The schedule: a user who streams at all has a usual start minute and length; on each day (days
counted from :data:`EPOCH`) they go live with a personal probability, with +-30 min jitter on the
start and +-60 min on the length. Sessions start and end on whole simulated minutes (``started_at``
is reported a few seconds earlier: the directory lags the broadcast), and sessions of one user never
overlap. Viewer counts drift every simulated minute, so paging the live list twice a minute apart
gives a different order, as on the real API.

The same formulas run on Python ints (one user: :meth:`TwitchModel.session`) and on numpy uint64
arrays (all users at once: :meth:`TwitchModel.live_snapshot`); ``tests/sandbox/test_twitch_api.py``
checks both agree. Only integer arithmetic feeds the schedule, so both paths are bit-identical.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

import numpy as np

from etl_sandbox.twitch_text import LANGUAGE_CODES, LANGUAGE_TABLE

EPOCH = datetime(2020, 1, 1, tzinfo=timezone.utc)
EPOCH_TS = int(EPOCH.timestamp())
MINUTES_PER_DAY = 1440
SECONDS_PER_DAY = 86400
MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
MAX_USERS = 10_000_000  # ids embed the user index in 7 digits
CHUNK = 1 << 20  # users per numpy batch: bounds peak memory for multi-million-user datasets

# Salts keep the hash streams of different facts independent.
SALT_STATIC = 0x5F3759DF
SALT_FAVOURITES = 0x2545F491
SALT_EXTRA = 0x1B873593
SALT_MINUTE = 0xCC9E2D51

# The first user is a partner who is live every day 10:00-20:00 UTC and has every kind of content.
STAR_USER = 0
STAR_START_MINUTE = 600
STAR_DURATION = 600
STAR_POPULARITY = 60_000
LANGUAGE_INDEX = np.array([LANGUAGE_CODES.index(code) for code in LANGUAGE_TABLE], dtype=np.int64)


def mix64(x: Any) -> Any:
    """splitmix64 finaliser; works on Python ints and on numpy uint64 arrays (which wrap)."""
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def derive(key: Any, x: Any) -> Any:
    """Hash of ``x`` under ``key`` (either may be an array); x must be non-negative."""
    term = x * GOLDEN
    if isinstance(term, int):
        term &= MASK64
    return mix64((term + key) & MASK64)


def bits(h: Any, shift: int, width: int) -> Any:
    """``width`` bits of hash ``h`` starting at bit ``shift``."""
    return (h >> shift) & ((1 << width) - 1)


def seed_key(seed: int, salt: int) -> int:
    """A 64-bit key for one fact stream of one dataset seed."""
    return mix64((mix64(seed & MASK64) + salt) & MASK64)


@dataclass(frozen=True)
class UserTraits:
    """Schedule-relevant traits of one user (all derived from the seed and the index)."""

    index: int
    static_hash: int
    extra_hash: int
    streamer: bool
    day_quota: int  # goes live on a day when a 10-bit draw is below this (0..1024)
    base_start: int  # usual start, minutes after 00:00 UTC
    base_duration: int  # usual length, minutes
    popularity_bits: int  # 0..1023, drives viewers and clip counts
    popularity: int
    language: str
    vods_enabled: bool
    favourite_games: tuple[int, ...]


@dataclass(frozen=True)
class Session:
    """One broadcast of one user on one schedule day."""

    user: int
    day: int
    hash: int
    start_minute: int  # minutes since EPOCH when it appears live
    end_minute: int  # first minute it is no longer live
    started_at_ts: int  # epoch seconds reported as ``started_at``
    game: int
    factor: int  # 0..1023 per-session audience multiplier

    @property
    def end_ts(self) -> int:
        """Epoch seconds when the broadcast ended (or will end)."""
        return EPOCH_TS + self.end_minute * 60

    def live_at(self, minute: int) -> bool:
        """True when the session is live during simulated ``minute`` (minutes since EPOCH)."""
        return self.start_minute <= minute < self.end_minute


@dataclass(frozen=True)
class Snapshot:
    """The live set at one simulated minute, ordered by viewers desc then user index."""

    minute: int
    users: np.ndarray
    days: np.ndarray
    viewers: np.ndarray
    games: np.ndarray
    languages: np.ndarray  # index into LANGUAGE_CODES

    def __len__(self) -> int:
        return int(self.users.shape[0])

    def slice(self, start: int, stop: int) -> Snapshot:
        """Rows ``[start, stop)``."""
        return Snapshot(self.minute, self.users[start:stop], self.days[start:stop],
                        self.viewers[start:stop], self.games[start:stop],
                        self.languages[start:stop])

    def select(self, mask: np.ndarray) -> Snapshot:
        """The rows where ``mask`` holds (order kept)."""
        return Snapshot(self.minute, self.users[mask], self.days[mask], self.viewers[mask],
                        self.games[mask], self.languages[mask])


def minute_of(ts: float) -> int:
    """Minutes since EPOCH of an epoch-seconds instant (negative before EPOCH)."""
    return int((ts - EPOCH_TS) // 60)


class TwitchModel:
    """Schedule and audience for ``users`` users and ``games`` categories under one seed."""

    def __init__(self, seed: int, users: int, games: int) -> None:
        if not 1 <= users <= MAX_USERS:
            raise ValueError(f"twitch users must be 1..{MAX_USERS}, got {users}")
        if games < 1:
            raise ValueError(f"twitch games must be at least 1, got {games}")
        self.seed = seed
        self.users = users
        self.games = games
        self.k_static = seed_key(seed, SALT_STATIC)
        self.k_favourites = seed_key(seed, SALT_FAVOURITES)
        self.k_extra = seed_key(seed, SALT_EXTRA)
        self._snapshots: dict[int, Snapshot] = {}
        self._snapshot_lock = threading.Lock()
        self.traits = lru_cache(maxsize=262_144)(self._traits)  # as TwitchDataset.user

    # ----- one user (Python ints) -------------------------------------------------------------
    def _traits(self, index: int) -> UserTraits:
        hs = derive(self.k_static, index)
        hf = derive(self.k_favourites, index)
        popularity_bits = bits(hs, 41, 10)
        traits = UserTraits(
            index=index,
            static_hash=hs,
            extra_hash=derive(self.k_extra, index),
            streamer=bits(hs, 0, 10) < 922,
            day_quota=460 + ((bits(hs, 10, 10) * 564) >> 10),
            base_start=(bits(hs, 20, 11) * MINUTES_PER_DAY) >> 11,
            base_duration=300 + ((bits(hs, 31, 10) * 480) >> 10),
            popularity_bits=popularity_bits,
            popularity=1 + ((popularity_bits ** 4 * 40000) >> 40),
            language=LANGUAGE_TABLE[bits(hs, 51, 5)],
            vods_enabled=bits(hs, 56, 8) < 230,
            favourite_games=tuple(
                bits(hf, 2 + 16 * k, 16) % self.games for k in range(bits(hf, 0, 2) % 3 + 1)
            ),
        )
        if index != STAR_USER:
            return traits
        return UserTraits(
            index=index, static_hash=hs, extra_hash=traits.extra_hash, streamer=True,
            day_quota=1024, base_start=STAR_START_MINUTE, base_duration=STAR_DURATION,
            popularity_bits=1023, popularity=STAR_POPULARITY, language="pt",
            vods_enabled=True,
            favourite_games=tuple(bits(hf, 2 + 16 * k, 16) % self.games for k in range(3)),
        )

    def session(self, index: int, day: int) -> Session | None:
        """The broadcast of user ``index`` on schedule ``day``, or None if they did not stream."""
        if day < 0:
            return None
        traits = self.traits(index)
        hd = derive(traits.static_hash, day)
        if not (traits.streamer and bits(hd, 0, 10) < traits.day_quota):
            return None
        star = index == STAR_USER
        start_jitter = 0 if star else bits(hd, 10, 6) % 61 - 30
        length_jitter = 0 if star else bits(hd, 16, 8) % 121 - 60
        start = day * MINUTES_PER_DAY + traits.base_start + start_jitter
        end = start + traits.base_duration + length_jitter
        favourites = traits.favourite_games
        return Session(
            user=index, day=day, hash=hd, start_minute=start, end_minute=end,
            started_at_ts=EPOCH_TS + start * 60 - (1 + bits(hd, 42, 6) % 59),
            game=favourites[bits(hd, 24, 8) % len(favourites)],
            factor=bits(hd, 32, 10),
        )

    def live_session(self, index: int, minute: int) -> Session | None:
        """The session of user ``index`` live during ``minute``, if any."""
        day = minute // MINUTES_PER_DAY
        for candidate in (day - 1, day, day + 1):
            session = self.session(index, candidate)
            if session is not None and session.live_at(minute):
                return session
        return None

    def viewers(self, session: Session, minute: int) -> int:
        """Viewer count of a live session during ``minute`` (drifts minute by minute)."""
        popularity = self.traits(session.user).popularity
        drift = 850 + ((bits(derive(session.hash ^ SALT_MINUTE, minute), 0, 10) * 300) >> 10)
        return max(1, popularity * (512 + session.factor) // 1024 * drift // 1000)

    def sessions_started(self, index: int, first_minute: int, last_minute: int) -> list[Session]:
        """Sessions of user ``index`` whose start minute is within [first_minute, last_minute]."""
        first_day = max(0, first_minute // MINUTES_PER_DAY - 1)
        last_day = last_minute // MINUTES_PER_DAY + 1
        found = []
        for day in range(first_day, last_day + 1):
            session = self.session(index, day)
            if session is not None and first_minute <= session.start_minute <= last_minute:
                found.append(session)
        return found

    # ----- every user at once (numpy) ---------------------------------------------------------
    def live_snapshot(self, minute: int) -> Snapshot:
        """Every live session during ``minute`` (cached: the last few minutes are kept)."""
        with self._snapshot_lock:
            cached = self._snapshots.get(minute)
            if cached is not None:
                return cached
            parts = [self._live_chunk(start, min(start + CHUNK, self.users), minute)
                     for start in range(0, self.users, CHUNK)]
            snapshot = _sorted_snapshot(minute, parts)
            if len(self._snapshots) >= 4:
                self._snapshots.pop(min(self._snapshots))
            self._snapshots[minute] = snapshot
            return snapshot

    def _live_chunk(self, first: int, stop: int, minute: int) -> tuple[np.ndarray, ...]:
        index = np.arange(first, stop, dtype=np.uint64)
        hs = derive(self.k_static, index)
        hf = derive(self.k_favourites, index)
        star = index == STAR_USER
        streamer = (bits(hs, 0, 10) < 922) | star
        quota = np.where(star, 1024, (460 + ((bits(hs, 10, 10) * 564) >> 10)).astype(np.int64))
        base_start = np.where(star, STAR_START_MINUTE,
                              ((bits(hs, 20, 11) * MINUTES_PER_DAY) >> 11).astype(np.int64))
        base_duration = np.where(star, STAR_DURATION,
                                 (300 + ((bits(hs, 31, 10) * 480) >> 10)).astype(np.int64))
        popularity_bits = bits(hs, 41, 10)
        popularity = np.where(
            star, STAR_POPULARITY,
            (1 + ((popularity_bits ** 4 * 40000) >> 40)).astype(np.int64),
        )
        language = np.where(star, LANGUAGE_CODES.index("pt"),
                            LANGUAGE_INDEX[bits(hs, 51, 5).astype(np.int64)])
        favourite_count = np.where(star, 3, (bits(hf, 0, 2) % 3 + 1).astype(np.int64))
        favourites = [(bits(hf, 2 + 16 * k, 16) % self.games).astype(np.int64) for k in range(3)]

        day0 = minute // MINUTES_PER_DAY
        live_user, live_day, live_hash, live_game, live_factor = [], [], [], [], []
        live_popularity, live_language = [], []
        for day in (day0 - 1, day0, day0 + 1):
            if day < 0:
                continue
            hd = derive(hs, day)
            on = streamer & (bits(hd, 0, 10).astype(np.int64) < quota)
            start_jitter = np.where(star, 0, (bits(hd, 10, 6) % 61).astype(np.int64) - 30)
            length_jitter = np.where(star, 0, (bits(hd, 16, 8) % 121).astype(np.int64) - 60)
            start = day * MINUTES_PER_DAY + base_start + start_jitter
            end = start + base_duration + length_jitter
            live = on & (start <= minute) & (minute < end)
            if not live.any():
                continue
            count = favourite_count[live].astype(np.uint64)
            pick = (bits(hd[live], 24, 8) % count).astype(np.int64)
            game = np.choose(pick, [fav[live] for fav in favourites])
            live_user.append(index[live].astype(np.int64))
            live_day.append(np.full(int(live.sum()), day, dtype=np.int64))
            live_hash.append(hd[live])
            live_game.append(game)
            live_factor.append(bits(hd[live], 32, 10).astype(np.int64))
            live_popularity.append(popularity[live])
            live_language.append(language[live])
        if not live_user:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty, empty, empty
        hashes = np.concatenate(live_hash)
        drift = 850 + ((bits(derive(hashes ^ SALT_MINUTE, minute), 0, 10) * 300) >> 10)
        viewers = np.maximum(
            1,
            np.concatenate(live_popularity) * (512 + np.concatenate(live_factor)) // 1024
            * drift.astype(np.int64) // 1000,
        )
        return (np.concatenate(live_user), np.concatenate(live_day), viewers,
                np.concatenate(live_game), np.concatenate(live_language))


def _sorted_snapshot(minute: int, parts: list[tuple[np.ndarray, ...]]) -> Snapshot:
    columns = zip(*parts, strict=True)
    users, days, viewers, games, languages = (np.concatenate(column) for column in columns)
    order = np.lexsort((users, -viewers))
    return Snapshot(minute, users[order], days[order], viewers[order], games[order],
                    languages[order])
