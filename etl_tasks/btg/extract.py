"""BTG extract tasks: report ticket → raw files in the landing directory + a dated Parquet.

    luigi --module etl_tasks BtgExtractCarteira --date 2025-04-10 --local-scheduler
    luigi --module etl_tasks BtgExtractRentabilidade --date 2025-04-10 --local-scheduler \
        --BtgExtractRentabilidade-dir-rentabilidade /dados/btg/rentabilidade

Both extracts keep what BTG sent, byte for byte, under ``<landing dir>/YYYY-MM-DD/`` (the audit
copy the original scripts kept), written atomically — an earlier attempt's different files are
moved to ``anteriores/<UTC stamp>/`` first, never overwritten (:mod:`.landing`) — and a Parquet
partition the transforms read:

* carteira (``POST /reports/Portfolio``, ``typeReport=3`` = ANBIMA XML 4.01, ``fundName=""`` =
  every fund): the file as delivered (a ZIP with one XML per fund, or one XML), named as BTG's
  ``Content-Disposition`` says, else ``<ticket>.zip``/``.xml``. Parquet: one row per fund file —
  ``source`` (``file.zip!member.xml``), size, sha256 and the XML ``payload`` bytes. Parsing is the
  transform's job, so a corrupt XML fails the transform while the landed file stays for audit.
* rentabilidade (``POST /reports/NAVPerformance``, indexers from ``[btg] indexers``, every page):
  each page's JSON body as received in ``page-N.json``. Parquet: one row per fund-day record with
  the record as exact JSON text (numbers keep the digits BTG sent; never float).

Landing directories are not part of the data's identity, so they are insignificant parameters
(``--dir-carteira``/``--dir-rentabilidade`` of ``orquestrador-btg``), defaulting to
``BTG_REPORT_PATH`` / ``BTG_RENTABILIDADE`` from the environment.

Dates are ANBIMA business days: any other date is recorded as a skipped no-op whose reason names the
holiday or weekend day, and no request is sent. ``{"result":"No records"}`` is zero rows, status
done, with ``no_records: true`` in the sidecar.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import luigi
import pyarrow as pa

from etl_tasks import config
from etl_tasks.btg import jsontext
from etl_tasks.btg.anbima import MIB, ZipLimits, iter_report_files
from etl_tasks.btg.client import BtgClient, JsonPage, NoRecords
from etl_tasks.btg.landing import keep_previous_attempt, land_files
from etl_tasks.btg.running import chain_running
from etl_tasks.btg.settings import btg as btg_settings
from etl_tasks.calendar import holiday_name, is_business_day
from etl_tasks.core.stage import StageOutput, StageTask, utc_now
from etl_tasks.errors import ConfigError, FatalExtractError

TYPE_REPORT_ANBIMA_401 = 3  # B4: the only portfolio layout the parser reads
WEEKDAYS_PT = ("segunda-feira", "terça-feira", "quarta-feira", "quinta-feira", "sexta-feira",
               "sábado", "domingo")
PAGE_FILE = re.compile(r"^page-(\d+)\.json$")

CARTEIRA_SCHEMA = pa.schema([
    pa.field("ticket", pa.string(), nullable=False),
    pa.field("landing_file", pa.string(), nullable=False),
    pa.field("source", pa.string(), nullable=False),
    pa.field("size_bytes", pa.int64(), nullable=False),
    pa.field("sha256", pa.string(), nullable=False),
    pa.field("payload", pa.binary(), nullable=False),
    pa.field("extracted_at", pa.timestamp("us", tz="UTC"), nullable=False),
])
RENTABILIDADE_SCHEMA = pa.schema([
    pa.field("ticket", pa.string(), nullable=False),
    pa.field("page", pa.int32(), nullable=False),
    pa.field("fund_name", pa.string(), nullable=False),
    pa.field("cnpj", pa.string()),
    pa.field("reference_date", pa.string()),
    pa.field("record", pa.string(), nullable=False),  # exact JSON text of one record
    pa.field("extracted_at", pa.timestamp("us", tz="UTC"), nullable=False),
])


def non_business_reason(date: dt.date) -> str | None:
    """Why ``date`` has no BTG data (``"2025-03-04 não é dia útil ANBIMA (Carnaval)"``), or None
    for an ANBIMA business day."""
    if is_business_day(date):
        return None
    parts = [name for name in (holiday_name(date),) if name]
    if date.weekday() >= 5:
        parts.append(WEEKDAYS_PT[date.weekday()])
    return f"{date.isoformat()} não é dia útil ANBIMA ({', '.join(parts)})"


def contract_dates(date: dt.date) -> dict[str, str]:
    """``startDate``/``endDate`` of a one-day request (B4/B5: plain ``YYYY-MM-DD``)."""
    return {"startDate": date.isoformat(), "endDate": date.isoformat()}


def ensure_writable(directory: Path, what: str) -> Path:
    """Create ``directory`` and prove a file can be written there, or ConfigError saying how to fix
    it; run before any API request so a bad directory costs no ticket."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".write-test-"):
            pass
    except OSError as error:
        raise ConfigError(
            f"cannot write the {what} landing directory {directory} ({error.strerror or error}); "
            "create it or give this user write permission, or choose another directory."
        ) from error
    return directory


def zip_limits() -> ZipLimits:
    """The carteira ZIP caps of ``[btg]`` (zip_max_total_mb, zip_max_members, zip_max_ratio)."""
    settings = btg_settings()
    return ZipLimits(max_members=int(settings.zip_max_members),
                     max_total_bytes=int(settings.zip_max_total_mb) * MIB,
                     max_ratio=int(settings.zip_max_ratio))


def is_skipped(task: StageTask) -> str | None:
    """The skip reason recorded by an upstream stage, if it was skipped."""
    return task.output().meta().skip_reason


def upstream_extra(task: StageTask) -> dict[str, Any]:
    """The ``extra`` block of an upstream stage's sidecar."""
    return dict(task.output().meta().extra)


class BtgExtract(StageTask):
    """Base of the BTG extracts: business-day guard, landing directory, client counters."""

    pipeline = "btg"
    stage = "extract"
    priority = 10  # before the cross-checks (btg/transform_tasks.py CHAIN_PRIORITY)
    raw_schema: ClassVar[pa.Schema]
    landing_param: ClassVar[str]  # name of the subclass's landing-directory parameter
    landing_env: ClassVar[str]  # environment key of its default

    def requires(self) -> dict[str, luigi.Task]:
        return {}

    def api_source(self) -> str | None:
        return config.env("BTG_BASE_URL")

    def landing_dir(self) -> Path:
        """``<landing root>/YYYY-MM-DD``; the root is the parameter, else the environment."""
        root = getattr(self, self.landing_param) or config.env(self.landing_env)
        if not root:
            raise ConfigError(
                f"{self.landing_env} is not set; add it to .env or pass the directory."
            )
        return Path(root) / self.date.isoformat()

    def run(self) -> None:
        with chain_running(self.task_family, self.date):
            super().run()

    def produce(self) -> StageOutput:
        reason = non_business_reason(self.date)
        if reason:
            return StageOutput(self.raw_schema, [], skip_reason=reason)
        landing = ensure_writable(self.landing_dir(), self.entity)
        client = BtgClient.from_env()
        client.on_poll = lambda ticket, polls, state, elapsed: self.progress(
            f"ticket {ticket}: {state} (poll {polls}, {elapsed:.0f} s)"
        )
        try:
            return self.fetch(client, landing)
        finally:
            client.close()

    def fetch(self, client: BtgClient, landing: Path) -> StageOutput:
        """Request, wait, land the raw data and return the rows; subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__} must implement fetch()")


class BtgExtractCarteira(BtgExtract):
    """Every fund's ANBIMA 4.01 portfolio of the date: the ZIP/XML landed as received, one Parquet
    row per fund file with its XML bytes."""

    entity = "carteira"
    raw_schema = CARTEIRA_SCHEMA
    landing_param = "dir_carteira"
    landing_env = "BTG_REPORT_PATH"
    dir_carteira = luigi.OptionalParameter(
        default=None,
        significant=False,
        description="landing directory of the raw carteira files (default: BTG_REPORT_PATH)",
    )

    def fetch(self, client: BtgClient, landing: Path) -> StageOutput:
        contract = {
            **contract_dates(self.date), "typeReport": TYPE_REPORT_ANBIMA_401, "fundName": ""
        }
        ticket = client.request_ticket("Portfolio", contract, int(btg_settings().page_size))
        self.progress(f"ticket {ticket} requested; waiting for BTG")
        outcome = client.file_report(ticket)
        extra: dict[str, Any] = {"ticket": ticket, "landing_dir": str(landing)}
        if isinstance(outcome, NoRecords):
            self.progress("BTG answered No records")
            _keep_previous(landing, extra)
            return StageOutput(CARTEIRA_SCHEMA, [], http=client.stats,
                               extra={**extra, "no_records": True, "files": 0})
        landed = landing / outcome.filename
        kept = land_files(landing, {outcome.filename: outcome.content})
        if kept is not None:
            extra["previous_attempt"] = str(kept)
        extracted_at = utc_now()
        rows: dict[str, list[Any]] = {name: [] for name in CARTEIRA_SCHEMA.names}
        for name, payload in iter_report_files(outcome.content, outcome.filename, zip_limits()):
            source = outcome.filename if name == outcome.filename else f"{outcome.filename}!{name}"
            for column, value in (
                ("ticket", ticket), ("landing_file", str(landed)), ("source", source),
                ("size_bytes", len(payload)), ("sha256", hashlib.sha256(payload).hexdigest()),
                ("payload", payload), ("extracted_at", extracted_at),
            ):
                rows[column].append(value)
        table = pa.Table.from_pydict(rows, schema=CARTEIRA_SCHEMA)
        self.progress(f"{table.num_rows} fund files in {outcome.filename}")
        extra.update(no_records=False, files=table.num_rows, landing_file=str(landed),
                     delivery=outcome.delivery, kind=outcome.kind, bytes=len(outcome.content))
        return StageOutput(CARTEIRA_SCHEMA, [table], http=client.stats, extra=extra)


class BtgExtractRentabilidade(BtgExtract):
    """Every fund's NAV and returns of the date (all pages): pages landed as received, one Parquet
    row per fund-day record as exact JSON text."""

    entity = "rentabilidade"
    raw_schema = RENTABILIDADE_SCHEMA
    landing_param = "dir_rentabilidade"
    landing_env = "BTG_RENTABILIDADE"
    dir_rentabilidade = luigi.OptionalParameter(
        default=None,
        significant=False,
        description="landing directory of the raw rentabilidade pages (default: BTG_RENTABILIDADE)",
    )

    def fetch(self, client: BtgClient, landing: Path) -> StageOutput:
        indexers = [str(code) for code in btg_settings().indexers]
        contract = {**contract_dates(self.date), "indexers": indexers, "fundName": ""}
        ticket = client.request_ticket("NAVPerformance", contract, int(btg_settings().page_size))
        self.progress(f"ticket {ticket} requested; waiting for BTG")
        report = client.json_report(ticket)
        extra: dict[str, Any] = {
            "ticket": ticket, "landing_dir": str(landing), "indexers": indexers
        }
        if report.no_records:
            self.progress("BTG answered No records")
            _keep_previous(landing, extra)
            return StageOutput(RENTABILIDADE_SCHEMA, [], http=client.stats,
                               extra={**extra, "no_records": True, "pages": 0})
        kept = land_files(landing, {f"page-{page.number}.json": page.raw for page in report.pages})
        if kept is not None:
            extra["previous_attempt"] = str(kept)
        extracted_at = utc_now()
        tables = [_page_table(ticket, page, extracted_at) for page in report.pages]
        records = sum(table.num_rows for table in tables)
        self.progress(f"{records} records in {len(report.pages)} page(s)")
        new_fields = page_new_fields(report.pages)
        extra.update(no_records=False, pages=len(report.pages), records=records,
                     new_fields=new_fields)
        if new_fields:
            extra["notes"] = [
                f"NAVPerformance pages carry fields this version does not read: "
                f"{', '.join(new_fields)} (kept in the landed page-N.json)"
            ]
        return StageOutput(RENTABILIDADE_SCHEMA, tables, http=client.stats, extra=extra)


PAGE_FIELDS = frozenset({"page", "totalPages", "result"})
FUND_FIELDS = frozenset({"fundName", "data"})


def page_new_fields(pages: list[JsonPage]) -> list[str]:
    """Page-level and fund-level keys outside B5 (``page.<key>``, ``result[].<key>``), sorted;
    the record-level ones are the transform's (:mod:`.rentabilidade`)."""
    found: set[str] = set()
    for page in pages:
        body = jsontext.loads(page.raw)
        if isinstance(body, dict):
            found.update(f"page.{key}" for key in body if key not in PAGE_FIELDS)
        for fund in page.result:
            if isinstance(fund, dict):
                found.update(f"result[].{key}" for key in fund if key not in FUND_FIELDS)
    return sorted(found)


def _keep_previous(landing: Path, extra: dict[str, Any]) -> None:
    """An answer with no files still ends the earlier attempt: its files move aside."""
    kept = keep_previous_attempt(landing, {})
    if kept is not None:
        extra["previous_attempt"] = str(kept)


def _page_records(page: JsonPage) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(fundName, record)`` of every record of a NAVPerformance page (B5 shape checked)."""
    for index, fund in enumerate(page.result):
        data = fund.get("data") if isinstance(fund, dict) else None
        name = fund.get("fundName") if isinstance(fund, dict) else None
        if not isinstance(name, str) or not isinstance(data, list):
            raise FatalExtractError(
                f"BTG ticket {page.ticket} page {page.number}: result[{index}] is not "
                "{\"fundName\": str, \"data\": [...]}; the API changed (api-contract.md B5)."
            )
        for record in data:
            if not isinstance(record, dict):
                raise FatalExtractError(
                    f"BTG ticket {page.ticket} page {page.number}: a record of {name!r} is not an "
                    "object; the API changed (api-contract.md B5)."
                )
            yield name, record


def _page_table(ticket: str, page: JsonPage, extracted_at: dt.datetime) -> pa.Table:
    rows: dict[str, list[Any]] = {name: [] for name in RENTABILIDADE_SCHEMA.names}
    for name, record in _page_records(page):
        cnpj, reference = record.get("cnpj"), record.get("referenceDate")
        for column, value in (
            ("ticket", ticket), ("page", page.number), ("fund_name", name),
            ("cnpj", None if cnpj is None else str(cnpj)),
            ("reference_date", None if reference is None else str(reference)),
            ("record", jsontext.dumps(record)), ("extracted_at", extracted_at),
        ):
            rows[column].append(value)
    return pa.Table.from_pydict(rows, schema=RENTABILIDADE_SCHEMA)
