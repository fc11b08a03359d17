"""The dates every entry point accepts: YYYY-MM-DD from 2000-01-01 to one year after today.

    check_date(dt.date(9999, 12, 31))   # DateOutOfRangeError: ... between 2000-01-01 and 2026-04-11
    date = DateParameter()              # a Luigi date parameter whose command line checks the same

Neither API has data before 2000 (Twitch started in 2011) or more than a day ahead, and the edges
of Python's calendar break things far from the data: Luigi's run summary overflows on 9999-12-31,
counting ANBIMA business days back from year 1 overflows, a backfill of ``0001-01-01 ..
9999-12-31`` would plan 3.6 million dates. So a date outside this window is a bad argument,
refused before anything runs, not a task failure. ``ETL_TODAY`` (tests, replays) moves "today".
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
from typing import Any

from etl_tasks.errors import ConfigError

FIRST_DATE = dt.date(2000, 1, 1)
DAYS_AHEAD = 366
FORMAT_HINT = "expected YYYY-MM-DD, e.g. 2025-04-10"


class DateOutOfRangeError(ConfigError):
    """A well-formed date outside the window the tool works on."""


def _today() -> dt.date:
    override = os.environ.get("ETL_TODAY", "").strip()
    try:
        return dt.date.fromisoformat(override) if override else dt.date.today()
    except ValueError:
        return dt.date.today()  # the commands that use ETL_TODAY report it themselves


def last_date(today: dt.date | None = None) -> dt.date:
    """The latest date accepted: one year after today."""
    return (today or _today()) + dt.timedelta(days=DAYS_AHEAD)


def check_date(day: dt.date, what: str = "date") -> dt.date:
    """``day`` when it lies in the accepted window, else :class:`DateOutOfRangeError`."""
    latest = last_date()
    if not FIRST_DATE <= day <= latest:
        raise DateOutOfRangeError(
            f"{what} {day.isoformat()} is out of range: give a date between "
            f"{FIRST_DATE.isoformat()} and {latest.isoformat()} (one year after today)"
        )
    return day


def parse_day(text: str, what: str = "date") -> dt.date:
    """A YYYY-MM-DD date in the window; ``ValueError`` (a ConfigError when out of range)."""
    try:
        day = dt.datetime.strptime(text.strip(), "%Y-%m-%d").date()
    except ValueError:
        raise ValueError(f"invalid {what} {text!r}: {FORMAT_HINT}") from None
    return check_date(day, what)


def argparse_date(text: str) -> dt.date:
    """``type=`` for argparse: the date, or an ArgumentTypeError that says what was expected."""
    try:
        return parse_day(text)
    except (ValueError, ConfigError) as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _checked_text(text: str) -> str:
    argparse_date(text)
    return text  # Luigi parses the text itself afterwards


def _date_parameter_class() -> type:
    import luigi

    class DateParameter(luigi.DateParameter):
        """``luigi.DateParameter`` whose command-line flag is checked by argparse: ``luigi ...
        --date 2025-13-45`` exits 2 with ``argument --date: invalid date ...``, not 40 with a
        traceback."""

        def _parser_kwargs(self, param_name: str, task_name: str | None = None) -> dict:
            kwargs = dict(super()._parser_kwargs(param_name, task_name))
            kwargs["type"] = _checked_text
            return kwargs

    DateParameter.__module__ = __name__
    return DateParameter


def __getattr__(name: str) -> Any:
    # DateParameter needs Luigi: defined on first use, so parsing a date on the command line
    # (every entry point, the no-op rerun) imports no Luigi.
    if name == "DateParameter":
        cls = globals()["DateParameter"] = _date_parameter_class()
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
