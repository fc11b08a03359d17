"""Which dates a backfill covers, and which pipelines run on each of them.

Each pipeline's calendar comes from the registry (``etl_tasks.pipelines``): some run every calendar
day, others only on ANBIMA business days (``etl_tasks.calendar``). The list is built here, day by
day, both ends inclusive, with no cap: ``luigi.tools.range`` (RangeDaily) silently stops at
``days_back=100`` and ``task_limit=50`` and excludes ``stop``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from etl_tasks import pipelines as registry
from etl_tasks.errors import ConfigError


def pipeline_choices() -> dict[str, tuple[str, ...]]:
    """``--pipeline`` values: each registered pipeline, and ``all``."""
    choices = {name: (name,) for name in registry.names()}
    choices["all"] = tuple(registry.names())
    return choices


def pipelines_on(date: dt.date, pipelines: Sequence[str]) -> list[str]:
    """The pipelines among ``pipelines`` that have a run on ``date`` (their calendar)."""
    return [name for name in pipelines if registry.get(name).runs_on(date)]


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


def calendars_text(pipelines: Sequence[str]) -> str:
    """``<name> runs on ANBIMA business days`` for the pipelines that do not run every day."""
    parts = [
        f"{p.name} runs on {p.calendar}"
        for p in (registry.get(name) for name in pipelines)
        if p.calendar != "every day"
    ]
    return "; ".join(parts)
