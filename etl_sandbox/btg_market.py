"""Simulated market for the BTG sandbox: the CDI rate, benchmark indices and stock prices.

Every series is a level per ANBIMA business day from :data:`HISTORY_START` (level 1 there),
derived deterministically from the dataset seed. Levels let any return window be computed as a
ratio (``level(end) / level(start) - 1``), which keeps fund, benchmark and asset returns
consistent with one another over any period (api-contract.md B5 generation rule).

CDI follows a Selic-like schedule of annual rates; its daily rate is ``(1 + annual)^(1/252) - 1``
rounded to 8 decimals, like the published CDI factor. IMA-B, IBOV and each stock add seeded noise
to a drift. Series are built lazily, on first use, and cached.
"""

from __future__ import annotations

import bisect
import datetime as dt
import random
import threading
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext

from etl_tasks.calendar import business_days_between

# Three years before the first served date, so 36-month windows exist from 2024-01-02 on.
HISTORY_START = dt.date(2020, 10, 1)
HISTORY_END = dt.date(2026, 12, 31)
RATE_PLACES = Decimal("0.00000001")
LEVEL_PLACES = Decimal("0.000000000001")
_PRECISE = Context(prec=40)

# Annual CDI (percent a.a.) in force from each date: a Selic-like path, close to the real one.
CDI_SCHEDULE: tuple[tuple[dt.date, Decimal], ...] = tuple(
    (dt.date.fromisoformat(day), Decimal(rate))
    for day, rate in (
        ("2020-10-01", "1.90"), ("2021-03-18", "2.65"), ("2021-05-06", "3.40"),
        ("2021-06-17", "4.15"), ("2021-08-05", "5.15"), ("2021-09-23", "6.15"),
        ("2021-10-28", "7.65"), ("2021-12-09", "9.15"), ("2022-02-03", "10.65"),
        ("2022-03-17", "11.65"), ("2022-05-05", "12.65"), ("2022-06-16", "13.15"),
        ("2022-08-04", "13.65"), ("2023-08-03", "13.15"), ("2023-09-21", "12.65"),
        ("2023-11-02", "12.15"), ("2023-12-14", "11.65"), ("2024-02-01", "11.15"),
        ("2024-03-21", "10.65"), ("2024-05-09", "10.40"), ("2024-09-19", "10.65"),
        ("2024-11-07", "11.15"), ("2024-12-12", "12.15"), ("2025-01-30", "13.15"),
        ("2025-03-20", "14.15"), ("2025-05-08", "14.65"), ("2025-06-19", "14.90"),
        ("2026-01-29", "14.65"), ("2026-03-19", "14.15"), ("2026-06-18", "13.40"),
        ("2026-09-17", "12.90"),
    )
)

# Drift and volatility per business day of the noisy series (fractions).
_NOISY = {"IMA-B": (0.00040, 0.0030), "IBOV": (0.00045, 0.0120)}


def cdi_annual_percent(day: dt.date) -> Decimal:
    """Annual CDI (percent) in force on ``day``."""
    index = bisect.bisect_right([start for start, _ in CDI_SCHEDULE], day) - 1
    return CDI_SCHEDULE[max(index, 0)][1]


def cdi_daily_rate(annual_percent: Decimal) -> Decimal:
    """Daily CDI rate (fraction, 8 decimals) from an annual percent: ``(1+r)^(1/252) - 1``."""
    with localcontext(_PRECISE):
        factor = (1 + annual_percent / 100) ** (Decimal(1) / Decimal(252))
    return (factor - 1).quantize(RATE_PLACES, ROUND_HALF_UP)


class LevelSeries:
    """Levels of one series on every business day of the history (1 at HISTORY_START)."""

    def __init__(self, days: list[dt.date], daily_returns: list[Decimal]) -> None:
        self.days = days
        self.returns = daily_returns
        levels = []
        level = Decimal(1)
        with localcontext(_PRECISE):
            for rate in daily_returns:
                level = (level * (1 + rate)).quantize(LEVEL_PLACES, ROUND_HALF_UP)
                levels.append(level)
        self.levels = levels
        self._position = {day: i for i, day in enumerate(days)}

    def level(self, day: dt.date) -> Decimal:
        """Level on the business day ``day``, or on the last business day before it."""
        return self.levels[self.index_on_or_before(day)]

    def daily_return(self, day: dt.date) -> Decimal:
        """The return of business day ``day`` (fraction)."""
        return self.returns[self._position[day]]

    def index_on_or_before(self, day: dt.date) -> int:
        """Position of the last business day <= ``day``; ValueError before the history starts."""
        if day in self._position:
            return self._position[day]
        index = bisect.bisect_right(self.days, day) - 1
        if index < 0:
            raise ValueError(f"{day} is before the sandbox market history ({HISTORY_START})")
        return index


class Market:
    """The seeded market: business days, CDI, benchmark indices and per-ticker stock series."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.days = business_days_between(HISTORY_START, HISTORY_END)
        self._series: dict[str, LevelSeries] = {}
        self._lock = threading.RLock()  # building a stock series needs the IBOV one

    def series(self, name: str) -> LevelSeries:
        """``"CDIE"``, ``"IMA-B"``, ``"IBOV"`` or ``"STOCK:<ticker>"`` (built once, cached)."""
        with self._lock:
            if name not in self._series:
                self._series[name] = self._build(name)
            return self._series[name]

    def cdi_rate(self, day: dt.date) -> Decimal:
        """Daily CDI rate (fraction) of business day ``day``."""
        return self.series("CDIE").daily_return(day)

    def _build(self, name: str) -> LevelSeries:
        if name == "CDIE":
            returns = [Decimal(0)] + [cdi_daily_rate(cdi_annual_percent(d)) for d in self.days[1:]]
            return LevelSeries(self.days, returns)
        if name.startswith("STOCK:"):
            ibov = self.series("IBOV").returns
            rng = random.Random(f"{self.seed}|stock|{name}")
            beta = rng.uniform(0.7, 1.3)
            # A stock moves with IBOV (beta) plus its own noise; rounded so levels stay compact.
            returns = [Decimal(0)] + [
                (Decimal(repr(round(beta * float(r) + rng.gauss(0.0, 0.011), 10))))
                for r in ibov[1:]
            ]
            return LevelSeries(self.days, returns)
        drift, volatility = _NOISY[name]
        rng = random.Random(f"{self.seed}|index|{name}")
        returns = [Decimal(0)] + [
            Decimal(repr(round(rng.gauss(drift, volatility), 10))) for _ in self.days[1:]
        ]
        return LevelSeries(self.days, returns)
