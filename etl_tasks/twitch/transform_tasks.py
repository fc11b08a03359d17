"""Twitch transform tasks: raw Parquet → typed, de-duplicated, reference-checked Parquet.

    luigi --module etl_tasks TwitchTransformStreams --date 2025-04-10 --local-scheduler

Thin Luigi wrappers around the pure functions of :mod:`etl_tasks.twitch.transform`. Facts are
checked against the transformed dimensions of the same date (a stream whose user was not fetched
fails the stage with a DataQualityError, so nothing inconsistent reaches the warehouse).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import pyarrow as pa
import pyarrow.parquet as pq

from etl_tasks.core.stage import StageOutput, StageTask
from etl_tasks.twitch import transform as twitch_transform
from etl_tasks.twitch.extract import (
    Refreshable,
    TwitchExtractClips,
    TwitchExtractGames,
    TwitchExtractStreams,
    TwitchExtractUsers,
    TwitchExtractVideos,
    is_skipped,
)
from etl_tasks.twitch.tables import TABLES_BY_NAME

TransformFunction = Callable[..., tuple[pa.Table, dict]]


class TwitchTransform(StageTask):
    """Read the extract, apply the pure transform, check references, write typed Parquet."""

    pipeline = "twitch"
    stage = "transform"
    extract_class: ClassVar[type[StageTask]]
    function: ClassVar[TransformFunction]
    table_name: ClassVar[str]
    dimensions: ClassVar[dict[str, type[StageTask]]] = {}

    def requires(self) -> dict[str, StageTask]:
        needed = {"extract": self.extract_class(date=self.date)}
        needed.update({name: task(date=self.date) for name, task in self.dimensions.items()})
        return needed

    def produce(self) -> StageOutput:
        extract = self.requires()["extract"]
        raw = pq.read_table(extract.output().data_path)
        table, meta = type(self).function(raw, self.date)
        if self.dimensions:
            # Only the referenced keys: a day's users dimension is ~100,000 wide rows.
            spec = TABLES_BY_NAME[self.table_name]
            keys = {fk.ref_table: list(fk.ref_columns) for fk in spec.foreign_keys}
            dimension_tables = {
                name: pq.read_table(self.requires()[name].output().data_path,
                                    columns=keys.get(name))
                for name in self.dimensions
            }
            meta["references_checked"] = twitch_transform.check_foreign_keys(
                TABLES_BY_NAME[self.table_name], table, dimension_tables
            )
        meta["source_sha256"] = extract.output().meta().sha256
        return StageOutput(table.schema, [table], extra=meta, skip_reason=is_skipped(extract))


class TwitchRefreshableTransform(Refreshable, TwitchTransform):
    """A fact transform a lookback may redo: with ``refresh_on`` it is complete only when it was
    made from the extract currently on disk (same sha256) and that extract is complete."""

    def requires(self) -> dict[str, StageTask]:
        needed = super().requires()
        needed["extract"] = self.extract_class(date=self.date, refresh_on=self.refresh_on)
        return needed

    def complete(self) -> bool:
        if not super().complete():
            return False
        if self.refresh_on is None:
            return True
        extract = self.requires()["extract"]
        if not extract.complete():
            return False
        made_from = self.output().meta().extra.get("source_sha256")
        return made_from == extract.output().meta().sha256


class TwitchTransformUsers(TwitchTransform):
    """Typed users dimension of the date."""

    entity = "users"
    extract_class = TwitchExtractUsers
    function = staticmethod(twitch_transform.transform_users)
    table_name = "twitch_users"


class TwitchTransformGames(TwitchTransform):
    """Typed games dimension of the date."""

    entity = "games"
    extract_class = TwitchExtractGames
    function = staticmethod(twitch_transform.transform_games)
    table_name = "twitch_games"


class TwitchTransformStreams(TwitchTransform):
    """Typed, de-duplicated streams snapshot, checked against users and games."""

    entity = "streams"
    extract_class = TwitchExtractStreams
    function = staticmethod(twitch_transform.transform_streams)
    table_name = "twitch_streams"
    dimensions = {"twitch_users": TwitchTransformUsers, "twitch_games": TwitchTransformGames}


class TwitchTransformVideos(TwitchRefreshableTransform):
    """Typed videos created on the date (durations in seconds), checked against users."""

    entity = "videos"
    extract_class = TwitchExtractVideos
    function = staticmethod(twitch_transform.transform_videos)
    table_name = "twitch_videos"
    dimensions = {"twitch_users": TwitchTransformUsers}


class TwitchTransformClips(TwitchRefreshableTransform):
    """Typed clips created on the date, checked against users."""

    entity = "clips"
    extract_class = TwitchExtractClips
    function = staticmethod(twitch_transform.transform_clips)
    table_name = "twitch_clips"
    dimensions = {"twitch_users": TwitchTransformUsers}
