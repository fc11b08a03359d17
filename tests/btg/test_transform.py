"""Pure BTG transforms: golden ANBIMA XML → exact rows, percent → fraction, invariants, cross-check.

No HTTP, no Luigi. Expected values are hand-checked from api-contract.md B4.1/B5 (the golden file
and the example record) or computed by the sandbox's own dataset (independent of the ETL code).

Run: .venv/bin/pytest tests/btg/test_transform.py
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from etl_sandbox.btg_data import dataset_for_seed
from etl_tasks.btg import jsontext
from etl_tasks.btg.extract import CARTEIRA_SCHEMA, RENTABILIDADE_SCHEMA
from etl_tasks.btg.tables import BTG_FUNDOS, BTG_POSICOES, BTG_RENTABILIDADE
from etl_tasks.btg.transform import (
    check_portfolios,
    cross_check,
    cross_check_table,
    fundos_table,
    parse_carteira,
    percent_to_fraction,
    posicoes_table,
    rentabilidade_row,
    rentabilidade_table,
)
from etl_tasks.errors import DataQualityError
from etl_tasks.warehouse.model import arrow_schema
from tests.decimal_assertions import assert_no_float

GOLDEN = (Path(__file__).parent.parent / "fixtures" / "anbima_golden.xml").read_bytes()
GOLDEN_DATE = dt.date(2025, 4, 11)
EXTRACTED_AT = dt.datetime(2025, 4, 11, 12, 0, tzinfo=dt.timezone.utc)
# api-contract.md B5 example record (one fund, one day), as BTG sends it.
EXAMPLE_PAGE = (
    '{"page":1,"totalPages":1,"result":[{"fundName":"SANDBOX ALFA FIC FIM CP","data":[{"account":'
    '"004512345","cnpj":"45112233000114","referenceDate":"2025-04-11T00:00:00","liquidQuote":'
    '1.52345678,"rawQuote":1.52401234,"assetValue":100008843.78,"numberOfQuotes":65646000.0,'
    '"acquisitions":250000.0,"redemptions":120000.0,"hierarchyClass":"CLASSE","profitability":'
    '{"day":0.0548,"month":0.4911,"year":3.3102},"nominalQuoteList":[{"type":"Nominal","day":'
    '0.0548,"month":0.4911,"year":3.3102,"twelveMonths":11.8734,"twentyFourMonths":25.4410,'
    '"thirtySixMonths":41.0203}],"quotaProfitabilityDifference":{"CDIE":{"VariacaoIndexador":'
    '{"Accumulated":52.1003,"Day":0.0525,"Month":0.4724,"Year":3.1877,"Twelve":11.3120,'
    '"TwentyFour":24.0415,"ThirtySix":38.9907},"NominalVsIndexador":{"Accumulated":103.9,"Day":'
    '104.38,"Month":103.96,"Year":103.84,"Twelve":104.96,"TwentyFour":105.82,"ThirtySix":105.21}}}}'
    ']}]}'
)


def carteira_extract(*files: tuple[str, bytes]) -> pa.Table:
    """An extract table shaped like BtgExtractCarteira's Parquet."""
    rows: dict[str, list[Any]] = {name: [] for name in CARTEIRA_SCHEMA.names}
    for source, payload in files:
        for column, value in (("ticket", "t-1"), ("landing_file", "/landing/x.zip"),
                              ("source", source), ("size_bytes", len(payload)), ("sha256", "0"),
                              ("payload", payload), ("extracted_at", EXTRACTED_AT)):
            rows[column].append(value)
    return pa.Table.from_pydict(rows, schema=CARTEIRA_SCHEMA)


def rentabilidade_extract(page_text: str) -> pa.Table:
    """An extract table shaped like BtgExtractRentabilidade's Parquet, from one page body."""
    page = jsontext.loads(page_text)
    rows: dict[str, list[Any]] = {name: [] for name in RENTABILIDADE_SCHEMA.names}
    for fund in page["result"]:
        for record in fund["data"]:
            for column, value in (
                ("ticket", "t-2"), ("page", 1), ("fund_name", fund["fundName"]),
                ("cnpj", record["cnpj"]), ("reference_date", record["referenceDate"]),
                ("record", jsontext.dumps(record)), ("extracted_at", EXTRACTED_AT),
            ):
                rows[column].append(value)
    return pa.Table.from_pydict(rows, schema=RENTABILIDADE_SCHEMA)


def golden_with(old: str, new: str) -> bytes:
    text = GOLDEN.decode("utf-8")
    assert text.count(old) == 1, old
    return text.replace(old, new).encode("utf-8")


def example_record() -> dict[str, Any]:
    return jsontext.loads(EXAMPLE_PAGE)["result"][0]["data"][0]


# --- JSON -----------------------------------------------------------------------------------------


def test_json_numbers_are_decimals_and_round_trip_digit_for_digit() -> None:
    body = jsontext.loads(EXAMPLE_PAGE)
    assert_no_float(body)
    record = body["result"][0]["data"][0]
    assert record["assetValue"] == Decimal("100008843.78")
    assert str(record["numberOfQuotes"]) == "65646000.0"
    assert body["page"] == 1 and isinstance(body["page"], int)
    # Exact digits survive a dump/load cycle (a float would print 100008843.78000001 somewhere).
    assert jsontext.loads(jsontext.dumps(body)) == body
    assert '"assetValue":100008843.78,' in jsontext.dumps(record)
    assert '"twentyFourMonths":25.4410' in jsontext.dumps(body)
    with pytest.raises(ValueError):
        jsontext.loads('{"x": NaN}')
    with pytest.raises(TypeError):
        jsontext.dumps({"x": 0.1})


# --- carteira -------------------------------------------------------------------------------------


def test_golden_xml_gives_exact_fund_row() -> None:
    files = parse_carteira(carteira_extract(("carteira.zip!ALFA.xml", GOLDEN)), GOLDEN_DATE)
    assert check_portfolios(files) == 1
    table, meta = fundos_table(files)
    assert table.schema == arrow_schema(BTG_FUNDOS)
    assert meta == {"funds": 1}
    assert table.to_pylist() == [{
        "cnpj": "45112233000114", "data_posicao": GOLDEN_DATE, "isin": "BRXPTOCTF009",
        "nome": "SANDBOX ALFA FIC FIM CP",
        "nome_administrador": "SANDBOX DTVM", "cnpj_administrador": "59000001000189",
        "nome_gestor": "SANDBOX GESTORA", "cnpj_gestor": "60574687000109",
        "nome_custodiante": "SANDBOX DTVM", "cnpj_custodiante": "59000001000189",
        "valor_cota": Decimal("1.52345678"), "quantidade_cotas": Decimal("65646000.00000000"),
        "patrimonio_liquido": Decimal("100008843.78"), "valor_ativos": Decimal("100053843.78"),
        "valor_receber": Decimal("0.00"), "valor_pagar": Decimal("45000.00"),
        "valor_cotas_emitir": Decimal("0.00"), "valor_cotas_resgatar": Decimal("0.00"),
        "codigo_anbima": "123456", "tipo_fundo": 2, "nivel_risco": "MM", "posicoes": 6,
        "arquivo": "carteira.zip!ALFA.xml", "extracted_at": EXTRACTED_AT,
    }]


def test_golden_xml_gives_exact_position_rows() -> None:
    files = parse_carteira(carteira_extract(("ALFA.xml", GOLDEN)), GOLDEN_DATE)
    table, meta = posicoes_table(files)
    assert table.schema == arrow_schema(BTG_POSICOES)
    assert meta["positions_by_section"] == {"acoes": 1, "caixa": 1, "cotas": 1, "despesas": 1,
                                            "provisao": 1, "titpublico": 1}
    rows = {row["secao"]: row for row in table.to_pylist()}
    # Sorted by primary key (cnpj_fundo, data_posicao, secao, ordem).
    assert [row["secao"] for row in table.to_pylist()] == sorted(rows)
    bond = rows["titpublico"]
    assert (bond["isin"], bond["codigo_ativo"], bond["ordem"]) == ("BRSTNCLF1RC4", "210100", 1)
    assert bond["quantidade_disponivel"] == Decimal("3000.00000000")
    assert bond["preco_compra"] == Decimal("16290.11000000")
    assert bond["preco_posicao"] == Decimal("16321.45000000")
    assert bond["valor_financeiro_disponivel"] == Decimal("48964350.00")
    assert bond["valor_mercado"] == Decimal("48964350.00")
    assert bond["data_vencimento"] == dt.date(2029, 3, 1)
    assert bond["indexador"] == "SEL"
    assert bond["percentual_indexador_frac"] == Decimal("1.0000000000")  # 100.00 % -> 1
    assert json.loads(bond["campos"])["idinternoativo"] == "LFT20290301"
    assert json.loads(bond["campos"])["puemissao"] == "13052.99000000"  # text, as in the file
    quotas = rows["cotas"]
    assert (quotas["isin"], quotas["codigo_ativo"], quotas["cnpj_emissor"]) == (
        "BRCATLCTF001", "12345678000195", "12345678000195")
    # 15,000,000 x 2.91845440 = 43,776,816.00 exactly (B4.1 worked example).
    assert quotas["valor_mercado"] == Decimal("43776816.00")
    assert rows["caixa"]["saldo"] == Decimal("677.78")
    assert rows["caixa"]["codigo_ativo"] == "BRBPACACNOR7"
    provision = rows["provisao"]
    assert (provision["credito_debito"], provision["valor"]) == ("D", Decimal("45000.00"))
    assert provision["valor_mercado"] == Decimal("-45000.00")
    assert rows["despesas"]["valor_mercado"] is None
    assets = ("titpublico", "titprivado", "debenture", "acoes", "cotas", "caixa")
    total = sum(row["valor_mercado"] for section, row in rows.items() if section in assets)
    assert total == Decimal("100053843.78")  # = valorativos


def test_invariant_violation_names_fund_date_and_difference() -> None:
    broken = golden_with("<patliq>100008843.78</patliq>", "<patliq>100008843.79</patliq>")
    files = parse_carteira(carteira_extract(("ALFA.xml", broken)), GOLDEN_DATE)
    with pytest.raises(DataQualityError) as caught:
        check_portfolios(files)
    message = str(caught.value)
    assert "45112233000114" in message and "SANDBOX ALFA FIC FIM CP" in message
    assert "2025-04-11" in message
    assert "patliq expected 100008843.78" in message and "difference 0.01" in message
    assert "nothing was loaded" in message


def test_file_of_another_day_or_duplicate_fund_is_refused() -> None:
    with pytest.raises(DataQualityError, match="positioned on 2025-04-11, not on 2025-04-10"):
        parse_carteira(carteira_extract(("ALFA.xml", GOLDEN)), dt.date(2025, 4, 10))
    with pytest.raises(DataQualityError, match="appears in two files"):
        parse_carteira(carteira_extract(("a.xml", GOLDEN), ("b.xml", GOLDEN)), GOLDEN_DATE)


def test_corrupt_xml_is_a_data_quality_error() -> None:
    with pytest.raises(DataQualityError, match="not well-formed"):
        parse_carteira(carteira_extract(("ALFA.xml", GOLDEN[:-40])), GOLDEN_DATE)


def test_value_with_more_decimals_than_the_column_is_refused_not_rounded() -> None:
    odd = golden_with("<saldo>677.78</saldo>", "<saldo>677.785</saldo>")
    files = parse_carteira(carteira_extract(("ALFA.xml", odd)), GOLDEN_DATE)
    with pytest.raises(DataQualityError, match=(
            r"fund 45112233000114 \(SANDBOX ALFA FIC FIM CP\) on 2025-04-11, field saldo: "
            r"value 677\.785 does not fit the column decimal\(20,2\)")):
        posicoes_table(files)


# --- rentabilidade --------------------------------------------------------------------------------


def test_percent_to_fraction_is_exact() -> None:
    assert percent_to_fraction(Decimal("0.0548")) == Decimal("0.000548")
    assert str(percent_to_fraction(Decimal("0.0548"))) == "0.000548"
    assert percent_to_fraction(Decimal("104.38")) == Decimal("1.0438")
    assert percent_to_fraction(Decimal("-3.3102")) == Decimal("-0.033102")
    assert percent_to_fraction(Decimal("0.00000001")) == Decimal("1E-10")
    assert percent_to_fraction(None) is None


def test_example_record_gives_exact_fractions() -> None:
    table, meta = rentabilidade_table(rentabilidade_extract(EXAMPLE_PAGE), GOLDEN_DATE)
    assert table.schema == arrow_schema(BTG_RENTABILIDADE)
    assert (meta["funds"], meta["rounded_values"], meta["new_fields"]) == (1, 0, [])
    row = table.to_pylist()[0]
    assert_no_float(row)
    assert (row["cnpj"], row["data_referencia"], row["nome_fundo"]) == (
        "45112233000114", GOLDEN_DATE, "SANDBOX ALFA FIC FIM CP")
    assert (row["conta"], row["classe_hierarquia"]) == ("004512345", "CLASSE")
    assert row["cota_liquida"] == Decimal("1.52345678")
    assert row["cota_bruta"] == Decimal("1.52401234")
    assert row["patrimonio_liquido"] == Decimal("100008843.78")
    assert row["quantidade_cotas"] == Decimal("65646000")
    assert (row["aplicacoes"], row["resgates"]) == (Decimal("250000"), Decimal("120000"))
    assert row["ret_day_frac"] == Decimal("0.000548")
    assert row["ret_month_frac"] == Decimal("0.004911")
    assert row["ret_year_frac"] == Decimal("0.033102")
    assert row["ret_12m_frac"] == Decimal("0.118734")
    assert row["ret_24m_frac"] == Decimal("0.254410")
    assert row["ret_36m_frac"] == Decimal("0.410203")
    assert row["cdi_ret_day_frac"] == Decimal("0.000525")
    assert row["cdi_ret_accum_frac"] == Decimal("0.521003")
    assert row["cdi_ratio_day_frac"] == Decimal("1.0438")
    assert row["cdi_ratio_36m_frac"] == Decimal("1.0521")
    differences = jsontext.loads(row["diferenca_indexadores"])
    assert differences["CDIE"]["NominalVsIndexador"]["Day"] == Decimal("104.38")  # percent, as sent
    assert table.schema.field("ret_day_frac").type == pa.decimal128(24, 14)


def test_profitability_alone_and_contradicting_blocks() -> None:
    record = example_record()
    del record["nominalQuoteList"]
    row = rentabilidade_row(record, "ALFA", GOLDEN_DATE, EXTRACTED_AT)
    assert row["ret_year_frac"] == Decimal("0.033102") and row["ret_12m_frac"] is None
    record = example_record()
    record["profitability"]["day"] = Decimal("0.0549")
    with pytest.raises(DataQualityError, match=r"profitability.day = 0.0549 but nominalQuoteList"):
        rentabilidade_row(record, "ALFA", GOLDEN_DATE, EXTRACTED_AT)


def test_record_problems_are_named() -> None:
    record = example_record()
    record["liquidQuote"] = 1.5  # a float means someone parsed with json.loads
    with pytest.raises(DataQualityError, match=r"liquidQuote is 1\.5 \(float\)"):
        rentabilidade_row(record, "ALFA", GOLDEN_DATE, EXTRACTED_AT)
    with pytest.raises(DataQualityError, match="dated 2025-04-11, not 2025-04-10"):
        rentabilidade_row(example_record(), "ALFA", dt.date(2025, 4, 10), EXTRACTED_AT)
    record = example_record()
    record["cnpj"] = "45.112.233/0001-14"  # punctuation is normalised, like the XML's digits
    assert rentabilidade_row(record, "ALFA", GOLDEN_DATE, EXTRACTED_AT)["cnpj"] == "45112233000114"


# --- cross-report check ---------------------------------------------------------------------------


def test_cross_check_passes_on_agreeing_reports() -> None:
    fundos, _ = fundos_table(parse_carteira(carteira_extract(("ALFA.xml", GOLDEN)), GOLDEN_DATE))
    returns, _ = rentabilidade_table(rentabilidade_extract(EXAMPLE_PAGE), GOLDEN_DATE)
    table, meta = cross_check_table(fundos, returns, GOLDEN_DATE)
    assert meta == {"funds_compared": 1, "only_in_carteira": [], "only_in_rentabilidade": [],
                    "notes": []}
    assert table.to_pylist() == [{"cnpj": "45112233000114", "data": GOLDEN_DATE,
                                  "em_carteira": True, "em_rentabilidade": True}]


def test_cross_check_mismatch_names_fund_date_and_difference() -> None:
    fundos, _ = fundos_table(parse_carteira(carteira_extract(("ALFA.xml", GOLDEN)), GOLDEN_DATE))
    page = EXAMPLE_PAGE.replace('"assetValue":100008843.78', '"assetValue":100008843.70')
    returns, _ = rentabilidade_table(rentabilidade_extract(page), GOLDEN_DATE)
    with pytest.raises(DataQualityError) as caught:
        cross_check(fundos, returns, GOLDEN_DATE)
    message = str(caught.value)
    assert "fund 45112233000114 (SANDBOX ALFA FIC FIM CP) on 2025-04-11" in message
    assert "patliq 100008843.78 != rentabilidade assetValue 100008843.70" in message
    assert "difference 0.08" in message


# --- the sandbox's generated data (its own helpers, no HTTP) --------------------------------------


def test_every_sandbox_fund_adds_up_and_agrees_across_reports() -> None:
    data = dataset_for_seed(42)
    day = dt.date(2025, 4, 10)
    funds = data.funds_on(day)
    files = parse_carteira(carteira_extract(*[
        (f"{fund.key}.xml", data.portfolio_xml(fund, day)) for fund in funds]), day)
    assert check_portfolios(files) == len(funds)
    fundos, _ = fundos_table(files)
    page = jsontext.dumps({"page": 1, "totalPages": 1, "result": data.nav_records(day, ["CDIE"])})
    returns, _ = rentabilidade_table(rentabilidade_extract(page), day)
    assert cross_check(fundos, returns, day)["funds_compared"] == len(funds)
    names = set(fundos.column("nome").to_pylist())
    assert "SANDBOX PREVIDÊNCIA RENDA FIXA FIRF" in names  # accents survive the parse
