"""Tests for etl_tasks.btg.anbima: the golden ANBIMA 4.01 document of api-contract.md B4.1,
hand-checked values, invariants to the cent, encodings, malformed input and ZIP/XML sniffing.

Run: .venv/bin/pytest tests/btg/test_anbima.py
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest

from etl_tasks.btg.anbima import (
    FundHeader,
    Portfolio,
    Position,
    check_invariants,
    iter_report_files,
    parse_anbima_xml,
    sniff_kind,
)
from etl_tasks.errors import DataQualityError

GOLDEN = (Path(__file__).parent.parent / "fixtures" / "anbima_golden.xml").read_bytes()


def golden_with(old: str, new: str) -> bytes:
    """The golden document with one literal substitution (which must exist exactly once)."""
    text = GOLDEN.decode("utf-8")
    assert text.count(old) == 1, old
    return text.replace(old, new).encode("utf-8")


def parse_one(data: bytes, source: str = "golden.xml") -> Portfolio:
    portfolios = parse_anbima_xml(data, source)
    assert len(portfolios) == 1
    return portfolios[0]


def test_golden_header_fields() -> None:
    header = parse_one(GOLDEN).header
    assert header.isin == "BRXPTOCTF009"
    assert header.cnpj == "45112233000114"
    assert header.nome == "SANDBOX ALFA FIC FIM CP"
    assert header.dtposicao == dt.date(2025, 4, 11)
    assert (header.nomeadm, header.cnpjadm) == ("SANDBOX DTVM", "59000001000189")
    assert (header.nomegestor, header.cnpjgestor) == ("SANDBOX GESTORA", "60574687000109")
    assert (header.nomecustodiante, header.cnpjcustodiante) == ("SANDBOX DTVM", "59000001000189")
    assert header.valorcota == Decimal("1.52345678")
    assert header.quantidade == Decimal("65646000.00000000")
    assert header.patliq == Decimal("100008843.78")
    assert header.valorativos == Decimal("100053843.78")
    assert header.valorreceber == Decimal("0.00")
    assert header.valorpagar == Decimal("45000.00")
    assert header.vlcotasemitir == Decimal("0.00")
    assert header.vlcotasresgatar == Decimal("0.00")
    assert (header.codanbid, header.tipofundo, header.nivelrsc) == ("123456", 2, "MM")
    assert header.raw["patliq"] == "100008843.78"


def test_golden_positions_and_market_values() -> None:
    positions = parse_one(GOLDEN).positions
    summary = [(p.section, p.ordinal, p.isin, p.asset_code, p.market_value) for p in positions]
    assert summary == [
        ("titpublico", 1, "BRSTNCLF1RC4", "210100", Decimal("48964350.00")),
        ("acoes", 1, "BRPETRACNPR6", "PETR4", Decimal("7312000.00")),
        # 15,000,000 x 2.91845440 = 43,776,816.00 exactly
        ("cotas", 1, "BRCATLCTF001", "12345678000195", Decimal("43776816.00")),
        ("caixa", 1, None, "BRBPACACNOR7", Decimal("677.78")),
        ("despesas", 1, None, None, None),
        ("provisao", 1, None, "1", Decimal("-45000.00")),
    ]
    titpublico, acoes, cotas, caixa, despesas, provisao = positions
    assert titpublico.qtdisponivel == Decimal("3000.00000000")
    assert titpublico.pucompra == Decimal("16290.11000000")
    assert titpublico.puposicao == Decimal("16321.45000000")
    assert titpublico.valorfindisp == Decimal("48964350.00")
    assert titpublico.decimals["principal"] == Decimal("48870330.00")
    assert titpublico.dates == {
        "dtemissao": dt.date(2023, 1, 6),
        "dtoperacao": dt.date(2025, 4, 2),
        "dtvencimento": dt.date(2029, 3, 1),
    }
    assert titpublico.raw["indexador"] == "SEL"
    assert acoes.qtdisponivel == Decimal("200000")
    assert cotas.issuer_cnpj == "12345678000195"
    assert caixa.saldo == Decimal("677.78")
    assert despesas.decimals["txadm"] == Decimal("45000.00")
    assert (provisao.credeb, provisao.valor) == ("D", Decimal("45000.00"))
    assert provisao.dates == {"dt": dt.date(2025, 4, 14)}


def test_golden_satisfies_every_invariant() -> None:
    portfolio = parse_one(GOLDEN)
    assert check_invariants(portfolio.header, portfolio.positions) == []
    # The contract's hand sum: 48,964,350.00 + 7,312,000.00 + 43,776,816.00 + 677.78.
    assets = sum(p.market_value for p in portfolio.positions if p.section != "provisao"
                 and p.market_value is not None)
    assert assets == Decimal("100053843.78")


def _walk_values(value: object) -> list[object]:
    if dataclasses.is_dataclass(value):
        return [v for f in dataclasses.fields(value) for v in _walk_values(getattr(value, f.name))]
    if isinstance(value, dict) or hasattr(value, "items"):
        return [v for item in value.items() for v in _walk_values(item[1])]
    if isinstance(value, (list, tuple)):
        return [v for item in value for v in _walk_values(item)]
    return [value]


def test_no_float_anywhere_and_decimals_keep_their_text() -> None:
    portfolio = parse_one(GOLDEN)
    values = _walk_values(portfolio)
    assert values, "walked nothing"
    assert not [v for v in values if isinstance(v, float)]
    assert {type(v) for v in values} <= {str, int, Decimal, dt.date, type(None)}
    assert isinstance(portfolio.header, FundHeader)
    assert all(isinstance(p, Position) for p in portfolio.positions)
    # Digits beyond float precision survive unchanged.
    big = "12345678901234567.12345678"
    header = parse_one(golden_with("<vlcotasemitir>0.00</vlcotasemitir>",
                                   f"<vlcotasemitir>{big}</vlcotasemitir>")).header
    assert str(header.vlcotasemitir) == big


def test_iso_8859_1_document_with_accents() -> None:
    text = GOLDEN.decode("utf-8").replace('encoding="UTF-8"', 'encoding="ISO-8859-1"')
    text = text.replace("SANDBOX ALFA FIC FIM CP", "SANDBOX PREVIDÊNCIA AÇÕES FIA")
    data = text.encode("iso-8859-1")
    assert b"PREVID\xcaNCIA A\xc7\xd5ES" in data  # really Latin-1 bytes, not UTF-8
    assert parse_one(data).header.nome == "SANDBOX PREVIDÊNCIA AÇÕES FIA"


def test_utf8_accents() -> None:
    data = golden_with("SANDBOX ALFA FIC FIM CP", "SANDBOX PREVIDÊNCIA FIRF")
    assert parse_one(data).header.nome == "SANDBOX PREVIDÊNCIA FIRF"


@pytest.mark.parametrize(
    ("data", "fragments"),
    [
        (GOLDEN[: len(GOLDEN) // 2], ["bad.xml", "not well-formed"]),
        (b"", ["bad.xml", "not well-formed"]),
        (b"<other><fundo/></other>", ["bad.xml", "<other>", "arquivoposicao_4_01"]),
        (b"<arquivoposicao_4_01></arquivoposicao_4_01>", ["bad.xml", "no <fundo>"]),
        (b"<arquivoposicao_4_01><fundo><titpublico/></fundo></arquivoposicao_4_01>",
         ["bad.xml", "no <header>"]),
        (golden_with("<patliq>100008843.78</patliq>", ""), ["45112233000114", "<patliq>"]),
        (golden_with("<valorfindisp>48964350.00</valorfindisp>",
                     "<valorfindisp>48.964.350,00</valorfindisp>"),
         ["45112233000114", "2025-04-11", "<titpublico>[1]/<valorfindisp>", "48.964.350,00"]),
        (golden_with("<saldo>677.78</saldo>", "<saldo>NaN</saldo>"),
         ["45112233000114", "<caixa>[1]/<saldo>", "'NaN'"]),
        (golden_with("<puposicao>36.56000000</puposicao>", "<puposicao>3.656e1</puposicao>"),
         ["<acoes>[1]/<puposicao>"]),
        (golden_with("<dtposicao>20250411</dtposicao>", "<dtposicao>2025-04-11</dtposicao>"),
         ["45112233000114", "<dtposicao>", "YYYYMMDD"]),
        (golden_with("<dtvencimento>20290301</dtvencimento>",
                     "<dtvencimento>20290231</dtvencimento>"),
         ["<titpublico>[1]/<dtvencimento>", "20290231"]),
        (golden_with("<credeb>D</credeb>", "<credeb>X</credeb>"), ["<provisao>[1]/<credeb>"]),
        (golden_with("<tipofundo>2</tipofundo>", "<tipofundo>FIM</tipofundo>"), ["<tipofundo>"]),
        (golden_with("<saldo>677.78</saldo>", ""), ["<caixa>[1]/<saldo>", "missing"]),
    ],
    ids=["truncated", "empty", "wrong-root", "no-fundo", "no-header", "missing-patliq",
         "comma-decimal", "nan", "exponent", "iso-date", "impossible-date", "bad-credeb",
         "bad-tipofundo", "missing-saldo"],
)
def test_malformed_documents_raise_data_quality_error(data: bytes, fragments: list[str]) -> None:
    with pytest.raises(DataQualityError) as caught:
        parse_anbima_xml(data, "bad.xml")
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_doctype_and_entities_are_refused() -> None:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        b"<arquivoposicao_4_01><fundo><header><nome>&lol2;</nome></header></fundo>"
        b"</arquivoposicao_4_01>"
    )
    with pytest.raises(DataQualityError, match="DOCTYPE/ENTITY"):
        parse_anbima_xml(laughs, "evil.xml")


def test_managed_account_carteira_is_refused_clearly() -> None:
    with pytest.raises(DataQualityError, match="<carteira>"):
        parse_anbima_xml(b"<arquivoposicao_4_01><carteira/></arquivoposicao_4_01>", "c.xml")


def test_patliq_off_by_one_cent_is_reported_exactly() -> None:
    portfolio = parse_one(golden_with("<patliq>100008843.78</patliq>",
                                      "<patliq>100008843.79</patliq>"))
    problems = check_invariants(portfolio.header, portfolio.positions)
    assert problems == [
        "fund 45112233000114 (SANDBOX ALFA FIC FIM CP) on 2025-04-11: patliq expected "
        "100008843.78 (valorativos + valorreceber - valorpagar), found 100008843.79, "
        "difference 0.01"
    ]


def test_position_change_breaks_valorativos() -> None:
    portfolio = parse_one(golden_with("<saldo>677.78</saldo>", "<saldo>677.77</saldo>"))
    problems = check_invariants(portfolio.header, portfolio.positions)
    assert len(problems) == 1
    assert "valorativos expected 100053843.77" in problems[0]
    assert "found 100053843.78, difference 0.01" in problems[0]


def test_receivables_and_payables_must_match_provisions() -> None:
    portfolio = parse_one(golden_with("<valorpagar>45000.00</valorpagar>",
                                      "<valorpagar>0.00</valorpagar>"))
    problems = check_invariants(portfolio.header, portfolio.positions)
    assert any("valorpagar expected 45000.00" in p and "found 0.00" in p for p in problems)
    assert any(p.startswith("fund 45112233000114") and "patliq expected" in p for p in problems)


def test_valorcota_rounded_or_truncated_passes_one_unit_off_fails() -> None:
    # 100008843.78 / 65646000 = 1.52345678000182...: rounding and truncation both give ...78.
    assert check_invariants(*_header_positions(GOLDEN)) == []
    off = golden_with("<valorcota>1.52345678</valorcota>", "<valorcota>1.52345679</valorcota>")
    problems = check_invariants(*_header_positions(off))
    assert len(problems) == 1
    assert "valorcota expected 1.52345678" in problems[0]
    assert "difference 1E-8" in problems[0]


def test_valorcota_truncation_accepted_when_it_differs_from_rounding() -> None:
    # 100008843.78 / 70000000 = 1.428697768285714...: truncated ...76, rounded ...77.
    base = golden_with("<quantidade>65646000.00000000</quantidade>",
                       "<quantidade>70000000.00000000</quantidade>")
    for cota in (b"1.42869776", b"1.42869777"):
        data = base.replace(b"1.52345678", cota)
        assert check_invariants(*_header_positions(data)) == []
    data = base.replace(b"1.52345678", b"1.42869775")
    assert len(check_invariants(*_header_positions(data))) == 1


def _header_positions(data: bytes) -> tuple[FundHeader, tuple[Position, ...]]:
    portfolio = parse_one(data)
    return portfolio.header, portfolio.positions


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_iter_report_files_zip_and_single_xml() -> None:
    second = golden_with("<cnpj>45112233000114</cnpj>", "<cnpj>11222333000181</cnpj>")
    payload = _zip({"A_20250411.xml": GOLDEN, "B_20250411.xml": second})
    files = list(iter_report_files(payload, "download.bin"))
    assert [name for name, _ in files] == ["A_20250411.xml", "B_20250411.xml"]
    assert [parse_one(data).header.cnpj for _, data in files] == ["45112233000114",
                                                                   "11222333000181"]
    # A single XML, even with a byte-order mark and a misleading file name.
    single = b"\xef\xbb\xbf" + GOLDEN
    assert list(iter_report_files(single, "report.zip")) == [("report.zip", single)]
    assert parse_one(single).header.cnpj == "45112233000114"


def test_sniff_kind() -> None:
    assert sniff_kind(b"PK\x03\x04rest", "x.xml") == "zip"
    assert sniff_kind(b"  \r\n<?xml", "x.zip") == "xml"
    assert sniff_kind(b"%PDF-1.7", "Carteira.PDF") == "pdf"
    assert sniff_kind(b"\x00\x01", "noext") == ""


@pytest.mark.parametrize(
    ("payload", "name", "fragment"),
    [
        (b"PK\x03\x04" + b"\x00" * 40, "download.zip", "not a readable ZIP"),
        (b"%PDF-1.7 ...", "download.zip", "not a readable ZIP"),  # extension decides: zip
        (b"%PDF-1.7 ...", "Carteira.pdf", "neither a ZIP nor an XML document (looks like 'pdf')"),
        (_zip({"Carteira.pdf": b"%PDF-1.7"}), "download.zip", "download.zip!Carteira.pdf"),
    ],
    ids=["corrupt-zip", "pdf-named-zip", "pdf", "zip-with-pdf"],
)
def test_iter_report_files_rejects_non_xml(payload: bytes, name: str, fragment: str) -> None:
    with pytest.raises(DataQualityError) as caught:
        list(iter_report_files(payload, name))
    assert fragment in str(caught.value)
