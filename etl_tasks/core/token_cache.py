"""A cached client-credentials token behind the HTTP client's Authenticator protocol.

Both APIs hand out bearer-like tokens with a lifetime; both clients must reuse one token across
threads, renew it before it expires, and renew it after a 401 without two threads fetching twice.
That mechanism lives here once; each API subclass says how to fetch a token, when it is too old,
how it is presented, and which token a failed request carried.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import requests


@dataclass(frozen=True)
class CachedToken:
    """A token and when (local monotonic clock) it was obtained."""

    value: str
    lifetime_s: float
    obtained_at: float

    def seconds_left(self, now: float) -> float:
        return self.obtained_at + self.lifetime_s - now


class CachedTokenAuth(ABC):
    """One token per client, fetched on first use, renewed early and after a 401."""

    def __init__(self, client_secret: str, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._client_secret = client_secret
        self._monotonic = monotonic
        self._token: CachedToken | None = None
        self._lock = threading.Lock()
        self.tokens_fetched = 0

    def secrets(self) -> list[str]:
        """Values no message may show: the client secret and the current token."""
        token = self._token.value if self._token else ""
        return [value for value in (self._client_secret, token) if value]

    def token(self) -> str:
        """A valid token, fetched or renewed when needed."""
        with self._lock:
            if self._token is None or self.needs_refresh(self._token, self._monotonic()):
                self._token = self._obtain()
            return self._token.value

    def refresh(self, response: requests.Response) -> None:
        """Renew the token after a 401, unless another thread already did since that request."""
        sent = self.sent_token(response)
        with self._lock:
            if self._token is None or self._token.value == sent:
                self._token = self._obtain()

    def _obtain(self) -> CachedToken:
        value, lifetime_s = self.fetch()
        self.tokens_fetched += 1
        return CachedToken(value, lifetime_s, self._monotonic())

    @abstractmethod
    def fetch(self) -> tuple[str, float]:
        """Ask the token endpoint; return (token, lifetime in seconds) or raise AuthError."""

    @abstractmethod
    def needs_refresh(self, token: CachedToken, now: float) -> bool:
        """True when ``token`` is too close to its expiry to be sent again."""

    @abstractmethod
    def headers(self) -> Mapping[str, str]:
        """The headers that present the token on a request."""

    @abstractmethod
    def sent_token(self, response: requests.Response) -> str:
        """The token the request behind ``response`` carried."""
