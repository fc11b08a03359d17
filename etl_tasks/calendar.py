"""ANBIMA business-day calendar (Brazilian financial market), used by the BTG pipeline and sandbox.

Fund NAVs and portfolio files exist only on ANBIMA business days: weekdays that are not national
bank holidays. The ``holidays`` package (pinned to 0.109) ships the B3 trading calendar as
``holidays.financial_holidays("BVMF")``; that calendar equals the ANBIMA one plus Dec 24 and
Dec 31, days on which B3 does not trade but banks (and fund administrators) work. So::

    ANBIMA holidays = financial_holidays("BVMF") minus every Dec 24 and Dec 31

(api-contract.md B8; tests/test_calendar.py checks it against the frozen ANBIMA lists 2024-2026).

Usage::

    from etl_tasks.calendar import business_days_back, today_in_sao_paulo
    reference_date = business_days_back(1, today_in_sao_paulo())   # D-1 business day
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import cache
from types import MappingProxyType
from zoneinfo import ZoneInfo

import holidays

from etl_tasks.errors import ConfigError

SAO_PAULO = ZoneInfo("America/Sao_Paulo")

# Dec 24 / Dec 31 are B3 non-trading days but ANBIMA business days (banks and administrators work).
_B3_ONLY_CLOSURES = ((12, 24), (12, 31))

# Bounds a walk over the calendar so a bad input cannot loop forever; no real gap between two
# business days comes anywhere near this (the longest is a Carnival weekend: 4 days).
_MAX_GAP_DAYS = 31


@cache
def anbima_holidays(year: int) -> Mapping[dt.date, str]:
    """The ANBIMA holidays of ``year`` (weekend ones included), mapped to their pt_BR names.

    Read-only because the result is cached and shared by every caller (and server thread).
    """
    b3 = holidays.financial_holidays("BVMF", years=year, language="pt_BR")
    return MappingProxyType(
        {
            day: name
            for day, name in sorted(b3.items())
            if (day.month, day.day) not in _B3_ONLY_CLOSURES
        }
    )


def holiday_name(day: dt.date) -> str | None:
    """Name of the ANBIMA holiday on ``day`` (e.g. ``"Carnaval"``), else ``None``.

    A holiday that falls on a weekend still has its name; an ordinary weekend day has none.
    """
    return anbima_holidays(day.year).get(_as_date(day))


def is_business_day(day: dt.date) -> bool:
    """True when ``day`` is a weekday and not an ANBIMA holiday."""
    day = _as_date(day)
    return day.weekday() < 5 and day not in anbima_holidays(day.year)


def previous_business_day(day: dt.date) -> dt.date:
    """The last business day strictly before ``day``.

    Monday -> Friday, or Thursday when that Friday is a holiday.
    """
    candidate = _as_date(day)
    for _ in range(_MAX_GAP_DAYS):
        candidate -= dt.timedelta(days=1)
        if is_business_day(candidate):
            return candidate
    raise AssertionError(f"no business day in the {_MAX_GAP_DAYS} days before {day}")


def next_business_day(day: dt.date) -> dt.date:
    """The first business day strictly after ``day``."""
    candidate = _as_date(day)
    for _ in range(_MAX_GAP_DAYS):
        candidate += dt.timedelta(days=1)
        if is_business_day(candidate):
            return candidate
    raise AssertionError(f"no business day in the {_MAX_GAP_DAYS} days after {day}")


def business_days_back(n: int, today: dt.date) -> dt.date:
    """The business day ``n`` business days before ``today`` (``--dias-atras N``).

    * ``n >= 1`` counts business days strictly before ``today``: ``n=1`` on a Monday is the
      previous Friday (Thursday when that Friday is a holiday); ``n=1`` on a Saturday or Sunday is
      also that Friday, because the weekend day itself is not counted.
    * ``n = 0`` is ``today`` when it is a business day, else the last business day before it, so
      "today" on a holiday resolves to the latest date that can have data.

    Raises :class:`ConfigError` for a negative ``n``.
    """
    if n < 0:
        raise ConfigError(
            f"business days back must be 0 or more, got {n}; pass a non-negative --dias-atras."
        )
    day = _as_date(today)
    if n == 0:
        return day if is_business_day(day) else previous_business_day(day)
    for _ in range(n):
        day = previous_business_day(day)
    return day


def business_days_between(start: dt.date, end: dt.date) -> list[dt.date]:
    """Every business day from ``start`` to ``end``, both inclusive, in order.

    Empty when ``start > end`` (an empty range, not an error).
    """
    day, last = _as_date(start), _as_date(end)
    days: list[dt.date] = []
    while day <= last:
        if is_business_day(day):
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def today_in_sao_paulo(now: dt.datetime | None = None) -> dt.date:
    """Today's date in São Paulo (the market's day), from an aware ``now`` or the system clock.

    A cron job at 00:30 UTC must not think it is already tomorrow in Brazil (UTC-3).
    """
    moment = now if now is not None else dt.datetime.now(dt.timezone.utc)
    if moment.tzinfo is None:
        raise ConfigError("today_in_sao_paulo needs an aware datetime; attach a tzinfo (e.g. UTC).")
    return moment.astimezone(SAO_PAULO).date()


def _as_date(value: dt.date) -> dt.date:
    """A plain ``date`` (a ``datetime`` is truncated), so set look-ups and arithmetic agree."""
    if isinstance(value, dt.datetime):
        return value.date()
    return value
