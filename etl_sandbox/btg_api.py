"""The BTG Pactual fund-report API ("API FaaS") as served by the sandbox under ``/btg``.

Endpoints (api-contract.md PART B; paths match case-insensitively, like ASP.NET Core routing):

* ``POST /connect/token`` - OAuth2 client credentials (form body or HTTP Basic); optional
  ``scope`` (``reports.portfolio`` / ``reports.nav_performance``) restricts the token; RFC 6749
  400 errors; ``expires_in`` 3600 s of the simulated clock.
* ``POST /reports/Portfolio`` (typeReport 3) and ``POST /reports/NAVPerformance`` ->
  ``{"ticket": "<uuid4>"}``; authenticated by ``X-SecureConnect-Token`` (optional ``Bearer ``).
* ``GET /reports/Ticket?ticketId=&pageNumber=`` - every state of B3: processing, No records, JSON
  pages, inline file or ``UrlDownload`` link, 202/204/404 while pending, 404 Ticket not found.
* ``GET /_downloads/<id>.<ext>`` - the pre-signed link of url mode (no authentication).

Knobs are :mod:`btg_settings`; data is :mod:`btg_data`. Tickets and links expire one simulated
hour after the report was requested.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import random
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Any

from etl_sandbox.btg_contracts import (
    ContractValidationError,
    NavRequest,
    PortfolioRequest,
    parse_nav_request,
    parse_portfolio_request,
    validation_response,
)
from etl_sandbox.btg_data import BtgDataset, dataset_for_seed
from etl_sandbox.btg_json import dumps
from etl_sandbox.btg_reports import (
    ReportFile,
    build_nav_funds,
    build_portfolio_file,
    nav_page,
    page_as_string,
    total_pages,
)
from etl_sandbox.btg_settings import BtgSettings
from etl_sandbox.framework import (
    JSON_CONTENT_TYPE,
    BadRequestBody,
    Request,
    Response,
    SandboxApi,
    SandboxContext,
    json_response,
)

CLIENT_ID = "sandbox-btg-client"
CLIENT_SECRET = "sandbox-btg-secret"
SCOPE_PORTFOLIO = "reports.portfolio"
SCOPE_NAV = "reports.nav_performance"
ALL_SCOPES = (SCOPE_PORTFOLIO, SCOPE_NAV)
TOKEN_TTL_SECONDS = 3600
TICKET_TTL_SECONDS = 3600
JWT_HEADER = "eyJhbGciOiJSUzI1NiIsInR5cCI6ImF0K2p3dCJ9"  # {"alg":"RS256","typ":"at+jwt"}
PENDING_MESSAGES = ("Aguardando processamento", "Processando")


@dataclass
class Token:
    """An issued access token: when it stops working and which report scopes it carries."""

    expires_at: datetime
    scopes: frozenset[str]


@dataclass
class Ticket:
    """A requested report: what was asked, when, how often it was polled, its cached result."""

    ticket_id: str
    report: str  # "Portfolio" | "NAVPerformance"
    scope: str
    created_at: datetime
    request: PortfolioRequest | NavRequest
    polls: int = 0
    file: ReportFile | None = None
    funds: list[dict[str, Any]] | None = None
    ready: bool = False
    download_id: str | None = None


@dataclass
class _State:
    """Everything a reset forgets."""

    dataset: BtgDataset
    rng: random.Random
    tokens: dict[str, Token] = field(default_factory=dict)
    tickets: dict[str, Ticket] = field(default_factory=dict)
    downloads: dict[str, tuple[ReportFile, datetime]] = field(default_factory=dict)
    recent_requests: deque[float] = field(default_factory=deque)
    tokens_issued: int = 0
    tickets_issued: dict[str, int] = field(default_factory=dict)
    polls: dict[str, int] = field(default_factory=dict)
    downloads_served: int = 0
    rate_limited: int = 0


class BtgApi(SandboxApi):
    """The simulated BTG fund-report API: tokens, report tickets, files and pages."""

    name = "btg"
    prefix = "/btg"

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._state: _State | None = None

    # ----- SandboxApi interface -------------------------------------------------------------

    def reset(self, ctx: SandboxContext) -> None:
        BtgSettings.from_context(ctx)  # refuse a bad start-up setting early
        with self._lock:
            self._state = _State(dataset=dataset_for_seed(ctx.seed),
                                 rng=random.Random(f"{ctx.seed}|btg-ids"))

    def configure(self, ctx: SandboxContext, changed: set[str]) -> None:
        """Validate the knobs now, so a bad ``/_sandbox/config`` value is refused with 400."""
        BtgSettings.from_context(ctx)

    def expire_tokens(self) -> None:
        with self._lock:
            self.state.tokens.clear()

    def credentials(self) -> dict[str, str]:
        return {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}

    def stats(self) -> dict[str, Any]:
        with self._lock:
            state = self.state
            return {
                "tokens_issued": state.tokens_issued,
                "tickets_issued": sum(state.tickets_issued.values()),
                "tickets_by_report": dict(state.tickets_issued),
                "polls": dict(state.polls),
                "polls_total": sum(state.polls.values()),
                "downloads": state.downloads_served,
                "rate_limited": state.rate_limited,
            }

    def fault_response(self, status: int, ctx: SandboxContext) -> Response:
        if status == 429:
            return json_response(429, {"message": "Too many requests"}, {"Retry-After": "1"})
        if status == 400:
            return validation_response({"$": ["injected fault"]}, random.Random(status))
        if status == 401:
            return _unauthorized()
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        return json_response(status, {"message": phrase})

    def handle(self, request: Request, ctx: SandboxContext) -> Response:
        try:
            settings = BtgSettings.from_context(ctx)
        except ValueError as error:
            return json_response(500, {"message": f"sandbox misconfigured: {error}"})
        path = request.path.rstrip("/").lower() or "/"
        with self._lock:
            if path.startswith("/_downloads/"):
                return self._download(request, ctx, path.removeprefix("/_downloads/"))
            limited = self._rate_limit(ctx, settings)
            if limited is not None:
                return limited
            routes = {
                "/connect/token": ("POST", self._token),
                "/reports/portfolio": ("POST", self._request_portfolio),
                "/reports/navperformance": ("POST", self._request_nav),
                "/reports/ticket": ("GET", self._poll),
            }
            if path not in routes:
                return Response(404)
            method, handler = routes[path]
            if request.method != method:
                return Response(405, headers={"Allow": method})
            return handler(request, ctx, settings)

    @property
    def state(self) -> _State:
        if self._state is None:
            raise RuntimeError("BtgApi used before reset(ctx)")
        return self._state

    # ----- authentication -------------------------------------------------------------------

    def _token(self, request: Request, ctx: SandboxContext, settings: BtgSettings) -> Response:
        try:
            form = {key: values[-1] for key, values in request.form().items()}
        except BadRequestBody:
            return _oauth_error("invalid_request", "the body must be form-urlencoded UTF-8")
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        basic = _basic_credentials(request.headers.get("Authorization", ""))
        if basic is not None:
            client_id, client_secret = basic
        grant_type = form.get("grant_type")
        if not grant_type:
            return _oauth_error("invalid_request", "grant_type is required")
        if grant_type != "client_credentials":
            return _oauth_error("unsupported_grant_type")
        if client_id != CLIENT_ID or client_secret != CLIENT_SECRET:
            return _oauth_error("invalid_client")
        requested = form.get("scope", "").split()
        if any(scope not in ALL_SCOPES for scope in requested):
            return _oauth_error("invalid_scope")
        scopes = frozenset(requested or ALL_SCOPES)
        state = self.state
        now = ctx.clock.now()
        expires_at = now + timedelta(seconds=TOKEN_TTL_SECONDS)
        claims = {"iss": f"{ctx.base_url}{self.prefix}", "client_id": CLIENT_ID,
                  "scope": sorted(scopes), "jti": self._new_id().replace("-", ""),
                  "iat": int(now.timestamp()), "exp": int(expires_at.timestamp())}
        token = ".".join((JWT_HEADER, _b64url(json.dumps(claims, separators=(",", ":")).encode()),
                          f"{state.rng.getrandbits(256):064x}"))
        state.tokens[token] = Token(expires_at, scopes)
        state.tokens_issued += 1
        return json_response(200, {"access_token": token, "expires_in": TOKEN_TTL_SECONDS,
                                   "token_type": "Bearer", "scope": " ".join(sorted(scopes))},
                             {"Cache-Control": "no-store", "Pragma": "no-cache"})

    def _authorize(self, request: Request, ctx: SandboxContext, scope: str | None
                   ) -> Response | None:
        """None when the request carries a live token with ``scope`` (None = any); else 401/403."""
        raw = request.headers.get("X-SecureConnect-Token", "").strip()
        if raw[:7].lower() == "bearer ":
            raw = raw[7:].strip()
        token = self.state.tokens.get(raw) if raw else None
        if token is None or token.expires_at <= ctx.clock.now():
            return _unauthorized()
        if scope is not None and scope not in token.scopes:
            return json_response(403, {"message": f"Forbidden: the token's scope does not "
                                                  f"include {scope}"})
        return None

    # ----- report requests ------------------------------------------------------------------

    def _request_portfolio(self, request: Request, ctx: SandboxContext,
                           settings: BtgSettings) -> Response:
        return self._issue(request, ctx, "Portfolio", SCOPE_PORTFOLIO, parse_portfolio_request)

    def _request_nav(self, request: Request, ctx: SandboxContext,
                     settings: BtgSettings) -> Response:
        return self._issue(request, ctx, "NAVPerformance", SCOPE_NAV, parse_nav_request)

    def _issue(self, request: Request, ctx: SandboxContext, report: str, scope: str,
               parse: Callable[[Any], PortfolioRequest | NavRequest]) -> Response:
        denied = self._authorize(request, ctx, scope)
        if denied is not None:
            return denied
        try:
            parsed = parse(request.json())
        except BadRequestBody:
            return validation_response(
                {"$": ["The JSON value could not be converted; send a JSON object."]},
                self.state.rng)
        except ContractValidationError as problem:
            return validation_response(problem.errors, self.state.rng)
        state = self.state
        self._forget_expired(ctx)
        ticket = Ticket(self._new_id(), report, scope, ctx.clock.now(), parsed)
        state.tickets[ticket.ticket_id] = ticket
        state.tickets_issued[report] = state.tickets_issued.get(report, 0) + 1
        return json_response(200, {"ticket": ticket.ticket_id})

    # ----- polling --------------------------------------------------------------------------

    def _poll(self, request: Request, ctx: SandboxContext, settings: BtgSettings) -> Response:
        ticket_id = (request.query.get("ticketId") or [""])[-1].strip()
        self._forget_expired(ctx)
        ticket = self.state.tickets.get(ticket_id)
        # Any live token may learn that a ticket does not exist; a report needs its scope.
        denied = self._authorize(request, ctx, ticket.scope if ticket else None)
        if denied is not None:
            return denied
        if ticket is None:
            return json_response(404, {"result": "Ticket not found"})
        page = _page_number(request)
        if page is None:
            return validation_response({"pageNumber": ["pageNumber must be an integer >= 1"]},
                                       self.state.rng)
        ticket.polls += 1
        self.state.polls[ticket.ticket_id] = ticket.polls
        elapsed = (ctx.clock.now() - ticket.created_at).total_seconds()
        if not ticket.ready and (ticket.polls <= settings.processing_polls
                                 or elapsed < settings.processing_seconds):
            return _pending(ticket.polls, settings)
        if not ticket.ready:
            self._prepare(ticket, settings)
        if ticket.report == "Portfolio":
            return self._file_answer(ticket, ctx, settings)
        return self._page_answer(ticket, page, settings)

    def _prepare(self, ticket: Ticket, settings: BtgSettings) -> None:
        """Build the report once; later polls re-serve the same result."""
        dataset = self.state.dataset
        if isinstance(ticket.request, PortfolioRequest):
            ticket.file = build_portfolio_file(dataset, ticket.request, settings)
        else:
            ticket.funds = build_nav_funds(dataset, ticket.request, settings.realistic_numbers,
                                           settings.added_fields)
        ticket.ready = True

    def _file_answer(self, ticket: Ticket, ctx: SandboxContext,
                     settings: BtgSettings) -> Response:
        report = ticket.file
        if report is None:
            return _no_records()
        if settings.file_mode == "url":
            if ticket.download_id is None:
                ticket.download_id = self._new_id()
                self.state.downloads[ticket.download_id] = (report, ticket.created_at)
            url = (f"{ctx.base_url}{self.prefix}/_downloads/"
                   f"{ticket.download_id}.{report.extension}")
            link = json.dumps({"UrlDownload": url}, separators=(",", ":"))
            return json_response(200, {"result": link})
        return _file_response(report)

    def _page_answer(self, ticket: Ticket, page: int, settings: BtgSettings) -> Response:
        funds = ticket.funds or []
        if not funds:
            return _no_records()
        assert isinstance(ticket.request, NavRequest)
        size = ticket.request.page_size
        pages = total_pages(len(funds), size)
        if page > pages:
            return validation_response(
                {"pageNumber": [f"pageNumber must be between 1 and totalPages ({pages})"]},
                self.state.rng)
        as_string = page_as_string(settings, ticket.request)
        body = dumps(nav_page(funds, page, size, as_string, settings.added_fields)).encode("utf-8")
        return Response(200, body, {"Content-Type": JSON_CONTENT_TYPE})

    # ----- downloads ------------------------------------------------------------------------

    def _download(self, request: Request, ctx: SandboxContext, name: str) -> Response:
        if request.method != "GET":
            return Response(405, headers={"Allow": "GET"})
        download_id = name.rsplit(".", 1)[0]
        entry = self.state.downloads.get(download_id)
        if entry is None or _expired(entry[1], ctx):
            self.state.downloads.pop(download_id, None)
            return json_response(404, {"message": "The link is unknown or has expired."})
        self.state.downloads_served += 1
        return _file_response(entry[0])

    # ----- helpers --------------------------------------------------------------------------

    def _new_id(self) -> str:
        return str(uuid.UUID(int=self.state.rng.getrandbits(128), version=4))

    def _forget_expired(self, ctx: SandboxContext) -> None:
        state = self.state
        for ticket_id in [t for t, ticket in state.tickets.items()
                          if _expired(ticket.created_at, ctx)]:
            del state.tickets[ticket_id]

    def _rate_limit(self, ctx: SandboxContext, settings: BtgSettings) -> Response | None:
        """Sliding one-minute window on the simulated clock (``SANDBOX_BTG_RPM``, 0 = off)."""
        recent = self.state.recent_requests
        now = ctx.clock.timestamp()
        while recent and recent[0] <= now - 60:
            recent.popleft()
        if settings.rpm and len(recent) >= settings.rpm:
            self.state.rate_limited += 1
            retry_after = max(1, math.ceil(recent[0] + 60 - now))
            return json_response(429, {"message": "Too many requests"},
                                 {"Retry-After": str(retry_after)})
        recent.append(now)
        return None


def _expired(created_at: datetime, ctx: SandboxContext) -> bool:
    return (ctx.clock.now() - created_at).total_seconds() >= TICKET_TTL_SECONDS


def _pending(poll: int, settings: BtgSettings) -> Response:
    if settings.pending_status != 200:
        return Response(settings.pending_status)
    return json_response(200, {"result": PENDING_MESSAGES[(poll - 1) % 2]})


def _no_records() -> Response:
    return json_response(200, {"result": "No records"})


def _unauthorized() -> Response:
    return json_response(401, {"message": "Unauthorized"})


def _oauth_error(code: str, description: str | None = None) -> Response:
    payload = {"error": code}
    if description:
        payload["error_description"] = description
    return json_response(400, payload, {"Cache-Control": "no-store"})


def _file_response(report: ReportFile) -> Response:
    ascii_name = report.name.encode("ascii", "replace").decode("ascii")
    return Response(200, report.data, {
        "Content-Type": "application/octet-stream",
        "Content-Disposition": f'attachment; filename="{ascii_name}"',
    })


def _page_number(request: Request) -> int | None:
    text = (request.query.get("pageNumber") or ["1"])[-1].strip() or "1"
    return int(text) if text.isdigit() and int(text) >= 1 else None


def _basic_credentials(header: str) -> tuple[str, str] | None:
    if header[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, _, secret = decoded.partition(":")
    return client_id, secret


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
