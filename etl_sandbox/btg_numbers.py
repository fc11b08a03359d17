"""Realistic NAVPerformance numbers: what a .NET service that computes in IEEE doubles writes.

api-contract.md B5 says every number is a double as the serializer writes it. The dataset's
values are exact Decimals; with realistic numbers on (``SANDBOX_BTG_REALISTIC_NUMBERS``), each one
is turned into the JSON token such a service would send, deterministically per (seed, fund, day,
field):

* rates, returns, ratios and quotes (``liquidQuote``, ``rawQuote``, ``profitability``,
  ``nominalQuoteList``, ``quotaProfitabilityDifference``): the double, sometimes one ULP off (the
  noise of computing in binary: ``0.44200000000000006``), written in the shortest round-trip form
  (.NET Core 3.0+) or with 17 significant digits (.NET Framework ``"R"``:
  ``3.9699999999999998``); some in exponent form (``1E-05``, ``5.48E-02``); ``rawQuote`` carries
  12 decimals;
* money and quantities (``assetValue``, ``numberOfQuotes``, ``acquisitions``, ``redemptions``):
  the double of the exact value, never perturbed (the service keeps money in ``decimal``; only the
  serialisation is a double's), shortest or 17 digits; integer values without a decimal point
  (``65646000``).

The sandbox's invariants still hold with the tolerance the contract documents: each JSON number
is the same double as the exact value (money), or within one ULP of it (rates), so
``liquidQuote``/``assetValue``/``numberOfQuotes`` agree with the XML's ``valorcota``/``patliq``/
``quantidade`` once read as doubles (tests/sandbox/test_btg_numbers.py checks every fund-day).
"""

from __future__ import annotations

import datetime as dt
import math
import random
from decimal import Decimal
from typing import Any

from etl_sandbox.btg_json import JsonNumber

MONEY_FIELDS = frozenset({"assetValue", "numberOfQuotes", "acquisitions", "redemptions"})
NOISE_PROBABILITY = 0.35
G17_PROBABILITY = 0.3
EXPONENT_PROBABILITY = 0.08
# Auto mode: realistic numbers on business days with an odd day of the month (2025-04-11 on,
# 2025-04-10 off), so the default demo range has both kinds of day.
AUTO_RULE = "odd day of the month"


def realistic_on(mode: str, day: dt.date) -> bool:
    """Whether ``day`` is served with realistic numbers under ``mode`` (on | off | auto)."""
    if mode == "auto":
        return day.day % 2 == 1
    return mode == "on"


def dotnet_shortest(value: float) -> str:
    """The shortest round-trip text of a double, as .NET Core writes it (``1E-05``)."""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    text = repr(value)
    return _dotnet_exponent(text)


def dotnet_g17(value: float) -> str:
    """17 significant digits, as .NET Framework's ``"R"``/``"G17"`` writes many doubles."""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return _dotnet_exponent(f"{value:.17g}")


def _dotnet_exponent(text: str) -> str:
    """``1e-05`` -> ``1E-05`` (.NET's exponent: capital E, sign, at least two digits)."""
    if "e" not in text and "E" not in text:
        return text
    mantissa, exponent = text.replace("e", "E").split("E")
    sign = "-" if exponent.startswith("-") else "+"
    return f"{mantissa}E{sign}{exponent.lstrip('+-').rjust(2, '0')}"


def exponent_form(value: float) -> str:
    """The same double in scientific notation (``0.0548`` -> ``5.48E-02``)."""
    return _dotnet_exponent(format(Decimal(repr(value)), "E"))


def number_token(value: Decimal, field: str, rng: random.Random) -> JsonNumber:
    """The JSON token of ``value`` for ``field`` (see the module doc for the rules)."""
    as_float = float(value)
    if field not in MONEY_FIELDS and as_float != 0 and rng.random() < NOISE_PROBABILITY:
        as_float = math.nextafter(as_float, math.inf if rng.random() < 0.5 else -math.inf)
    if field not in MONEY_FIELDS and as_float != 0 and rng.random() < EXPONENT_PROBABILITY:
        return JsonNumber(exponent_form(as_float))
    if rng.random() < G17_PROBABILITY:
        return JsonNumber(dotnet_g17(as_float))
    return JsonNumber(dotnet_shortest(as_float))


def realistic_record(record: dict[str, Any], seed: int, day: dt.date) -> dict[str, Any]:
    """A copy of a NAVPerformance record with every number as a realistic JSON token."""
    rng = random.Random(f"{seed}:{record.get('cnpj')}:{day.isoformat()}")

    def convert(value: Any, field: str) -> Any:
        if isinstance(value, Decimal):
            return number_token(value, field, rng)
        if isinstance(value, dict):
            return {key: convert(item, field if field in MONEY_FIELDS else key)
                    for key, item in value.items()}
        if isinstance(value, list):
            return [convert(item, field) for item in value]
        return value

    return {key: convert(value, key) for key, value in record.items()}
