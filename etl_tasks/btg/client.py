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
* HTTP 404 (``{"result":"Ticket not found"}``) while waiting: a freshly issued ticket may not be
  visible yet on every BTG node, so a 404 within ``[btg] not_found_grace_s`` of the request keeps
  polling; a 404 after that grace, or once the ticket has answered with data (fetching page 2 of
  an expired ticket), means the ticket is gone (BTG drops tickets after about an hour): fatal,
  rerunning requests a new ticket;
* the deadline (``[btg] poll_deadline_s``): :class:`TicketTimeoutError` naming the ticket, the
  polls and the elapsed time ("the report is still processing at BTG; run again later");
* JSON parsed with ``parse_float=Decimal`` (:mod:`etl_tasks.btg.jsontext`), never float;
* files sniffed by content (``PK\\x03\\x04`` ZIP, ``<`` XML, else the file name's extension).

Counters (requests, retries, bytes, tickets, polls, pages, downloads) are in :attr:`BtgClient.stats`
for the stage sidecar. Tokens and the client secret never reach a log line or an error message.
"""

from __future__ import annotations

import email.message
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import requests

from etl_tasks import config
from etl_tasks.btg import jsontext
from etl_tasks.btg.anbima import sniff_kind
from etl_tasks.btg.settings import btg as btg_settings
from etl_tasks.core.http import HttpClient, HttpStats, RetryPolicy
from etl_tasks.core.redact import redact
from etl_tasks.errors import AuthError, ConfigError, FatalExtractError, RetriableExtractError

logger = logging.getLogger(__name__)

TOKEN_HEADER = "X-SecureConnect-Token"
TOKEN_ERROR_STATUSES = frozenset({400, 401, 403})
PENDING_STATUSES = frozenset({202, 204})
NOT_FOUND = 404
# Both spellings seen in peer clients (B3); compared case-insensitively.
PROCESSING_RESULTS = frozenset({"processando", "aguardando processamento"})
NO_RECORDS_RESULT = "no records"
TICKET_NOT_FOUND_RESULT = "ticket not found"
REPORT_NAME = re.compile(r"^[A-Za-z]+(/[A-Za-z]+)*$")
ZIP_MAGIC = b"PK\x03\x04"


class TicketTimeoutError(RetriableExtractError):
    """A report ticket was still processing when the polling deadline passed."""


class TicketNotFoundError(FatalExtractError):
    """BTG no longer knows a ticket (expired or never issued); a rerun requests a new one."""


@dataclass(frozen=True)
class AccessToken:
    """A token and when (local monotonic clock) it was obtained."""

    value: str
    lifetime_s: float
    obtained_at: float

    def needs_refresh(self, now: float, margin_s: float) -> bool:
        """True when less than ``margin_s`` of the lifetime is left (at most half the lifetime,
        so a short-lived token is still used for a while instead of renewed on every call)."""
        left = self.obtained_at + self.lifetime_s - now
        return left < min(margin_s, self.lifetime_s / 2)


@dataclass(frozen=True)
class PollPolicy:
    """How to wait for a ticket: first interval, growth, longest interval, overall deadline."""

    initial_s: float = 3.0
    factor: float = 1.5
    max_interval_s: float = 30.0
    deadline_s: float = 600.0
    not_found_grace_s: float = 60.0

    def __post_init__(self) -> None:
        if self.initial_s <= 0 or self.max_interval_s <= 0 or self.deadline_s <= 0:
            raise ConfigError(
                "[btg] poll_initial_s, poll_max_interval_s and poll_deadline_s must be > 0; fix "
                "them in luigi.cfg"
            )
        if self.factor < 1:
            raise ConfigError(
                "[btg] poll_factor must be >= 1 (the wait never shrinks); fix luigi.cfg"
            )
        if self.not_found_grace_s < 0:
            raise ConfigError("[btg] not_found_grace_s must be >= 0; fix luigi.cfg")

    @classmethod
    def from_settings(cls, section: Any) -> PollPolicy:
        """A policy from the ``[btg]`` luigi.cfg section."""
        return cls(
            initial_s=float(section.poll_initial_s),
            factor=float(section.poll_factor),
            max_interval_s=float(section.poll_max_interval_s),
            deadline_s=float(section.poll_deadline_s),
            not_found_grace_s=float(section.not_found_grace_s),
        )


@dataclass(frozen=True)
class NoRecords:
    """The ticket answered ``{"result":"No records"}``: BTG has no data for the request."""

    ticket: str


@dataclass(frozen=True)
class JsonPage:
    """One page of a JSON report; ``raw`` is the body exactly as received (for the landing dir)."""

    ticket: str
    number: int
    total_pages: int
    result: list[Any]
    raw: bytes


@dataclass(frozen=True)
class ReportFile:
    """A file report: the bytes as received, its file name and the sniffed kind."""

    ticket: str
    content: bytes
    filename: str
    kind: str  # "zip", "xml", or the file name's extension
    delivery: str  # "inline" or "url"


@dataclass(frozen=True)
class JsonReport:
    """Every page of a JSON report (no pages when BTG answered ``No records``)."""

    ticket: str
    pages: tuple[JsonPage, ...]
    no_records: bool = False


TicketOutcome = NoRecords | JsonPage | ReportFile


@dataclass(frozen=True)
class _Pending:
    """The ticket is not ready yet (what it said, for the debug log and the timeout message)."""

    state: str


@dataclass
class BtgStats:
    """The client's counters for a stage sidecar: HTTP counters plus ticket work."""

    http: HttpStats = field(default_factory=HttpStats)
    tickets: int = 0
    polls: int = 0
    pending_polls: int = 0
    pages: int = 0
    downloads: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: int) -> None:
        """Increase ticket counters by name."""
        with self._lock:
            for name, amount in counts.items():
                setattr(self, name, getattr(self, name) + amount)

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


class BtgTokenAuth:
    """Client-credentials token for the funds API (B2), presented as ``X-SecureConnect-Token``."""

    def __init__(
        self,
        http: HttpClient,
        base_url: str,
        client_id: str,
        client_secret: str,
        scope: str = "",
        refresh_margin_s: float = 300.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._token_url = f"{base_url.rstrip('/')}/connect/token"
        self.client_id = client_id
        self._client_secret = client_secret
        self.scope = scope
        self.refresh_margin_s = refresh_margin_s
        self._monotonic = monotonic
        self._token: AccessToken | None = None
        self._lock = threading.Lock()
        self.tokens_fetched = 0

    def secrets(self) -> list[str]:
        """Values no message may show: the client secret and the current token."""
        token = self._token.value if self._token else ""
        return [value for value in (self._client_secret, token) if value]

    def token(self) -> str:
        """A valid access token, fetched or renewed when needed."""
        with self._lock:
            now = self._monotonic()
            if self._token is None or self._token.needs_refresh(now, self.refresh_margin_s):
                self._token = self._fetch()
            return self._token.value

    def headers(self) -> Mapping[str, str]:
        """The raw token in BTG's custom header (not ``Authorization: Bearer``)."""
        return {TOKEN_HEADER: self.token()}

    def refresh(self, response: requests.Response) -> None:
        """Renew the token after a 401, unless another thread already did since that request."""
        sent = response.request.headers.get(TOKEN_HEADER) or ""
        with self._lock:
            if self._token is None or self._token.value == sent:
                self._token = self._fetch()

    def _fetch(self) -> AccessToken:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self._client_secret,
        }
        if self.scope:
            form["scope"] = self.scope
        response = self._http.request(
            "POST", self._token_url, data=form, accept_statuses=TOKEN_ERROR_STATUSES
        )
        if response.status_code in TOKEN_ERROR_STATUSES:
            raise AuthError(
                f"BTG rejected the client credentials: {self._error_code(response)} (HTTP "
                f"{response.status_code}). Check BTG_CLIENT_ID and BTG_CLIENT_SECRET in .env"
                + (" and [btg] scope in luigi.cfg." if self.scope else ".")
            )
        body = _json_body(response, "POST /connect/token")
        token = body.get("access_token") if isinstance(body, dict) else None
        lifetime = body.get("expires_in") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise FatalExtractError(
                "BTG /connect/token answered 200 without an access_token; check that BTG_BASE_URL "
                "points at the funds API (e.g. https://funds.btgpactual.com)."
            )
        seconds = _positive_seconds(lifetime)
        if seconds is None:
            raise FatalExtractError(
                f"BTG /connect/token answered an invalid expires_in ({lifetime!r}); check that "
                "BTG_BASE_URL points at the funds API."
            )
        self.tokens_fetched += 1
        logger.info("obtained a BTG access token (valid %d s)", int(seconds))
        return AccessToken(token, seconds, self._monotonic())

    def _error_code(self, response: requests.Response) -> str:
        """The OAuth ``error`` (``invalid_client``...) of a token error body, redacted, short."""
        try:
            body = jsontext.loads(response.content)
        except ValueError:
            body = None
        code = body.get("error") if isinstance(body, dict) else None
        text = code if isinstance(code, str) and code else (response.reason or "rejected")
        return redact(" ".join(text.split())[:120], self.secrets())


class BtgClient:
    """The report endpoints of the funds API (B3-B5) over one HTTP session."""

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
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        if not client_id or not client_secret:
            raise ConfigError(
                "BTG_CLIENT_ID and BTG_CLIENT_SECRET must both be set; add them to .env."
            )
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"BTG_BASE_URL must start with http:// or https:// (got {base_url!r}); "
                "fix it in .env."
            )
        self.base_url = base_url.rstrip("/")
        self.poll_policy = poll_policy or PollPolicy()
        self.stats = BtgStats()
        self._sleep = sleep
        self._monotonic = monotonic
        self.http = HttpClient(
            policy,
            stats=self.stats.http,
            secrets=lambda: self.auth.secrets(),
            user_agent="etl_tasks-btg",
            sleep=sleep,
            clock=clock,
            rng=rng,
        )
        self.auth = BtgTokenAuth(
            self.http, self.base_url, client_id, client_secret, scope, refresh_margin_s, monotonic
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
            "policy": RetryPolicy.from_http_section(config.http()),
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
        """Close the HTTP session."""
        self.http.close()

    def __enter__(self) -> BtgClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

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
            data=jsontext.dumps(body).encode("utf-8"),  # type: ignore[arg-type]  # raw JSON body
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            auth=self.auth,
        )
        payload = _json_body(response, f"POST /reports/{report}")
        ticket = payload.get("ticket") if isinstance(payload, dict) else None
        if not isinstance(ticket, str) or not ticket.strip():
            raise FatalExtractError(
                f"BTG POST /reports/{report} answered without a ticket id: "
                f"{_excerpt(response.content)}. Check BTG_BASE_URL."
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
            if not isinstance(outcome, _Pending):
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

    def _poll_once(self, ticket: str, page_number: int | None) -> TicketOutcome | _Pending:
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
            return self._not_found(ticket, f"HTTP 404 {_excerpt(response.content)}")
        content = response.content
        filename = content_disposition_filename(response.headers.get("Content-Disposition"))
        if _looks_like_file(content, response.headers.get("Content-Type", ""), filename):
            return self._file(ticket, content, filename or "", "inline")
        body = _json_body(response, "GET /reports/Ticket")
        return self._interpret(ticket, body, content)

    def _interpret(self, ticket: str, body: Any, raw: bytes) -> TicketOutcome | _Pending:
        """The outcome of a JSON ticket answer (B3 table)."""
        if not isinstance(body, dict) or "result" not in body:
            raise FatalExtractError(
                f"BTG ticket {ticket} answered JSON without 'result': {_excerpt(raw)}. Check "
                "BTG_BASE_URL."
            )
        result = body["result"]
        if isinstance(result, list):
            self._answered.add(ticket)
            self.stats.add(pages=1)
            number = _page_number(body.get("page", 1), "page", ticket)
            total = _page_number(body.get("totalPages", 1), "totalPages", ticket)
            return JsonPage(ticket, number, total, result, raw)
        if isinstance(result, dict):
            return self._download_link(ticket, result, raw)
        if not isinstance(result, str):
            raise FatalExtractError(
                f"BTG ticket {ticket} answered an unexpected result: {_excerpt(raw)}. The API "
                "changed; check api-contract.md B3."
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
                    f"{_excerpt(raw)}."
                ) from error
            if isinstance(link, dict):
                return self._download_link(ticket, link, raw)
        if stripped.startswith(("http://", "https://")):
            return self._download(ticket, stripped)
        raise FatalExtractError(
            f"BTG ticket {ticket} answered an unknown state {_excerpt(result.encode())}. Expected "
            "'Processando', 'No records', pages or a file (api-contract.md B3)."
        )

    def _download_link(self, ticket: str, link: Mapping[str, Any], raw: bytes) -> ReportFile:
        urls = [value for key, value in link.items() if str(key).casefold() == "urldownload"]
        url = urls[0] if urls else None
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise FatalExtractError(
                f"BTG ticket {ticket} answered a result without a usable UrlDownload: "
                f"{_excerpt(raw)}. The API changed; check api-contract.md B3."
            )
        return self._download(ticket, url)

    def _download(self, ticket: str, url: str) -> ReportFile:
        """GET a pre-signed link, deliberately without the token (the link is the credential)."""
        self._answered.add(ticket)
        response = self.http.request("GET", url)
        self.stats.add(downloads=1)
        filename = content_disposition_filename(response.headers.get("Content-Disposition"))
        if not filename:
            filename = _safe_name(PurePosixPath(urlsplit(url).path).name)
        return self._file(ticket, response.content, filename or "", "url")

    def _file(self, ticket: str, content: bytes, filename: str, delivery: str) -> ReportFile:
        self._answered.add(ticket)
        kind = sniff_kind(content, filename)
        if not filename:
            filename = f"{ticket}.{kind or 'bin'}"
        logger.info("BTG ticket %s delivered %s (%s, %d bytes, %s)",
                    ticket, filename, kind, len(content), delivery)
        return ReportFile(ticket, content, filename, kind, delivery)

    def _pending(self, state: str) -> _Pending:
        self.stats.add(pending_polls=1)
        return _Pending(state)

    def _not_found(self, ticket: str, detail: str) -> _Pending:
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


def content_disposition_filename(value: str | None) -> str | None:
    """The file name of a ``Content-Disposition`` header (RFC 6266/2231), reduced to a safe base
    name, or None."""
    if not value:
        return None
    message = email.message.Message()
    message["Content-Disposition"] = value
    return _safe_name(message.get_filename() or "")


def _safe_name(name: str) -> str | None:
    """A plain file name: no directories (``../x`` or ``C:\\x`` never escape the landing dir)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip().strip("\x00")
    if base in ("", ".", ".."):
        return None
    return base


def _looks_like_file(content: bytes, content_type: str, filename: str | None) -> bool:
    """B4: trust the bytes first (ZIP magic, XML), then the declared type and file name.

    Anything else declared as JSON, or starting like JSON without an attachment name, is a JSON
    ticket answer; the rest (an XLSX or PDF attachment) is a file.
    """
    if content.startswith(ZIP_MAGIC) or sniff_kind(content) == "xml":
        return True
    if "json" in content_type.lower():
        return False
    looks_like_json = content.lstrip()[:1] in (b"{", b"[")
    return bool(filename) or not looks_like_json


def _json_body(response: requests.Response, where: str) -> Any:
    try:
        return jsontext.loads(response.content)
    except (ValueError, UnicodeDecodeError) as error:
        raise FatalExtractError(
            f"BTG {where} answered HTTP {response.status_code} with a body that is not JSON "
            f"({error}): {_excerpt(response.content)}. Check that BTG_BASE_URL points at the API."
        ) from error


def _page_number(value: Any, name: str, ticket: str) -> int:
    """``page``/``totalPages`` as an int: BTG sometimes sends them as strings (``"1"``)."""
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or int(text) < 1:
        raise FatalExtractError(
            f"BTG ticket {ticket} answered {name}={value!r}; expected a positive integer."
        )
    return int(text)


def _positive_seconds(value: Any) -> float | None:
    """``expires_in`` as seconds when it is a positive number (int or Decimal), else None."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return None
    if isinstance(value, Decimal) and not value.is_finite():
        return None
    return float(value) if value > 0 else None


def _excerpt(content: bytes, limit: int = 200) -> str:
    text = " ".join(content[:limit].decode("utf-8", errors="replace").split())
    return repr(redact(text))
