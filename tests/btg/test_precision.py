"""The BTG precision policy and NAVPerformance schema drift, as pure functions.

Expected values are written by hand from the README's rules (shortest round-trip double, then
ROUND_HALF_EVEN at the column's scale; money exact or the same double).

Run: .venv/bin/pytest tests/btg/test_precision.py
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest

from etl_tasks.btg import jsontext
from etl_tasks.btg.extract import RENTABILIDADE_SCHEMA
from etl_tasks.btg.precision import (
    RoundingLog,
    Where,
    exact_from_double,
    exact_from_text,
    rounded_from_double,
    shortest_round_trip,
)
from etl_tasks.btg.rentabilidade import check_record_schema, rentabilidade_table
from etl_tasks.btg.transform import values_agree
from etl_tasks.errors import DataQualityError

WHERE = Where("45112233000114 (SANDBOX ALFA)", "2025-04-11", "liquidQuote")
DATE = dt.date(2025, 4, 11)
RECORD = (
    '{"account":"004512345","cnpj":"45112233000114","referenceDate":"2025-04-11T00:00:00",'
    '"liquidQuote":1.5234567800000002,"rawQuote":1.524012345678,"assetValue":100008843.78,'
    '"numberOfQuotes":65646000.123456784,"acquisitions":250000,"redemptions":0,'
    '"hierarchyClass":"CLASSE","profitability":{"day":0.44200000000000006,"month":3.9699999999999998,'
    '"year":1E-05},"nominalQuoteList":[{"type":"Nominal","day":0.44200000000000006,'
    '"month":3.9699999999999998,"year":1E-05,"twelveMonths":11.8734,"twentyFourMonths":25.441,'
    '"thirtySixMonths":41.0203}],"quotaProfitabilityDifference":{"CDIE":{"VariacaoIndexador":'
    '{"Day":5.25E-02},"NominalVsIndexador":{"Day":104.38}}}}'
)


def extract(*records: str) -> pa.Table:
    rows = {name: [] for name in RENTABILIDADE_SCHEMA.names}
    for record in records:
        for column, value in (("ticket", "t"), ("page", 1), ("fund_name", "SANDBOX ALFA"),
                              ("cnpj", None), ("reference_date", None), ("record", record),
                              ("extracted_at", dt.datetime(2025, 4, 11, tzinfo=dt.timezone.utc))):
            rows[column].append(value)
    return pa.Table.from_pydict(rows, schema=RENTABILIDADE_SCHEMA)


def test_shortest_round_trip_removes_only_what_a_double_cannot_carry() -> None:
    assert shortest_round_trip(Decimal("3.9700000000000002")) == Decimal("3.97")  # G17 of 3.97
    # Noise of computing in binary is another double: it stays, the column's scale removes it.
    assert str(shortest_round_trip(Decimal("3.9699999999999998"))) == "3.9699999999999998"
    assert str(shortest_round_trip(Decimal("0.44200000000000006"))) == "0.44200000000000006"
    assert shortest_round_trip(Decimal("1E-05")) == Decimal("0.00001")
    assert shortest_round_trip(Decimal("1.52345678")) == Decimal("1.52345678")


def test_rates_are_rounded_half_even_and_counted() -> None:
    log = RoundingLog()
    got = rounded_from_double(Decimal("0.44200000000000006"), 24, 14, "ret_day_frac", WHERE, log,
                              percent=True)
    assert got == Decimal("0.00442000000000") and log.rounded["ret_day_frac"] == 1
    exact = rounded_from_double(Decimal("0.0548"), 24, 14, "ret_day_frac", WHERE, log,
                                percent=True)
    assert exact == Decimal("0.000548") and log.rounded_total == 1  # nothing changed: not counted
    tie = rounded_from_double(Decimal("0.123456789012345"), 34, 14, "cota_bruta", WHERE, log)
    assert tie == Decimal("0.12345678901234")  # ...345 -> ...34 (half-even), counted
    assert log.rounded_total == 2
    assert log.extra()["rounded_values"] == 2 and "2 values rounded" in log.notes()[0]


def test_money_is_exact_or_the_same_double_else_an_error_naming_everything() -> None:
    log = RoundingLog()
    assert exact_from_double(Decimal("100008843.78"), 20, 2, "patrimonio_liquido", WHERE,
                             log) == Decimal("100008843.78")
    assert exact_from_double(Decimal("1234.5699999999999"), 20, 2, "patrimonio_liquido", WHERE,
                             log) == Decimal("1234.57")
    assert log.artefacts["patrimonio_liquido"] == 1 and log.rounded_total == 0
    with pytest.raises(DataQualityError) as caught:
        exact_from_double(Decimal("100008843.786"), 20, 2, "patrimonio_liquido", WHERE, log)
    message = str(caught.value)
    assert "fund 45112233000114 (SANDBOX ALFA) on 2025-04-11, field liquidQuote" in message
    assert "value 100008843.786" in message and "decimal(20,2)" in message
    with pytest.raises(DataQualityError, match=r"value 677\.785 does not fit"):
        exact_from_text(Decimal("677.785"), 20, 2, WHERE)
    with pytest.raises(DataQualityError, match="does not fit"):
        exact_from_text(Decimal("1" * 19 + ".00"), 20, 2, WHERE)


def test_realistic_record_becomes_the_expected_row() -> None:
    table, meta = rentabilidade_table(extract(RECORD), DATE)
    row = table.to_pylist()[0]
    assert row["cota_liquida"] == Decimal("1.52345678")
    assert row["cota_bruta"] == Decimal("1.524012345678")
    assert row["quantidade_cotas"] == Decimal("65646000.12345678")  # same double, 8 decimals
    assert (row["aplicacoes"], row["resgates"]) == (Decimal("250000"), Decimal("0"))
    assert row["ret_day_frac"] == Decimal("0.00442")
    assert row["ret_month_frac"] == Decimal("0.0397")
    assert row["ret_year_frac"] == Decimal("1E-7")
    assert row["cdi_ret_day_frac"] == Decimal("0.000525")
    assert row["cdi_ratio_day_frac"] == Decimal("1.0438")
    # liquidQuote, day, month (nominalQuoteList; profitability's duplicates are not counted twice)
    assert meta["rounded_values"] == 3
    assert meta["rounded_by_column"] == {"cota_liquida": 1, "ret_day_frac": 1,
                                         "ret_month_frac": 1}
    assert meta["double_artefacts_removed"] == 1  # numberOfQuotes' 17th digit
    assert meta["new_fields"] == [] and meta["notes"][0].startswith("3 values rounded")


def test_new_field_is_named_and_kept_required_field_changes_fail() -> None:
    added = RECORD.replace('"hierarchyClass":"CLASSE"', '"hierarchyClass":"CLASSE","esg":"A"')
    _, meta = rentabilidade_table(extract(added), DATE)
    assert meta["new_fields"] == ["esg"]
    assert any("esg" in note and "page-N.json" in note for note in meta["notes"])
    gone = RECORD.replace('"assetValue":100008843.78,', "")
    with pytest.raises(DataQualityError) as caught:
        rentabilidade_table(extract(gone), DATE)
    assert str(caught.value).startswith(
        "NAVPerformance (rentabilidade) schema changed on 2025-04-11: required field assetValue "
        "is missing (first offending fund 45112233000114 (SANDBOX ALFA))")
    retyped = RECORD.replace('"liquidQuote":1.5234567800000002', '"liquidQuote":"1.52"')
    with pytest.raises(DataQualityError, match="required field liquidQuote is string, not number"):
        rentabilidade_table(extract(retyped), DATE)
    optional = RECORD.replace('"rawQuote":1.524012345678', '"rawQuote":"n/a"')
    with pytest.raises(DataQualityError, match="field rawQuote is string, not number"):
        check_record_schema([("ALFA", jsontext.loads(optional))], DATE)


def test_cross_check_tolerance_is_the_column_scale_or_the_same_double() -> None:
    assert values_agree(Decimal("1.52345678"), Decimal("1.52345678000000"), 8)
    assert values_agree(Decimal("1.52345678"), Decimal("1.52345678000002"), 8)
    # A 16-digit quantity whose double prints shorter: the same double, so they agree.
    assert values_agree(Decimal("79099442.28268421"), Decimal("79099442.2826842"), 8)
    assert not values_agree(Decimal("100008843.78"), Decimal("100008843.77"), 2)
    assert not values_agree(Decimal("1.52345678"), Decimal("1.52345679"), 8)
