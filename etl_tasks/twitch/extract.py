"""Twitch extract tasks: Helix → raw dated Parquet, one task per entity.

    luigi --module etl_tasks TwitchExtractStreams --date 2025-04-10 --local-scheduler

The streams snapshot drives everything else: the users and games it references are fetched by id
(plus the current top games), and the videos and clips of those broadcasters (plus any listed in
``[twitch] broadcaster_ids``) created on the date.

Streams are a live view with no "as of" parameter, so a snapshot is labelled only with the date the
API's own clock (``Date`` header) says it is. A past date is recorded as skipped, with the reason:
it can never be captured again, and backfills must not retry it forever. A future date is an error
and writes nothing, so the same command works on the day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from etl_tasks import config
from etl_tasks.config import twitch as twitch_config
from etl_tasks.core.stage import StageOutput, StageTask, utc_now
from etl_tasks.errors import ConfigError
from etl_tasks.twitch.client import StreamPage, TwitchClient
from etl_tasks.twitch.raw_schema import raw_schema, rows_to_table


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


class TwitchExtract(StageTask):
    """Base of the Twitch extracts: a client from the environment, its counters in the sidecar."""

    pipeline = "twitch"
    stage = "extract"

    def api_source(self) -> str | None:
        return config.env("TWITCH_API_BASE_URL")

    def snapshot_path(self) -> Path:
        return self.requires()["streams"].output().data_path

    def broadcasters(self) -> list[str]:
        """Live broadcasters of the snapshot plus the configured ones."""
        configured = {str(b) for b in twitch_config().broadcaster_ids}
        return sorted(set(distinct_values(self.snapshot_path(), "user_id")) | configured)

    def rows_output(self, client: TwitchClient, rows: list[dict[str, Any]]) -> StageOutput:
        """One table of API rows, stamped, with the client's counters."""
        table = rows_to_table(self.entity, rows, extracted_at=utc_now())
        return StageOutput(table.schema, [table], http=client.stats)


class TwitchExtractStreams(TwitchExtract):
    """Snapshot of the live streams; every row stamped with ``captured_at`` (the API clock at the
    first page) and its page number. Duplicates across pages are removed by the transform."""

    entity = "streams"

    def requires(self) -> dict[str, StageTask]:
        return {}

    def produce(self) -> StageOutput:
        client = TwitchClient.from_env()
        pages = client.iter_streams(
            page_size=int(twitch_config().page_size),
            max_pages=int(twitch_config().max_stream_pages) or None,
        )
        schema = raw_schema(self.entity)
        first = next(pages, None)
        if first is None:  # nobody live: an empty but real snapshot
            return StageOutput(schema, [], http=client.stats)
        captured_on = first.captured_at.astimezone(dt.timezone.utc).date()
        if captured_on > self.date:
            return StageOutput(
                schema,
                [],
                http=client.stats,
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
        return StageOutput(
            schema,
            self._pages(first, pages),
            http=client.stats,
            extra={"captured_at": first.captured_at.isoformat()},
        )

    def _pages(self, first: StreamPage, rest: Iterator[StreamPage]) -> Iterator[pa.Table]:
        extracted_at = utc_now()
        for page in _chain(first, rest):
            self.progress(f"streams page {page.page}: {len(page.rows)} rows")
            yield rows_to_table(
                self.entity,
                page.rows,
                extracted_at=extracted_at,
                captured_at=page.captured_at,
                page=page.page,
            )


def _chain(first: StreamPage, rest: Iterator[StreamPage]) -> Iterator[StreamPage]:
    yield first
    yield from rest


class TwitchExtractUsers(TwitchExtract):
    """Users referenced by the snapshot (and the configured broadcasters), 100 ids per call."""

    entity = "users"

    def requires(self) -> dict[str, StageTask]:
        return {"streams": TwitchExtractStreams(date=self.date)}

    def produce(self) -> StageOutput:
        client = TwitchClient.from_env()
        ids = self.broadcasters()
        self.progress(f"fetching {len(ids)} users")
        return self.rows_output(client, client.get_users(ids))


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
        if not is_skipped(self.requires()["streams"]) and int(twitch_config().top_games) > 0:
            top = client.get_top_games(
                int(twitch_config().top_games), int(twitch_config().page_size)
            )
        wanted = sorted(set(ids) - {row.get("id") for row in top})
        self.progress(f"fetching {len(wanted)} games (+{len(top)} top games)")
        return self.rows_output(client, top + client.get_games(wanted))


class TwitchExtractVideos(TwitchExtract):
    """Videos of every broadcaster of the date (the transform keeps those created on the date)."""

    entity = "videos"

    def requires(self) -> dict[str, StageTask]:
        return {
            "streams": TwitchExtractStreams(date=self.date),
            "users": TwitchExtractUsers(date=self.date),
        }

    def produce(self) -> StageOutput:
        client = TwitchClient.from_env()
        users = distinct_values(self.requires()["users"].output().data_path, "id")
        rows: list[dict[str, Any]] = []
        for number, user_id in enumerate(users, start=1):
            rows += client.get_videos(user_id, page_size=int(twitch_config().page_size))
            if number % 25 == 0 or number == len(users):
                self.progress(
                    f"videos of {number}/{len(users)} broadcasters", 100 * number / len(users)
                )
        return self.rows_output(client, rows)


class TwitchExtractClips(TwitchExtract):
    """Clips of every broadcaster created in the date's UTC window (a one-day window keeps each
    query under Helix's ~1,000-clip reach)."""

    entity = "clips"

    def requires(self) -> dict[str, StageTask]:
        return {"streams": TwitchExtractStreams(date=self.date)}

    def produce(self) -> StageOutput:
        client = TwitchClient.from_env()
        start, end = day_window(self.date)
        broadcasters = self.broadcasters()
        rows: list[dict[str, Any]] = []
        for number, broadcaster in enumerate(broadcasters, start=1):
            rows += client.get_clips(
                broadcaster, start, end, page_size=int(twitch_config().page_size)
            )
            if number % 25 == 0 or number == len(broadcasters):
                self.progress(
                    f"clips of {number}/{len(broadcasters)} broadcasters",
                    100 * number / len(broadcasters),
                )
        return self.rows_output(client, rows)
