"""Pure transforms of the BTG pipeline: extract tables in, warehouse-shaped Arrow tables out.

No Luigi, no HTTP, no files: the tasks in :mod:`etl_tasks.btg.transform_tasks` read the extract
Parquet, call these functions and write what they return. Every function either returns a table
with exactly the columns of its :class:`TableSpec` (:mod:`etl_tasks.btg.tables`), sorted by primary
key (MySQL loads key-ordered rows far faster, and sorted output makes reruns byte-identical), or
raises :class:`DataQualityError` naming the fund, the date and what is wrong.

Carteira (ANBIMA XML 4.01, one file per fund)::

    portfolios = parse_carteira(extract_table, date)     # parse + one file per fund + right date
    check_portfolios(portfolios)                          # anbima.check_invariants, all funds
    fundos_table(portfolios)      posicoes_table(portfolios)

Rentabilidade (NAVPerformance JSON records, numbers already Decimal)::

    rentabilidade_table(extract_table, date)

Percent → fraction happens here and only here (:func:`percent_to_fraction`, exact: ``scaleb(-2)``
moves the decimal point and never rounds); the output columns say so with ``_frac``.

Cross-report check (:func:`cross_check`): the same fund and date must agree between the reports —
``valorcota = liquidQuote``, ``patliq = assetValue``, ``quantidade = numberOfQuotes`` (B4.1).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import pyarrow as pa

from etl_tasks.btg import jsontext
from etl_tasks.btg.anbima import Portfolio, check_invariants, parse_anbima_xml
from etl_tasks.btg.tables import BTG_FUNDOS, BTG_POSICOES, BTG_RENTABILIDADE
from etl_tasks.errors import DataQualityError
from etl_tasks.warehouse.model import TableSpec, arrow_schema

TransformResult = tuple[pa.Table, dict[str, Any]]
CNPJ_DIGITS = re.compile(r"^\d{14}$")
REFERENCE_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$")
DECIMAL_TEXT = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)$")
MAX_PROBLEMS_SHOWN = 20

# nominalQuoteList keys -> column suffix; profitability carries the first three only.
FUND_RETURN_KEYS = {
    "day": "day",
    "month": "month",
    "year": "year",
    "twelveMonths": "12m",
    "twentyFourMonths": "24m",
    "thirtySixMonths": "36m",
}
# quotaProfitabilityDifference window keys -> column suffix.
INDEXER_WINDOW_KEYS = {
    "Day": "day",
    "Month": "month",
    "Year": "year",
    "Twelve": "12m",
    "TwentyFour": "24m",
    "ThirtySix": "36m",
    "Accumulated": "accum",
}
CDI = "CDIE"
# (carteira column in btg_fundos, rentabilidade column in btg_rentabilidade, API names for humans)
CROSS_CHECKS = (
    ("valor_cota", "cota_liquida", "valorcota", "liquidQuote"),
    ("patrimonio_liquido", "patrimonio_liquido", "patliq", "assetValue"),
    ("quantidade_cotas", "quantidade_cotas", "quantidade", "numberOfQuotes"),
)


@dataclass(frozen=True)
class CarteiraFile:
    """One parsed fund file of the carteira extract, with when it was extracted."""

    portfolio: Portfolio
    extracted_at: dt.datetime


# --- shared helpers -------------------------------------------------------------------------------


def percent_to_fraction(value: Decimal | None) -> Decimal | None:
    """``0.0548`` (percent) -> ``0.000548`` (fraction), exactly: the decimal point moves two places,
    no rounding context is involved."""
    return None if value is None else value.scaleb(-2)


def _table(spec: TableSpec, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Rows (dicts) as a table of ``spec``'s exact schema; a value that does not fit its DECIMAL
    column (more decimals than the scale, too many digits) is a DataQualityError, never rounded."""
    schema = arrow_schema(spec)
    arrays = []
    for field in schema:
        values = [row[field.name] for row in rows]
        try:
            arrays.append(pa.array(values, type=field.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as error:
            raise DataQualityError(
                f"{spec.name}.{field.name}: a value does not fit {field.type} ({error}); the "
                "source has more digits than the warehouse column keeps. Widen the column in "
                "etl_tasks/btg/tables.py if the source is right."
            ) from error
    return pa.Table.from_arrays(arrays, schema=schema)


def _sorted(rows: list[dict[str, Any]], key: Sequence[str]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda row: tuple(row[name] for name in key))


def _raise_problems(what: str, problems: Sequence[str], fix: str) -> None:
    if not problems:
        return
    shown = problems[:MAX_PROBLEMS_SHOWN]
    more = f" (and {len(problems) - len(shown)} more)" if len(problems) > len(shown) else ""
    raise DataQualityError(f"{what}: " + "; ".join(shown) + more + f". {fix}")


# --- carteira -------------------------------------------------------------------------------------


def parse_carteira(extract: pa.Table, date: dt.date) -> list[CarteiraFile]:
    """Parse every XML payload of the carteira extract (columns ``source``, ``payload``,
    ``extracted_at``) and check that each fund appears once and is positioned on ``date``."""
    sources = extract.column("source").to_pylist()
    payloads = extract.column("payload").to_pylist()
    extracted = extract.column("extracted_at").to_pylist()
    files: list[CarteiraFile] = []
    seen: dict[str, str] = {}
    for source, payload, extracted_at in zip(sources, payloads, extracted, strict=True):
        for portfolio in parse_anbima_xml(payload, source):
            header = portfolio.header
            label = f"fund {header.cnpj} ({header.nome})"
            if header.dtposicao != date:
                raise DataQualityError(
                    f"{source}: {label} is positioned on {header.dtposicao.isoformat()}, not on "
                    f"{date.isoformat()} as requested. BTG answered another day; run the date "
                    "again."
                )
            if header.cnpj in seen:
                raise DataQualityError(
                    f"{label} on {date.isoformat()} appears in two files ({seen[header.cnpj]} and "
                    f"{source}); a fund has one portfolio per day. Check the report request."
                )
            seen[header.cnpj] = source
            files.append(CarteiraFile(portfolio, extracted_at))
    return files


def check_portfolios(files: Iterable[CarteiraFile]) -> int:
    """Run the ANBIMA invariants on every fund; DataQualityError listing every violation (fund,
    date, expected, found, difference). Returns the number of funds checked."""
    problems: list[str] = []
    count = 0
    for item in files:
        count += 1
        problems += check_invariants(item.portfolio.header, item.portfolio.positions)
    _raise_problems(
        "carteira totals do not add up (ANBIMA 4.01 invariants)",
        problems,
        "The file contradicts itself; nothing was loaded. Ask BTG to reprocess the portfolio and "
        "run the date again.",
    )
    return count


def fundos_table(files: Sequence[CarteiraFile]) -> TransformResult:
    """``btg_fundos``: one row per fund header."""
    rows = []
    for item in files:
        header = item.portfolio.header
        rows.append(
            {
                "cnpj": header.cnpj,
                "data_posicao": header.dtposicao,
                "isin": header.isin,
                "nome": header.nome,
                "nome_administrador": header.nomeadm,
                "cnpj_administrador": header.cnpjadm,
                "nome_gestor": header.nomegestor,
                "cnpj_gestor": header.cnpjgestor,
                "nome_custodiante": header.nomecustodiante,
                "cnpj_custodiante": header.cnpjcustodiante,
                "valor_cota": header.valorcota,
                "quantidade_cotas": header.quantidade,
                "patrimonio_liquido": header.patliq,
                "valor_ativos": header.valorativos,
                "valor_receber": header.valorreceber,
                "valor_pagar": header.valorpagar,
                "valor_cotas_emitir": header.vlcotasemitir,
                "valor_cotas_resgatar": header.vlcotasresgatar,
                "codigo_anbima": header.codanbid,
                "tipo_fundo": header.tipofundo,
                "nivel_risco": header.nivelrsc,
                "posicoes": len(item.portfolio.positions),
                "arquivo": item.portfolio.source,
                "extracted_at": item.extracted_at,
            }
        )
    table = _table(BTG_FUNDOS, _sorted(rows, BTG_FUNDOS.primary_key))
    return table, {"funds": table.num_rows}


def posicoes_table(files: Sequence[CarteiraFile]) -> TransformResult:
    """``btg_posicoes``: one row per position element of every fund file."""
    rows = []
    sections: dict[str, int] = {}
    for item in files:
        header = item.portfolio.header
        for position in item.portfolio.positions:
            sections[position.section] = sections.get(position.section, 0) + 1
            rows.append(
                {
                    "cnpj_fundo": header.cnpj,
                    "data_posicao": header.dtposicao,
                    "secao": position.section,
                    "ordem": position.ordinal,
                    "isin": position.isin,
                    "codigo_ativo": position.asset_code,
                    "cnpj_emissor": position.issuer_cnpj,
                    "quantidade_disponivel": position.qtdisponivel,
                    "quantidade_garantia": position.qtgarantia,
                    "preco_compra": position.pucompra,
                    "preco_posicao": position.puposicao,
                    "valor_financeiro_disponivel": position.valorfindisp,
                    "valor_financeiro_garantia": position.valorfinemgar,
                    "saldo": position.saldo,
                    "valor": position.valor,
                    "credito_debito": position.credeb,
                    "valor_mercado": position.market_value,
                    "data_vencimento": position.dates.get("dtvencimento"),
                    "indexador": position.raw.get("indexador") or None,
                    "percentual_indexador_frac": percent_to_fraction(
                        position.decimals.get("percindex")
                    ),
                    "campos": jsontext.dumps(dict(position.raw)),
                    "extracted_at": item.extracted_at,
                }
            )
    table = _table(BTG_POSICOES, _sorted(rows, BTG_POSICOES.primary_key))
    return table, {"funds": len(files), "positions_by_section": dict(sorted(sections.items()))}


# --- rentabilidade --------------------------------------------------------------------------------


def _decimal(value: Any, where: str) -> Decimal | None:
    """A JSON number (Decimal/int, or decimal text) as Decimal; None stays None; floats refused."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise DataQualityError(f"{where} is {value}, not a number; BTG sent an invalid record.")
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, str) and DECIMAL_TEXT.match(value.strip()):
        try:
            return Decimal(value.strip())
        except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
            pass
    raise DataQualityError(
        f"{where} is {value!r} ({type(value).__name__}); expected a decimal number. BTG sent an "
        "invalid record (floats are never accepted: parse JSON with jsontext.loads)."
    )


def _reference_date(value: Any, where: str) -> dt.date:
    match = REFERENCE_DATE.match(value) if isinstance(value, str) else None
    try:
        if match is None:
            raise ValueError
        return dt.date.fromisoformat(match.group(1))
    except ValueError:
        raise DataQualityError(
            f"{where}.referenceDate is {value!r}; expected YYYY-MM-DDT00:00:00. BTG sent an "
            "invalid record."
        ) from None


def _cnpj(value: Any, where: str) -> str:
    digits = "".join(ch for ch in value if ch.isdigit()) if isinstance(value, str) else ""
    if not CNPJ_DIGITS.match(digits):
        raise DataQualityError(f"{where}.cnpj is {value!r}; expected 14 digits.")
    return digits


def _fund_returns(record: Mapping[str, Any], where: str) -> dict[str, Decimal | None]:
    """The fund's nominal returns (percent) by column suffix, from ``nominalQuoteList`` (type
    Nominal) and/or ``profitability``; when both are sent their day/month/year must agree."""
    nominal: Mapping[str, Any] | None = None
    for item in record.get("nominalQuoteList") or []:
        if isinstance(item, dict) and str(item.get("type", "")).casefold() == "nominal":
            nominal = item
            break
    profitability = record.get("profitability")
    profitability = profitability if isinstance(profitability, dict) else None
    returns: dict[str, Decimal | None] = dict.fromkeys(FUND_RETURN_KEYS.values())
    if nominal is not None:
        for key, suffix in FUND_RETURN_KEYS.items():
            returns[suffix] = _decimal(nominal.get(key), f"{where}.nominalQuoteList.{key}")
    if profitability is not None:
        for key in ("day", "month", "year"):
            value = _decimal(profitability.get(key), f"{where}.profitability.{key}")
            if nominal is None:
                returns[key] = value
            elif value is not None and returns[key] is not None and value != returns[key]:
                raise DataQualityError(
                    f"{where}: profitability.{key} = {value} but nominalQuoteList.{key} = "
                    f"{returns[key]} (difference {value - returns[key]}); the record contradicts "
                    "itself. Ask BTG to reprocess the NAV report."
                )
    return returns


def _indexer_columns(differences: Any, where: str) -> dict[str, Decimal | None]:
    """``cdi_ret_*_frac`` and ``cdi_ratio_*_frac`` from ``quotaProfitabilityDifference.CDIE``."""
    columns: dict[str, Decimal | None] = {}
    cdi = differences.get(CDI) if isinstance(differences, dict) else None
    for block, prefix in (("VariacaoIndexador", "cdi_ret"), ("NominalVsIndexador", "cdi_ratio")):
        values = cdi.get(block) if isinstance(cdi, dict) else None
        for key, suffix in INDEXER_WINDOW_KEYS.items():
            percent = (
                _decimal(values.get(key), f"{where}.{CDI}.{block}.{key}")
                if isinstance(values, dict)
                else None
            )
            columns[f"{prefix}_{suffix}_frac"] = percent_to_fraction(percent)
    return columns


def rentabilidade_row(
    record: Mapping[str, Any], fund_name: str, date: dt.date, extracted_at: dt.datetime
) -> dict[str, Any]:
    """One ``btg_rentabilidade`` row from one NAVPerformance record (B5)."""
    where = f"NAVPerformance record of {fund_name!r}"
    if not isinstance(record, dict):
        raise DataQualityError(f"{where} is not a JSON object; BTG sent an invalid page.")
    cnpj = _cnpj(record.get("cnpj"), where)
    where = f"NAVPerformance record of fund {cnpj} ({fund_name})"
    reference = _reference_date(record.get("referenceDate"), where)
    if reference != date:
        raise DataQualityError(
            f"{where} is dated {reference.isoformat()}, not {date.isoformat()} as requested. BTG "
            "answered another day; run the date again."
        )
    returns = _fund_returns(record, where)
    differences = record.get("quotaProfitabilityDifference")
    required = {
        "liquidQuote": "cota_liquida",
        "assetValue": "patrimonio_liquido",
        "numberOfQuotes": "quantidade_cotas",
    }
    row: dict[str, Any] = {
        "cnpj": cnpj,
        "data_referencia": reference,
        "nome_fundo": fund_name,
        "conta": str(record["account"]) if record.get("account") is not None else None,
        "classe_hierarquia": record.get("hierarchyClass"),
        "cota_bruta": _decimal(record.get("rawQuote"), f"{where}.rawQuote"),
        "aplicacoes": _decimal(record.get("acquisitions"), f"{where}.acquisitions"),
        "resgates": _decimal(record.get("redemptions"), f"{where}.redemptions"),
        **{f"ret_{suffix}_frac": percent_to_fraction(value) for suffix, value in returns.items()},
        **_indexer_columns(differences, where),
        "diferenca_indexadores": jsontext.dumps(differences) if differences is not None else None,
        "extracted_at": extracted_at,
    }
    for api_name, column in required.items():
        value = _decimal(record.get(api_name), f"{where}.{api_name}")
        if value is None:
            raise DataQualityError(f"{where} has no {api_name}; BTG sent an incomplete record.")
        row[column] = value
    return row


def rentabilidade_table(extract: pa.Table, date: dt.date) -> TransformResult:
    """``btg_rentabilidade`` from the extract (columns ``fund_name``, ``record`` = exact JSON text
    of one record, ``extracted_at``); one row per fund, duplicates refused."""
    names = extract.column("fund_name").to_pylist()
    records = extract.column("record").to_pylist()
    extracted = extract.column("extracted_at").to_pylist()
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for name, text, extracted_at in zip(names, records, extracted, strict=True):
        row = rentabilidade_row(jsontext.loads(text), name, date, extracted_at)
        if row["cnpj"] in seen:
            raise DataQualityError(
                f"fund {row['cnpj']} ({name}) has two NAVPerformance records for "
                f"{date.isoformat()}; BTG sent a duplicate. Run the date again."
            )
        seen.add(row["cnpj"])
        rows.append(row)
    table = _table(BTG_RENTABILIDADE, _sorted(rows, BTG_RENTABILIDADE.primary_key))
    return table, {"funds": table.num_rows}


# --- cross-report check ---------------------------------------------------------------------------


def _by_cnpj(table: pa.Table, columns: Sequence[str]) -> dict[str, dict[str, Any]]:
    data = table.select(["cnpj", *columns]).to_pylist()
    return {row["cnpj"]: row for row in data}


def cross_check(fundos: pa.Table, rentabilidade: pa.Table, date: dt.date) -> dict[str, Any]:
    """Compare each fund present in both reports of ``date``; DataQualityError on any mismatch.

    Funds in only one report are listed, not failed: a fund may lack a portfolio file on a day it
    still has a NAV (or the other way round) without either report being wrong.
    """
    carteira = _by_cnpj(fundos, ["nome", *(c[0] for c in CROSS_CHECKS)])
    returns = _by_cnpj(rentabilidade, [c[1] for c in CROSS_CHECKS])
    common = sorted(set(carteira) & set(returns))
    problems = []
    for cnpj in common:
        for mine, theirs, xml_name, api_name in CROSS_CHECKS:
            left, right = carteira[cnpj][mine], returns[cnpj][theirs]
            if left != right:
                problems.append(
                    f"fund {cnpj} ({carteira[cnpj]['nome']}) on {date.isoformat()}: carteira "
                    f"{xml_name} {left} != rentabilidade {api_name} {right}, difference "
                    f"{left - right}"
                )
    _raise_problems(
        "carteira and rentabilidade disagree",
        problems,
        "One of BTG's reports is wrong or from another run; nothing was loaded. Ask BTG to "
        "reprocess and run the date again.",
    )
    return {
        "funds_compared": len(common),
        "only_in_carteira": sorted(set(carteira) - set(returns)),
        "only_in_rentabilidade": sorted(set(returns) - set(carteira)),
    }


CROSS_CHECK_SCHEMA = pa.schema(
    [
        pa.field("cnpj", pa.string(), nullable=False),
        pa.field("data", pa.date32(), nullable=False),
        pa.field("em_carteira", pa.bool_(), nullable=False),
        pa.field("em_rentabilidade", pa.bool_(), nullable=False),
    ]
)


def cross_check_table(fundos: pa.Table, rentabilidade: pa.Table, date: dt.date) -> TransformResult:
    """:func:`cross_check` plus the list of funds seen (one row per fund in either report)."""
    meta = cross_check(fundos, rentabilidade, date)
    in_carteira = set(fundos.column("cnpj").to_pylist())
    in_returns = set(rentabilidade.column("cnpj").to_pylist())
    funds = sorted(in_carteira | in_returns)
    table = pa.Table.from_pydict(
        {
            "cnpj": funds,
            "data": [date] * len(funds),
            "em_carteira": [cnpj in in_carteira for cnpj in funds],
            "em_rentabilidade": [cnpj in in_returns for cnpj in funds],
        },
        schema=CROSS_CHECK_SCHEMA,
    )
    return table, meta
