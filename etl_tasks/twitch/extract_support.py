"""What the Twitch extracts report while they run: throttled progress lines, row batches, and the
sidecar's accounting (requests by endpoint, points, limiter waits, requests per broadcaster, schema
drift), as ``extra`` numbers and ``extra["notes"]`` lines for the report.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from etl_tasks.core.stage import StageTask
from etl_tasks.twitch.client import TwitchClient
from etl_tasks.twitch.raw_schema import rows_to_table

# At most one INFO progress line per stage this often (cron mail stays readable).
PROGRESS_INTERVAL_S = 10.0
# Rows per written batch: bounded memory, few enough batches for Parquet row groups.
ROWS_PER_BATCH = 5000


class Progress:
    """Throttled progress of one stage: at most one INFO line per interval, and the last one."""

    def __init__(self, task: StageTask, what: str, total: int, client: TwitchClient) -> None:
        self.task, self.what, self.total, self.client = task, what, total, client
        self.started = self.last = time.monotonic()

    def update(self, done: int, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self.last < PROGRESS_INTERVAL_S:
            return
        self.last = now
        minutes = max(now - self.started, 1e-6) / 60
        rate = self.client.stats.requests / minutes
        percent = 100 * done / self.total if self.total else 100.0
        self.task.progress(
            f"{self.what}: {done:,}/{self.total:,} done, {self.total - done:,} left, "
            f"{rate:,.0f} requests/min",
            percent,
        )


@dataclass
class RowBatcher:
    """Collects API rows and hands out raw tables of about ``ROWS_PER_BATCH`` rows."""

    entity: str
    stamps: dict[str, Any]
    new_fields: set[str] = field(default_factory=set)
    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(self, rows: list[dict[str, Any]]) -> pa.Table | None:
        self.rows.extend(rows)
        return self.flush() if len(self.rows) >= ROWS_PER_BATCH else None

    def flush(self) -> pa.Table | None:
        if not self.rows:
            return None
        table = rows_to_table(self.entity, self.rows, new_fields=self.new_fields, **self.stamps)
        self.rows = []
        return table


def record_requests(extra: dict[str, Any], client: TwitchClient) -> None:
    """Requests, points and limiter waits of a client into a sidecar's ``extra`` and notes."""
    by_endpoint = client.requests_by_endpoint()
    stats = client.stats
    points = max(0, client.helix_requests() - stats.http_429)
    total = sum(by_endpoint.values())
    extra.update(requests=total, requests_by_endpoint=by_endpoint, points=points,
                 wait_s=round(stats.wait_s, 3), http_429=stats.http_429)
    endpoints = ", ".join(f"{path} {count:,}" for path, count in by_endpoint.items())
    threads = f", summed over {client.concurrency} threads" if client.concurrency > 1 else ""
    notes(extra).append(
        f"requests: {total:,} ({endpoints}); {points:,} points; "
        f"{stats.wait_s:,.1f} s waited on the rate limit{threads}; {stats.http_429} answers 429"
    )


def notes(extra: dict[str, Any]) -> list[str]:
    """The sidecar's human-readable lines (shown in the report under the task)."""
    return extra.setdefault("notes", [])


def record_drift(extra: dict[str, Any], entity: str, new_fields: set[str]) -> None:
    """Fields the API sent that the contract does not list: named, and kept in unknown_fields."""
    if new_fields:
        extra["new_fields"] = sorted(new_fields)
        notes(extra).append(
            f"schema drift: {entity} has new API fields {', '.join(sorted(new_fields))} "
            "(kept in the raw extract's unknown_fields column)"
        )


def record_walks(extra: dict[str, Any], what: str, per_key: Counter[int], heaviest: list) -> None:
    """Requests per broadcaster: a histogram, the heaviest walks, and one note."""
    walks = sum(per_key.values())
    requests = sum(count * walks_ for count, walks_ in per_key.items())
    extra["requests_per_broadcaster"] = {str(k): v for k, v in sorted(per_key.items())}
    extra["heaviest_broadcasters"] = [{"id": key, "requests": n} for n, key in heaviest if n > 1]
    shown = ", ".join(f"{v:,} took {k}" for k, v in sorted(per_key.items()))
    mean = requests / walks if walks else 0.0
    notes(extra).append(
        f"{what}: {walks:,} walks, {requests:,} requests ({mean:.2f} per broadcaster: {shown})"
    )
