"""20 consecutive sandbox business days of realistic NAVPerformance numbers into MariaDB.

The sandbox writes numbers as a .NET service writes doubles (``0.44200000000000006``,
``3.9699999999999998``, ``1E-05``, ``65646000``, 12-decimal quotes, ``page`` as a string). Every
day must load, and every stored value must equal the JSON text at the column's scale — the
expectation is computed here from the *landed* ``page-N.json`` text with the README's rule, not
by calling the code under test:

* money/quantities: ``Decimal(text)`` rounded half-even to the column's scale (the policy then
  requires it to be the same double, which the sandbox guarantees);
* rates/returns/quotes: ``Decimal(repr(float(text)))`` (÷100 for percent) rounded half-even.

Run: .venv/bin/pytest tests/btg/test_realistic_numbers.py
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pymysql
import pytest

from etl_tasks.btg.tasks import final_tasks
from etl_tasks.btg.transform_tasks import BtgTransformRentabilidade
from etl_tasks.calendar import is_business_day
from tests.luigi_helpers import build

FIRST_DAY = dt.date(2025, 5, 2)
# Binary noise in the last digits: 0.44200000000000006, 3.9699999999999998.
NOISE = re.compile(r"\.\d*(0000|9999)\d{1,3}$")
DAYS = 20
# (JSON path, column, class, scale): the column shapes of btg_rentabilidade, written down here.
EXACT, ROUNDED, PERCENT = "exact", "rounded", "percent"
FIELDS: list[tuple[tuple[str, ...], str, str, int]] = [
    (("liquidQuote",), "cota_liquida", ROUNDED, 14),
    (("rawQuote",), "cota_bruta", ROUNDED, 14),
    (("assetValue",), "patrimonio_liquido", EXACT, 2),
    (("numberOfQuotes",), "quantidade_cotas", EXACT, 8),
    (("acquisitions",), "aplicacoes", EXACT, 2),
    (("redemptions",), "resgates", EXACT, 2),
]
for key, suffix in (("day", "day"), ("month", "month"), ("year", "year"),
                    ("twelveMonths", "12m"), ("twentyFourMonths", "24m"),
                    ("thirtySixMonths", "36m")):
    FIELDS.append((("nominalQuoteList", "0", key), f"ret_{suffix}_frac", PERCENT, 14))
for block, prefix in (("VariacaoIndexador", "cdi_ret"), ("NominalVsIndexador", "cdi_ratio")):
    for key, suffix in (("Day", "day"), ("Month", "month"), ("Year", "year"), ("Twelve", "12m"),
                        ("TwentyFour", "24m"), ("ThirtySix", "36m"), ("Accumulated", "accum")):
        FIELDS.append((("quotaProfitabilityDifference", "CDIE", block, key),
                       f"{prefix}_{suffix}_frac", PERCENT, 14))


class Token(str):
    """A JSON number exactly as it appears in the file."""


def load_tokens(text: str) -> Any:
    return json.loads(text, parse_float=Token, parse_int=Token)


def dig(record: Any, path: tuple[str, ...]) -> Token | None:
    for key in path:
        if record is None:
            return None
        record = record[int(key)] if isinstance(record, list) else record.get(key)
    return record


def expected(token: Token, kind: str, scale: int) -> Decimal:
    unit = Decimal(1).scaleb(-scale)
    if kind == EXACT:
        return Decimal(token).quantize(unit, ROUND_HALF_EVEN)
    value = Decimal(repr(float(token)))
    if kind == PERCENT:
        value = value.scaleb(-2)
    return value.quantize(unit, ROUND_HALF_EVEN)


def business_days(start: dt.date, count: int) -> list[dt.date]:
    days, day = [], start
    while len(days) < count:
        if is_business_day(day):
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def mysql_rows(url: str, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
    parts = urlsplit(url)
    connection = pymysql.connect(host=parts.hostname, port=parts.port or 3306,
                                 user=parts.username or "root", password=parts.password or "",
                                 database=parts.path.lstrip("/"), charset="utf8mb4",
                                 cursorclass=pymysql.cursors.DictCursor)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall())
    finally:
        connection.close()


@pytest.mark.mysql
def test_twenty_realistic_days_load_with_every_value_at_its_column_scale(
        sandbox, workdir, landing, mysql_url, monkeypatch) -> None:
    sandbox.control("config", {"btg_realistic_numbers": "on"})
    monkeypatch.setenv("BTG_WAREHOUSE_URL", mysql_url)
    days = business_days(FIRST_DAY, DAYS)
    seen_forms: set[str] = set()
    compared = rounded_total = 0
    for day in days:
        result = build(*final_tasks(day))
        assert result.ok, (day, result.failed)
        pages = sorted((landing["rentabilidade"] / day.isoformat()).glob("page-*.json"))
        assert pages, day
        records: dict[str, dict[str, Any]] = {}
        for page in pages:
            text = page.read_text(encoding="utf-8")
            body = load_tokens(text)
            if isinstance(body["page"], str) and not isinstance(body["page"], Token):
                seen_forms.add("page as string")
            for fund in body["result"]:
                for record in fund["data"]:
                    records[str(record["cnpj"])] = record
            for token in re.findall(r"(?<=[:\[,])-?\d[\d.]*(?:[eE][-+]?\d+)?(?=[,}\]])", text):
                if "E" in token or "e" in token:
                    seen_forms.add("exponent")
                elif "." not in token:
                    seen_forms.add("integer")
                elif NOISE.search(token):
                    seen_forms.add("17 significant digits")
        rows = mysql_rows(mysql_url, "SELECT * FROM btg_rentabilidade WHERE data_referencia = %s",
                          (day,))
        assert {row["cnpj"] for row in rows} == set(records), day
        day_rounded = 0
        for row in rows:
            record = records[row["cnpj"]]
            if len(str(record["rawQuote"]).split(".")[-1]) >= 10:
                seen_forms.add("quote with 10+ decimals")
            for path, column, kind, scale in FIELDS:
                token = dig(record, path)
                if token is None:
                    assert row[column] is None, (day, row["cnpj"], column)
                    continue
                want = expected(token, kind, scale)
                assert row[column] == want, (day, row["cnpj"], column, str(token), row[column])
                compared += 1
                source = Decimal(token).scaleb(-2) if kind == PERCENT else Decimal(token)
                day_rounded += kind != EXACT and want != source
        meta = BtgTransformRentabilidade(date=day).output().meta().extra
        assert meta["rounded_values"] == day_rounded, day
        if day_rounded:
            assert any(f"{day_rounded} values rounded to the column scale" in note
                       for note in meta["notes"]), meta["notes"]
        rounded_total += day_rounded
        funds = mysql_rows(mysql_url, "SELECT count(*) AS n FROM btg_fundos WHERE "
                           "data_posicao = %s", (day,))[0]["n"]
        assert funds == len(records), day  # the carteira loaded too: the cross-check agreed
    assert seen_forms >= {"exponent", "integer", "17 significant digits", "page as string",
                          "quote with 10+ decimals"}, seen_forms
    assert rounded_total > 0 and compared > 20 * 8 * 20
    print(f"realistic days: {len(days)} ({days[0]}..{days[-1]}), values compared {compared}, "
          f"rounded {rounded_total}")


def test_realistic_day_on_sqlite_records_rounding(sandbox, workdir: Path, landing) -> None:
    """The default (auto) mode serves realistic numbers on odd days: 2025-04-11 loads."""
    day = dt.date(2025, 4, 11)
    result = build(*final_tasks(day))
    assert result.ok, result.failed
    meta = BtgTransformRentabilidade(date=day).output().meta().extra
    assert meta["rounded_values"] > 0
    assert meta["notes"] and "values rounded to the column scale" in meta["notes"][0]
