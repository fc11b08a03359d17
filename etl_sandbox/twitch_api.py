"""The Twitch sandbox API: ``/twitch/id/oauth2/*`` (id.twitch.tv) and ``/twitch/helix/*``.

Implements api-contract.md PART A: client-credentials tokens (form body or query string) and their
id.twitch.tv error shapes, ``/oauth2/validate``, and the Helix endpoints users, games, games/top,
streams, videos and clips with the contract's parameter rules, 400/401/404 bodies, per-client-id
token-bucket rate limit (``Ratelimit-*`` headers, 429) and cursor pagination. Data comes from
:class:`~etl_sandbox.twitch_data.TwitchDataset`; the endpoint logic is in
:mod:`~etl_sandbox.twitch_endpoints`.

Settings (``SANDBOX_*`` env vars, CLI flags or ``POST /_sandbox/config``):
``TWITCH_USERS`` (200), ``TWITCH_GAMES`` (40), ``TWITCH_RATELIMIT`` (800 points per minute),
``TWITCH_TOKEN_TTL`` (5011271 s), ``TWITCH_LATENCY_MS`` (0: time every Helix and id answer takes),
``TWITCH_DANGLING_CURSORS`` (0: when 1, a last page's cursor leads to an empty page),
``TWITCH_PARTNER_HISTORY_DAYS`` (90: days of uploads a partner keeps visible).

``TWITCH_PROFILE=real-day`` sets what a real Twitch day looks like (api-contract.md A4) as the
default of each of those: 410,000 users (about 100,000 live at once), the 800-point bucket, 150 ms
per answer, dangling cursors and partners with hundreds of past videos. Explicit settings win.
"""

from __future__ import annotations

import math
import time
from http import HTTPStatus
from typing import Any

from etl_sandbox.framework import (
    BadRequestBody,
    Request,
    Response,
    SandboxApi,
    SandboxContext,
    json_response,
    setting_key,
)
from etl_sandbox.twitch_auth import RateLimiter, TokenStore
from etl_sandbox.twitch_data import CONTENT_DAYS, DEFAULT_GAMES, DEFAULT_USERS, TwitchDataset
from etl_sandbox.twitch_endpoints import HELIX_ENDPOINTS, Endpoint, HelixError, Params

CLIENT_ID = "sandboxtwitchclientid0000000001"
CLIENT_SECRET = "sandbox-twitch-secret"
DEFAULT_RATELIMIT = 800
DEFAULT_TOKEN_TTL = 5_011_271
INVALID_TOKEN_CHALLENGE = 'OAuth realm="TwitchTV", error="invalid_token"'
DATASET_SETTINGS = frozenset({setting_key("twitch_users"), setting_key("twitch_games"),
                              setting_key("twitch_partner_history_days"),
                              setting_key("twitch_profile")})
# Defaults of the real-day profile (explicit settings override each of them).
REAL_DAY_PROFILE = {
    "twitch_users": "410000",
    "twitch_ratelimit": "800",
    "twitch_latency_ms": "150",
    "twitch_dangling_cursors": "1",
    "twitch_partner_history_days": "1000",
}
PROFILES = {"": {}, "default": {}, "real-day": REAL_DAY_PROFILE}


def helix_error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """Helix error body: ``{"error": <reason phrase>, "status": <int>, "message": <text>}``."""
    return json_response(status, {"error": _reason(status), "status": status, "message": message},
                         headers)


def id_error(status: int, message: str) -> Response:
    """id.twitch.tv error body (no ``error`` key): ``{"status": <int>, "message": <text>}``."""
    return json_response(status, {"status": status, "message": message})


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class TwitchApi(SandboxApi):
    """Twitch id + Helix, mounted at ``/twitch``."""

    name = "twitch"
    prefix = "/twitch"

    def __init__(self) -> None:
        self._data: TwitchDataset | None = None
        self._ctx: SandboxContext | None = None
        self.tokens = TokenStore()
        self.limiter = RateLimiter()

    # ----- SandboxApi -------------------------------------------------------------------------
    def reset(self, ctx: SandboxContext) -> None:
        self._ctx = ctx
        self._data = self._dataset(ctx)
        self.tokens = TokenStore()
        self.limiter = RateLimiter()

    def configure(self, ctx: SandboxContext, changed: set[str]) -> None:
        self._capacity(ctx)
        self._token_ttl(ctx)
        self._latency_s(ctx)
        self._dangling(ctx)
        if changed & DATASET_SETTINGS:
            self._data = self._dataset(ctx)

    def expire_tokens(self) -> None:
        self.tokens.expire_all()

    def credentials(self) -> dict[str, str]:
        return {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}

    def stats(self) -> dict[str, Any]:
        data = self.data
        return {
            "tokens_issued": self.tokens.issued,
            "tokens_active": self.tokens.active(),
            "rate_limited": self.limiter.limited,
            "ratelimit_remaining": self.limiter.remaining(),
            "users": data.user_count,
            "games": data.game_count,
        }

    def fault_response(self, status: int, ctx: SandboxContext) -> Response:
        headers: dict[str, str] = {}
        if status == 429:
            headers = {"Ratelimit-Limit": str(self._capacity(ctx)), "Ratelimit-Remaining": "0",
                       "Ratelimit-Reset": str(math.ceil(ctx.clock.timestamp()) + 1)}
            return helix_error(429, "Request limit exceeded", headers)
        if status == 401:
            headers = {"WWW-Authenticate": INVALID_TOKEN_CHALLENGE}
            return helix_error(401, "Invalid OAuth token", headers)
        return helix_error(status, "" if status >= 500 else _reason(status), headers)

    def handle(self, request: Request, ctx: SandboxContext) -> Response:
        latency = self._latency_s(ctx)
        if latency > 0:
            # Real answers take 100-200 ms: a client waiting for each one before the next uses
            # only part of the bucket. The server is threaded, so overlapping requests overlap.
            time.sleep(latency)
        path = request.path.rstrip("/") or "/"
        if path == "/id/oauth2/token":
            if request.method != "POST":
                return id_error(405, "method not allowed")
            return self._token(request, ctx)
        if path == "/id/oauth2/validate":
            if request.method != "GET":
                return id_error(405, "method not allowed")
            return self._validate(request, ctx)
        if path.startswith("/helix/"):
            endpoint = HELIX_ENDPOINTS.get(path.removeprefix("/helix"))
            if endpoint is None:
                return helix_error(404, f"{path} is not an endpoint of this sandbox")
            if request.method != "GET":
                return helix_error(405, f"{path} only answers GET", {"Allow": "GET"})
            return self._helix(request, ctx, endpoint)
        return id_error(404, "Not Found")

    # ----- internals --------------------------------------------------------------------------
    @property
    def data(self) -> TwitchDataset:
        if self._data is None:
            raise RuntimeError("TwitchApi.reset(ctx) must run before requests are served")
        return self._data

    @staticmethod
    def _profile(ctx: SandboxContext) -> dict[str, str]:
        name = ctx.setting("twitch_profile", "").strip().lower()
        if name not in PROFILES:
            raise ValueError(f"setting SANDBOX_TWITCH_PROFILE={name!r} is not one of "
                             f"{', '.join(p for p in PROFILES if p)}")
        return PROFILES[name]

    @classmethod
    def _int(cls, ctx: SandboxContext, name: str, default: int, minimum: int = 0) -> int:
        """An integer knob whose default comes from the profile, then from ``default``."""
        fallback = int(cls._profile(ctx).get(name, default))
        return ctx.int_setting(name, fallback, minimum=minimum)

    @classmethod
    def _dataset(cls, ctx: SandboxContext) -> TwitchDataset:
        users = cls._int(ctx, "twitch_users", DEFAULT_USERS, minimum=1)
        games = cls._int(ctx, "twitch_games", DEFAULT_GAMES, minimum=1)
        history = cls._int(ctx, "twitch_partner_history_days", CONTENT_DAYS, minimum=CONTENT_DAYS)
        return TwitchDataset(ctx.seed, users=users, games=games, partner_history_days=history)

    @classmethod
    def _capacity(cls, ctx: SandboxContext) -> int:
        return cls._int(ctx, "twitch_ratelimit", DEFAULT_RATELIMIT, minimum=1)

    @classmethod
    def _token_ttl(cls, ctx: SandboxContext) -> int:
        return cls._int(ctx, "twitch_token_ttl", DEFAULT_TOKEN_TTL, minimum=1)

    @classmethod
    def _latency_s(cls, ctx: SandboxContext) -> float:
        return cls._int(ctx, "twitch_latency_ms", 0) / 1000.0

    @classmethod
    def _dangling(cls, ctx: SandboxContext) -> bool:
        return cls._int(ctx, "twitch_dangling_cursors", 0) > 0

    def _token(self, request: Request, ctx: SandboxContext) -> Response:
        params = {key: values[0] for key, values in request.query.items() if values}
        content_type = request.headers.get("Content-Type", "")
        if request.body and ("form-urlencoded" in content_type or not content_type):
            try:
                # The form body wins over the query string, as in twitch-cli's mock.
                params.update({k: v[0] for k, v in request.form().items() if v})
            except BadRequestBody:
                return id_error(400, "invalid request body")
        client_id = params.get("client_id", "")
        if not client_id:
            return id_error(400, "missing client id")
        if client_id != CLIENT_ID:
            return id_error(400, "invalid client")
        if params.get("grant_type") != "client_credentials":
            return id_error(400, "invalid grant type")
        if not params.get("client_secret"):
            return id_error(400, "missing client secret")
        if params["client_secret"] != CLIENT_SECRET:
            return id_error(403, "invalid client secret")
        ttl = self._token_ttl(ctx)
        token = self.tokens.issue(client_id, ctx.clock.timestamp(), ttl)
        return json_response(200, {"access_token": token, "expires_in": ttl,
                                   "token_type": "bearer"})

    def _validate(self, request: Request, ctx: SandboxContext) -> Response:
        scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
        if not token.strip():
            return id_error(401, "missing authorization token")
        now = ctx.clock.timestamp()
        known_scheme = scheme.lower() in ("oauth", "bearer")
        record = self.tokens.lookup(token.strip(), now) if known_scheme else None
        if record is None:
            return id_error(401, "invalid access token")
        return json_response(200, {"client_id": record.client_id, "scopes": [],
                                   "expires_in": record.seconds_left(now)})

    def _helix(self, request: Request, ctx: SandboxContext, endpoint: Endpoint) -> Response:
        authorization = request.headers.get("Authorization", "").strip()
        if not authorization:
            return helix_error(401, "OAuth token is missing")
        client_id = request.headers.get("Client-Id", "").strip()
        if not client_id:
            return helix_error(401, "Client-Id header is missing")
        now = ctx.clock.timestamp()
        scheme, _, token = authorization.partition(" ")
        record = self.tokens.lookup(token.strip(), now) if scheme.lower() == "bearer" else None
        if record is None:
            return helix_error(401, "Invalid OAuth token",
                               {"WWW-Authenticate": INVALID_TOKEN_CHALLENGE})
        if record.client_id != client_id:
            return helix_error(401, "Client ID and OAuth token do not match")
        decision = self.limiter.take(client_id, self._capacity(ctx), now)
        if not decision.allowed:
            return helix_error(429, "Request limit exceeded", decision.headers())
        try:
            payload = endpoint(Params(request.query, self._dangling(ctx)), self.data, now)
        except HelixError as error:
            return helix_error(error.status, str(error), decision.headers())
        return json_response(200, payload, decision.headers())
