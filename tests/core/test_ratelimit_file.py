"""The host-wide rate-limit bucket: atomic reservations across processes, what responses teach it,
the plain RateLimitStateStore protocol, a damaged file. Real files, real processes, real locks."""

from __future__ import annotations

import datetime as dt
import email.utils
import itertools
import json
import multiprocessing
import time
from pathlib import Path

import pytest

from etl_tasks.core.ratelimit import RateLimitPacer, RateLimitState
from etl_tasks.core.ratelimit_file import BucketRecord, FileStateStore, SharedRateLimitPacer

BUCKET = "twitch:client-id-that-must-not-appear-on-disk"
# The server's clock is years away from ours: only Reset - Date may matter.
SERVER_NOW = dt.datetime(2025, 4, 10, 15, 0, 0, tzinfo=dt.timezone.utc)


def headers(remaining: int, reset_in_s: float, limit: int = 100) -> dict[str, str]:
    return {
        "Ratelimit-Limit": str(limit),
        "Ratelimit-Remaining": str(remaining),
        "Ratelimit-Reset": str(int(SERVER_NOW.timestamp() + reset_in_s)),
        "Date": email.utils.format_datetime(SERVER_NOW, usegmt=True),
    }


class FixedClock:
    """A wall clock that moves only when told."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def seed(store: FileStateStore, record: BucketRecord) -> None:
    store.update(BUCKET, lambda current: (record, None))


def reserve_many(directory: str, count: int, barrier, results) -> None:
    """One worker process: ``count`` reservations; report (slot time, wait) of each."""
    stamps: list[float] = []

    def clock() -> float:
        stamps.append(time.time())
        return stamps[-1]

    pacer = SharedRateLimitPacer(
        10, bucket=BUCKET, store=FileStateStore(directory), clock=clock, max_wait_s=1e9
    )
    barrier.wait()
    slots = []
    for _ in range(count):
        wait = pacer.wait_before_request()
        slots.append((stamps[-1] + wait, wait))  # the clock is read once, under the lock
    results.put(slots)


def test_processes_hammering_one_bucket_never_exceed_its_budget(tmp_path: Path) -> None:
    processes, each, points, rate, reserve = 4, 40, 60.0, 2.0, 10
    store = FileStateStore(tmp_path)
    started = time.time()
    seed(store, BucketRecord(limit=100, points=points, as_of=started, rate=rate))
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(processes), context.Queue()
    workers = [
        context.Process(target=reserve_many, args=(str(tmp_path), each, barrier, results))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    slots = sorted(slot for _ in workers for slot in results.get(timeout=60))
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0

    assert len(slots) == processes * each
    assert store.record(BUCKET).issued == processes * each
    immediate = [slot for slot, wait in slots if wait == 0]
    free = points - reserve
    # Every point above the reserve is handed out at once, and not one more...
    assert len(immediate) >= free
    # ...and at no moment have more requests been let through than the budget plus its refill.
    for number, (slot, _) in enumerate(slots, start=1):
        assert number <= free + rate * (slot - started) + 1e-6, (number, slot - started)
    # The waiting ones queue one refill interval apart instead of all waking at once.
    queued = [slot for slot, wait in slots if wait > 0]
    gaps = [later - earlier for earlier, later in itertools.pairwise(queued)]
    assert gaps and all(abs(gap - 1 / rate) < 1e-6 for gap in gaps)


def test_waiting_requests_get_consecutive_slots(tmp_path: Path) -> None:
    clock = FixedClock()
    store = FileStateStore(tmp_path, clock=clock)
    seed(store, BucketRecord(limit=10, points=2.0, as_of=clock.now, rate=2.0))
    pacer = SharedRateLimitPacer(10, bucket=BUCKET, store=store, clock=clock)

    # Reserve is capped at a tenth of the bucket (1): one request goes now, then 0.5 s apart.
    assert [pacer.wait_before_request() for _ in range(4)] == [0.0, 0.5, 1.0, 1.5]
    assert store.record(BUCKET).points == -2.0  # slots promised to the three waiting requests
    clock.now += 10  # the refill pays the debt back; the bucket never holds more than its limit
    assert store.record(BUCKET).available(clock.now) == 10.0
    assert pacer.wait_before_request() == 0.0


def test_answers_teach_the_shared_state(tmp_path: Path) -> None:
    clock = FixedClock()
    store = FileStateStore(tmp_path, clock=clock)
    first = SharedRateLimitPacer(10, bucket=BUCKET, store=store, clock=clock)
    second = SharedRateLimitPacer(10, bucket=BUCKET, store=store, clock=clock)

    # Nothing known: requests go, and each takes a sequence number.
    assert first.wait_before_request() == 0.0  # 1
    assert second.wait_before_request() == 0.0  # 2
    assert second.wait_before_request() == 0.0  # 3 (second's newest)
    # The answer to request 1 arrives first: 2 and 3 were reserved after it, not counted in it.
    first.observe(headers(remaining=60, reset_in_s=30))
    record = store.record(BUCKET)
    assert (record.limit, record.points, record.observed) == (100, 58.0, 1)
    # 40 points short of full, 30 s to the reset: 4/3 points per second (measured, not assumed).
    assert record.rate == pytest.approx(40 / 30)
    # The answer to request 3 is the newest: the server knows best, even upwards.
    second.observe(headers(remaining=70, reset_in_s=22))
    assert (store.record(BUCKET).points, store.record(BUCKET).observed) == (70.0, 3)
    # A late answer to an older request may only lower the estimate.
    store.update(BUCKET, lambda r: (BucketRecord(100, 70.0, clock.now, r.rate, 4, 3), None))
    first._local.sequence = 2
    first.observe(headers(remaining=75, reset_in_s=20))
    assert store.record(BUCKET).points == 70.0
    first._local.sequence = 2
    first.observe(headers(remaining=66, reset_in_s=20))
    assert store.record(BUCKET).points == 64.0  # 66 minus reservations 3 and 4
    # An answer from a resized bucket starts afresh; a nearly full one assumes a minute's refill.
    first.observe(headers(remaining=799, reset_in_s=1, limit=800))
    record = store.record(BUCKET)
    assert (record.limit, record.points, record.rate) == (800, 799.0, pytest.approx(800 / 60))


def test_wait_after_429_is_the_time_until_there_is_room(tmp_path: Path) -> None:
    clock = FixedClock()
    store = FileStateStore(tmp_path, clock=clock)
    pacer = SharedRateLimitPacer(10, bucket=BUCKET, store=store, clock=clock)
    assert pacer.wait_before_request() == 0.0
    too_many = headers(remaining=0, reset_in_s=60)
    pacer.observe(too_many)  # what HttpClient does with every answer, 429 included

    # 100 points a minute: 11 points (reserve 10 + this request) take 6.6 s.
    assert pacer.wait_after_429(too_many) == pytest.approx(6.6)
    assert pacer.wait_after_429({"Date": too_many["Date"]}) is None


def test_plain_pacer_protocol_round_trip(tmp_path: Path) -> None:
    clock = FixedClock()
    store = FileStateStore(tmp_path, clock=clock)
    assert store.get(BUCKET) is None

    store.put(BUCKET, RateLimitState(800, 700, clock.now + 7.5, clock.now))
    assert store.get(BUCKET) == RateLimitState(800, 700, clock.now + 7.5, clock.now)
    clock.now += 3
    assert store.get(BUCKET) == RateLimitState(800, 740, clock.now + 4.5, clock.now)
    # A plain RateLimitPacer works on it too (each get/put locked, not the pair).
    plain = RateLimitPacer(10, bucket=BUCKET, store=store, clock=clock, jitter_s=0.0)
    assert plain.wait_before_request() == 0.0
    assert store.get(BUCKET).remaining == 739
    store.put(BUCKET, None)
    assert store.get(BUCKET) is None

    names = [path.name for path in tmp_path.iterdir()]
    assert len(names) == 1 and names[0].startswith("twitch-") and names[0].endswith(".json")
    assert "client-id" not in names[0]


def test_a_damaged_file_means_unknown_and_is_rewritten(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = FileStateStore(tmp_path)
    path = store.path_for(BUCKET)
    path.write_text('{"limit": 100, "points": ')  # a write cut short

    pacer = SharedRateLimitPacer(10, bucket=BUCKET, store=store)
    assert pacer.wait_before_request() == 0.0
    assert "unreadable" in caplog.text
    assert json.loads(path.read_text())["issued"] == 1


def test_a_shorter_record_replaces_a_longer_one_whole(tmp_path):
    # Written first, then cut to length: nothing of the longer record may survive.
    store = FileStateStore(tmp_path)
    long = BucketRecord(800, 123.456789012345, 1_000_000.123456789, 13.333333333, 99999, 99998)
    short = BucketRecord(800, 1.0, 1.0, 1.0, 1, 1)
    store.update(BUCKET, lambda current: (long, None))
    store.update(BUCKET, lambda current: (short, None))

    assert store.record(BUCKET) == short
    assert json.loads(store.path_for(BUCKET).read_text()) == short.to_json()
