"""Twitch schema and load tasks: typed Parquet → warehouse, one transaction per partition.

    luigi --module etl_tasks TwitchLoadStreams --date 2025-04-10 --local-scheduler

Dimensions (users, games) are upserted by id; facts (streams, videos, clips) replace their date's
partition. Facts require the dimension loads of the same date, so foreign keys always resolve.
The warehouse is ``TWITCH_WAREHOUSE_URL`` (else ``WAREHOUSE_URL``).
"""

from __future__ import annotations

import luigi

from etl_tasks.twitch.extract import Refreshable
from etl_tasks.twitch.tables import TWITCH_TABLES
from etl_tasks.twitch.transform_tasks import (
    TwitchTransformClips,
    TwitchTransformGames,
    TwitchTransformStreams,
    TwitchTransformUsers,
    TwitchTransformVideos,
)
from etl_tasks.warehouse.tasks import LoadTask, SchemaTask


class TwitchSchema(SchemaTask):
    """Create the twitch_* tables and the audit table (idempotent)."""

    pipeline = "twitch"
    tables = TWITCH_TABLES


class TwitchLoad(LoadTask):
    """Load one Twitch entity's partition."""

    pipeline = "twitch"
    schema_class = TwitchSchema


class TwitchLoadUsers(TwitchLoad):
    """Upsert the users of the date into twitch_users."""

    entity = "users"
    transform_class = TwitchTransformUsers


class TwitchLoadGames(TwitchLoad):
    """Upsert the games of the date into twitch_games."""

    entity = "games"
    transform_class = TwitchTransformGames


class TwitchLoadStreams(TwitchLoad):
    """Replace the date's snapshot in twitch_streams (after users and games)."""

    entity = "streams"
    transform_class = TwitchTransformStreams
    upstream_loads = (TwitchLoadUsers, TwitchLoadGames)


class TwitchRefreshableLoad(Refreshable, TwitchLoad):
    """A fact load a lookback may redo (``refresh_on``): complete only when the marker holds the
    current transform and that transform is complete for the refresh."""

    def requires(self) -> dict[str, luigi.Task]:
        needed = super().requires()
        needed["transform"] = self.transform_class(date=self.date, refresh_on=self.refresh_on)
        return needed

    def complete(self) -> bool:
        if self.refresh_on is not None and not self.requires()["transform"].complete():
            return False
        return super().complete()


class TwitchLoadVideos(TwitchRefreshableLoad):
    """Replace the date's videos in twitch_videos (after users)."""

    entity = "videos"
    transform_class = TwitchTransformVideos
    upstream_loads = (TwitchLoadUsers,)


class TwitchLoadClips(TwitchRefreshableLoad):
    """Replace the date's clips in twitch_clips (after users)."""

    entity = "clips"
    transform_class = TwitchTransformClips
    upstream_loads = (TwitchLoadUsers,)
