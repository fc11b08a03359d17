"""Tests for etl_tasks.calendar: the ANBIMA calendar against the frozen 2024-2026 lists (B8).

Run: .venv/bin/pytest tests/test_calendar.py
"""

from __future__ import annotations

import datetime as dt

import pytest

from etl_tasks.calendar import (
    anbima_holidays,
    business_days_back,
    business_days_between,
    holiday_name,
    is_business_day,
    next_business_day,
    previous_business_day,
    today_in_sao_paulo,
)
from etl_tasks.errors import ConfigError

# api-contract.md B8, copied literally: the official ANBIMA national holidays.
FROZEN_ANBIMA = {
    2024: "01-01 02-12 02-13 03-29 04-21 05-01 05-30 09-07 10-12 11-02 11-15 11-20 12-25",
    2025: "01-01 03-03 03-04 04-18 04-21 05-01 06-19 09-07 10-12 11-02 11-15 11-20 12-25",
    2026: "01-01 02-16 02-17 04-03 04-21 05-01 06-04 09-07 10-12 11-02 11-15 11-20 12-25",
}


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


@pytest.mark.parametrize("year", sorted(FROZEN_ANBIMA))
def test_holidays_equal_the_frozen_anbima_list(year: int) -> None:
    expected = {d(f"{year}-{month_day}") for month_day in FROZEN_ANBIMA[year].split()}
    assert set(anbima_holidays(year)) == expected


def test_carnival_tuesday_is_not_a_business_day() -> None:
    assert not is_business_day(d("2025-03-04"))
    assert holiday_name(d("2025-03-04")) == "Carnaval"


@pytest.mark.parametrize("day", ["2024-12-24", "2024-12-31", "2025-12-24", "2025-12-31"])
def test_dec_24_and_31_are_anbima_business_days(day: str) -> None:
    # Both are B3 closures (no trading) but banks and administrators work: NAVs exist.
    assert is_business_day(d(day))
    assert holiday_name(d(day)) is None


def test_weekends_are_not_business_days_and_have_no_name() -> None:
    assert not is_business_day(d("2025-04-12"))  # Saturday
    assert not is_business_day(d("2025-04-13"))  # Sunday
    assert holiday_name(d("2025-04-12")) is None


def test_holiday_on_a_weekend_keeps_its_name() -> None:
    assert holiday_name(d("2025-09-07")) == "Independência do Brasil"  # a Sunday


def test_monday_back_one_is_friday() -> None:
    assert business_days_back(1, d("2025-04-14")) == d("2025-04-11")


def test_monday_back_one_skips_a_friday_holiday() -> None:
    # 2025-04-18 is Good Friday: Monday 04-21 is Tiradentes, so take Tuesday 04-22.
    assert business_days_back(1, d("2025-04-22")) == d("2025-04-17")
    # 2024-03-29 Good Friday: Monday 2024-04-01 back one is Thursday 03-28.
    assert business_days_back(1, d("2024-04-01")) == d("2024-03-28")


def test_back_one_from_a_weekend_is_the_friday() -> None:
    assert business_days_back(1, d("2025-04-12")) == d("2025-04-11")
    assert business_days_back(1, d("2025-04-13")) == d("2025-04-11")


def test_back_zero_is_today_or_the_previous_business_day() -> None:
    assert business_days_back(0, d("2025-04-10")) == d("2025-04-10")
    assert business_days_back(0, d("2025-04-13")) == d("2025-04-11")
    assert business_days_back(0, d("2025-03-04")) == d("2025-02-28")


def test_back_three_across_carnival() -> None:
    # Wed 2025-03-05 - 1 = Fri 02-28 (Mon/Tue Carnival), - 2 = Thu 02-27, - 3 = Wed 02-26.
    assert business_days_back(3, d("2025-03-05")) == d("2025-02-26")


def test_negative_days_back_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="non-negative"):
        business_days_back(-1, d("2025-04-10"))


def test_previous_and_next_business_day() -> None:
    assert previous_business_day(d("2025-01-02")) == d("2024-12-31")
    assert next_business_day(d("2024-12-31")) == d("2025-01-02")
    assert next_business_day(d("2025-02-28")) == d("2025-03-05")


def test_business_days_between_is_inclusive() -> None:
    days = business_days_between(d("2025-02-28"), d("2025-03-07"))
    assert days == [d("2025-02-28"), d("2025-03-05"), d("2025-03-06"), d("2025-03-07")]
    assert business_days_between(d("2025-04-10"), d("2025-04-10")) == [d("2025-04-10")]
    assert business_days_between(d("2025-04-11"), d("2025-04-10")) == []


def test_business_day_counts_per_year() -> None:
    # Weekdays minus holidays that fall on weekdays, counted by hand from the frozen lists:
    # 2024: 262 - 9 = 253; 2025: 261 - 9 = 252; 2026: 261 - 12 = 249.
    counts = {
        year: len(business_days_between(dt.date(year, 1, 1), dt.date(year, 12, 31)))
        for year in (2024, 2025, 2026)
    }
    assert counts == {2024: 253, 2025: 252, 2026: 249}


def test_datetime_input_is_treated_as_its_date() -> None:
    assert not is_business_day(dt.datetime(2025, 3, 4, 10, 0))


def test_today_in_sao_paulo_uses_brazil_local_date() -> None:
    # 01:30 UTC is still the previous evening in São Paulo (UTC-3).
    late = dt.datetime(2025, 4, 11, 1, 30, tzinfo=dt.timezone.utc)
    assert today_in_sao_paulo(late) == d("2025-04-10")
    assert today_in_sao_paulo(dt.datetime(2025, 4, 11, 3, 0, tzinfo=dt.timezone.utc)) == d(
        "2025-04-11"
    )
    assert isinstance(today_in_sao_paulo(), dt.date)


def test_today_in_sao_paulo_rejects_naive_datetimes() -> None:
    with pytest.raises(ConfigError, match="aware"):
        today_in_sao_paulo(dt.datetime(2025, 4, 11, 1, 30))
