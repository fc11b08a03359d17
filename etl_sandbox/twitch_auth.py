"""App access tokens and the per-client-id rate-limit bucket of the Twitch sandbox (A1, A4).

Tokens expire by the *simulated* clock (``expires_in`` seconds after issue) or all at once through
``POST /_sandbox/tokens/expire``.

The bucket refills ``capacity / 60`` points per second of elapsed time, where elapsed time is the
larger of simulated and real (monotonic) time since the last refill. Simulated time alone would be
wrong both ways: a clock jumped backwards (``/_sandbox/clock`` to 2025 from a real "now") must not
freeze refills, and a test that advances the clock must see the bucket refill at once. Taking the
maximum is faithful to both: real waiting always refills, and a simulated jump forward does too.
"""

from __future__ import annotations

import math
import secrets
import string
import threading
import time
from dataclasses import dataclass

TOKEN_ALPHABET = string.ascii_lowercase + string.digits
TOKEN_LENGTH = 30


@dataclass(frozen=True)
class IssuedToken:
    """An app access token and whom it was minted for."""

    client_id: str
    issued_at: float  # simulated epoch seconds
    expires_at: float

    def seconds_left(self, now: float) -> int:
        """Whole seconds until expiry (0 once expired)."""
        return max(0, int(self.expires_at - now))


class TokenStore:
    """Thread-safe registry of issued tokens."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, IssuedToken] = {}
        self.issued = 0

    def issue(self, client_id: str, now: float, ttl_seconds: int) -> str:
        """Mint a new opaque token (~30 lowercase alphanumerics, like Twitch's)."""
        token = "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))
        with self._lock:
            self._tokens[token] = IssuedToken(client_id, now, now + ttl_seconds)
            self.issued += 1
        return token

    def lookup(self, token: str, now: float) -> IssuedToken | None:
        """The token's record if it exists and has not expired at simulated ``now``."""
        with self._lock:
            record = self._tokens.get(token)
            if record is not None and now >= record.expires_at:
                del self._tokens[token]
                return None
            return record

    def expire_all(self) -> int:
        """Invalidate every token; returns how many were active."""
        with self._lock:
            count = len(self._tokens)
            self._tokens.clear()
            return count

    def active(self) -> int:
        """Tokens not yet expired or revoked (expiry is noticed lazily on use)."""
        with self._lock:
            return len(self._tokens)


@dataclass(frozen=True)
class RateDecision:
    """Outcome of one request against a bucket, with the header values to send."""

    allowed: bool
    limit: int
    remaining: int
    reset: int  # epoch seconds (simulated clock) when the bucket is full again

    def headers(self) -> dict[str, str]:
        """``Ratelimit-Limit`` / ``Ratelimit-Remaining`` / ``Ratelimit-Reset``."""
        return {"Ratelimit-Limit": str(self.limit), "Ratelimit-Remaining": str(self.remaining),
                "Ratelimit-Reset": str(self.reset)}


@dataclass
class _Bucket:
    """One client id's points, and when (simulated and real clock) they were last refilled."""

    capacity: int
    points: float
    last_simulated: float
    last_real: float


class RateLimiter:
    """Token buckets keyed by client id; every request costs one point."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}
        self.limited = 0

    def take(self, client_id: str, capacity: int, simulated_now: float) -> RateDecision:
        """Debit one point if available; the decision carries the headers either way."""
        real_now = time.monotonic()
        with self._lock:
            bucket = self._buckets.get(client_id)
            if bucket is None or bucket.capacity != capacity:
                # A new client, or the capacity was reconfigured: start with a full bucket.
                bucket = _Bucket(capacity, float(capacity), simulated_now, real_now)
                self._buckets[client_id] = bucket
            elapsed = max(simulated_now - bucket.last_simulated, real_now - bucket.last_real, 0.0)
            bucket.points = min(float(capacity), bucket.points + elapsed * capacity / 60.0)
            bucket.last_simulated, bucket.last_real = simulated_now, real_now
            allowed = bucket.points >= 1.0
            if allowed:
                bucket.points -= 1.0
            else:
                self.limited += 1
            reset = math.ceil(simulated_now + (capacity - bucket.points) * 60.0 / capacity)
            return RateDecision(allowed, capacity, math.floor(bucket.points), reset)

    def remaining(self) -> dict[str, int]:
        """Points left per client id (as of the last request)."""
        with self._lock:
            return {client: math.floor(b.points) for client, b in self._buckets.items()}

    def clear(self) -> None:
        """Forget every bucket (they start full again)."""
        with self._lock:
            self._buckets.clear()
            self.limited = 0
