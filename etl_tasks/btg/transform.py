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

Rentabilidade (NAVPerformance JSON records, numbers already Decimal; :mod:`.rentabilidade`)::

    rentabilidade_table(extract_table, date)

Numbers follow the precision policy (:mod:`etl_tasks.btg.precision`): XML money and quantities
are stored exactly or refused naming fund, date, field and value. Percent → fraction happens in the
transform only (exact: ``scaleb(-2)`` moves the decimal point); the columns say so with ``_frac``.

Cross-report check (:func:`cross_check`): the same funds must be in both reports of the date, and
each must agree — ``valorcota = liquidQuote``, ``patliq = assetValue``, ``quantidade =
numberOfQuotes`` (B4.1) — within the documented tolerance (:func:`values_agree`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pyarrow as pa

from etl_tasks.btg import jsontext
from etl_tasks.btg.anbima import Portfolio, check_invariants, parse_anbima_xml
from etl_tasks.btg.precision import Where, exact_from_text, same_double, to_scale
from etl_tasks.btg.rentabilidade import (
    decimal_shape,
    rentabilidade_row,
    rentabilidade_table,
)
from etl_tasks.btg.tables import BTG_FUNDOS, BTG_POSICOES
from etl_tasks.errors import DataQualityError
from etl_tasks.warehouse.model import DECIMAL_TYPE, TableSpec, arrow_schema

__all__ = [
    "check_portfolios", "cross_check", "cross_check_table", "fundos_table", "parse_carteira",
    "percent_to_fraction", "posicoes_table", "rentabilidade_row", "rentabilidade_table",
    "values_agree",
]
TransformResult = tuple[pa.Table, dict[str, Any]]
MAX_PROBLEMS_SHOWN = 20

# (carteira column in btg_fundos, rentabilidade column in btg_rentabilidade, API names for humans)
CROSS_CHECKS = (
    ("valor_cota", "cota_liquida", "valorcota", "liquidQuote"),
    ("patrimonio_liquido", "patrimonio_liquido", "patliq", "assetValue"),
    ("quantidade_cotas", "quantidade_cotas", "quantidade", "numberOfQuotes"),
)
# Decimal columns of the carteira tables -> the ANBIMA element they come from (error messages).
FUNDOS_SOURCE = {
    "valor_cota": "valorcota", "quantidade_cotas": "quantidade", "patrimonio_liquido": "patliq",
    "valor_ativos": "valorativos", "valor_receber": "valorreceber", "valor_pagar": "valorpagar",
    "valor_cotas_emitir": "vlcotasemitir", "valor_cotas_resgatar": "vlcotasresgatar",
}
POSICOES_SOURCE = {
    "quantidade_disponivel": "qtdisponivel", "quantidade_garantia": "qtgarantia",
    "preco_compra": "pucompra", "preco_posicao": "puposicao",
    "valor_financeiro_disponivel": "valorfindisp", "valor_financeiro_garantia": "valorfinemgar",
    "saldo": "saldo", "valor": "valor", "valor_mercado": "valor_mercado (computed)",
    "percentual_indexador_frac": "percindex / 100",
}


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


def _check_exact(spec: TableSpec, rows: Sequence[Mapping[str, Any]], fund_column: str,
                 names: Mapping[str, str], fund_names: Mapping[str, str]) -> None:
    """Every decimal of the (XML, exact-text) rows fits its column as is, else DataQualityError
    naming fund, date, field and value (precision policy: money and quantities are exact)."""
    shapes = {c.name: decimal_shape(spec, c.name) for c in spec.columns
              if DECIMAL_TYPE.match(c.type)}
    for row in rows:
        for column, (precision, scale) in shapes.items():
            value = row[column]
            if value is None:
                continue
            fund = f"{row[fund_column]} ({fund_names.get(row[fund_column], '?')})"
            date = row[spec.partition_column or ""]
            where = Where(fund, date.isoformat(), names.get(column, column))
            exact_from_text(value, precision, scale, where)


def _table(spec: TableSpec, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Rows (dicts) as a table of ``spec``'s exact schema (values already checked to fit)."""
    schema = arrow_schema(spec)
    arrays = [pa.array([row[field.name] for row in rows], type=field.type) for field in schema]
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
    _check_exact(BTG_FUNDOS, rows, "cnpj", FUNDOS_SOURCE,
                 {row["cnpj"]: row["nome"] for row in rows})
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
    names = {item.portfolio.header.cnpj: item.portfolio.header.nome for item in files}
    _check_exact(BTG_POSICOES, rows, "cnpj_fundo", POSICOES_SOURCE, names)
    table = _table(BTG_POSICOES, _sorted(rows, BTG_POSICOES.primary_key))
    return table, {"funds": len(files), "positions_by_section": dict(sorted(sections.items()))}


# --- cross-report check ---------------------------------------------------------------------------


def _by_cnpj(table: pa.Table, columns: Sequence[str]) -> dict[str, dict[str, Any]]:
    data = table.select(["cnpj", *dict.fromkeys(columns)]).to_pylist()
    return {row["cnpj"]: row for row in data}


def values_agree(carteira: Decimal, rentabilidade: Decimal, carteira_scale: int) -> bool:
    """The cross-check tolerance: equal, or equal once the rentabilidade value is rounded
    (half-even) to the carteira column's decimals (quotes arrive with more decimals than the XML's
    8), or the same IEEE double (the JSON number *is* a double: a quantity with 16 significant
    digits may come back as its 15-digit shortest form). Nothing looser: one cent of patliq or one
    unit in the 8th decimal of valorcota beyond a double's precision is a mismatch."""
    return (carteira == rentabilidade
            or to_scale(rentabilidade, carteira_scale) == carteira
            or same_double(carteira, rentabilidade))


def cross_check(fundos: pa.Table, rentabilidade: pa.Table, date: dt.date,
                missing_funds: str = "error") -> dict[str, Any]:
    """Compare the two reports of ``date``; DataQualityError on any mismatch.

    A fund in only one report is incomplete data for that day (a carteira answering "No records"
    while rentabilidade has funds is the extreme case): with ``missing_funds="error"`` (the
    default, ``[btg] missing_funds``) it fails the check naming every such fund; with
    ``"warning"`` it is listed in the result (and the report's notes) and the rest is compared.
    """
    carteira = _by_cnpj(fundos, ["nome", *(c[0] for c in CROSS_CHECKS)])
    returns = _by_cnpj(rentabilidade, ["nome_fundo", *(c[1] for c in CROSS_CHECKS)])
    common = sorted(set(carteira) & set(returns))
    only_carteira = sorted(set(carteira) - set(returns))
    only_returns = sorted(set(returns) - set(carteira))
    problems = []
    scales = {c[0]: decimal_shape(BTG_FUNDOS, c[0])[1] for c in CROSS_CHECKS}
    for cnpj in common:
        for mine, theirs, xml_name, api_name in CROSS_CHECKS:
            left, right = carteira[cnpj][mine], returns[cnpj][theirs]
            if not values_agree(left, right, scales[mine]):
                problems.append(
                    f"fund {cnpj} ({carteira[cnpj]['nome']}) on {date.isoformat()}: carteira "
                    f"{xml_name} {left} != rentabilidade {api_name} {right}, difference "
                    f"{left - right}"
                )
    missing = [
        f"fund {cnpj} ({carteira[cnpj]['nome']}) is in the carteira of {date.isoformat()} but "
        "not in its rentabilidade" for cnpj in only_carteira
    ] + [
        f"fund {cnpj} ({returns[cnpj]['nome_fundo']}) is in the rentabilidade of "
        f"{date.isoformat()} but not in its carteira" for cnpj in only_returns
    ]
    if missing_funds == "error":
        problems += missing
    _raise_problems(
        "carteira and rentabilidade disagree",
        problems,
        "One of BTG's reports is wrong, incomplete or from another run; nothing of this date was "
        "loaded. Ask BTG to reprocess, then re-fetch the report",
    )
    notes = [f"fund missing from one report (warning, [btg] missing_funds): {line}"
             for line in missing]
    return {
        "funds_compared": len(common),
        "only_in_carteira": only_carteira,
        "only_in_rentabilidade": only_returns,
        "notes": notes,
    }


CROSS_CHECK_SCHEMA = pa.schema(
    [
        pa.field("cnpj", pa.string(), nullable=False),
        pa.field("data", pa.date32(), nullable=False),
        pa.field("em_carteira", pa.bool_(), nullable=False),
        pa.field("em_rentabilidade", pa.bool_(), nullable=False),
    ]
)


def cross_check_table(fundos: pa.Table, rentabilidade: pa.Table, date: dt.date,
                      missing_funds: str = "error") -> TransformResult:
    """:func:`cross_check` plus the list of funds seen (one row per fund in either report)."""
    meta = cross_check(fundos, rentabilidade, date, missing_funds)
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
