"""The sandbox's realistic NAVPerformance numbers over HTTP, and its invariants with them.

Realistic days (``SANDBOX_BTG_REALISTIC_NUMBERS``: auto = odd days, on, off) must carry every
form api-contract.md B5 announces, and the cross-report equalities must still hold in the
documented sense: money/quantities are the same IEEE double as the XML's exact value, quotes are
within one ULP of it.

Run: .venv/bin/pytest tests/sandbox/test_btg_numbers.py
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from decimal import Decimal

import requests

from etl_sandbox.btg_data import dataset_for_seed
from etl_sandbox.launcher import SandboxProcess
from tests.sandbox.test_btg_api import rentabilidade, run, token

DATA = dataset_for_seed(42)
# Binary noise in the last digits: 0.44200000000000006, 3.9699999999999998.
NOISE = re.compile(r"\.\d*(0000|9999)\d{1,3}$")
NUMBER = re.compile(r"(?<=[:\[,])-?\d[\d.]*(?:[eE][-+]?\d+)?(?=[,}\]])")


def raw_page(sandbox: SandboxProcess, day: dt.date) -> str:
    _, response = run(sandbox, token(sandbox), "NAVPerformance", rentabilidade(day))
    assert response.status_code == 200
    return response.text


def forms(text: str) -> set[str]:
    found = set()
    for number in NUMBER.findall(text):
        if "E" in number:
            found.add("exponent")
        elif "." not in number:
            found.add("integer")
        elif NOISE.search(number):
            found.add("17 digits")
    return found


def test_realistic_days_carry_every_form_and_keep_the_invariants(sandbox: SandboxProcess) -> None:
    sandbox.control("config", {"btg_realistic_numbers": "on"})
    seen: set[str] = set()
    page_strings = 0
    for day in (dt.date(2025, 4, 14), dt.date(2025, 4, 15), dt.date(2025, 4, 16),
                dt.date(2025, 4, 17)):
        text = raw_page(sandbox, day)
        seen |= forms(text)
        body = json.loads(text, parse_float=str)
        page_strings += isinstance(body["page"], str)
        for fund_block in body["result"]:
            for record in fund_block["data"]:
                fund = next(f for f in DATA.funds if f.cnpj == record["cnpj"])
                nav = DATA.nav(fund, day)
                assert float(record["assetValue"]) == float(nav.patliq)
                assert float(record["numberOfQuotes"]) == float(nav.quantity)
                quote = float(record["liquidQuote"])
                assert abs(quote - float(nav.quota)) <= math.ulp(float(nav.quota))
                if len(str(record["rawQuote"]).split(".")[-1]) >= 10:
                    seen.add("12-decimal quote")
    assert seen >= {"exponent", "integer", "17 digits", "12-decimal quote"}, seen
    assert page_strings >= 1


def test_auto_mode_is_on_for_odd_days_and_off_turns_it_off(sandbox: SandboxProcess) -> None:
    even, odd = dt.date(2025, 4, 10), dt.date(2025, 4, 11)
    exact = json.loads(raw_page(sandbox, even), parse_float=Decimal)
    record = exact["result"][0]["data"][0]
    fund = next(f for f in DATA.funds if f.cnpj == record["cnpj"])
    assert record["liquidQuote"] == DATA.nav(fund, even).quota  # digit for digit
    assert forms(raw_page(sandbox, odd)) & {"exponent", "17 digits"}
    sandbox.control("config", {"btg_realistic_numbers": "off"})
    assert not forms(raw_page(sandbox, odd)) & {"exponent", "17 digits"}
    refused = requests.post(f"{sandbox.base_url}/_sandbox/config",
                            json={"btg_realistic_numbers": "sometimes"}, timeout=10)
    assert refused.status_code == 400 and "must be auto, on or off" in refused.text
