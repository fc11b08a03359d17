"""NAVPerformance records → ``btg_rentabilidade`` rows under the precision policy; schema drift.

    table, meta = rentabilidade_table(extract_table, date)   # meta: funds, rounded_values, notes...

Each record's numbers arrive as the exact JSON text (Decimal/int from :mod:`jsontext`); each
column gets them through :mod:`etl_tasks.btg.precision` (money/quantities exact, rates/returns/
quotes rounded and counted). Percent → fraction happens here, exactly once (``_frac`` columns).

Schema drift (api-contract.md 0: "treat unknown JSON fields as ignorable", but never silently):
a field BTG adds to a record is named in ``meta["new_fields"]`` and in the notes (its value stays
in the landed ``page-N.json``); a required field that disappears or changes type fails with a
message naming the report, the field and the first offending fund.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import pyarrow as pa

from etl_tasks.btg import jsontext
from etl_tasks.btg.precision import (
    RoundingLog,
    Where,
    exact_from_double,
    rounded_from_double,
)
from etl_tasks.btg.tables import BTG_RENTABILIDADE
from etl_tasks.errors import DataQualityError
from etl_tasks.warehouse.model import DECIMAL_TYPE, TableSpec, arrow_schema

REPORT = "NAVPerformance (rentabilidade)"
CNPJ_DIGITS = re.compile(r"^\d{14}$")
REFERENCE_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$")

NUMBER = "number"
TEXT = "string"
OBJECT = "object"
ARRAY = "array"
# Every record field B5 documents, with its JSON type; the first five are required.
REQUIRED_FIELDS = {"cnpj": TEXT, "referenceDate": TEXT, "liquidQuote": NUMBER,
                   "assetValue": NUMBER, "numberOfQuotes": NUMBER}
OPTIONAL_FIELDS = {"account": (TEXT, NUMBER), "rawQuote": (NUMBER,), "acquisitions": (NUMBER,),
                   "redemptions": (NUMBER,), "hierarchyClass": (TEXT,),
                   "nominalQuoteList": (ARRAY,), "profitability": (OBJECT,),
                   "quotaProfitabilityDifference": (OBJECT,)}
KNOWN_FIELDS = frozenset(REQUIRED_FIELDS) | frozenset(OPTIONAL_FIELDS)

# nominalQuoteList keys -> column suffix; profitability carries the first three only.
FUND_RETURN_KEYS = {"day": "day", "month": "month", "year": "year", "twelveMonths": "12m",
                    "twentyFourMonths": "24m", "thirtySixMonths": "36m"}
# quotaProfitabilityDifference window keys -> column suffix.
INDEXER_WINDOW_KEYS = {"Day": "day", "Month": "month", "Year": "year", "Twelve": "12m",
                       "TwentyFour": "24m", "ThirtySix": "36m", "Accumulated": "accum"}
CDI = "CDIE"
# Exact class (money, quantities): JSON field -> column.
EXACT_FIELDS = {"assetValue": "patrimonio_liquido", "numberOfQuotes": "quantidade_cotas",
                "acquisitions": "aplicacoes", "redemptions": "resgates"}
# Rounded class, not percent (quotes): JSON field -> column.
QUOTE_FIELDS = {"liquidQuote": "cota_liquida", "rawQuote": "cota_bruta"}


def json_type(value: Any) -> str:
    """The JSON type name of a decoded value (``null``, ``number``, ``string``, ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | Decimal):
        return NUMBER
    if isinstance(value, str):
        return TEXT
    if isinstance(value, dict):
        return OBJECT
    if isinstance(value, list):
        return ARRAY
    return type(value).__name__  # a float: someone parsed without jsontext.loads


def _fund_label(record: Mapping[str, Any], fund_name: str) -> str:
    cnpj = record.get("cnpj") if isinstance(record, dict) else None
    return f"{cnpj} ({fund_name})" if isinstance(cnpj, str) else repr(fund_name)


def check_record_schema(records: Iterable[tuple[str, Any]], date: dt.date) -> list[str]:
    """Fields of the records outside B5, sorted; DataQualityError on the first record whose
    required field is missing or whose documented field has another JSON type."""
    new: set[str] = set()
    for fund_name, record in records:
        if not isinstance(record, dict):
            raise DataQualityError(
                f"{REPORT} schema changed on {date.isoformat()}: a record of {fund_name!r} is "
                f"{json_type(record)}, not an object. Check the API (api-contract.md B5)."
            )
        label = _fund_label(record, fund_name)
        for name, wanted in REQUIRED_FIELDS.items():
            found = json_type(record.get(name))
            if name not in record or found != wanted:
                what = "is missing" if name not in record else f"is {found}, not {wanted}"
                raise DataQualityError(
                    f"{REPORT} schema changed on {date.isoformat()}: required field {name} "
                    f"{what} (first offending fund {label}). Nothing was loaded from this "
                    "report; check the API with BTG (api-contract.md B5)."
                )
        for name, allowed in OPTIONAL_FIELDS.items():
            found = json_type(record.get(name))
            if found != "null" and found not in allowed:
                raise DataQualityError(
                    f"{REPORT} schema changed on {date.isoformat()}: field {name} is {found}, "
                    f"not {' or '.join(allowed)} (first offending fund {label}). Nothing was "
                    "loaded from this report; check the API with BTG (api-contract.md B5)."
                )
        new.update(str(key) for key in record if key not in KNOWN_FIELDS)
    return sorted(new)


def decimal_shape(spec: TableSpec, column: str) -> tuple[int, int]:
    """(precision, scale) of a DECIMAL column of ``spec``."""
    logical = next(c.type for c in spec.columns if c.name == column)
    match = DECIMAL_TYPE.match(logical)
    if match is None:
        raise ValueError(f"{spec.name}.{column} is {logical}, not a decimal column")
    return int(match.group(1)), int(match.group(2))


class RecordReader:
    """Applies the precision policy to one record's numbers, counting into one log."""

    def __init__(self, log: RoundingLog, spec: TableSpec = BTG_RENTABILIDADE) -> None:
        self.log, self.spec = log, spec

    def number(self, value: Any, where: Where) -> Decimal | None:
        """A JSON number (Decimal/int) as Decimal; None stays None; anything else refused."""
        if value is None:
            return None
        if isinstance(value, Decimal) and value.is_finite():
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return Decimal(value)
        raise DataQualityError(
            f"{REPORT}: {where.describe()} is {value!r} ({type(value).__name__}); expected a JSON "
            "number (floats are never accepted: parse JSON with jsontext.loads)."
        )

    def exact(self, value: Any, column: str, where: Where) -> Decimal | None:
        number = self.number(value, where)
        if number is None:
            return None
        precision, scale = decimal_shape(self.spec, column)
        return exact_from_double(number, precision, scale, column, where, self.log)

    def rounded(self, value: Any, column: str, where: Where, *, percent: bool) -> Decimal | None:
        number = self.number(value, where)
        if number is None:
            return None
        precision, scale = decimal_shape(self.spec, column)
        return rounded_from_double(number, precision, scale, column, where, self.log,
                                   percent=percent)


def _reference_date(value: Any, label: str) -> dt.date:
    match = REFERENCE_DATE.match(value) if isinstance(value, str) else None
    try:
        if match is None:
            raise ValueError
        return dt.date.fromisoformat(match.group(1))
    except ValueError:
        raise DataQualityError(
            f"{REPORT} record of fund {label}: referenceDate is {value!r}; expected "
            "YYYY-MM-DDT00:00:00. BTG sent an invalid record."
        ) from None


def _cnpj(value: Any, fund_name: str) -> str:
    digits = "".join(ch for ch in value if ch.isdigit()) if isinstance(value, str) else ""
    if not CNPJ_DIGITS.match(digits):
        raise DataQualityError(
            f"{REPORT} record of {fund_name!r}: cnpj is {value!r}; expected 14 digits."
        )
    return digits


def _nominal(record: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for item in record.get("nominalQuoteList") or []:
        if isinstance(item, dict) and str(item.get("type", "")).casefold() == "nominal":
            return item
    return None


def _fund_returns(record: Mapping[str, Any], reader: RecordReader, fund: str, day: str
                  ) -> dict[str, Decimal | None]:
    """``ret_*_frac`` from ``nominalQuoteList`` (type Nominal) and/or ``profitability``; when
    both are sent their day/month/year must agree (compared after the policy: same stored value)."""
    nominal = _nominal(record)
    profitability = record.get("profitability")
    profitability = profitability if isinstance(profitability, dict) else None
    returns: dict[str, Decimal | None] = {f"ret_{s}_frac": None for s in FUND_RETURN_KEYS.values()}
    scratch = RecordReader(RoundingLog(), reader.spec)
    if nominal is not None:
        for key, suffix in FUND_RETURN_KEYS.items():
            column = f"ret_{suffix}_frac"
            returns[column] = reader.rounded(
                nominal.get(key), column, Where(fund, day, f"nominalQuoteList.{key}"),
                percent=True)
    if profitability is not None:
        for key in ("day", "month", "year"):
            column = f"ret_{key}_frac"
            where = Where(fund, day, f"profitability.{key}")
            if nominal is None:
                returns[column] = reader.rounded(profitability.get(key), column, where,
                                                 percent=True)
                continue
            # Counted once, under nominalQuoteList: the duplicate goes through a scratch log.
            value = scratch.rounded(profitability.get(key), column, where, percent=True)
            if value is not None and returns[column] is not None and value != returns[column]:
                raise DataQualityError(
                    f"{REPORT} record of fund {fund} on {day}: profitability.{key} = "
                    f"{profitability.get(key)} but nominalQuoteList.{key} = {nominal.get(key)} "
                    f"(as fractions {value} vs {returns[column]}); the record contradicts itself. "
                    "Ask BTG to reprocess the NAV report."
                )
    return returns


def _indexer_columns(differences: Any, reader: RecordReader, fund: str, day: str
                     ) -> dict[str, Decimal | None]:
    """``cdi_ret_*_frac`` and ``cdi_ratio_*_frac`` from ``quotaProfitabilityDifference.CDIE``."""
    columns: dict[str, Decimal | None] = {}
    cdi = differences.get(CDI) if isinstance(differences, dict) else None
    for block, prefix in (("VariacaoIndexador", "cdi_ret"), ("NominalVsIndexador", "cdi_ratio")):
        values = cdi.get(block) if isinstance(cdi, dict) else None
        for key, suffix in INDEXER_WINDOW_KEYS.items():
            column = f"{prefix}_{suffix}_frac"
            raw = values.get(key) if isinstance(values, dict) else None
            columns[column] = reader.rounded(raw, column, Where(fund, day, f"{CDI}.{block}.{key}"),
                                             percent=True)
    return columns


def rentabilidade_row(record: Mapping[str, Any], fund_name: str, date: dt.date,
                      extracted_at: dt.datetime, log: RoundingLog | None = None
                      ) -> dict[str, Any]:
    """One ``btg_rentabilidade`` row from one NAVPerformance record (B5)."""
    if not isinstance(record, dict):
        raise DataQualityError(f"{REPORT} record of {fund_name!r} is not a JSON object.")
    reader = RecordReader(log if log is not None else RoundingLog())
    cnpj = _cnpj(record.get("cnpj"), fund_name)
    fund = f"{cnpj} ({fund_name})"
    reference = _reference_date(record.get("referenceDate"), fund)
    if reference != date:
        raise DataQualityError(
            f"{REPORT} record of fund {fund} is dated {reference.isoformat()}, not "
            f"{date.isoformat()} as requested. BTG answered another day; run the date again."
        )
    day = reference.isoformat()
    for name in ("liquidQuote", "assetValue", "numberOfQuotes"):
        if record.get(name) is None:
            raise DataQualityError(
                f"{REPORT} record of fund {fund} on {day} has no {name}; BTG sent an incomplete "
                "record."
            )
    differences = record.get("quotaProfitabilityDifference")
    account = record.get("account")
    row: dict[str, Any] = {
        "cnpj": cnpj,
        "data_referencia": reference,
        "nome_fundo": fund_name,
        "conta": None if account is None else str(account),
        "classe_hierarquia": record.get("hierarchyClass"),
        "extracted_at": extracted_at,
        "diferenca_indexadores": None if differences is None else jsontext.dumps(differences),
    }
    for name, column in EXACT_FIELDS.items():
        row[column] = reader.exact(record.get(name), column, Where(fund, day, name))
    for name, column in QUOTE_FIELDS.items():
        row[column] = reader.rounded(record.get(name), column, Where(fund, day, name),
                                     percent=False)
    row.update(_fund_returns(record, reader, fund, day))
    row.update(_indexer_columns(differences, reader, fund, day))
    return row


def _table(spec: TableSpec, rows: list[dict[str, Any]]) -> pa.Table:
    schema = arrow_schema(spec)
    ordered = sorted(rows, key=lambda row: tuple(row[name] for name in spec.primary_key))
    arrays = [pa.array([row[f.name] for row in ordered], type=f.type) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def rentabilidade_table(extract: pa.Table, date: dt.date) -> tuple[pa.Table, dict[str, Any]]:
    """``btg_rentabilidade`` from the extract (columns ``fund_name``, ``record`` = exact JSON text
    of one record, ``extracted_at``); one row per fund, duplicates refused. ``meta`` carries the
    policy's counts (``rounded_values``...), ``new_fields`` and report ``notes``."""
    names = extract.column("fund_name").to_pylist()
    records = [jsontext.loads(text) for text in extract.column("record").to_pylist()]
    extracted = extract.column("extracted_at").to_pylist()
    new_fields = check_record_schema(zip(names, records, strict=True), date)
    log = RoundingLog()
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for name, record, extracted_at in zip(names, records, extracted, strict=True):
        row = rentabilidade_row(record, name, date, extracted_at, log)
        if row["cnpj"] in seen:
            raise DataQualityError(
                f"fund {row['cnpj']} ({name}) has two {REPORT} records for {date.isoformat()}; "
                "BTG sent a duplicate. Run the date again."
            )
        seen.add(row["cnpj"])
        rows.append(row)
    table = _table(BTG_RENTABILIDADE, rows)
    notes = log.notes()
    if new_fields:
        notes.append(
            f"{REPORT} sent fields this version does not store: {', '.join(new_fields)} (kept in "
            "the landed page-N.json)"
        )
    meta: dict[str, Any] = {"funds": table.num_rows, **log.extra(), "new_fields": new_fields,
                            "notes": notes}
    return table, meta
