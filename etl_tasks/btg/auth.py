"""BTG funds API authentication: client-credentials token sent as ``X-SecureConnect-Token``.

``POST {BTG_BASE_URL}/connect/token`` with a form body (``grant_type=client_credentials``,
``client_id``, ``client_secret`` and an optional ``scope``) returns ``access_token`` and
``expires_in`` (api-contract.md B2). The token goes raw in ``X-SecureConnect-Token`` (not
``Authorization: Bearer``). :class:`BtgTokenAuth` caches it, renews it when less than the refresh
margin (5 min) of its lifetime is left, and renews it after a 401 (the HTTP client retries the
request once; a second 401 is an AuthError). Neither the secret nor the token is ever logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from etl_tasks.btg import jsontext
from etl_tasks.core.http import HttpClient
from etl_tasks.core.http_response import HttpResponse
from etl_tasks.core.redact import redact
from etl_tasks.core.token_cache import CachedToken, CachedTokenAuth
from etl_tasks.errors import AuthError, FatalExtractError

logger = logging.getLogger(__name__)

TOKEN_HEADER = "X-SecureConnect-Token"
TOKEN_ERROR_STATUSES = frozenset({400, 401, 403})


class BtgTokenAuth(CachedTokenAuth):
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
        super().__init__(client_secret, monotonic)
        self._http = http
        self._token_url = f"{base_url.rstrip('/')}/connect/token"
        self.client_id = client_id
        self.scope = scope
        self.refresh_margin_s = refresh_margin_s

    def needs_refresh(self, token: CachedToken, now: float) -> bool:
        """True when less than the refresh margin of the lifetime is left (at most half the
        lifetime, so a short-lived token is still used for a while instead of renewed on every
        call)."""
        return token.seconds_left(now) < min(self.refresh_margin_s, token.lifetime_s / 2)

    def headers(self) -> Mapping[str, str]:
        """The raw token in BTG's custom header (not ``Authorization: Bearer``)."""
        return {TOKEN_HEADER: self.token()}

    def sent_token(self, response: HttpResponse) -> str:
        return response.request_headers.get(TOKEN_HEADER) or ""

    def fetch(self) -> tuple[str, float]:
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
        body = jsontext.response_json(response, "POST /connect/token")
        token = body.get("access_token") if isinstance(body, dict) else None
        lifetime = body.get("expires_in") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise FatalExtractError(
                "BTG /connect/token answered 200 without an access_token; check that BTG_BASE_URL "
                "points at the funds API (e.g. https://funds.btgpactual.com)."
            )
        seconds = positive_seconds(lifetime)
        if seconds is None:
            raise FatalExtractError(
                f"BTG /connect/token answered an invalid expires_in ({lifetime!r}); check that "
                "BTG_BASE_URL points at the funds API."
            )
        logger.info("obtained a BTG access token (valid %d s)", int(seconds))
        return token, seconds

    def _error_code(self, response: HttpResponse) -> str:
        """The OAuth ``error`` (``invalid_client``...) of a token error body, redacted, short."""
        try:
            body = jsontext.loads(response.content)
        except ValueError:
            body = None
        code = body.get("error") if isinstance(body, dict) else None
        text = code if isinstance(code, str) and code else (response.reason or "rejected")
        return redact(" ".join(text.split())[:120], self.secrets())


def positive_seconds(value: Any) -> float | None:
    """``expires_in`` as seconds when it is a positive number (int or Decimal), else None."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return None
    if isinstance(value, Decimal) and not value.is_finite():
        return None
    return float(value) if value > 0 else None
