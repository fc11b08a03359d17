"""Rate-limit pacing from ``Ratelimit-*`` response headers (token-bucket APIs such as Twitch Helix).

Every response of a bucketed API says how many points are left (``Ratelimit-Remaining``) and when
the bucket is full again (``Ratelimit-Reset``, Unix epoch seconds). The pacer keeps the latest of
those and, before each request, waits for the reset when the bucket is nearly empty, so the client
slows down instead of collecting 429s.

Clock skew: ``Ratelimit-Reset`` is an instant on the *server's* clock. Comparing it with the local
clock is wrong whenever the two disagree (and the project's sandbox runs a simulated clock that can
be days away from ours), so the wait is computed as ``reset - Date`` from the same response and then
re-anchored on the local clock at the moment the response arrived.

The state lives behind :class:`RateLimitStateStore`. :class:`InMemoryStateStore` shares it between
the threads of one process; a store backed by a file or a database can later share one bucket
between ``--workers N`` processes without touching the pacer. The pacer's clock is wall time by
default because, unlike a monotonic clock, it means the same thing in every process on the host.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

logger = logging.getLogger(__name__)

# Longest single pacing wait. Per-minute buckets refill within a minute; a longer computed wait
# means the headers are odd (or the clocks are), and sleeping for it would only stall the run.
DEFAULT_MAX_WAIT_S = 65.0


def server_time(headers: Mapping[str, str] | None) -> dt.datetime | None:
    """The server's clock from a ``Date`` header (aware UTC), or None when absent or unparsable.

    Accepts an ``HttpResponse`` too (anything with a ``headers`` mapping).
    """
    if headers is None:
        return None
    headers = getattr(headers, "headers", headers)
    raw = headers.get("Date")
    if not raw:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        # RFC 9110 dates are always GMT; "-0000" parses naive.
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc)


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        return int(float(raw.strip()))
    except ValueError:
        return None


@dataclass(frozen=True)
class RateLimitState:
    """What the last response said about the bucket, anchored on the pacer's (local) clock."""

    limit: int
    remaining: int
    full_at: float  # local clock time at which the server says the bucket is full again
    observed_at: float  # local clock time the response was read


class RateLimitStateStore(Protocol):
    """Where pacer state lives; one key per bucket (e.g. per client id)."""

    def get(self, key: str) -> RateLimitState | None:
        """The latest state of bucket ``key``, or None when nothing is known."""
        ...

    def put(self, key: str, state: RateLimitState | None) -> None:
        """Replace the state of bucket ``key`` (None forgets it)."""
        ...


class InMemoryStateStore:
    """Pacer state shared by the threads of one process."""

    def __init__(self) -> None:
        self._states: dict[str, RateLimitState] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> RateLimitState | None:
        with self._lock:
            return self._states.get(key)

    def put(self, key: str, state: RateLimitState | None) -> None:
        with self._lock:
            if state is None:
                self._states.pop(key, None)
            else:
                self._states[key] = state


class RateLimitPacer:
    """Waits before a request when the bucket is nearly empty; says how long to wait after a 429.

    ``reserve`` points are kept back for safety; it is capped at a tenth of the bucket so a small
    bucket (tests, the sandbox) still lets requests through between resets.
    """

    LIMIT_HEADER = "Ratelimit-Limit"
    REMAINING_HEADER = "Ratelimit-Remaining"
    RESET_HEADER = "Ratelimit-Reset"

    def __init__(
        self,
        reserve: int = 10,
        *,
        bucket: str = "default",
        store: RateLimitStateStore | None = None,
        max_wait_s: float = DEFAULT_MAX_WAIT_S,
        jitter_s: float = 0.5,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        if reserve < 0:
            raise ValueError("reserve must be >= 0")
        self.reserve = reserve
        self.bucket = bucket
        self.store: RateLimitStateStore = store if store is not None else InMemoryStateStore()
        self.max_wait_s = max_wait_s
        self.jitter_s = jitter_s
        self.clock = clock
        self._rng = rng or random.Random()

    def effective_reserve(self, limit: int) -> int:
        """The reserve actually applied to a bucket of size ``limit``."""
        return min(self.reserve, limit // 10)

    def seconds_until_full(self, headers: Mapping[str, str]) -> float | None:
        """``Ratelimit-Reset - Date`` of one response (server clock on both sides), capped; or None.

        Without a ``Date`` header the local wall clock stands in for the server's.
        """
        reset = _header_int(headers, self.RESET_HEADER)
        if reset is None:
            return None
        now = server_time(headers)
        server_now = now.timestamp() if now is not None else time.time()
        return max(0.0, min(float(reset) - server_now, self.max_wait_s))

    def observe(self, headers: Mapping[str, str]) -> None:
        """Record the bucket state a response reports; responses without the headers are ignored."""
        limit = _header_int(headers, self.LIMIT_HEADER)
        remaining = _header_int(headers, self.REMAINING_HEADER)
        until_full = self.seconds_until_full(headers)
        if limit is None or remaining is None or until_full is None:
            return
        now = self.clock()
        self.store.put(self.bucket, RateLimitState(limit, remaining, now + until_full, now))

    def wait_before_request(self) -> float:
        """Seconds to wait before the next request (0 when the bucket has room); consumes a point.

        Taking the point here, not only when the response arrives, keeps threads that share the
        pacer from all firing on the same last few points.
        """
        state = self.store.get(self.bucket)
        if state is None:
            return 0.0
        now = self.clock()
        if now >= state.full_at:
            self.store.put(self.bucket, None)
            return 0.0
        if state.remaining > self.effective_reserve(state.limit):
            self.store.put(
                self.bucket,
                RateLimitState(state.limit, state.remaining - 1, state.full_at, state.observed_at),
            )
            return 0.0
        wait = min(state.full_at - now, self.max_wait_s) + self._jitter()
        # After the wait the bucket is full per the server; the next response tells the truth.
        self.store.put(self.bucket, None)
        logger.debug(
            "rate limit: %d of %d points left (reserve %d); waiting %.1f s for the refill",
            state.remaining,
            state.limit,
            self.effective_reserve(state.limit),
            wait,
        )
        return wait

    def wait_after_429(self, headers: Mapping[str, str]) -> float | None:
        """Seconds to wait after a 429 that carries ``Ratelimit-Reset``; None when it does not."""
        until_full = self.seconds_until_full(headers)
        if until_full is None:
            return None
        self.store.put(self.bucket, None)
        return until_full + self._jitter()

    def _jitter(self) -> float:
        return self._rng.uniform(0.0, self.jitter_s) if self.jitter_s > 0 else 0.0
