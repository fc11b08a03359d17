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
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import luigi
import pyarrow as pa

from etl_tasks import config
from etl_tasks.core.stage import StageOutput, StageTask, utc_now
from etl_tasks.errors import ConfigError
from etl_tasks.twitch.client import StreamPage, TwitchClient, Walk, created_at
from etl_tasks.twitch.extract_support import (
    PROGRESS_INTERVAL_S,
    ROWS_PER_BATCH,
    Progress,
    RowBatcher,
    notes,
    record_drift,
    record_requests,
    record_walks,
)
from etl_tasks.twitch.languages import language_partitions
from etl_tasks.twitch.raw_schema import raw_schema, rows_to_table
from etl_tasks.twitch.scope import Scope, broadcaster_scope, distinct_values, ranked
from etl_tasks.twitch.settings import twitch as twitch_config

__all__ = ["PROGRESS_INTERVAL_S", "broadcaster_scope", "day_window", "distinct_values"]

class OptionalDateParameter(luigi.DateParameter):
    """A date parameter that may be None (Luigi 3.8 has optional int/str, not date)."""

    def parse(self, s: str) -> dt.date | None:
        return None if s in ("", None) else super().parse(s)

    def serialize(self, x: dt.date | None) -> str:
        return "" if x is None else super().serialize(x)

    def normalize(self, x: Any) -> dt.date | None:
        return None if x is None else super().normalize(x)


class Refreshable:
    """Mixin of the tasks a lookback re-runs (videos and clips: extract, transform, load).

    ``refresh_on`` is the date of the run that re-pulls the partition (None: the date's own run);
    such a task shows as the plain task in logs. A re-pull extract first needs the date's own
    extract (:meth:`first_pull`), so the two never write one partition at once (a backfill with
    lookback); transforms and loads are not chained that way, because a plain load stops being
    complete the moment its partition is re-pulled."""

    refresh_on = OptionalDateParameter(
        default=None, description="lookback: the run date that re-pulls this partition"
    )

    def first_pull(self) -> dict[str, luigi.Task]:
        """``{"first_pull": <the same task without refresh_on>}`` for a re-pull, else ``{}``."""
        if self.refresh_on is None:  # type: ignore[attr-defined]
            return {}
        return {"first_pull": type(self)(date=self.date)}  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        text = super().__repr__()
        return text.replace(", refresh_on=)", ")") if self.refresh_on is None else text


def day_window(date: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """``[00:00:00, 23:59:59.999999]`` UTC of ``date`` (Helix windows are inclusive)."""
    start = dt.datetime.combine(date, dt.time(), tzinfo=dt.timezone.utc)
    return start, start + dt.timedelta(days=1) - dt.timedelta(microseconds=1)


def is_skipped(task: StageTask) -> str | None:
    """The skip reason recorded by an upstream task, if it was skipped."""
    return task.output().meta().skip_reason


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


class TwitchPerBroadcasterExtract(Refreshable, TwitchExtract):
    """Videos or clips of the date's scope: one walk per broadcaster, walks overlapping.

    With ``refresh_on`` (lookback) complete only once a run of that date (or later) pulled it."""

    def requires(self) -> dict[str, StageTask]:
        return {"streams": TwitchExtractStreams(date=self.date), **self.first_pull()}

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
