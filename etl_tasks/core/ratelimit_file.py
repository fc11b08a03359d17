"""One rate-limit bucket shared by every process on a host: fcntl-locked JSON, one file per bucket.

    store = FileStateStore(Path("output/ratelimit"))
    pacer = SharedRateLimitPacer(10, bucket="twitch:<client id>", store=store)
    http.get_json(url, pacer=pacer)          # waits for its slot, then sends

``luigi --workers N`` runs every task in its own process, and several ``luigi`` commands may run at
once against one luigid. With an in-memory pacer each of those processes believes it owns the
whole ``Ratelimit-Remaining`` budget, so N of them spend it N times over and collect 429s. Here the
bucket's state lives in a file that every process locks (``fcntl.flock``) for each
read-modify-write:

* **Reserve before sending.** :meth:`SharedRateLimitPacer.wait_before_request` takes one point from
  the shared estimate atomically and gets a sequence number. When fewer than ``reserve`` points
  would be left, the point is taken anyway (the estimate goes negative: slots promised to waiting
  requests) and the caller sleeps until the refill covers it, so waiting requests queue one refill
  interval apart instead of all waking at the reset and stampeding.
* **Learn from every response.** The bucket refills continuously (Helix: the whole bucket per
  minute; ``Ratelimit-Reset`` is when it is full again), so the state is a token bucket: points at
  a moment plus a refill rate, the rate measured from ``(Limit - Remaining) / (Reset - Date)`` when
  the bucket is low enough for that to be precise. A response tells how many points the server had
  after serving that request; the requests reserved *after* it (higher sequence numbers) were not
  counted yet, so they are subtracted. An answer older than one already applied can only lower the
  estimate.

Times are the local wall clock (the same in every process on the host); server instants are only
used as differences (``Reset - Date``), so a server clock far from ours (the sandbox) does not
matter. The directory is per host: on shared storage it works only where the filesystem honours
``flock`` across machines, so give each host its own directory or accept each host pacing alone.
The bytes and their locking go through :class:`~etl_tasks.core.state_store.StateStore` (files
today), so a shared service can hold the bucket once workers span hosts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from etl_tasks.core.ratelimit import (
    DEFAULT_MAX_WAIT_S,
    RateLimitPacer,
    RateLimitState,
    server_time,
)
from etl_tasks.core.state_store import FileStore, StateStore

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Without a measured rate, assume the bucket refills completely in a minute (what per-minute
# buckets such as "points per minute" promise). Measured rates replace it as soon as the bucket
# runs low.
DEFAULT_REFILL_WINDOW_S = 60.0
# The rate is measured only from answers with at least this fraction of the bucket spent: headers
# carry whole seconds, so a small gap (1 point, reset in 2 s) says little about the rate.
MEASURE_RATE_WHEN_SPENT = 0.25


@dataclass(frozen=True)
class BucketRecord:
    """What a bucket file holds: a token-bucket estimate plus the reservation sequence."""

    limit: int | None  # None until the first response with Ratelimit-* headers
    points: float  # points at ``as_of``; negative when slots are promised to waiting requests
    as_of: float  # local wall-clock time of ``points``
    rate: float  # refill, points per second
    issued: int = 0  # reservations handed out so far (the last sequence number)
    observed: int = 0  # sequence number of the newest request whose response was applied

    def available(self, now: float) -> float:
        """Points at ``now``: ``points`` plus the refill since ``as_of``, at most ``limit``."""
        refilled = self.points + self.rate * max(0.0, now - self.as_of)
        return refilled if self.limit is None else min(float(self.limit), refilled)

    def to_json(self) -> dict[str, Any]:
        # Spelled out: dataclasses.asdict deep-copies and was a tenth of a request's CPU here.
        return {
            "limit": self.limit,
            "points": self.points,
            "as_of": self.as_of,
            "rate": self.rate,
            "issued": self.issued,
            "observed": self.observed,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BucketRecord:
        limit = data.get("limit")
        return cls(
            limit=None if limit is None else int(limit),
            points=float(data["points"]),
            as_of=float(data["as_of"]),
            rate=float(data["rate"]),
            issued=int(data.get("issued", 0)),
            observed=int(data.get("observed", 0)),
        )

    @classmethod
    def from_state(cls, state: RateLimitState, previous: BucketRecord | None) -> BucketRecord:
        """The record of a :class:`RateLimitState` (remaining, linear refill until ``full_at``)."""
        missing = state.limit - state.remaining
        span = state.full_at - state.observed_at
        rate = missing / span if missing > 0 and span > 0 else default_rate(state.limit)
        return cls(
            limit=state.limit,
            points=float(state.remaining),
            as_of=state.observed_at,
            rate=rate,
            issued=previous.issued if previous else 0,
            observed=previous.observed if previous else 0,
        )

    def to_state(self, now: float) -> RateLimitState | None:
        """The :class:`RateLimitState` view of this record at ``now`` (None while unknown)."""
        if self.limit is None:
            return None
        points = self.available(now)
        full_at = now + max(0.0, self.limit - points) / self.rate
        return RateLimitState(self.limit, math.floor(points), full_at, now)


def default_rate(limit: int) -> float:
    """Refill rate assumed for a bucket of ``limit`` points until one is measured."""
    return max(limit, 1) / DEFAULT_REFILL_WINDOW_S


def bucket_file_name(key: str) -> str:
    """``<prefix>-<sha256>.json``: the key may hold a client id, so only its hash is on disk."""
    prefix = re.sub(r"[^A-Za-z0-9_.-]+", "_", key.split(":", 1)[0])[:32] or "bucket"
    return f"{prefix}-{hashlib.sha256(key.encode()).hexdigest()[:24]}.json"


class FileStateStore:
    """Rate-limit state in ``<directory>/<bucket>.json``, shared by every process on the host.

    Implements the :class:`~etl_tasks.core.ratelimit.RateLimitStateStore` protocol (``get``/``put``,
    each one locked read or write) and adds :meth:`update`, an atomic read-modify-write, which is
    what :class:`SharedRateLimitPacer` needs to reserve budget. ``flock`` locks belong to the open
    file, so threads of one process exclude each other as well as other processes.
    """

    def __init__(
        self,
        directory: Path | str,
        clock: Callable[[], float] = time.time,
        backend: StateStore | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.clock = clock
        # The locking and the bytes live in the deployment's state store (files today).
        self.backend = backend or FileStore(self.directory, mode=0o600)

    def path_for(self, key: str) -> Path:
        """The file of bucket ``key``."""
        return self.directory / bucket_file_name(key)

    def update(
        self, key: str, change: Callable[[BucketRecord | None], tuple[BucketRecord | None, T]]
    ) -> T:
        """Apply ``change`` to the record of ``key`` under an exclusive lock; return its result.

        ``change`` gets the current record (None when unknown) and returns the record to store
        (None forgets the bucket) and a value for the caller.
        """
        def on_bytes(raw: bytes) -> tuple[bytes | None, T]:
            current = self._decode(raw, key)
            new, result = change(current)
            return (self._encode(new) if new != current else None), result

        return self.backend.update(bucket_file_name(key), on_bytes)

    def record(self, key: str) -> BucketRecord | None:
        """The stored record of ``key`` (None when unknown)."""
        return self.update(key, lambda current: (current, current))

    # --- RateLimitStateStore protocol (for a plain RateLimitPacer) ------------------------------

    def get(self, key: str) -> RateLimitState | None:
        """The state of bucket ``key`` as of now, or None when nothing is known."""
        current = self.record(key)
        return current.to_state(self.clock()) if current is not None else None

    def put(self, key: str, state: RateLimitState | None) -> None:
        """Replace the state of bucket ``key`` (None forgets it; the sequence numbers are kept)."""

        def replace(current: BucketRecord | None) -> tuple[BucketRecord | None, None]:
            if state is not None:
                return BucketRecord.from_state(state, current), None
            if current is None:
                return None, None
            return BucketRecord(
                None, 0.0, self.clock(), 1.0, current.issued, current.observed
            ), None

        self.update(key, replace)

    # --- encoding ---------------------------------------------------------------------------------

    def _decode(self, raw: bytes, key: str) -> BucketRecord | None:
        if not raw.strip():
            return None
        try:
            data = json.loads(raw)
            return None if data is None else BucketRecord.from_json(data)
        except (ValueError, KeyError, TypeError) as error:
            # The state is advisory: a damaged file (disk full, crash mid-write) means "unknown",
            # and the next response rebuilds it.
            logger.warning(
                "rate-limit state %s is unreadable (%s); starting afresh", self.path_for(key), error
            )
            return None

    @staticmethod
    def _encode(record: BucketRecord | None) -> bytes:
        return json.dumps(None if record is None else record.to_json()).encode()


def _header_number(headers: Mapping[str, str], name: str) -> float | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        return float(raw.strip())
    except ValueError:
        return None


@dataclass(frozen=True)
class BucketReport:
    """What one response's ``Ratelimit-*`` headers say, with the server's clock taken out."""

    limit: int
    remaining: int
    until_full_s: float  # Reset - Date, uncapped

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> BucketReport | None:
        """The report of a response, or None when it lacks the headers."""
        headers = getattr(headers, "headers", headers)
        limit = _header_number(headers, RateLimitPacer.LIMIT_HEADER)
        remaining = _header_number(headers, RateLimitPacer.REMAINING_HEADER)
        reset = _header_number(headers, RateLimitPacer.RESET_HEADER)
        if limit is None or remaining is None or reset is None or limit < 1:
            return None
        now = server_time(headers)
        server_now = now.timestamp() if now is not None else time.time()
        return cls(int(limit), int(remaining), max(0.0, reset - server_now))

    def measured_rate(self) -> float | None:
        """Refill rate implied by the headers, when enough of the bucket is spent to trust it."""
        spent = self.limit - self.remaining
        if spent < max(1.0, self.limit * MEASURE_RATE_WHEN_SPENT) or self.until_full_s <= 0:
            return None
        return spent / self.until_full_s


class SharedRateLimitPacer(RateLimitPacer):
    """A :class:`RateLimitPacer` whose bucket is reserved atomically across processes.

    Same interface and ``reserve`` meaning as the base class (points kept back, at most a tenth of
    the bucket), so :class:`~etl_tasks.core.http.HttpClient` uses it unchanged.
    """

    def __init__(
        self,
        reserve: int = 10,
        *,
        bucket: str = "default",
        store: FileStateStore,
        max_wait_s: float = DEFAULT_MAX_WAIT_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(
            reserve, bucket=bucket, store=store, max_wait_s=max_wait_s, jitter_s=0.0, clock=clock
        )
        self.file_store = store
        # The sequence number of this thread's last reservation, matched with the response that
        # HttpClient hands to observe() right after sending (same thread, in order).
        self._local = threading.local()

    @classmethod
    def like(
        cls, pacer: RateLimitPacer, store: FileStateStore, bucket: str | None = None
    ) -> SharedRateLimitPacer:
        """A shared pacer with the settings of ``pacer`` (reserve, bucket, wait cap, clock)."""
        return cls(
            pacer.reserve,
            bucket=bucket or pacer.bucket,
            store=store,
            max_wait_s=pacer.max_wait_s,
            clock=pacer.clock,
        )

    def wait_before_request(self) -> float:
        """Reserve one point; seconds to wait until the refill covers it (0 when there is room)."""

        def reserve(current: BucketRecord | None) -> tuple[BucketRecord, tuple[int, float, float]]:
            # The clock is read under the lock, so reservations are ordered in time as in sequence.
            now = self.clock()
            record = current or BucketRecord(None, 0.0, now, 1.0)
            sequence = record.issued + 1
            if record.limit is None:  # nothing known yet: send, the answer will tell
                return dataclasses.replace(record, issued=sequence), (sequence, 0.0, 0.0)
            left = record.available(now) - 1
            floor = self.effective_reserve(record.limit)
            wait = max(0.0, (floor - left) / record.rate)
            updated = dataclasses.replace(
                record, points=left, as_of=max(now, record.as_of), issued=sequence
            )
            return updated, (sequence, wait, left)

        sequence, wait, left = self.file_store.update(self.bucket, reserve)
        self._local.sequence = sequence
        if wait <= 0:
            return 0.0
        if wait > self.max_wait_s:
            # Only a queue deeper than a whole bucket, or a rate measured from odd headers, gets
            # here; sending early risks a 429, which the HTTP client then waits out.
            logger.warning("rate limit: slot %.1f s away, capped at %.1f s", wait, self.max_wait_s)
            wait = self.max_wait_s
        # DEBUG: a bucket-bound extract waits before nearly every request.
        logger.debug(
            "rate limit: %.1f points left after this request; waiting %.1f s for the "
            "refill (bucket shared by every process on this host)",
            left,
            wait,
        )
        return wait

    def observe(self, headers: Mapping[str, str]) -> None:
        """Fold one response's ``Ratelimit-*`` headers into the shared state."""
        report = BucketReport.from_headers(headers)
        sequence: int | None = getattr(self._local, "sequence", None)
        self._local.sequence = None
        if report is None:
            return

        def merge(current: BucketRecord | None) -> tuple[BucketRecord, None]:
            now = self.clock()
            issued = current.issued if current else 0
            observed = current.observed if current else 0
            # Requests reserved after this one were not counted in this answer yet.
            later = issued - sequence if sequence is not None else 0
            server_points = float(report.remaining - max(0, later))
            known_rate = current.rate if current and current.limit == report.limit else None
            rate = report.measured_rate() or known_rate or default_rate(report.limit)
            if current is None or current.limit != report.limit:
                points = server_points  # first answer, or the bucket was resized: start from it
            elif sequence is not None and sequence > observed:
                points = server_points  # the newest answer so far: the server knows best
            else:
                # Overtaken by a newer answer already applied: it may only lower the estimate.
                points = min(current.available(now), server_points)
            newest = max(observed, sequence or 0)
            as_of = max(now, current.as_of) if current else now
            return BucketRecord(report.limit, points, as_of, rate, issued, newest), None

        self.file_store.update(self.bucket, merge)

    def wait_after_429(self, headers: Mapping[str, str]) -> float | None:
        """Seconds until the shared estimate has room again (observe() has already applied the
        429's headers); None when the answer carries no ``Ratelimit-*`` headers."""
        if BucketReport.from_headers(headers) is None:
            return None
        record = self.file_store.record(self.bucket)
        if record is None or record.limit is None:
            return None
        missing = self.effective_reserve(record.limit) + 1 - record.available(self.clock())
        return min(self.max_wait_s, max(0.0, missing / record.rate))
