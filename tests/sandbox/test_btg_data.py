"""In-process tests of the BTG sandbox dataset (no HTTP): identifiers, ANBIMA invariants on many
days, cross-report equalities, return compounding, special funds and exact JSON numbers.

Run: .venv/bin/pytest tests/sandbox/test_btg_data.py
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import ROUND_HALF_UP, Decimal

import pytest

from etl_sandbox.btg_data import BtgDataset, dataset_for_seed
from etl_sandbox.btg_ids import (
    cnpj_with_check_digits,
    is_valid_cnpj,
    is_valid_isin,
    isin_check_digit,
)
from etl_sandbox.btg_json import dumps
from etl_sandbox.btg_market import cdi_daily_rate
from etl_tasks.btg.anbima import check_invariants, parse_anbima_xml
from etl_tasks.calendar import business_days_between, previous_business_day

DAY = dt.date(2025, 4, 10)
# First served day, month/year turns, Dec 24/31 (ANBIMA business days), the last served day.
SAMPLE_DAYS = [dt.date(2024, 1, 2), dt.date(2024, 2, 29), dt.date(2024, 12, 24),
               dt.date(2024, 12, 31), dt.date(2025, 1, 2), dt.date(2025, 3, 17), DAY,
               dt.date(2025, 12, 31), dt.date(2026, 6, 1), dt.date(2026, 12, 31)]


@pytest.fixture(scope="module")
def data() -> BtgDataset:
    return dataset_for_seed(42)


def test_identifier_algorithms_on_known_values() -> None:
    assert cnpj_with_check_digits("112223330001") == "11222333000181"
    assert is_valid_cnpj("59281253000123")  # BTG Pactual DTVM
    assert not is_valid_cnpj("59281253000124")
    assert not is_valid_cnpj("11111111111111")
    assert isin_check_digit("US037833100") == "5"  # Apple, the textbook ISO 6166 example
    assert is_valid_isin("BRPETRACNPR6")
    assert not is_valid_isin("BRPETRACNPR7")


def test_roster_shape(data: BtgDataset) -> None:
    assert 8 <= len(data.funds) <= 12
    assert {"FIC FIM", "FIRF", "FIA"} <= {fund.kind for fund in data.funds}
    assert any("PREVIDÊNCIA" in fund.name for fund in data.funds)
    assert len({fund.cnpj for fund in data.funds}) == len(data.funds)
    for fund in data.funds:
        assert is_valid_cnpj(fund.cnpj), fund
        assert is_valid_isin(fund.isin), fund


def test_every_identifier_in_the_files_is_valid(data: BtgDataset) -> None:
    for fund in data.funds_on(DAY):
        [portfolio] = parse_anbima_xml(data.portfolio_xml(fund, DAY), fund.name)
        for position in portfolio.positions:
            if position.isin:
                assert is_valid_isin(position.isin), position
            if position.issuer_cnpj:
                assert is_valid_cnpj(position.issuer_cnpj), position


@pytest.mark.parametrize("day", SAMPLE_DAYS, ids=str)
def test_anbima_invariants_hold_exactly(data: BtgDataset, day: dt.date) -> None:
    funds = data.funds_on(day)
    assert funds
    for fund in funds:
        [portfolio] = parse_anbima_xml(data.portfolio_xml(fund, day), fund.name)
        assert portfolio.header.dtposicao == day
        assert check_invariants(portfolio.header, portfolio.positions) == []
        cash = [p for p in portfolio.positions if p.section == "caixa"]
        assert len(cash) == 1 and cash[0].saldo > 0


def test_cross_report_equalities(data: BtgDataset) -> None:
    for fund in data.funds_on(DAY):
        header = parse_anbima_xml(data.portfolio_xml(fund, DAY), fund.name)[0].header
        record = data.nav_record(fund, DAY, ["CDIE"])
        assert record["cnpj"] == header.cnpj
        assert record["liquidQuote"] == header.valorcota
        assert record["assetValue"] == header.patliq
        assert record["numberOfQuotes"] == header.quantidade
        assert record["acquisitions"] == header.vlcotasemitir
        assert record["redemptions"] == header.vlcotasresgatar


def test_fic_holds_a_sandbox_fund_at_its_own_quota(data: BtgDataset) -> None:
    fic, held = data.fund("ALFA"), data.fund("BETA")
    [portfolio] = parse_anbima_xml(data.portfolio_xml(fic, DAY), fic.name)
    [row] = [p for p in portfolio.positions if p.section == "cotas" and p.asset_code == held.cnpj]
    assert row.puposicao == data.nav(held, DAY).quota
    assert row.isin == held.isin


def test_mid_range_fund_and_missing_day(data: BtgDataset) -> None:
    newcomer, gappy = data.fund("DELTA"), data.fund("OMEGA")
    assert newcomer not in data.funds_on(dt.date(2025, 3, 14))
    assert newcomer in data.funds_on(dt.date(2025, 3, 17))
    first = data.nav_record(newcomer, dt.date(2025, 3, 17), ["CDIE"])
    assert first["liquidQuote"] == Decimal("1.00000000")
    assert first["profitability"] == {"day": Decimal("0.0000"), "month": Decimal("0.0000"),
                                      "year": Decimal("0.0000")}
    assert first["nominalQuoteList"][0]["twelveMonths"] is None  # younger than the window
    assert gappy not in data.funds_on(dt.date(2025, 4, 9))
    assert gappy in data.funds_on(dt.date(2025, 4, 8)) and gappy in data.funds_on(DAY)


def test_no_records_on_non_business_days(data: BtgDataset) -> None:
    assert data.funds_on(dt.date(2025, 3, 4)) == []  # Carnival
    assert data.funds_on(dt.date(2025, 4, 12)) == []  # Saturday
    assert data.funds_on(dt.date(2023, 12, 29)) == []  # before the served range
    assert len(data.funds_on(dt.date(2025, 12, 24))) == len(data.funds)


def test_returns_are_ratios_of_published_quotas(data: BtgDataset) -> None:
    fund = data.fund("BETA")
    record = data.nav_record(fund, DAY, ["CDIE"])
    quota = data.nav(fund, DAY).quota

    def percent(base_day: dt.date) -> Decimal:
        ratio = quota / data.nav(fund, base_day).quota - 1
        return (ratio * 100).quantize(Decimal("0.0001"), ROUND_HALF_UP)

    assert record["profitability"]["day"] == percent(previous_business_day(DAY))
    assert record["profitability"]["month"] == percent(dt.date(2025, 3, 31))
    assert record["profitability"]["year"] == percent(dt.date(2024, 12, 31))
    assert record["nominalQuoteList"][0]["twelveMonths"] == percent(dt.date(2024, 4, 10))
    assert record["nominalQuoteList"][0]["month"] == record["profitability"]["month"]


def test_month_to_date_compounds_daily_returns(data: BtgDataset) -> None:
    fund = data.fund("CRED")
    days = business_days_between(dt.date(2025, 4, 1), dt.date(2025, 4, 30))
    growth = Decimal(1)
    for day in days:
        record = data.nav_record(fund, day, ["CDIE"])
        growth *= 1 + record["profitability"]["day"] / 100
        # Daily figures are rounded to 4 decimals of a percent; 20 days drift < 0.001 %.
        assert abs((growth - 1) * 100 - record["profitability"]["month"]) < Decimal("0.001")


def test_cdi_matches_the_contract_example(data: BtgDataset) -> None:
    assert cdi_daily_rate(Decimal("14.15")) == Decimal("0.00052531")
    cdi = data.nav_record(data.fund("BETA"), DAY, ["CDIE"])["quotaProfitabilityDifference"]
    assert cdi["CDIE"]["VariacaoIndexador"]["Day"] == Decimal("0.0525")
    assert set(cdi["CDIE"]) == {"VariacaoIndexador", "NominalVsIndexador"}


def test_generation_is_deterministic_per_seed(data: BtgDataset) -> None:
    fresh = BtgDataset(42)
    fund = data.funds[3]
    assert fresh.portfolio_xml(fresh.fund(fund.key), DAY) == data.portfolio_xml(fund, DAY)
    other = BtgDataset(7)
    assert other.funds[0].cnpj != data.funds[0].cnpj


def test_json_numbers_keep_every_digit() -> None:
    payload = {"a": Decimal("100008843.78"), "c": 3,
               "b": [Decimal("0.10000000"), None, True, "PREVIDÊNCIA"]}
    text = dumps(payload)
    assert text == '{"a":100008843.78,"c":3,"b":[0.10000000,null,true,"PREVIDÊNCIA"]}'
    assert json.loads(text, parse_float=Decimal) == payload
    with pytest.raises(ValueError):
        dumps(Decimal("NaN"))
    with pytest.raises(TypeError):
        dumps(1.5)
