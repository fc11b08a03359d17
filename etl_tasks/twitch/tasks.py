"""The Twitch pipeline's task graph for one date, as RunAll and the report see it.

luigi --module etl_tasks TwitchLoadStreams --date 2025-04-10 --local-scheduler
"""

from __future__ import annotations

import datetime as dt

import luigi

from etl_tasks.core.stage import StageTask
from etl_tasks.twitch.extract import (
    TwitchExtractClips,
    TwitchExtractGames,
    TwitchExtractStreams,
    TwitchExtractUsers,
    TwitchExtractVideos,
)
from etl_tasks.twitch.load import (
    TwitchLoadClips,
    TwitchLoadGames,
    TwitchLoadStreams,
    TwitchLoadUsers,
    TwitchLoadVideos,
    TwitchSchema,
)
from etl_tasks.twitch.transform_tasks import (
    TwitchTransformClips,
    TwitchTransformGames,
    TwitchTransformStreams,
    TwitchTransformUsers,
    TwitchTransformVideos,
)

EXTRACTS = (
    TwitchExtractStreams,
    TwitchExtractUsers,
    TwitchExtractGames,
    TwitchExtractVideos,
    TwitchExtractClips,
)
TRANSFORMS = (
    TwitchTransformUsers,
    TwitchTransformGames,
    TwitchTransformStreams,
    TwitchTransformVideos,
    TwitchTransformClips,
)
LOADS = (TwitchLoadUsers, TwitchLoadGames, TwitchLoadStreams, TwitchLoadVideos, TwitchLoadClips)


def stage_tasks(date: dt.date) -> list[StageTask]:
    """Every extract, transform, schema check and load of ``date``."""
    return [cls(date=date) for cls in (*EXTRACTS, *TRANSFORMS, TwitchSchema, *LOADS)]


def final_tasks(date: dt.date) -> list[luigi.Task]:
    """What RunAll needs finished for ``date``: every load."""
    return [cls(date=date) for cls in LOADS]


__all__ = [cls.__name__ for cls in (*EXTRACTS, *TRANSFORMS, *LOADS, TwitchSchema)]
