"""Twitch extract tasks: Helix → raw dated Parquet, one task per entity.

    luigi --module etl_tasks TwitchExtractStreams --date 2025-04-10 --local-scheduler

The streams snapshot drives everything else: the users and games it references are fetched by id
(plus the current top games), and the videos and clips created on the date are fetched for a
bounded *scope* of broadcasters: the ``[twitch] top_broadcasters`` live broadcasters with most
viewers plus every one in ``[twitch] broadcaster_ids`` (and, with ``clip_top_games``, the date's
clips of the most-watched games). A real day has ~100,000 live broadcasters and the app's bucket
800 points a minute, so "every broadcaster" would take hours; the scope is recorded in the
sidecar's notes so a reader knows what a day covers.

Requests overlap on ``[twitch] concurrency`` threads, paced by the shared limiter, and rows are
written in the order of the scope (deterministic) in batches as they arrive, so memory stays flat
however many broadcasters a day has. ``/videos`` is walked only back to the date's window.

Streams are a live view with no "as of" parameter, so a snapshot is labelled only with the date the
API's own clock (``Date`` header) says it is. A past date is recorded as skipped, with the reason:
it can never be captured again, and backfills must not retry it forever. A future date is an error
and writes nothing, so the same command works on the day.

Late data: clip view counts keep growing after the day, so a run may re-pull the videos and clips
of earlier dates (``refresh_on``, set by ``--lookback N``); such a partition is complete only once
a run of ``refresh_on`` or later pulled it, and it replaces the earlier pull.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import luigi
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from etl_tasks import config
from etl_tasks.config import twitch as twitch_config
from etl_tasks.core.stage import StageOutput, StageTask, utc_now
from etl_tasks.errors import ConfigError
from etl_tasks.twitch.client import StreamPage, TwitchClient, Walk, created_at
from etl_tasks.twitch.languages import language_partitions
from etl_tasks.twitch.raw_schema import raw_schema, rows_to_table

# At most one INFO progress line per stage this often (cron mail stays readable).
PROGRESS_INTERVAL_S = 10.0
# Rows per written batch: bounded memory, few enough batches for Parquet row groups.
ROWS_PER_BATCH = 5000


class OptionalDateParameter(luigi.DateParameter):
    """A date parameter that may be None (Luigi 3.8 has optional int/str, not date)."""

    def parse(self, s: str) -> dt.date | None:
        return None if s in ("", None) else super().parse(s)

    def serialize(self, x: dt.date | None) -> str:
        return "" if x is None else super().serialize(x)

    def normalize(self, x: Any) -> dt.date | None:
        return None if x is None else super().normalize(x)


def day_window(date: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """``[00:00:00, 23:59:59.999999]`` UTC of ``date`` (Helix windows are inclusive)."""
    start = dt.datetime.combine(date, dt.time(), tzinfo=dt.timezone.utc)
    return start, start + dt.timedelta(days=1) - dt.timedelta(microseconds=1)


def distinct_values(parquet_path: Path, column: str) -> list[str]:
    """Distinct non-empty values of one column of a Parquet file, sorted (deterministic calls)."""
    values = pq.read_table(parquet_path, columns=[column])[column]
    return sorted(v for v in pc.unique(values.drop_null()).to_pylist() if v)


def is_skipped(task: StageTask) -> str | None:
    """The skip reason recorded by an upstream task, if it was skipped."""
    return task.output().meta().skip_reason


def ranked(snapshot_path: Path, key: str) -> list[tuple[str, int]]:
    """``(value of key, viewers)`` of a streams snapshot, most viewers first, then by value.

    A broadcaster seen on several pages counts with its highest viewer count; a game with the sum
    over its streams (each stream once)."""
    table = pq.read_table(snapshot_path, columns=["id", key, "viewer_count"])
    if table.num_rows == 0:
        return []
    per_stream = table.group_by(["id", key]).aggregate([("viewer_count", "max")])
    how = "max" if key == "user_id" else "sum"
    totals = per_stream.group_by(key).aggregate([("viewer_count_max", how)])
    pairs = zip(totals[key].to_pylist(), totals[f"viewer_count_max_{how}"].to_pylist(),
                strict=True)
    return sorted(((k, int(v)) for k, v in pairs if k), key=lambda kv: (-kv[1], kv[0]))


@dataclass(frozen=True)
class Scope:
    """Which broadcasters a date's videos/clips are fetched for, and why."""

    broadcasters: list[str]  # request order: top live broadcasters by viewers, then configured
    live: int  # live broadcasters in the snapshot
    top: int  # [twitch] top_broadcasters (0 = all)
    configured: list[str]  # configured ids not already among the top

    def note(self) -> str:
        """``scope: top 2,000 of 98,765 live broadcasters by viewers + 2 configured ids``."""
        taken = len(self.broadcasters) - len(self.configured)
        head = (f"all {self.live:,} live broadcasters" if taken == self.live
                else f"top {taken:,} of {self.live:,} live broadcasters by viewers")
        return f"scope: {head} + {len(self.configured)} configured ids"

    def as_dict(self) -> dict[str, Any]:
        return {"broadcasters": len(self.broadcasters), "live": self.live,
                "top_broadcasters": self.top, "configured_added": self.configured}


def broadcaster_scope(snapshot_path: Path, top: int, configured: Iterable[str]) -> Scope:
    """The scope of a date from its streams snapshot and the settings."""
    live = [user for user, _ in ranked(snapshot_path, "user_id")]
    chosen = live if top <= 0 else live[:top]
    taken = set(chosen)
    extra = sorted({str(b) for b in configured} - taken)
    return Scope(chosen + extra, len(live), top, extra)


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


class TwitchExtract(StageTask):
    """Base of the Twitch extracts: a client from the environment, its counters in the sidecar."""

    pipeline = "twitch"
    stage = "extract"

    def api_source(self) -> str | None:
        return config.env("TWITCH_API_BASE_URL")

    def snapshot_path(self) -> Path:
        return self.requires()["streams"].output().data_path

    def settings(self) -> twitch_config:
        """``[twitch]`` of luigi.cfg, read once per task (not once per broadcaster)."""
        cached = getattr(self, "_settings", None)
        if cached is None:
            cached = self._settings = twitch_config()
        return cached

    def page_size(self) -> int:
        return int(self.settings().page_size)

    def broadcasters(self) -> list[str]:
        """Live broadcasters of the snapshot plus the configured ones."""
        configured = {str(b) for b in self.settings().broadcaster_ids}
        return sorted(set(distinct_values(self.snapshot_path(), "user_id")) | configured)

    def _write_progress(self, rows: int, batches: int) -> None:
        """Silent: the producer's own throttled line (:class:`Progress`) says more."""

    def by_ids(
        self,
        client: TwitchClient,
        ids: list[str],
        fetch: Callable[[list[str]], Iterator[list[dict[str, Any]]]],
        extra: dict[str, Any],
    ) -> Iterator[pa.Table]:
        """Tables of the rows of ``fetch(ids)`` (100 ids per call), then the counters."""
        batcher = RowBatcher(self.entity, {"extracted_at": utc_now()})
        progress = Progress(self, f"{self.entity} calls", -(-len(ids) // 100), client)
        for done, rows in enumerate(fetch(ids), start=1):
            table = batcher.add(rows)
            progress.update(done)
            if table is not None:
                yield table
        table = batcher.flush()
        if table is not None:
            yield table
        progress.update(progress.total, final=True)
        record_drift(extra, self.entity, batcher.new_fields)
        record_requests(extra, client)


class TwitchExtractStreams(TwitchExtract):
    """Snapshot of the live streams; every row stamped with ``captured_at`` (the API clock at the
    first page) and its page number. Duplicates across pages are removed by the transform."""

    entity = "streams"

    def requires(self) -> dict[str, StageTask]:
        return {}

    def produce(self) -> StageOutput:
        client = TwitchClient.from_env()
        max_pages = int(self.settings().max_stream_pages) or None
        extra: dict[str, Any] = {}
        partitioning = str(self.settings().stream_partitions).strip().lower()
        if partitioning == "languages":
            partitions = language_partitions()
            pages = client.iter_streams_partitioned(partitions, self.page_size(), max_pages)
            notes(extra).append(
                f"streams: walked as {len(partitions)} language partitions at once"
            )
        elif partitioning in ("", "none"):
            pages = client.iter_streams(page_size=self.page_size(), max_pages=max_pages)
        else:
            raise ConfigError(
                f"[twitch] stream_partitions must be 'languages' or 'none', got {partitioning!r}; "
                "fix it in luigi.cfg"
            )
        schema = raw_schema(self.entity)
        first = next(pages, None)
        if first is None:  # nobody live: an empty but real snapshot
            record_requests(extra, client)
            return StageOutput(schema, [], http=client.stats, extra=extra)
        captured_on = first.captured_at.astimezone(dt.timezone.utc).date()
        if captured_on > self.date:
            record_requests(extra, client)
            return StageOutput(
                schema,
                [],
                http=client.stats,
                extra=extra,
                skip_reason=(
                    f"live snapshot of a past date: the Twitch API clock says {captured_on}, "
                    "and streams cannot be captured for another day"
                ),
            )
        if captured_on < self.date:
            raise ConfigError(
                f"{self.date} is in the future for the Twitch API (its clock says {captured_on}); "
                f"run this date on {self.date} (UTC) or later"
            )
        extra["captured_at"] = first.captured_at.isoformat()
        return StageOutput(
            schema, self._pages(client, first, pages, extra), http=client.stats, extra=extra
        )

    def _pages(
        self, client: TwitchClient, first: StreamPage, rest: Iterator[StreamPage],
        extra: dict[str, Any],
    ) -> Iterator[pa.Table]:
        extracted_at = utc_now()
        new_fields: set[str] = set()
        expected = max(1, -(-int(self.settings().expected_live_streams) // self.page_size()))
        progress = Progress(self, "streams pages (estimate)", expected, client)
        pages = 0
        pending: list[pa.Table] = []  # pages are written ~ROWS_PER_BATCH rows at a time: one
        held = 0  # row group per page would make the file slow and costly to read back
        for page in _chain(first, rest):
            pages = page.page
            progress.update(min(pages, expected))
            pending.append(rows_to_table(
                self.entity,
                page.rows,
                new_fields=new_fields,
                extracted_at=extracted_at,
                captured_at=page.captured_at,
                page=page.page,
            ))
            held += len(page.rows)
            if held >= ROWS_PER_BATCH:
                yield pa.concat_tables(pending)
                pending, held = [], 0
        if pending:
            yield pa.concat_tables(pending)
        progress.total = pages
        progress.what = "streams pages"
        progress.update(pages, final=True)
        extra["pages"] = pages
        record_drift(extra, self.entity, new_fields)
        record_requests(extra, client)


def _chain(first: StreamPage, rest: Iterator[StreamPage]) -> Iterator[StreamPage]:
    yield first
    yield from rest


class TwitchExtractUsers(TwitchExtract):
    """Users referenced by the snapshot (and the configured broadcasters, and the broadcasters of
    game clips when ``clip_top_games`` is on), 100 ids per call, calls overlapping."""

    entity = "users"

    def requires(self) -> dict[str, StageTask]:
        needed: dict[str, StageTask] = {"streams": TwitchExtractStreams(date=self.date)}
        if int(self.settings().clip_top_games) > 0:
            needed["clips"] = TwitchExtractClips(date=self.date)
        return needed

    def produce(self) -> StageOutput:
        client = TwitchClient.from_env()
        wanted = set(self.broadcasters())
        if "clips" in self.requires():
            wanted |= set(distinct_values(self.requires()["clips"].output().data_path,
                                          "broadcaster_id"))
        ids = sorted(wanted)
        extra: dict[str, Any] = {"ids": len(ids)}
        batches = self.by_ids(client, ids, client.iter_users, extra)
        return StageOutput(raw_schema(self.entity), batches, http=client.stats, extra=extra)


class TwitchExtractGames(TwitchExtract):
    """Games referenced by the snapshot plus the current top games (``[twitch] top_games``).

    Top games describe "now", so they are added only when the snapshot is of this date."""

    entity = "games"

    def requires(self) -> dict[str, StageTask]:
        return {"streams": TwitchExtractStreams(date=self.date)}

    def produce(self) -> StageOutput:
        client = TwitchClient.from_env()
        ids = distinct_values(self.snapshot_path(), "game_id")
        top: list[dict[str, Any]] = []
        top_games = int(self.settings().top_games)
        if not is_skipped(self.requires()["streams"]) and top_games > 0:
            top = client.get_top_games(top_games, self.page_size())
        wanted = sorted(set(ids) - {row.get("id") for row in top})
        extra: dict[str, Any] = {"top_games": len(top), "ids": len(wanted)}
        batches = self._with_top(client, top, wanted, extra)
        return StageOutput(raw_schema(self.entity), batches, http=client.stats, extra=extra)

    def _with_top(
        self, client: TwitchClient, top: list[dict[str, Any]], wanted: list[str],
        extra: dict[str, Any],
    ) -> Iterator[pa.Table]:
        new_fields: set[str] = set()
        if top:
            yield rows_to_table(self.entity, top, new_fields=new_fields, extracted_at=utc_now())
        yield from self.by_ids(client, wanted, client.iter_games, extra)
        if new_fields:
            record_drift(extra, self.entity, new_fields | set(extra.get("new_fields", [])))


class TwitchPerBroadcasterExtract(TwitchExtract):
    """Videos or clips of the date's scope: one walk per broadcaster, walks overlapping."""

    refresh_on = OptionalDateParameter(
        default=None,
        description="lookback: complete only once a run of this date (or later) pulled it",
    )

    def requires(self) -> dict[str, StageTask]:
        return {"streams": TwitchExtractStreams(date=self.date)}

    def complete(self) -> bool:
        """Complete when written; a lookback refresh also needs a pull on or after refresh_on."""
        if not super().complete():
            return False
        if self.refresh_on is None:
            return True
        pulled = self.output().meta().extra.get("pulled_on")
        return pulled is not None and pulled >= self.refresh_on.isoformat()

    def scope(self) -> Scope:
        settings = self.settings()
        if int(settings.top_broadcasters) < 0:
            raise ConfigError(
                f"[twitch] top_broadcasters must be 0 (every live broadcaster) or more, got "
                f"{settings.top_broadcasters}; fix it in luigi.cfg"
            )
        return broadcaster_scope(
            self.snapshot_path(), int(settings.top_broadcasters), settings.broadcaster_ids
        )

    def walk(self, client: TwitchClient, broadcaster: str, start: dt.datetime,
             end: dt.datetime) -> Walk:
        raise NotImplementedError

    def extra_walks(self, client: TwitchClient, start: dt.datetime,
                    end: dt.datetime) -> tuple[list[str], Callable[[str], Walk]] | None:
        """More walks after the broadcasters' (keys and how to walk one), or None."""
        return None

    def produce(self) -> StageOutput:
        client = TwitchClient.from_env()
        scope = self.scope()
        start, end = day_window(self.date)
        extra: dict[str, Any] = {
            "scope": scope.as_dict(),
            "pulled_on": (self.refresh_on or self.date).isoformat(),
            "window": [start.isoformat(), end.isoformat()],
        }
        notes(extra).append(scope.note())
        if self.refresh_on is not None:
            notes(extra).append(f"lookback: re-pulled by the run of {self.refresh_on}")
        batches = self._batches(client, scope, start, end, extra)
        return StageOutput(raw_schema(self.entity), batches, http=client.stats, extra=extra)

    def _batches(self, client: TwitchClient, scope: Scope, start: dt.datetime,
                 end: dt.datetime, extra: dict[str, Any]) -> Iterator[pa.Table]:
        batcher = RowBatcher(self.entity, {"extracted_at": utc_now()})
        per_broadcaster: Counter[int] = Counter()
        heaviest: list[tuple[int, str]] = []
        outside = 0
        progress = Progress(self, f"{self.entity} of broadcasters", len(scope.broadcasters),
                            client)
        walks = client.map_concurrently(
            lambda broadcaster: self.walk(client, broadcaster, start, end), scope.broadcasters
        )
        for done, walk in enumerate(walks, start=1):
            per_broadcaster[walk.requests] += 1
            heaviest = sorted([*heaviest, (walk.requests, walk.key)], key=lambda t: (-t[0], t[1]))
            heaviest = heaviest[:5]
            rows, dropped = in_window(walk.rows, start, end)
            outside += dropped
            table = batcher.add(rows)
            progress.update(done)
            if table is not None:
                yield table
        progress.update(len(scope.broadcasters), final=True)
        record_walks(extra, f"{self.entity} per broadcaster", per_broadcaster, heaviest)
        more = self.extra_walks(client, start, end)
        if more is not None:
            keys, walk_one = more
            requests = 0
            for walk in client.map_concurrently(walk_one, keys):
                requests += walk.requests
                rows, dropped = in_window(walk.rows, start, end)
                outside += dropped
                table = batcher.add(rows)
                if table is not None:
                    yield table
            extra["game_walks"] = {"games": keys, "requests": requests}
            notes(extra).append(
                f"{self.entity} of the top {len(keys)} games: {requests:,} requests"
            )
        table = batcher.flush()
        if table is not None:
            yield table
        extra["outside_window_dropped"] = outside
        record_drift(extra, self.entity, batcher.new_fields)
        record_requests(extra, client)


def in_window(
    rows: list[dict[str, Any]], start: dt.datetime, end: dt.datetime
) -> tuple[list[dict[str, Any]], int]:
    """The rows created in ``[start, end]`` (rows without a readable created_at stay, for the
    raw schema check to name), and how many were left out."""
    kept = []
    for row in rows:
        when = created_at(row)
        if when is None or start <= when <= end:
            kept.append(row)
    return kept, len(rows) - len(kept)


class TwitchExtractVideos(TwitchPerBroadcasterExtract):
    """Videos of the scope created on the date: each walk stops at the first older video."""

    entity = "videos"

    def walk(self, client: TwitchClient, broadcaster: str, start: dt.datetime,
             end: dt.datetime) -> Walk:
        return client.videos_since(broadcaster, start, self.page_size())


class TwitchExtractClips(TwitchPerBroadcasterExtract):
    """Clips of the scope created in the date's UTC window (a one-day window keeps each query
    under Helix's ~1,000-clip reach), plus those of the top games when ``clip_top_games`` > 0."""

    entity = "clips"

    def walk(self, client: TwitchClient, broadcaster: str, start: dt.datetime,
             end: dt.datetime) -> Walk:
        return client.clips_in("broadcaster_id", broadcaster, start, end, self.page_size())

    def extra_walks(self, client: TwitchClient, start: dt.datetime,
                    end: dt.datetime) -> tuple[list[str], Callable[[str], Walk]] | None:
        games = int(self.settings().clip_top_games)
        if games <= 0 or self.refresh_on is not None:
            # A lookback re-pull keeps to the broadcasters: their users are already loaded.
            return None
        keys = [game for game, _ in ranked(self.snapshot_path(), "game_id")][:games]

        def walk_game(game: str) -> Walk:
            return client.clips_in("game_id", game, start, end, self.page_size())

        return keys, walk_game
