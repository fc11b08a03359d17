"""BTG Pactual "API FaaS" client: access token, report tickets, polling, JSON pages and files.

    with BtgClient.from_env() as client:        # BTG_* from .env, [http]/[btg] from luigi.cfg
        ticket = client.request_ticket("NAVPerformance", contract, page_size=100)
        report = client.json_report(ticket)     # every page, or report.no_records
        ticket = client.request_ticket("Portfolio", contract, page_size=100)
        outcome = client.file_report(ticket)    # ReportFile (bytes as received) or NoRecords

What api-contract.md B2/B3/B7 asks of a client, and where it happens here:

* client-credentials token from ``POST /connect/token`` (form body, optional ``scope``), sent raw in
  ``X-SecureConnect-Token``; cached, renewed when less than ``[btg] token_refresh_margin_s``
  (5 min) of its lifetime is left (or half of it, for tokens shorter than twice the margin), renewed
  after a 401 with the request retried once; a second 401 is an :class:`AuthError`
  (:class:`BtgTokenAuth` + :class:`~etl_tasks.core.http.HttpClient`);
* 429/5xx/connection errors retried with backoff honouring ``Retry-After`` (``HttpClient``);
* ticket polling with a growing interval (``[btg] poll_*``; :class:`PollPolicy`) over every state
  of the ticket table: ``Processando``/``Aguardando processamento`` and HTTP 202/204 keep polling;
  ``No records`` is a :class:`NoRecords` outcome, not an error; a JSON page, an inline file or a
  ``UrlDownload`` link (fetched without credentials) end the wait;
* HTTP 404 while waiting. Without a body it is one of the "not yet" answers (202/204/404) and
  polling goes on until the deadline. With ``{"result":"Ticket not found"}`` it is BTG saying the
  ticket does not exist: a freshly issued ticket may not be visible yet on every BTG node, so
  within ``[btg] not_found_grace_s`` of the request polling goes on; after that grace, or once
  the ticket has answered (fetching page 2 of an expired ticket), the ticket is gone (BTG drops
  tickets after about an hour): :class:`TicketNotFoundError`, and a rerun requests a new ticket;
* the deadline (``[btg] poll_deadline_s``): :class:`TicketTimeoutError` naming the ticket, the
  polls and the elapsed time ("the report is still processing at BTG; run again later");
* JSON parsed with ``parse_float=Decimal`` (:mod:`etl_tasks.btg.jsontext`), never float;
* files sniffed by content (``PK\\x03\\x04`` ZIP, ``<`` XML, else the file name's extension).

Counters (requests, retries, bytes, tickets, polls, pages, downloads) are in :attr:`BtgClient.stats`
for the stage sidecar. Tokens and the client secret never reach a log line or an error message.

The token lives in :mod:`etl_tasks.btg.auth`, the ticket outcomes and the polling policy in
:mod:`etl_tasks.btg.ticket`; this module re-exports what callers need.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from etl_tasks import config, config_sections
from etl_tasks.btg import jsontext
from etl_tasks.btg.anbima import sniff_kind
from etl_tasks.btg.auth import TOKEN_HEADER, BtgTokenAuth
from etl_tasks.btg.settings import btg as btg_settings
from etl_tasks.btg.ticket import (
    NO_RECORDS_RESULT,
    PROCESSING_RESULTS,
    TICKET_NOT_FOUND_RESULT,
    JsonPage,
    JsonReport,
    NoRecords,
    Pending,
    PollPolicy,
    ReportFile,
    TicketNotFoundError,
    TicketOutcome,
    TicketTimeoutError,
    content_disposition_filename,
    looks_like_file,
    page_number,
    safe_name,
)
from etl_tasks.core.closing import Closing
from etl_tasks.core.counters import Counters
from etl_tasks.core.http import (
    SYSTEM_CLOCKS,
    Clocks,
    HttpClient,
    HttpStats,
    RetryPolicy,
    require_http_url,
)
from etl_tasks.errors import ConfigError, FatalExtractError

__all__ = [
    "TOKEN_HEADER",
    "BtgClient",
    "BtgStats",
    "BtgTokenAuth",
    "JsonPage",
    "JsonReport",
    "NoRecords",
    "PollPolicy",
    "ReportFile",
    "TicketNotFoundError",
    "TicketOutcome",
    "TicketTimeoutError",
    "content_disposition_filename",
]

logger = logging.getLogger(__name__)

PENDING_STATUSES = frozenset({202, 204})
NOT_FOUND = 404
REPORT_NAME = re.compile(r"^[A-Za-z]+(/[A-Za-z]+)*$")


@dataclass
class BtgStats(Counters):
    """The client's counters for a stage sidecar: HTTP counters plus ticket work."""

    http: HttpStats = field(default_factory=HttpStats)
    tickets: int = 0
    polls: int = 0
    pending_polls: int = 0
    pages: int = 0
    downloads: int = 0

    def as_dict(self) -> dict[str, int | float]:
        """HTTP counters and ticket counters as one flat dict."""
        with self._lock:
            ticket_counts = {
                "tickets": self.tickets,
                "polls": self.polls,
                "pending_polls": self.pending_polls,
                "pages": self.pages,
                "downloads": self.downloads,
            }
        return {**self.http.as_dict(), **ticket_counts}


class BtgClient(Closing):
    """The report endpoints of the funds API (B3-B5) over one pooled HTTP client."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        base_url: str,
        policy: RetryPolicy | None = None,
        poll_policy: PollPolicy | None = None,
        scope: str = "",
        refresh_margin_s: float = 300.0,
        *,
        clocks: Clocks = SYSTEM_CLOCKS,
    ) -> None:
        if not client_id or not client_secret:
            raise ConfigError(
                "BTG_CLIENT_ID and BTG_CLIENT_SECRET must both be set; add them to .env."
            )
        self.base_url = require_http_url("BTG_BASE_URL", base_url)
        self.poll_policy = poll_policy or PollPolicy()
        self.stats = BtgStats()
        self._sleep = clocks.sleep
        self._monotonic = clocks.monotonic
        # Called after each "still processing" answer with (ticket, polls, state, elapsed_s),
        # so a task can show live progress in the visualiser.
        self.on_poll: Callable[[str, int, str, float], None] | None = None
        self.http = HttpClient(
            policy,
            stats=self.stats.http,
            secrets=lambda: self.auth.secrets(),
            user_agent="etl_tasks-btg",
            sleep=clocks.sleep,
            clock=clocks.clock,
            rng=clocks.rng,
        )
        self.auth = BtgTokenAuth(
            self.http, self.base_url, client_id, client_secret, scope, refresh_margin_s,
            clocks.monotonic,
        )
        self._issued_at: dict[str, float] = {}
        self._answered: set[str] = set()

    @classmethod
    def from_env(cls, **overrides: Any) -> BtgClient:
        """A client from BTG_* (environment/.env) and the [http]/[btg] luigi.cfg sections."""
        section = btg_settings()
        settings: dict[str, Any] = {
            "client_id": config.require_env("BTG_CLIENT_ID"),
            "client_secret": config.require_env("BTG_CLIENT_SECRET"),
            "base_url": config.require_env("BTG_BASE_URL"),
            "policy": RetryPolicy.from_http_section(config_sections.http()),
            "poll_policy": PollPolicy.from_settings(section),
            "scope": str(section.scope or ""),
            "refresh_margin_s": float(section.token_refresh_margin_s),
        }
        settings.update(overrides)
        return cls(**settings)

    def token(self) -> str:
        """A valid access token (obtains one if needed): proves the credentials work."""
        return self.auth.token()

    def close(self) -> None:
        """Close the pooled HTTP connections."""
        self.http.close()

    # --- step 1: the ticket ----------------------------------------------------------------------

    def request_ticket(self, report: str, contract: Mapping[str, Any], page_size: int = 100) -> str:
        """``POST /reports/<report>`` with ``{"contract", "pageSize", "webhookEndpoint": ""}``;
        returns the ticket id. A 400 (invalid contract) is fatal and names BTG's complaint."""
        if not REPORT_NAME.match(report):
            raise ValueError(
                f"report name must look like 'Portfolio' or 'Cash/Statement', got {report!r}"
            )
        if not isinstance(page_size, int) or page_size < 1:
            raise ConfigError(
                f"[btg] page_size must be a positive integer, got {page_size!r}; fix luigi.cfg."
            )
        body = {"contract": dict(contract), "pageSize": page_size, "webhookEndpoint": ""}
        response = self.http.request(
            "POST",
            f"{self.base_url}/reports/{report}",
            data=jsontext.dumps(body).encode("utf-8"),  # raw JSON body (Decimal-exact)
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            auth=self.auth,
        )
        payload = jsontext.response_json(response, f"POST /reports/{report}")
        ticket = payload.get("ticket") if isinstance(payload, dict) else None
        if not isinstance(ticket, str) or not ticket.strip():
            raise FatalExtractError(
                f"BTG POST /reports/{report} answered without a ticket id: "
                f"{jsontext.excerpt(response.content)}. Check BTG_BASE_URL."
            )
        self.stats.add(tickets=1)
        self._issued_at[ticket] = self._monotonic()
        logger.info("BTG %s report requested: ticket %s", report, ticket)
        return ticket

    # --- step 2: poll ----------------------------------------------------------------------------

    def poll(self, ticket: str, page_number: int | None = None) -> TicketOutcome:
        """Poll ``GET /reports/Ticket`` until the ticket is ready or the deadline passes."""
        policy = self.poll_policy
        started = self._monotonic()
        interval = policy.initial_s
        polls = 0
        last_state = "not polled"
        while True:
            polls += 1
            outcome = self._poll_once(ticket, page_number)
            if not isinstance(outcome, Pending):
                logger.info("BTG ticket %s ready after %d poll(s)", ticket, polls)
                return outcome
            last_state = outcome.state
            elapsed = self._monotonic() - started
            if elapsed >= policy.deadline_s:
                raise TicketTimeoutError(
                    f"BTG ticket {ticket} still not ready after {polls} polls and {elapsed:.1f} s "
                    f"(deadline {policy.deadline_s:g} s; last answer: {last_state}): the report is "
                    "still processing at BTG; run again later (finished stages are skipped), or "
                    "raise [btg] poll_deadline_s in luigi.cfg."
                )
            if self.on_poll is not None:
                self.on_poll(ticket, polls, last_state, elapsed)
            wait = min(interval, policy.deadline_s - elapsed)
            logger.debug("BTG ticket %s: %s; polling again in %.2f s", ticket, last_state, wait)
            self._sleep(wait)
            interval = min(interval * policy.factor, policy.max_interval_s)

    def json_report(self, ticket: str) -> JsonReport:
        """Every page of a JSON report (``pageNumber=1..totalPages``), or ``no_records``."""
        first = self.poll(ticket, 1)
        if isinstance(first, NoRecords):
            return JsonReport(ticket, (), no_records=True)
        if not isinstance(first, JsonPage):
            raise FatalExtractError(
                f"BTG ticket {ticket} delivered a file ({first.filename}) where a JSON report was "
                "expected; check the report name."
            )
        pages = [first]
        for number in range(2, first.total_pages + 1):
            page = self.poll(ticket, number)
            if not isinstance(page, JsonPage) or page.number != number:
                found = f"page {page.number}" if isinstance(page, JsonPage) else type(page).__name__
                raise FatalExtractError(
                    f"BTG ticket {ticket}: asked for page {number} of {first.total_pages}, got "
                    f"{found}. The API changed the report while we paged; run again later."
                )
            if page.total_pages != first.total_pages:
                raise FatalExtractError(
                    f"BTG ticket {ticket}: totalPages changed from {first.total_pages} to "
                    f"{page.total_pages} while paging; run again later."
                )
            pages.append(page)
        return JsonReport(ticket, tuple(pages))

    def file_report(self, ticket: str) -> ReportFile | NoRecords:
        """The file a ticket delivers (inline or through its ``UrlDownload`` link), or NoRecords."""
        outcome = self.poll(ticket)
        if isinstance(outcome, JsonPage):
            raise FatalExtractError(
                f"BTG ticket {ticket} delivered a JSON page where a file was expected; check the "
                "report name and typeReport."
            )
        return outcome

    # --- one poll --------------------------------------------------------------------------------

    def _poll_once(self, ticket: str, page_number: int | None) -> TicketOutcome | Pending:
        params: list[tuple[str, str]] = [("ticketId", ticket)]
        if page_number is not None:
            params.append(("pageNumber", str(page_number)))
        response = self.http.request(
            "GET",
            f"{self.base_url}/reports/Ticket",
            params=params,
            auth=self.auth,
            accept_statuses=PENDING_STATUSES | {NOT_FOUND},
        )
        self.stats.add(polls=1)
        status = response.status_code
        if status in PENDING_STATUSES:
            return self._pending(f"HTTP {status}")
        if status == NOT_FOUND:
            return self._answer_404(ticket, response.content)
        content = response.content
        filename = content_disposition_filename(response.headers.get("Content-Disposition"))
        if looks_like_file(content, response.headers.get("Content-Type", ""), filename):
            return self._file(ticket, content, filename or "", "inline")
        body = jsontext.response_json(response, "GET /reports/Ticket")
        return self._interpret(ticket, body, content)

    def _interpret(self, ticket: str, body: Any, raw: bytes) -> TicketOutcome | Pending:
        """The outcome of a JSON ticket answer (B3 table)."""
        if not isinstance(body, dict) or "result" not in body:
            raise FatalExtractError(
                f"BTG ticket {ticket} answered JSON without 'result': "
                f"{jsontext.excerpt(raw)}. Check BTG_BASE_URL."
            )
        result = body["result"]
        if isinstance(result, list):
            self._answered.add(ticket)
            self.stats.add(pages=1)
            number = page_number(body.get("page", 1), "page", ticket)
            total = page_number(body.get("totalPages", 1), "totalPages", ticket)
            return JsonPage(ticket, number, total, result, raw)
        if isinstance(result, dict):
            return self._download_link(ticket, result, raw)
        if not isinstance(result, str):
            raise FatalExtractError(
                f"BTG ticket {ticket} answered an unexpected result: {jsontext.excerpt(raw)}. "
                "The API changed; check api-contract.md B3."
            )
        state = " ".join(result.split()).casefold()
        if state in PROCESSING_RESULTS:
            return self._pending(result)
        if state == NO_RECORDS_RESULT:
            self._answered.add(ticket)
            return NoRecords(ticket)
        if state == TICKET_NOT_FOUND_RESULT:
            return self._not_found(ticket, result)
        stripped = result.strip()
        if stripped.startswith("{"):
            try:
                link = jsontext.loads(stripped)
            except ValueError as error:
                raise FatalExtractError(
                    f"BTG ticket {ticket} answered a result that is not valid JSON ({error}): "
                    f"{jsontext.excerpt(raw)}."
                ) from error
            if isinstance(link, dict):
                return self._download_link(ticket, link, raw)
        if stripped.startswith(("http://", "https://")):
            return self._download(ticket, stripped)
        raise FatalExtractError(
            f"BTG ticket {ticket} answered an unknown state "
            f"{jsontext.excerpt(result.encode())}. Expected 'Processando', 'No records', pages "
            "or a file (api-contract.md B3)."
        )

    def _download_link(self, ticket: str, link: Mapping[str, Any], raw: bytes) -> ReportFile:
        urls = [value for key, value in link.items() if str(key).casefold() == "urldownload"]
        url = urls[0] if urls else None
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise FatalExtractError(
                f"BTG ticket {ticket} answered a result without a usable UrlDownload: "
                f"{jsontext.excerpt(raw)}. The API changed; check api-contract.md B3."
            )
        return self._download(ticket, url)

    def _download(self, ticket: str, url: str) -> ReportFile:
        """GET a pre-signed link, deliberately without the token (the link is the credential)."""
        self._answered.add(ticket)
        response = self.http.request("GET", url)
        self.stats.add(downloads=1)
        filename = content_disposition_filename(response.headers.get("Content-Disposition"))
        if not filename:
            filename = safe_name(PurePosixPath(urlsplit(url).path).name)
        return self._file(ticket, response.content, filename or "", "url")

    def _file(self, ticket: str, content: bytes, filename: str, delivery: str) -> ReportFile:
        self._answered.add(ticket)
        kind = sniff_kind(content, filename)
        if not filename:
            filename = f"{ticket}.{kind or 'bin'}"
        logger.info("BTG ticket %s delivered %s (%s, %d bytes, %s)",
                    ticket, filename, kind, len(content), delivery)
        return ReportFile(ticket, content, filename, kind, delivery)

    def _pending(self, state: str) -> Pending:
        self.stats.add(pending_polls=1)
        return Pending(state)

    def _answer_404(self, ticket: str, content: bytes) -> Pending:
        """An empty 404 is "not yet" (unless the ticket already answered); a body is BTG's word."""
        if content.strip():
            return self._not_found(ticket, f"HTTP 404 {jsontext.excerpt(content)}")
        if ticket in self._answered:
            return self._not_found(ticket, "HTTP 404")
        return self._pending("HTTP 404 (not visible yet)")

    def _not_found(self, ticket: str, detail: str) -> Pending:
        """Keep polling a ticket BTG does not show yet; fail once it is clearly gone."""
        issued = self._issued_at.get(ticket)
        age = self._monotonic() - issued if issued is not None else None
        if ticket in self._answered or age is None or age > self.poll_policy.not_found_grace_s:
            if ticket in self._answered:
                when = "after it had answered"
            elif age is not None:
                when = f"{age:.0f} s after it was issued"
            else:
                when = "(not issued by this run)"
            raise TicketNotFoundError(
                f"BTG no longer knows ticket {ticket} ({detail}) {when}: tickets expire about an "
                "hour after they are issued. Run again to request a new ticket."
            )
        return self._pending(f"not visible yet ({detail})")
