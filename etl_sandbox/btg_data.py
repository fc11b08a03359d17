"""The BTG sandbox dataset: funds, daily NAV series and ANBIMA positions, all from one seed.

Rules (api-contract.md B9): 8-12 funds with valid CNPJ/ISIN check digits, a mix of FIC FIM / FIM /
FIRF / FIA, accented names; one FIC holds another sandbox fund's quotas at that fund's own quota
of the day; one fund starts mid-range (2025-03-17); one fund misses a day (2025-04-09). Data is
served for ANBIMA business days from :data:`SERVE_START` to :data:`SERVE_END`; the history runs
from 2020 so 12/24/36-month returns exist from the first served day.

How the B4.1 invariants hold *exactly*: each fund's quota path and quotas outstanding are built
day by day (quantidade with 8 decimals), then ``patliq = round(quota_path x quantidade, 2)`` and
the published ``valorcota = round(patliq / quantidade, 8)`` (ROUND_HALF_UP), so ``valorcota`` is
``patliq / quantidade`` to 8 decimals by construction. A day's positions start from ``patliq``:
provisions give ``valorreceber``/``valorpagar``, ``valorativos = patliq + valorpagar -
valorreceber``, every holding gets a quantity and a cent-rounded value, and cash (``caixa``)
takes the remainder, so the sums are exact Decimals. The rentabilidade record of the same fund
and day reads the same numbers (``liquidQuote``, ``assetValue``, ``numberOfQuotes``), and its
returns are ratios of published quotas and index levels (:mod:`btg_market`), so day, month, year
and 12/24/36-month figures compound consistently.

Only ``random.Random`` instances seeded from the dataset seed are used; building is lazy (a fund's
series on first use, a day's positions on request), so server start-up stays fast.

Usage (tests compute expected rows without HTTP)::

    data = dataset_for_seed(42)
    for fund in data.funds_on(date(2025, 4, 10)):
        xml = data.portfolio_xml(fund, date(2025, 4, 10))
        record = data.nav_record(fund, date(2025, 4, 10), ["CDIE"])
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, Context, Decimal, localcontext
from functools import lru_cache
from typing import Any

from etl_sandbox.btg_ids import (
    isin_with_check_digit,
    random_cnpj,
    random_fund_isin,
)
from etl_sandbox.btg_market import HISTORY_START, LevelSeries, Market, cdi_annual_percent
from etl_sandbox.btg_xml import PortfolioDocument, render_portfolio
from etl_tasks.calendar import is_business_day, next_business_day

SERVE_START = dt.date(2024, 1, 2)
SERVE_END = dt.date(2026, 12, 31)
MID_RANGE_INCEPTION = dt.date(2025, 3, 17)
MISSING_DAY = dt.date(2025, 4, 9)
SUPPORTED_INDEXERS = ("CDIE", "IMA-B", "IBOV")

CENT = Decimal("0.01")
PLACES_8 = Decimal("0.00000001")
PLACES_12 = Decimal("0.000000000001")
PERCENT_PLACES = Decimal("0.0001")
RATIO_PLACES = Decimal("0.01")
ZERO_MONEY = Decimal("0.00")
ZERO_8 = Decimal("0.00000000")
_PRECISE = Context(prec=50)

ADMINISTRATOR = ("BTG PACTUAL SERVIÇOS FINANCEIROS S.A. DTVM", "59281253000123")
CUSTODIAN = ("BANCO BTG PACTUAL S.A.", "30306294000145")
MANAGER_NAME = "SANDBOX GESTÃO DE RECURSOS LTDA"
CASH_INSTITUTION_ISIN = "BRBPACACNOR7"

# Kind -> (ANBIMA tipofundo code [P], nivelrsc, daily return noise).
KINDS = {"FIC FIM": (2, "MM", 0.00005), "FIM": (3, "MM", 0.0006),
         "FIRF": (4, "BB", 0.00003), "FIA": (5, "AA", 0.0030)}

# The roster: key, name, kind, benchmark, holdings as (asset kind, weight). The first eight are
# always present (they carry the special cases); 0-4 of the rest join depending on the seed.
ROSTER: tuple[tuple[str, str, str, str, tuple[tuple[str, str], ...]], ...] = (
    ("ALFA", "SANDBOX ALFA FIC FIM CP", "FIC FIM", "CDIE",
     (("FUND:BETA", "0.90"), ("EXTFUND", "0.06"))),
    ("BETA", "SANDBOX BETA FIRF REFERENCIADO DI", "FIRF", "CDIE",
     (("LFT", "0.55"), ("CDB", "0.20"), ("LF", "0.18"))),
    ("PREV", "SANDBOX PREVIDÊNCIA RENDA FIXA FIRF", "FIRF", "IMA-B",
     (("LFT", "0.30"), ("NTNB", "0.50"), ("DEB", "0.12"))),
    ("ACOES", "SANDBOX AÇÕES LIVRE FIA", "FIA", "IBOV",
     (("STOCK", "0.16"), ("STOCK", "0.15"), ("STOCK", "0.14"), ("STOCK", "0.14"),
      ("STOCK", "0.13"), ("STOCK", "0.12"), ("LFT", "0.10"))),
    ("CRED", "SANDBOX CRÉDITO PRIVADO FIM CP", "FIM", "CDIE",
     (("DEB", "0.25"), ("DEB", "0.20"), ("CDB", "0.15"), ("LFT", "0.25"), ("EXTFUND", "0.10"))),
    ("OMEGA", "SANDBOX ÔMEGA TESOURO FIRF", "FIRF", "CDIE",
     (("LFT", "0.60"), ("LTN", "0.35"))),
    ("DELTA", "SANDBOX DELTA DIVIDENDOS FIA", "FIA", "IBOV",
     (("STOCK", "0.24"), ("STOCK", "0.22"), ("STOCK", "0.22"), ("STOCK", "0.20"),
      ("LFT", "0.08"))),
    ("SIGMA", "SANDBOX SIGMA MULTIESTRATÉGIA FIC FIM", "FIC FIM", "CDIE",
     (("EXTFUND", "0.45"), ("EXTFUND", "0.50"))),
    ("GAMA", "SANDBOX GAMA MACRO FIM", "FIM", "CDIE",
     (("LFT", "0.40"), ("NTNB", "0.20"), ("STOCK", "0.10"), ("STOCK", "0.08"),
      ("EXTFUND", "0.15"))),
    ("TAU", "SANDBOX TAU INFLAÇÃO FIRF LP", "FIRF", "IMA-B",
     (("NTNB", "0.60"), ("LTN", "0.20"), ("LFT", "0.15"))),
    ("EPSILON", "SANDBOX ÉPSILON EQUILÍBRIO FIM", "FIM", "CDIE",
     (("LFT", "0.50"), ("DEB", "0.15"), ("STOCK", "0.15"), ("CDB", "0.15"))),
    ("KAPPA", "SANDBOX KAPPA SMALL CAPS FIA", "FIA", "IBOV",
     (("STOCK", "0.30"), ("STOCK", "0.30"), ("STOCK", "0.30"), ("LFT", "0.05"))),
)

STOCKS = (("PETR4", "BRPETRACNPR", "31.20"), ("VALE3", "BRVALEACNOR", "61.50"),
          ("ITUB4", "BRITUBACNPR", "27.80"), ("BBDC4", "BRBBDCACNPR", "16.10"),
          ("ABEV3", "BRABEVACNOR", "13.40"), ("WEGE3", "BRWEGEACNOR", "38.90"),
          ("B3SA3", "BRB3SAACNOR", "11.70"), ("RENT3", "BRRENTACNOR", "55.30"))
SECTION_ORDER = ("titpublico", "titprivado", "debenture", "acoes", "caixa", "cotas",
                 "despesas", "outrasdespesas", "provisao")


@dataclass(frozen=True)
class Asset:
    """One security or fund quota the sandbox funds may hold; priced per day by :meth:`price`."""

    model: str  # LFT LTN NTNB CDB LF DEB STOCK EXTFUND FUND
    section: str
    isin: str
    code: str  # codativo / coddeb / cnpjfundo
    issuer_cnpj: str | None
    indexador: str
    percindex: Decimal
    coupom: Decimal
    dtemissao: dt.date
    dtvencimento: dt.date | None
    puemissao: Decimal
    base_price: Decimal  # price when the driving level is 1 (HISTORY_START)
    lot: Decimal  # quantity step
    index_share: Decimal = Decimal(1)  # CDB/LF/DEB/EXTFUND: fraction of the CDI accrued
    held_fund: str | None = None  # FUND: key of the sandbox fund whose quotas these are


@dataclass(frozen=True)
class Holding:
    """A fund's target allocation to one asset (weight of valorativos) and its purchase date."""

    asset: Asset
    weight: Decimal
    acquired: dt.date


@dataclass(frozen=True)
class Fund:
    """One sandbox fund: identity, fees, benchmark, return model and holdings."""

    key: str
    name: str
    kind: str
    cnpj: str
    isin: str
    account: str
    codanbid: str
    benchmark: str
    admin_fee_percent: Decimal
    initial_quota: Decimal
    initial_patliq: Decimal
    start: dt.date  # first day of its series (HISTORY_START, or inception)
    cdi_multiple: float
    beta: float
    holdings: tuple[Holding, ...]
    missing_days: frozenset[dt.date] = field(default_factory=frozenset)
    manager_cnpj: str = ""

    @property
    def tipofundo(self) -> int:
        return KINDS[self.kind][0]

    @property
    def nivelrsc(self) -> str:
        return KINDS[self.kind][1]


@dataclass(frozen=True)
class NavDay:
    """One fund-day of the NAV series (quota, PL, quotas outstanding, flows, accrued admin fee)."""

    day: dt.date
    quota: Decimal
    raw_quote: Decimal
    patliq: Decimal
    quantity: Decimal
    acquisitions: Decimal
    redemptions: Decimal
    fee_accrued: Decimal


@dataclass
class FundSeries:
    """A fund's NAV series over every business day from its start, with a day -> index map."""

    navs: list[NavDay]
    position: dict[dt.date, int]


class BtgDataset:
    """Funds, NAV series and positions generated deterministically from ``seed``."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.market = Market(seed)
        self._lock = threading.RLock()
        self._series: dict[str, FundSeries] = {}
        rng = random.Random(f"{seed}|catalog")
        self._catalog = _AssetCatalog(rng)
        roster = ROSTER[: 8 + rng.randrange(5)]
        identities = _draw_identities(rng, [spec[0] for spec in roster])
        self.funds: tuple[Fund, ...] = tuple(
            _make_fund(spec, rng, self._catalog, identities) for spec in roster
        )
        self._by_key = {fund.key: fund for fund in self.funds}

    # ----- look-ups -------------------------------------------------------------------------

    def fund(self, key: str) -> Fund:
        """The fund with roster key ``key`` (e.g. ``"ALFA"``)."""
        return self._by_key[key]

    def find_funds(self, name_or_cnpj: str) -> list[Fund]:
        """Funds matching a BTG ``fundName``: ``""`` = all, else a name or a CNPJ (any punctuation).

        Names match without regard to case or accents, as a client may send either spelling.
        """
        wanted = name_or_cnpj.strip()
        if not wanted:
            return list(self.funds)
        digits = "".join(ch for ch in wanted if ch.isdigit())
        if len(digits) == 14 and not any(ch.isalpha() for ch in wanted):
            return [fund for fund in self.funds if fund.cnpj == digits]
        folded = fold_name(wanted)
        return [fund for fund in self.funds if fold_name(fund.name) == folded]

    def has_record(self, fund: Fund, day: dt.date) -> bool:
        """True when ``fund`` publishes a portfolio and a NAV for ``day``."""
        return (
            SERVE_START <= day <= SERVE_END
            and day >= fund.start
            and day not in fund.missing_days
            and is_business_day(day)
        )

    def funds_on(self, day: dt.date) -> list[Fund]:
        """The funds with a record on ``day`` (none on weekends, holidays, outside the range)."""
        return [fund for fund in self.funds if self.has_record(fund, day)]

    # ----- NAV series ------------------------------------------------------------------------

    def series(self, fund: Fund) -> FundSeries:
        """The fund's full NAV series (built on first use, then cached)."""
        with self._lock:
            if fund.key not in self._series:
                self._series[fund.key] = self._build_series(fund)
            return self._series[fund.key]

    def nav(self, fund: Fund, day: dt.date) -> NavDay:
        """The NAV of ``fund`` on business day ``day`` (KeyError before its start)."""
        series = self.series(fund)
        return series.navs[series.position[day]]

    def _build_series(self, fund: Fund) -> FundSeries:
        rng = random.Random(f"{self.seed}|series|{fund.key}")
        days = [d for d in self.market.days if d >= fund.start]
        cdi = self.market.series("CDIE")
        ibov = self.market.series("IBOV")
        held = self.series(self.fund(fund.holdings[0].asset.held_fund)) if (
            fund.holdings and fund.holdings[0].asset.held_fund) else None
        noise = KINDS[fund.kind][2]
        path = fund.initial_quota
        quantity = (fund.initial_patliq / fund.initial_quota).quantize(PLACES_8, ROUND_HALF_UP)
        patliq = fund.initial_patliq
        fee_accrued = ZERO_MONEY
        navs: list[NavDay] = []
        with localcontext(_PRECISE):
            for i, day in enumerate(days):
                acquisitions = redemptions = ZERO_MONEY
                if i:
                    rate = self._fund_return(fund, day, days[i - 1], rng, noise, cdi, ibov, held)
                    path = (path * (1 + rate)).quantize(PLACES_12, ROUND_HALF_UP)
                    acquisitions = _flow(rng, patliq, 0.55)
                    redemptions = _flow(rng, patliq, 0.45)
                    quantity += ((acquisitions - redemptions) / path).quantize(
                        PLACES_8, ROUND_HALF_UP)
                patliq = (path * quantity).quantize(CENT, ROUND_HALF_UP)
                quota = (patliq / quantity).quantize(PLACES_8, ROUND_HALF_UP)
                daily_fee = (patliq * fund.admin_fee_percent / 100 / 252).quantize(
                    CENT, ROUND_HALF_UP)
                same_month = i and days[i - 1].month == day.month
                fee_accrued = (fee_accrued if same_month else ZERO_MONEY) + daily_fee
                raw_quote = ((patliq + fee_accrued) / quantity).quantize(PLACES_8, ROUND_HALF_UP)
                navs.append(NavDay(day, quota, raw_quote, patliq, quantity, acquisitions,
                                   redemptions, fee_accrued))
        return FundSeries(navs, {nav.day: i for i, nav in enumerate(navs)})

    def _fund_return(self, fund: Fund, day: dt.date, previous: dt.date, rng: random.Random,
                     noise: float, cdi: LevelSeries, ibov: LevelSeries,
                     held: FundSeries | None) -> Decimal:
        """The day's return (fraction) of the fund's quota path, by fund kind."""
        if held is not None:
            # A FIC follows the fund it holds (90 %) plus CDI on the rest, plus a little noise.
            held_ratio = held.navs[held.position[day]].quota / held.navs[
                held.position[previous]].quota - 1
            base = 0.9 * float(held_ratio) + 0.1 * float(cdi.daily_return(day))
        elif fund.kind == "FIA":
            base = fund.beta * float(ibov.daily_return(day)) + 0.0001
        else:
            base = fund.cdi_multiple * float(cdi.daily_return(day))
        return Decimal(repr(round(base + rng.gauss(0.0, noise), 10)))

    # ----- rentabilidade (NAVPerformance) ----------------------------------------------------

    def nav_record(self, fund: Fund, day: dt.date, indexers: Sequence[str]) -> dict[str, Any]:
        """The B5 per-fund-per-day record (Decimals for numbers; percent returns, 4 decimals)."""
        series = self.series(fund)
        index = series.position[day]
        nav = series.navs[index]
        bases = _window_bases(series, index)
        fund_returns = {
            window: _ratio(nav.quota, series.navs[base].quota) if base is not None else None
            for window, base in bases.items()
        }
        percent = {window: _percent(value) for window, value in fund_returns.items()}
        differences = {}
        for code in indexers:
            level = self.market.series(code)
            index_returns = {
                window: (_ratio(level.level(day), level.level(series.navs[base].day))
                         if base is not None else None)
                for window, base in bases.items()
            }
            differences[code] = {
                "VariacaoIndexador": {
                    _QPD_KEYS[w]: _percent(v) for w, v in index_returns.items()},
                "NominalVsIndexador": {
                    _QPD_KEYS[w]: _versus(fund_returns[w], v) for w, v in index_returns.items()},
            }
        return {
            "account": fund.account,
            "cnpj": fund.cnpj,
            "referenceDate": f"{day.isoformat()}T00:00:00",
            "liquidQuote": nav.quota,
            "rawQuote": nav.raw_quote,
            "assetValue": nav.patliq,
            "numberOfQuotes": nav.quantity,
            "acquisitions": nav.acquisitions,
            "redemptions": nav.redemptions,
            "hierarchyClass": "CLASSE",
            "profitability": {k: percent[k] for k in ("day", "month", "year")},
            "nominalQuoteList": [{
                "type": "Nominal", "day": percent["day"], "month": percent["month"],
                "year": percent["year"], "twelveMonths": percent["twelve"],
                "twentyFourMonths": percent["twentyfour"],
                "thirtySixMonths": percent["thirtysix"],
            }],
            "quotaProfitabilityDifference": differences,
        }

    def nav_records(self, day: dt.date, indexers: Sequence[str] = ("CDIE",)
                    ) -> list[dict[str, Any]]:
        """``[{"fundName", "data": [record]}]`` for every fund with a record on ``day``."""
        return [{"fundName": fund.name, "data": [self.nav_record(fund, day, indexers)]}
                for fund in self.funds_on(day)]

    # ----- carteira (Portfolio, ANBIMA XML 4.01) ---------------------------------------------

    def portfolio(self, fund: Fund, day: dt.date) -> PortfolioDocument:
        """The fund's ANBIMA 4.01 position document for ``day`` (header + ordered sections)."""
        nav = self.nav(fund, day)
        rng = random.Random(f"{self.seed}|portfolio|{fund.key}|{day.isoformat()}")
        settle = next_business_day(day)
        # Custody accrues like the admin fee: a little per business day since the month began.
        custody = (nav.patliq * Decimal("0.00001") * self._business_day_of_month(fund, day)
                   ).quantize(CENT, ROUND_HALF_UP)
        provisions = [("1", "D", _first_business_day_of_next_month(day), nav.fee_accrued),
                      ("2", "D", _first_business_day_of_next_month(day), custody)]
        if nav.redemptions:
            provisions.append(("4", "D", settle, nav.redemptions))
        if fund.kind == "FIA" and rng.random() < 0.25:
            dividend = (nav.patliq * Decimal(repr(round(rng.uniform(0.0002, 0.002), 6)))
                        ).quantize(CENT, ROUND_HALF_UP)
            provisions.append(("3", "C", settle, dividend))
        payables = sum((p[3] for p in provisions if p[1] == "D"), ZERO_MONEY)
        receivables = sum((p[3] for p in provisions if p[1] == "C"), ZERO_MONEY)
        assets_total = nav.patliq + payables - receivables

        sections: list[tuple[str, list[tuple[str, object]]]] = []
        invested = ZERO_MONEY
        for holding in fund.holdings:
            jitter = Decimal(repr(round(rng.uniform(-0.03, 0.03), 6)))
            row = self._holding_row(holding, day, assets_total * holding.weight * (1 + jitter))
            if row is not None:
                value, section, fields = row
                invested += value
                sections.append((section, fields))
        cash = assets_total - invested
        sections.append(("caixa", [("isininstituicao", CASH_INSTITUTION_ISIN), ("tpconta", 1),
                                   ("saldo", cash)]))
        sections.append(("despesas", [
            ("txadm", nav.fee_accrued), ("tributos", ZERO_MONEY),
            ("perctaxaadm", fund.admin_fee_percent), ("txperf", "N"),
            ("vltxperf", ZERO_MONEY), ("perctxperf", ZERO_MONEY), ("percindex", ZERO_MONEY),
            ("outtax", ZERO_MONEY)]))
        sections.append(("outrasdespesas", [("coddesp", 2), ("valor", custody)]))
        for code, credeb, when, value in provisions:
            sections.append(("provisao", [("codprov", int(code)), ("credeb", credeb),
                                          ("dt", when), ("valor", value)]))
        sections.sort(key=lambda item: SECTION_ORDER.index(item[0]))
        header = [
            ("isin", fund.isin), ("cnpj", fund.cnpj), ("nome", fund.name), ("dtposicao", day),
            ("nomeadm", ADMINISTRATOR[0]), ("cnpjadm", ADMINISTRATOR[1]),
            ("nomegestor", MANAGER_NAME), ("cnpjgestor", fund.manager_cnpj),
            ("nomecustodiante", CUSTODIAN[0]), ("cnpjcustodiante", CUSTODIAN[1]),
            ("valorcota", nav.quota), ("quantidade", nav.quantity), ("patliq", nav.patliq),
            ("valorativos", assets_total), ("valorreceber", receivables),
            ("valorpagar", payables), ("vlcotasemitir", nav.acquisitions),
            ("vlcotasresgatar", nav.redemptions), ("codanbid", fund.codanbid),
            ("tipofundo", fund.tipofundo), ("nivelrsc", fund.nivelrsc),
        ]
        return PortfolioDocument(header=header, sections=sections)

    def _business_day_of_month(self, fund: Fund, day: dt.date) -> int:
        """1 on the month's first business day in the fund's series, 2 on the next, ..."""
        series = self.series(fund)
        index = series.position[day]
        count = 1
        while index - count >= 0 and series.navs[index - count].day.month == day.month:
            count += 1
        return count

    def portfolio_xml(self, fund: Fund, day: dt.date, *, patliq_offset: Decimal = ZERO_MONEY
                      ) -> bytes:
        """The fund's ANBIMA XML for ``day``; a ``patliq_offset`` breaks the PL invariant."""
        document = self.portfolio(fund, day)
        if patliq_offset:
            document = document.with_header_value(
                "patliq", dict(document.header)["patliq"] + patliq_offset)
        return render_portfolio(document)

    def _holding_row(self, holding: Holding, day: dt.date, target: Decimal
                     ) -> tuple[Decimal, str, list[tuple[str, object]]] | None:
        asset = holding.asset
        price = self.price(asset, day)
        quantity = (target / price / asset.lot).to_integral_value(ROUND_DOWN) * asset.lot
        if quantity <= 0:
            return None
        with localcontext(_PRECISE):
            value = (quantity * price).quantize(CENT, ROUND_HALF_UP)
        if asset.section == "cotas":
            return value, "cotas", [
                ("isin", asset.isin), ("cnpjfundo", asset.code), ("qtdisponivel", quantity),
                ("qtgarantia", ZERO_8), ("puposicao", price), ("tributos", ZERO_MONEY)]
        if asset.section == "acoes":
            return value, "acoes", [
                ("isin", asset.isin), ("codativo", asset.code), ("qtdisponivel", quantity),
                ("lote", 1), ("qtgarantia", Decimal(0)), ("valorfindisp", value),
                ("valorfinemgar", ZERO_MONEY), ("tributos", ZERO_MONEY), ("puposicao", price),
                ("percprovcred", ZERO_MONEY), ("tpconta", 1), ("classeoperacao", "C")]
        purchase_price = self.price(asset, holding.acquired)
        head: list[tuple[str, object]] = [("isin", asset.isin)]
        if asset.section == "debenture":
            head += [("coddeb", asset.code), ("debconv", "N"), ("debpartlucro", "N"),
                     ("SPE", "N"), ("dtemissao", asset.dtemissao),
                     ("dtoperacao", holding.acquired), ("dtvencimento", asset.dtvencimento),
                     ("cnpjemissor", asset.issuer_cnpj)]
        else:
            head += [("codativo", asset.code), ("dtemissao", asset.dtemissao),
                     ("dtoperacao", holding.acquired), ("dtvencimento", asset.dtvencimento)]
            if asset.section == "titprivado":
                head.append(("cnpjemissor", asset.issuer_cnpj))
        return value, asset.section, [
            *head, ("qtdisponivel", quantity), ("qtgarantia", ZERO_8), ("depgar", 0),
            ("pucompra", purchase_price), ("puvencimento", _maturity_price(asset)),
            ("puposicao", price), ("puemissao", asset.puemissao),
            ("principal", (quantity * asset.puemissao).quantize(CENT, ROUND_HALF_UP)),
            ("tributos", ZERO_MONEY), ("valorfindisp", value), ("valorfinemgar", ZERO_MONEY),
            ("coupom", asset.coupom), ("indexador", asset.indexador),
            ("percindex", asset.percindex), ("caracteristica", "N"),
            ("percprovcred", ZERO_MONEY), ("classeoperacao", "C"),
            ("idinternoativo", f"{asset.model}{asset.dtvencimento:%Y%m%d}")]

    def price(self, asset: Asset, day: dt.date) -> Decimal:
        """Unit price of ``asset`` on ``day`` (8 decimals; stocks on whole cents)."""
        if asset.model == "FUND":
            return self.nav(self.fund(asset.held_fund or ""), day).quota
        with localcontext(_PRECISE):
            if asset.model == "STOCK":
                level = self.market.series(f"STOCK:{asset.code}").level(day)
                return (asset.base_price * level).quantize(CENT, ROUND_HALF_UP).quantize(PLACES_8)
            if asset.model == "NTNB":
                level = self.market.series("IMA-B").level(day)
                return (asset.base_price * level).quantize(PLACES_8, ROUND_HALF_UP)
            cdi_level = self.market.series("CDIE").level(day)
            if asset.model == "LTN":
                years = Decimal((asset.dtvencimento - day).days) / Decimal("365.25")
                rate = 1 + (cdi_annual_percent(day) + Decimal("0.6")) / 100
                return (Decimal(1000) / rate ** years).quantize(PLACES_8, ROUND_HALF_UP)
            accrued = 1 + (cdi_level - 1) * asset.index_share
            return (asset.base_price * accrued).quantize(PLACES_8, ROUND_HALF_UP)



@lru_cache(maxsize=4)
def dataset_for_seed(seed: int) -> BtgDataset:
    """The dataset of ``seed``, shared across sandbox resets (built series stay cached)."""
    return BtgDataset(seed)


def fold_name(name: str) -> str:
    """Upper-case ASCII form of a fund name (accents removed, spaces collapsed) for matching."""
    decomposed = unicodedata.normalize("NFKD", name)
    ascii_text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(ascii_text.upper().split())


def file_stem(name: str) -> str:
    """Fund name as a file-name stem: ASCII, spaces -> underscores (``SANDBOX_ALFA_FIC_FIM_CP``)."""
    return "_".join(fold_name(name).replace("/", " ").split())


# ----- helpers ---------------------------------------------------------------------------------

_QPD_KEYS = {"accumulated": "Accumulated", "day": "Day", "month": "Month", "year": "Year",
             "twelve": "Twelve", "twentyfour": "TwentyFour", "thirtysix": "ThirtySix"}


def _window_bases(series: FundSeries, index: int) -> dict[str, int | None]:
    """Series index each return window starts from (None when the fund is younger than it).

    Month/year-to-date start at the last quota of the previous month/year, or at the fund's
    first quota when it started within the period; trailing windows need a full history.
    """
    navs = series.navs
    day = navs[index].day

    def last_before(limit: dt.date) -> int | None:
        low, high = 0, index
        while low < high:  # first position with day >= limit
            middle = (low + high) // 2
            if navs[middle].day < limit:
                low = middle + 1
            else:
                high = middle
        return low - 1 if low > 0 else None

    def trailing(months: int) -> int | None:
        start = _months_back(day, months)
        return last_before(start + dt.timedelta(days=1)) if navs[0].day <= start else None

    month_base = last_before(day.replace(day=1))
    year_base = last_before(dt.date(day.year, 1, 1))
    return {
        "accumulated": 0,
        "day": index - 1 if index else 0,
        "month": month_base if month_base is not None else 0,
        "year": year_base if year_base is not None else 0,
        "twelve": trailing(12),
        "twentyfour": trailing(24),
        "thirtysix": trailing(36),
    }


def _months_back(day: dt.date, months: int) -> dt.date:
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    month += 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable: every month has a 28th")


def _ratio(end: Decimal, start: Decimal) -> Decimal:
    with localcontext(_PRECISE):
        return end / start - 1


def _percent(value: Decimal | None) -> Decimal | None:
    return None if value is None else (value * 100).quantize(PERCENT_PLACES, ROUND_HALF_UP)


def _versus(fund_return: Decimal | None, index_return: Decimal | None) -> Decimal | None:
    """Fund return as a percentage of the index return (None when undefined)."""
    if fund_return is None or index_return is None or index_return == 0:
        return None
    with localcontext(_PRECISE):
        return (fund_return / index_return * 100).quantize(RATIO_PLACES, ROUND_HALF_UP)


def _flow(rng: random.Random, patliq: Decimal, probability: float) -> Decimal:
    """A day's subscriptions or redemptions: often zero, else up to 0.4 % of the PL."""
    if rng.random() >= probability:
        return ZERO_MONEY
    share = Decimal(repr(round(rng.uniform(0.0002, 0.004), 6)))
    return (patliq * share).quantize(Decimal(1000), ROUND_HALF_UP).quantize(CENT)


def _first_business_day_of_next_month(day: dt.date) -> dt.date:
    first = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return first if is_business_day(first) else next_business_day(first)


def _maturity_price(asset: Asset) -> Decimal:
    return Decimal("1000.00000000") if asset.model == "LTN" else ZERO_8


class _AssetCatalog:
    """The assets the funds share (same bond, same ISIN in several funds), drawn from the seed."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.issuers = [random_cnpj(rng) for _ in range(6)]
        self.pool: dict[str, list[Asset]] = {model: [] for model in
                                             ("LFT", "LTN", "NTNB", "CDB", "LF", "DEB", "EXTFUND")}
        self._stock_cursor = rng.randrange(len(STOCKS))
        self._credit_count = 0
        for number, maturity in enumerate(("2027-03-01", "2029-03-01", "2030-09-01")):
            self.pool["LFT"].append(self._bond("LFT", "titpublico", f"BRSTNCLF1R{'CDE'[number]}",
                                               "210100", "SEL", maturity, "10850", "0"))
        for number, maturity in enumerate(("2027-01-01", "2028-01-01", "2029-01-01")):
            self.pool["LTN"].append(self._bond("LTN", "titpublico", f"BRSTNCLTN7{'PQR'[number]}",
                                               "100000", "PRE", maturity, "1000", "0"))
        for number, maturity in enumerate(("2029-05-15", "2032-08-15", "2035-05-15")):
            self.pool["NTNB"].append(self._bond("NTNB", "titpublico", f"BRSTNCNTB6{'JKL'[number]}",
                                                "760199", "IAP", maturity, "3620", "6"))

    def _bond(self, model: str, section: str, body: str, code: str, indexador: str,
              maturity: str, base: str, coupon: str) -> Asset:
        base_price = Decimal(base) * Decimal(repr(round(self.rng.uniform(0.97, 1.03), 4)))
        return Asset(model=model, section=section, isin=isin_with_check_digit(body), code=code,
                     issuer_cnpj=None, indexador=indexador, percindex=Decimal("100.00"),
                     coupom=Decimal(coupon).quantize(PLACES_8),
                     dtemissao=dt.date(2019, 1, 2), dtvencimento=dt.date.fromisoformat(maturity),
                     puemissao=Decimal(base).quantize(PLACES_8), base_price=base_price,
                     lot=Decimal(1))

    def pick(self, kind: str, identities: dict[str, dict[str, str]]) -> Asset:
        """An asset of ``kind`` (shared bonds reused, credit and quotas created as needed)."""
        rng = self.rng
        if kind.startswith("FUND:"):
            held = kind.split(":", 1)[1]
            return Asset(model="FUND", section="cotas", isin=identities[held]["isin"],
                         code=identities[held]["cnpj"], issuer_cnpj=identities[held]["cnpj"],
                         indexador="", percindex=Decimal("0.00"), coupom=ZERO_8,
                         dtemissao=HISTORY_START, dtvencimento=None, puemissao=ZERO_8,
                         base_price=ZERO_8, lot=PLACES_8, held_fund=held)
        if kind == "STOCK":
            ticker, body, base = STOCKS[self._stock_cursor % len(STOCKS)]
            self._stock_cursor += 1
            return Asset(model="STOCK", section="acoes", isin=isin_with_check_digit(body),
                         code=ticker, issuer_cnpj=None, indexador="", percindex=Decimal("0.00"),
                         coupom=ZERO_8, dtemissao=HISTORY_START, dtvencimento=None,
                         puemissao=ZERO_8, base_price=Decimal(base), lot=Decimal(100))
        if kind in ("LFT", "LTN", "NTNB"):
            return rng.choice(self.pool[kind])
        if kind == "EXTFUND":
            cnpj = random_cnpj(rng)
            return Asset(model="EXTFUND", section="cotas", isin=random_fund_isin(rng), code=cnpj,
                         issuer_cnpj=cnpj, indexador="", percindex=Decimal("0.00"),
                         coupom=ZERO_8, dtemissao=HISTORY_START, dtvencimento=None,
                         puemissao=ZERO_8,
                         base_price=Decimal(repr(round(rng.uniform(1.0, 6.0), 8))),
                         lot=PLACES_8, index_share=Decimal(repr(round(rng.uniform(0.97, 1.04), 4))))
        issuer = rng.choice(self.issuers)
        maturity = dt.date(rng.randrange(2027, 2032), rng.randrange(1, 13), 15)
        share = Decimal(repr(round(rng.uniform(1.00, 1.25), 4)))
        if kind == "DEB":
            letters = "".join(rng.choice("ABCDEFGHIJKLMNOPRSTUVWXZ") for _ in range(4))
            return Asset(model="DEB", section="debenture",
                         isin=isin_with_check_digit(f"BR{letters}DBS0{rng.randrange(10)}"),
                         code=f"{letters}{rng.randrange(11, 40)}", issuer_cnpj=issuer,
                         indexador="DI1", percindex=(share * 100).quantize(CENT),
                         coupom=ZERO_8, dtemissao=dt.date(2020, 6, 15), dtvencimento=maturity,
                         puemissao=Decimal("1000.00000000"), base_price=Decimal("1000"),
                         lot=Decimal(1), index_share=share)
        prefix = "CDB" if kind == "CDB" else "LFS"
        self._credit_count += 1
        return Asset(model=kind, section="titprivado",
                     isin=isin_with_check_digit(f"BRBTGP{prefix}{self._credit_count:02d}"),
                     code=f"{kind}{rng.randrange(10**8, 10**9)}", issuer_cnpj=issuer,
                     indexador="DI1",
                     percindex=(share * 100).quantize(CENT), coupom=ZERO_8,
                     dtemissao=dt.date(2020, 3, 2), dtvencimento=maturity,
                     puemissao=Decimal("1000.00000000"), base_price=Decimal("1000"),
                     lot=Decimal(1), index_share=share)


def _draw_identities(rng: random.Random, keys: Sequence[str]) -> dict[str, dict[str, str]]:
    """CNPJ, ISIN and manager CNPJ per fund key, drawn up front so a FIC can name its target."""
    return {key: {"cnpj": random_cnpj(rng), "isin": random_fund_isin(rng),
                  "manager": random_cnpj(rng)} for key in keys}


def _make_fund(spec: tuple[str, str, str, str, tuple[tuple[str, str], ...]],
               rng: random.Random, catalog: _AssetCatalog,
               identities: dict[str, dict[str, str]]) -> Fund:
    key, name, kind, benchmark, holdings_spec = spec
    start = MID_RANGE_INCEPTION if key == "DELTA" else HISTORY_START
    holdings = tuple(
        Holding(catalog.pick(asset_kind, identities), Decimal(weight), start)
        for asset_kind, weight in holdings_spec
    )
    new_fund = start > HISTORY_START
    return Fund(
        key=key, name=name, kind=kind, cnpj=identities[key]["cnpj"],
        isin=identities[key]["isin"],
        account=f"00{rng.randrange(10**6, 10**7)}", codanbid=f"{rng.randrange(10**5, 10**6)}",
        benchmark=benchmark,
        admin_fee_percent=Decimal(rng.choice(("0.20", "0.50", "0.80", "1.00", "1.50", "2.00"))),
        initial_quota=Decimal("1.00000000") if new_fund else Decimal(
            repr(round(rng.uniform(1.0, 4.0), 8))),
        initial_patliq=Decimal("50000000.00") if new_fund else Decimal(
            rng.randrange(20_000, 400_000) * 1000).quantize(CENT),
        start=start, cdi_multiple=rng.uniform(0.95, 1.10), beta=rng.uniform(0.8, 1.2),
        holdings=holdings,
        missing_days=frozenset({MISSING_DAY}) if key == "OMEGA" else frozenset(),
        manager_cnpj=identities[key]["manager"],
    )
