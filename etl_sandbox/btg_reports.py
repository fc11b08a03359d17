"""Ready payloads of BTG report tickets: the carteira file (ZIP or XML) and rentabilidade pages.

* Carteira (api-contract.md B4): one ANBIMA XML per fund per business day in the range. A single
  fund and a single day give one ``.xml``; anything else is a ZIP with one file per fund-day.
  Files are named ``<FUND_NAME_UNDERSCORED>_<YYYYMMDD>.xml`` (ASCII). Knobs can truncate a
  fund's XML or push its ``patliq`` 0.01 off, to exercise the client's data-quality checks.
* Rentabilidade (B5): ``[{"fundName", "data": [record per business day]}]`` paged by funds.

No records at all (weekend, holiday, unknown fund, before inception) -> ``None`` / ``[]``, which
the ticket answers as ``{"result": "No records"}``.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import math
import zipfile
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from etl_sandbox.btg_contracts import NavRequest, PortfolioRequest
from etl_sandbox.btg_data import BtgDataset, file_stem
from etl_sandbox.btg_numbers import realistic_on, realistic_record
from etl_sandbox.btg_settings import BtgSettings
from etl_tasks.calendar import business_days_between

BROKEN_PATLIQ_OFFSET = Decimal("0.01")
RAW_QUOTE_PLACES = Decimal("0.000000000001")
# A fixed timestamp inside the ZIP keeps the archive bytes identical for identical requests.
_ZIP_TIMESTAMP = (2020, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class ReportFile:
    """A file report ready for download."""

    name: str
    data: bytes

    @property
    def extension(self) -> str:
        return self.name.rsplit(".", 1)[-1]


def build_portfolio_file(dataset: BtgDataset, request: PortfolioRequest,
                         settings: BtgSettings) -> ReportFile | None:
    """The carteira file for ``request``, or None when no fund has a position in the range."""
    funds = dataset.find_funds(request.fund_name)
    files: list[tuple[str, bytes]] = []
    for day in business_days_between(request.start, request.end):
        for fund in funds:
            if not dataset.has_record(fund, day) or fund.cnpj in settings.omit_from_carteira or (
                    "*" in settings.omit_from_carteira):
                continue
            offset = (BROKEN_PATLIQ_OFFSET if fund.cnpj in settings.break_invariant_funds
                      else Decimal("0.00"))
            xml = dataset.portfolio_xml(fund, day, patliq_offset=offset)
            if fund.cnpj in settings.corrupt_funds:
                xml = xml[: len(xml) // 2]
            files.append((f"{file_stem(fund.name)}_{day:%Y%m%d}.xml", xml))
    if not files:
        return None
    if settings.zip_bomb_mb:
        return ReportFile(f"Carteira_{request.start:%Y%m%d}.zip", zip_bomb(settings.zip_bomb_mb))
    if request.fund_name.strip() and len(files) == 1:
        return ReportFile(*files[0])
    span = f"{request.start:%Y%m%d}"
    if request.end != request.start:
        span += f"_{request.end:%Y%m%d}"
    return ReportFile(f"Carteira_{span}.zip", _zip(files))


def build_nav_funds(dataset: BtgDataset, request: NavRequest,
                    realistic: str = "off", added_fields: bool = False) -> list[dict[str, Any]]:
    """``[{"fundName", "data": [...]}]`` for every matching fund with a record in the range;
    records of days with realistic numbers on (``realistic`` = on | off | auto) carry them."""
    days = business_days_between(request.start, request.end)
    result = []
    for fund in dataset.find_funds(request.fund_name):
        data = [_nav_record(dataset, fund, day, request, realistic)
                for day in days if dataset.has_record(fund, day)]
        if added_fields:
            data = [{**record, "benchmarkName": "CDI"} for record in data]
        if data:
            result.append({"fundName": fund.name, "data": data})
    return result


def _nav_record(dataset: BtgDataset, fund: Any, day: dt.date, request: NavRequest,
                realistic: str) -> dict[str, Any]:
    record = dataset.nav_record(fund, day, request.indexers)
    if not realistic_on(realistic, day):
        return record
    nav = dataset.nav(fund, day)
    # What the service computes: the gross quota to 12 decimals (api-contract.md B5).
    record["rawQuote"] = ((nav.patliq + nav.fee_accrued) / nav.quantity).quantize(
        RAW_QUOTE_PLACES, ROUND_HALF_UP)
    return realistic_record(record, dataset.seed, day)


def page_as_string(settings: BtgSettings, request: NavRequest) -> bool:
    """``page`` as a JSON string: always with the knob, sometimes (every third start date) on
    realistic-number days."""
    return settings.page_as_string or (
        realistic_on(settings.realistic_numbers, request.start)
        and request.start.toordinal() % 3 == 0)


def total_pages(item_count: int, page_size: int) -> int:
    """Pages needed for ``item_count`` funds at ``page_size`` funds per page (at least 1)."""
    return max(1, math.ceil(item_count / page_size))


def nav_page(funds: list[dict[str, Any]], page: int, page_size: int, page_as_string: bool,
             added_fields: bool = False) -> dict[str, Any]:
    """One page of a rentabilidade result: ``{"page", "totalPages", "result"}`` (plus
    ``generatedAt`` when the added-fields knob plays a newer API version)."""
    chunk = funds[(page - 1) * page_size: page * page_size]
    body: dict[str, Any] = {"page": str(page) if page_as_string else page,
                            "totalPages": total_pages(len(funds), page_size), "result": chunk}
    if added_fields:
        body["generatedAt"] = "2025-04-11T06:00:00Z"
    return body


@functools.lru_cache(maxsize=2)
def zip_bomb(member_mib: int, members: int = 4) -> bytes:
    """A ZIP of ``members`` files of ``member_mib`` MiB of zeros, built in 1 MiB writes."""
    buffer = io.BytesIO()
    chunk = b"\0" * (1024 * 1024)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for number in range(members):
            info = zipfile.ZipInfo(f"FUNDO_{number}.xml", _ZIP_TIMESTAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w", force_zip64=True) as member:
                member.write(b"<?xml version='1.0'?>")
                for _ in range(member_mib):
                    member.write(chunk)
    return buffer.getvalue()


def _zip(files: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files:
            archive.writestr(zipfile.ZipInfo(name, _ZIP_TIMESTAMP), data,
                             compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()
