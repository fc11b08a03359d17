"""Which dates a backfill covers, and which pipelines run on each of them.

Twitch has data every calendar day; BTG only on ANBIMA business days (``etl_tasks.calendar``).
The list is built here, day by day, both ends inclusive, with no cap: ``luigi.tools.range``
(RangeDaily) silently stops at ``days_back=100`` and ``task_limit=50`` and excludes ``stop``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from etl_tasks.calendar import is_business_day
from etl_tasks.errors import ConfigError

PIPELINE_CHOICES: dict[str, tuple[str, ...]] = {
    "twitch": ("twitch",),
    "btg": ("btg",),
    "all": ("twitch", "btg"),
}


def pipelines_on(date: dt.date, pipelines: Sequence[str]) -> list[str]:
    """The pipelines among ``pipelines`` that have a run on ``date``."""
    return [name for name in pipelines if name != "btg" or is_business_day(date)]


def calendar_days(start: dt.date, end: dt.date) -> list[dt.date]:
    """Every day from ``start`` to ``end``, both inclusive; ConfigError when start > end."""
    if start > end:
        raise ConfigError(
            f"the start date {start} is after the end date {end}: both ends are inclusive, "
            "so give the earlier date as --start and the later one as --end"
        )
    return [start + dt.timedelta(days=offset) for offset in range((end - start).days + 1)]


def schedule(
    start: dt.date, end: dt.date, pipelines: Sequence[str]
) -> list[tuple[dt.date, list[str]]]:
    """(date, pipelines of that date) for every date of the range that has at least one run."""
    days = ((day, pipelines_on(day, pipelines)) for day in calendar_days(start, end))
    return [(day, names) for day, names in days if names]
