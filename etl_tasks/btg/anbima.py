"""Parser for the ANBIMA "XML de posição de ativos" layout 4.01 (BTG ``typeReport=3``).

One document holds one ``<fundo>`` (the layout allows several): a ``<header>`` with the fund's
totals and one element per position, grouped by section (``titpublico``, ``acoes``, ``cotas``,
``caixa``, ``provisao``…; api-contract.md B4.1). This module turns the bytes into typed values:

* money, quantities, prices and percentages -> :class:`decimal.Decimal` built from the element
  text exactly (never through ``float``); dates (``YYYYMMDD``) -> :class:`datetime.date`;
* every element's raw text is kept in ``raw`` so no field of the file is lost;
* :func:`check_invariants` re-adds the positions and compares them to the header to the cent.

Security: the document is parsed by expat through ``xml.etree.ElementTree.TreeBuilder`` with any
DOCTYPE/ENTITY declaration rejected, so entity expansion ("billion laughs") and external entities
cannot happen. The encoding declaration is honoured (UTF-8 and ISO-8859-1 files both work).

Usage::

    for name, xml_bytes in iter_report_files(payload, "carteira.zip"):
        for portfolio in parse_anbima_xml(xml_bytes, name):
            problems = check_invariants(portfolio.header, portfolio.positions)
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, Context, Decimal, localcontext
from types import MappingProxyType
from typing import NoReturn
from xml.etree.ElementTree import Element, TreeBuilder
from xml.parsers import expat

from etl_tasks.errors import DataQualityError

ROOT_TAG = "arquivoposicao_4_01"
CENT = Decimal("0.01")
QUOTA_PLACES = Decimal("0.00000001")

# Sections whose positions make up ``valorativos`` (B4.1 invariant).
SECURITY_SECTIONS = ("titpublico", "titprivado", "debenture", "acoes")
ASSET_SECTIONS = (*SECURITY_SECTIONS, "cotas", "caixa")

# Element names that carry decimals / dates wherever they appear (header or any section).
DECIMAL_FIELDS = frozenset({
    "valorcota", "quantidade", "patliq", "valorativos", "valorreceber", "valorpagar",
    "vlcotasemitir", "vlcotasresgatar", "qtdisponivel", "qtgarantia", "pucompra", "puvencimento",
    "puposicao", "puemissao", "principal", "tributos", "valorfindisp", "valorfinemgar", "coupom",
    "percindex", "percprovcred", "saldo", "valor", "txadm", "perctaxaadm", "vltxperf",
    "perctxperf", "outtax", "txalug", "puretorno", "perindexcomp", "txoperacao",
})
DATE_FIELDS = frozenset({
    "dtposicao", "dtemissao", "dtoperacao", "dtvencimento", "dt", "dtvencalug", "dtretorno",
})

# Header fields the pipeline cannot do without; the others are kept when present.
REQUIRED_HEADER = ("cnpj", "nome", "dtposicao", "valorcota", "quantidade", "patliq",
                   "valorativos", "valorreceber", "valorpagar")
# Per section, the fields the valorativos/receber/pagar arithmetic needs.
REQUIRED_POSITION_FIELDS: Mapping[str, tuple[str, ...]] = {
    **{section: ("valorfindisp",) for section in SECURITY_SECTIONS},
    "cotas": ("qtdisponivel", "puposicao"),
    "caixa": ("saldo",),
    "provisao": ("credeb", "valor"),
}
# Which element identifies the asset in each section.
ASSET_CODE_FIELD: Mapping[str, str] = {
    "titpublico": "codativo", "titprivado": "codativo", "acoes": "codativo",
    "debenture": "coddeb", "cotas": "cnpjfundo", "caixa": "isininstituicao",
    "provisao": "codprov", "outrasdespesas": "coddesp",
}
ISSUER_CNPJ_FIELD: Mapping[str, str] = {
    "titprivado": "cnpjemissor", "debenture": "cnpjemissor", "cotas": "cnpjfundo",
}

_DECIMAL_TEXT = re.compile(r"-?(\d+(\.\d*)?|\.\d+)")
_DATE_TEXT = re.compile(r"\d{8}")
# Wide enough that products like 15000000.00000000 x 2.91845440 are exact before rounding.
_EXACT = Context(prec=60)
# A ZIP member larger than this is refused rather than inflated into memory (zip bomb guard);
# a real day's file for one fund is a few hundred KiB.
MAX_MEMBER_BYTES = 256 * 1024 * 1024
MIB = 1024 * 1024
READ_CHUNK = MIB


@dataclass(frozen=True)
class ZipLimits:
    """Caps on a carteira ZIP (zip bombs): checked on the central directory's claims first,
    then again on the bytes actually inflated, member by member in 1 MiB reads, so no more than
    ``max_total_bytes`` is ever held whatever the archive claims."""

    max_members: int = 5000
    max_member_bytes: int = MAX_MEMBER_BYTES
    max_total_bytes: int = 512 * MIB
    max_ratio: int = 200  # inflated / compressed, for members over ``ratio_floor_bytes``
    ratio_floor_bytes: int = MIB


DEFAULT_ZIP_LIMITS = ZipLimits()


@dataclass(frozen=True)
class FundHeader:
    """The ``<header>`` of one ``<fundo>``: identity, administrator/manager/custodian, totals."""

    cnpj: str
    nome: str
    dtposicao: dt.date
    valorcota: Decimal
    quantidade: Decimal
    patliq: Decimal
    valorativos: Decimal
    valorreceber: Decimal
    valorpagar: Decimal
    isin: str | None = None
    nomeadm: str | None = None
    cnpjadm: str | None = None
    nomegestor: str | None = None
    cnpjgestor: str | None = None
    nomecustodiante: str | None = None
    cnpjcustodiante: str | None = None
    vlcotasemitir: Decimal | None = None
    vlcotasresgatar: Decimal | None = None
    codanbid: str | None = None
    tipofundo: int | None = None
    nivelrsc: str | None = None
    raw: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Position:
    """One position element of a section (``titpublico``, ``cotas``, ``caixa``, ``provisao``…).

    ``ordinal`` is the 1-based order of the element within its section. ``market_value`` is its
    contribution per the B4.1 composition: ``valorfindisp`` for securities, ``qtdisponivel x
    puposicao`` rounded to the cent (ROUND_HALF_UP) for fund quotas, ``saldo`` for cash, and
    ``+valor`` / ``-valor`` for credit / debit provisions; ``None`` for sections outside it
    (``despesas``, ``outrasdespesas``, derivatives…). ``decimals`` and ``dates`` hold every field
    with a known numeric/date meaning, ``raw`` every field's text (children as ``child.field``).
    """

    section: str
    ordinal: int
    isin: str | None
    asset_code: str | None
    issuer_cnpj: str | None
    qtdisponivel: Decimal | None
    qtgarantia: Decimal | None
    pucompra: Decimal | None
    puposicao: Decimal | None
    valorfindisp: Decimal | None
    valorfinemgar: Decimal | None
    saldo: Decimal | None
    valor: Decimal | None
    credeb: str | None
    market_value: Decimal | None
    decimals: Mapping[str, Decimal]
    dates: Mapping[str, dt.date]
    raw: Mapping[str, str]


@dataclass(frozen=True)
class Portfolio:
    """One ``<fundo>`` of a document: its header and positions in document order."""

    source: str
    header: FundHeader
    positions: tuple[Position, ...]


def parse_anbima_xml(data: bytes, source: str) -> list[Portfolio]:
    """Parse an ANBIMA 4.01 document (bytes) into one :class:`Portfolio` per ``<fundo>``.

    ``source`` names the file in error messages. Raises :class:`DataQualityError` for malformed
    XML, a DOCTYPE/ENTITY declaration, a wrong root, a fund without header, or a bad value.
    """
    root = _parse_xml(data, source)
    if root.tag != ROOT_TAG:
        _fail(source, f"root element is <{root.tag}>, expected <{ROOT_TAG}>",
              "request typeReport=3 (ANBIMA XML 4.01); typeReport 81 (XML 5.0) is another layout")
    portfolios = []
    for element in root:
        if element.tag == "fundo":
            portfolios.append(_parse_fundo(element, source))
        elif element.tag == "carteira":
            _fail(source, "contains a managed-account <carteira>, not a <fundo>",
                  "only fund portfolios are loaded; request the report per fund")
    if not portfolios:
        _fail(source, f"<{ROOT_TAG}> has no <fundo> element", "the report is empty; re-request it")
    return portfolios


def check_invariants(header: FundHeader, positions: Iterable[Position]) -> list[str]:
    """The B4.1 invariants that do not hold, one readable message each ([] = consistent).

    Money is compared exactly (Decimal equality, i.e. to the cent and beyond)::

        valorativos  = Σ valorfindisp(securities) + Σ round(qtdisponivel·puposicao, 2)(cotas)
                       + Σ saldo(caixa)
        valorreceber = Σ valor(provisao C)       valorpagar = Σ valor(provisao D)
        patliq       = valorativos + valorreceber - valorpagar   (header values)

    ``valorcota`` must equal ``patliq / quantidade`` either rounded half-up or truncated to 8
    decimals: administrators differ in which one they apply, and both are the quotient "to 8
    decimals"; anything further away (one unit in the 8th decimal or more) is a violation.
    """
    positions = list(positions)
    label = f"fund {header.cnpj} ({header.nome}) on {header.dtposicao.isoformat()}"
    problems: list[str] = []

    def compare(name: str, expected: Decimal, found: Decimal, how: str) -> None:
        if expected != found:
            problems.append(
                f"{label}: {name} expected {expected} ({how}), found {found}, "
                f"difference {found - expected}"
            )

    assets = [p for p in positions if p.section in ASSET_SECTIONS]
    with localcontext(_EXACT):
        compare("valorativos", sum((p.market_value for p in assets), Decimal("0.00")),
                header.valorativos, f"sum of {len(assets)} asset positions")
        credits = [p.valor for p in positions if p.section == "provisao" and p.credeb == "C"]
        debits = [p.valor for p in positions if p.section == "provisao" and p.credeb == "D"]
        compare("valorreceber", sum(credits, Decimal("0.00")), header.valorreceber,
                f"sum of {len(credits)} credit provisions")
        compare("valorpagar", sum(debits, Decimal("0.00")), header.valorpagar,
                f"sum of {len(debits)} debit provisions")
        compare("patliq", header.valorativos + header.valorreceber - header.valorpagar,
                header.patliq, "valorativos + valorreceber - valorpagar")
        if header.quantidade == 0:
            problems.append(f"{label}: quantidade is 0, so valorcota cannot be checked")
        else:
            quotient = header.patliq / header.quantidade
            allowed = {quotient.quantize(QUOTA_PLACES, ROUND_HALF_UP),
                       quotient.quantize(QUOTA_PLACES, ROUND_DOWN)}
            if header.valorcota not in allowed:
                expected = quotient.quantize(QUOTA_PLACES, ROUND_HALF_UP)
                problems.append(
                    f"{label}: valorcota expected {expected} (patliq / quantidade to 8 decimals),"
                    f" found {header.valorcota}, difference {header.valorcota - expected}"
                )
    return problems


def sniff_kind(data: bytes, filename: str = "") -> str:
    """``"zip"`` or ``"xml"`` from the content (B4: never trust headers), else from the extension.

    ``PK\\x03\\x04`` -> zip; first non-blank character ``<`` (after an optional BOM) -> xml.
    Returns the lower-case extension (``"xlsx"``, ``"pdf"``…) when the content says neither.
    """
    if data.startswith(b"PK\x03\x04"):
        return "zip"
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if data.lstrip(b" \t\r\n").startswith(b"<"):
        return "xml"
    return filename.rsplit(".", 1)[-1].lower() if "." in filename else ""


def iter_report_files(data: bytes, name: str, limits: ZipLimits = DEFAULT_ZIP_LIMITS
                      ) -> Iterator[tuple[str, bytes]]:
    """Yield ``(file name, xml bytes)`` of a carteira payload: each XML of a ZIP, or the XML itself.

    Raises :class:`DataQualityError` for a corrupt ZIP, a member or payload that is not XML (e.g.
    an XLSX/PDF report requested by mistake), or an archive over ``limits`` (member count, a
    member's size, the total inflated size, the compression ratio).
    """
    kind = sniff_kind(data, name)
    if kind == "xml":
        yield name, data
        return
    if kind != "zip":
        _fail(name, f"is neither a ZIP nor an XML document (looks like {kind or 'unknown'!r})",
              "request typeReport=3 so BTG returns ANBIMA XML files")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [info for info in archive.infolist() if not info.is_dir()]
        _check_claims(name, members, limits)
        total = 0
        for info in members:
            member = _read_member(archive, info, name, limits, limits.max_total_bytes - total)
            total += len(member)
            if sniff_kind(member, info.filename) != "xml":
                _fail(f"{name}!{info.filename}", "is not an XML document",
                      "request typeReport=3 so every file of the ZIP is ANBIMA XML")
            yield info.filename, member
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error,
            NotImplementedError, RuntimeError) as error:  # RuntimeError: an encrypted member
        _fail(name, f"is not a readable ZIP archive ({error})",
              "the download is truncated or corrupt; request the report again")


def _check_claims(name: str, members: list[zipfile.ZipInfo], limits: ZipLimits) -> None:
    """Refuse an archive on what its central directory says, before inflating anything."""
    fix = "a day's portfolio is far smaller; check the download with BTG before loading it"
    if len(members) > limits.max_members:
        _fail(name, f"has {len(members)} members (at most {limits.max_members} accepted)", fix)
    claimed = sum(info.file_size for info in members)
    if claimed > limits.max_total_bytes:
        _fail(name, f"claims {claimed} inflated bytes (at most {limits.max_total_bytes} "
              "accepted)", fix)
    for info in members:
        where = f"{name}!{info.filename}"
        if info.file_size > limits.max_member_bytes:
            _fail(where, f"inflates to {info.file_size} bytes",
                  f"members over {limits.max_member_bytes} bytes are refused; check the download")
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > limits.ratio_floor_bytes and ratio > limits.max_ratio:
            _fail(where, f"inflates {ratio:.0f} times its compressed size (at most "
                  f"{limits.max_ratio} accepted: a zip bomb)", fix)


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, limits: ZipLimits,
                 budget: int) -> bytes:
    """One member's bytes, read in chunks and cut off at the member/total caps (a lying
    header cannot make us hold more than the caps)."""
    cap = min(limits.max_member_bytes, budget)
    chunks: list[bytes] = []
    size = 0
    with archive.open(info) as stream:
        while chunk := stream.read(READ_CHUNK):
            size += len(chunk)
            if size > cap:
                _fail(f"{name}!{info.filename}", f"inflates past {cap} bytes",
                      "the archive is larger than it claims or over the caps; check the download")
            chunks.append(chunk)
    return b"".join(chunks)


def _parse_xml(data: bytes, source: str) -> Element:
    """Build an ElementTree from ``data`` with expat, refusing DTDs (no entity expansion)."""
    builder = TreeBuilder()
    parser = expat.ParserCreate()
    parser.buffer_text = True

    def refuse(*_args: object) -> NoReturn:
        raise DataQualityError(
            f"{source}: XML declares a DOCTYPE/ENTITY, which ANBIMA 4.01 files never do; refused "
            "to avoid entity expansion. Check where the file came from."
        )

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(data, True)
        return builder.close()
    except (expat.ExpatError, LookupError, ValueError) as error:  # LookupError: unknown encoding
        _fail(source, f"is not well-formed XML ({error})",
              "the file is truncated or corrupt; request the report again")
    except AssertionError:  # TreeBuilder.close() on an empty/unfinished document
        _fail(source, "contains no complete XML document", "request the report again")


def _parse_fundo(element: Element, source: str) -> Portfolio:
    header_element = element.find("header")
    if header_element is None:
        _fail(source, "<fundo> has no <header>", "the file is not a valid ANBIMA 4.01 document")
    header = _parse_header(header_element, source)
    where = f"{source} (fund {header.cnpj}, {header.dtposicao.isoformat()})"
    ordinals: dict[str, int] = {}
    positions = []
    for child in element:
        if child.tag == "header":
            continue
        ordinals[child.tag] = ordinals.get(child.tag, 0) + 1
        positions.append(_parse_position(child, ordinals[child.tag], where))
    return Portfolio(source=source, header=header, positions=tuple(positions))


def _parse_header(element: Element, source: str) -> FundHeader:
    raw = _flatten(element)
    where = f"{source} (fund {raw.get('cnpj') or '?'})"
    for name in REQUIRED_HEADER:
        if not raw.get(name):
            _fail(where, f"<header>/<{name}> is missing or empty",
                  "the file is not a complete ANBIMA 4.01 document")
    decimals, dates = _typed_fields(raw, where, "<header>/")
    tipofundo = raw.get("tipofundo") or None
    if tipofundo is not None and not tipofundo.isdigit():
        _fail(where, f"<header>/<tipofundo> is not an integer: {tipofundo!r}",
              "the file is not a valid ANBIMA 4.01 document")
    text = {name: raw.get(name) or None for name in (
        "isin", "nomeadm", "cnpjadm", "nomegestor", "cnpjgestor", "nomecustodiante",
        "cnpjcustodiante", "codanbid", "nivelrsc")}
    return FundHeader(
        cnpj=raw["cnpj"], nome=raw["nome"], dtposicao=dates["dtposicao"],
        valorcota=decimals["valorcota"], quantidade=decimals["quantidade"],
        patliq=decimals["patliq"], valorativos=decimals["valorativos"],
        valorreceber=decimals["valorreceber"], valorpagar=decimals["valorpagar"],
        vlcotasemitir=decimals.get("vlcotasemitir"),
        vlcotasresgatar=decimals.get("vlcotasresgatar"),
        tipofundo=int(tipofundo) if tipofundo is not None else None,
        raw=MappingProxyType(raw), **text,
    )


def _parse_position(element: Element, ordinal: int, where: str) -> Position:
    section = element.tag
    label = f"<{section}>[{ordinal}]"
    raw = _flatten(element)
    for name in REQUIRED_POSITION_FIELDS.get(section, ()):
        if not raw.get(name):
            _fail(where, f"{label}/<{name}> is missing or empty",
                  "the file is not a complete ANBIMA 4.01 document")
    decimals, dates = _typed_fields(raw, where, f"{label}/")
    credeb = raw.get("credeb") or None
    if section == "provisao" and credeb not in ("C", "D"):
        _fail(where, f"{label}/<credeb> is {credeb!r}, expected 'C' or 'D'",
              "the file is not a valid ANBIMA 4.01 document")
    code_field = ASSET_CODE_FIELD.get(section, "codativo")
    issuer_field = ISSUER_CNPJ_FIELD.get(section)
    return Position(
        section=section, ordinal=ordinal,
        isin=raw.get("isin") or None,
        asset_code=raw.get(code_field) or None,
        issuer_cnpj=(raw.get(issuer_field) or None) if issuer_field else None,
        qtdisponivel=decimals.get("qtdisponivel"), qtgarantia=decimals.get("qtgarantia"),
        pucompra=decimals.get("pucompra"), puposicao=decimals.get("puposicao"),
        valorfindisp=decimals.get("valorfindisp"), valorfinemgar=decimals.get("valorfinemgar"),
        saldo=decimals.get("saldo"), valor=decimals.get("valor"), credeb=credeb,
        market_value=_market_value(section, decimals, credeb),
        decimals=MappingProxyType(decimals), dates=MappingProxyType(dates),
        raw=MappingProxyType(raw),
    )


def _market_value(section: str, decimals: Mapping[str, Decimal], credeb: str | None
                  ) -> Decimal | None:
    if section in SECURITY_SECTIONS:
        return decimals["valorfindisp"]
    if section == "cotas":
        with localcontext(_EXACT):
            product = decimals["qtdisponivel"] * decimals["puposicao"]
        return product.quantize(CENT, ROUND_HALF_UP)
    if section == "caixa":
        return decimals["saldo"]
    if section == "provisao":
        return decimals["valor"] if credeb == "C" else -decimals["valor"]
    return None


def _flatten(element: Element, prefix: str = "") -> dict[str, str]:
    """Every leaf element's stripped text by tag; nested children as ``parent.child``."""
    fields: dict[str, str] = {}
    for child in element:
        key = f"{prefix}{child.tag}"
        if len(child):
            fields.update(_flatten(child, f"{key}."))
        else:
            fields[key] = (child.text or "").strip()
    return fields


def _typed_fields(raw: Mapping[str, str], where: str, path: str
                  ) -> tuple[dict[str, Decimal], dict[str, dt.date]]:
    """Decimals and dates of the non-empty known fields, keyed like ``raw``.

    ``path`` (e.g. ``"<titpublico>[2]/"``) locates the element in error messages.
    """
    decimals: dict[str, Decimal] = {}
    dates: dict[str, dt.date] = {}
    for key, text in raw.items():
        leaf = key.rsplit(".", 1)[-1]
        if not text:
            continue
        if leaf in DECIMAL_FIELDS:
            decimals[key] = _decimal(text, where, f"{path}<{key}>")
        elif leaf in DATE_FIELDS:
            dates[key] = _date(text, where, f"{path}<{key}>")
    return decimals, dates


def _decimal(text: str, where: str, name: str) -> Decimal:
    # Decimal() alone would also accept "NaN", "1e5" and "1_000"; the layout allows none of them.
    if not _DECIMAL_TEXT.fullmatch(text):
        _fail(where, f"{name} is not a decimal: {text!r}",
              "ANBIMA 4.01 decimals use '.' and no thousands separator; fix the source file")
    return Decimal(text)


def _date(text: str, where: str, name: str) -> dt.date:
    try:
        if not _DATE_TEXT.fullmatch(text):
            raise ValueError("not 8 digits")
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        _fail(where, f"{name} is not a YYYYMMDD date: {text!r}",
              "ANBIMA 4.01 dates are YYYYMMDD; fix the source file")


def _fail(where: str, problem: str, fix: str) -> NoReturn:
    raise DataQualityError(f"ANBIMA carteira file {where}: {problem}. {fix[0].upper()}{fix[1:]}.")
