"""The Twitch pipeline's task graph for one date, as RunAll and the report see it.

luigi --module etl_tasks TwitchLoadStreams --date 2025-04-10 --local-scheduler
luigi --module etl_tasks RunAll --date 2025-04-10 --twitch-lookback 3 --local-scheduler

Late data: with ``lookback`` N (``[twitch] lookback``, ``etl-run --lookback N``) a date's run also
re-pulls the videos and clips of the N previous dates and replaces those partitions (their tasks
carry ``refresh_on`` = the run's date, so a rerun of the same date finds them complete).
"""

from __future__ import annotations

import datetime as dt

import luigi

from etl_tasks.core.stage import StageTask
from etl_tasks.errors import ConfigError
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
from etl_tasks.twitch.settings import twitch as twitch_config
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


REFRESHED_EXTRACTS = (TwitchExtractVideos, TwitchExtractClips)
REFRESHED_TRANSFORMS = (TwitchTransformVideos, TwitchTransformClips)
REFRESHED_LOADS = (TwitchLoadVideos, TwitchLoadClips)


def lookback_dates(date: dt.date, lookback: int | None) -> list[dt.date]:
    """The earlier dates a run of ``date`` re-pulls (None: ``[twitch] lookback``)."""
    days = int(twitch_config().lookback) if lookback is None else int(lookback)
    if days < 0:
        raise ConfigError(
            f"[twitch] lookback must be 0 or more days, got {days}; fix it in luigi.cfg "
            "(or pass --lookback N with N >= 0)"
        )
    return [date - dt.timedelta(days=back) for back in range(1, days + 1)]


def refresh_tasks(date: dt.date, lookback: int | None = None) -> list[StageTask]:
    """The extract, transform and load tasks of the lookback re-pulls of a run of ``date``."""
    classes = (*REFRESHED_EXTRACTS, *REFRESHED_TRANSFORMS, *REFRESHED_LOADS)
    return [cls(date=day, refresh_on=date) for day in lookback_dates(date, lookback)
            for cls in classes]


def stage_tasks(date: dt.date, lookback: int = 0) -> list[StageTask]:
    """Every extract, transform, schema check and load of ``date`` (plus, with ``lookback``, the
    re-pull tasks of the previous days)."""
    tasks = [cls(date=date) for cls in (*EXTRACTS, *TRANSFORMS, TwitchSchema, *LOADS)]
    return tasks + (refresh_tasks(date, lookback) if lookback else [])


def final_tasks(date: dt.date, lookback: int | None = None) -> list[luigi.Task]:
    """What RunAll needs finished for ``date``: every load, and the lookback re-pull loads of
    the previous days (None: ``[twitch] lookback``, default 0)."""
    loads: list[luigi.Task] = [cls(date=date) for cls in LOADS]
    return loads + [cls(date=day, refresh_on=date) for day in lookback_dates(date, lookback)
                    for cls in REFRESHED_LOADS]


__all__ = [cls.__name__ for cls in (*EXTRACTS, *TRANSFORMS, *LOADS, TwitchSchema)]
