"""A cached client-credentials token behind the HTTP client's Authenticator protocol.

Both APIs hand out bearer-like tokens with a lifetime; both clients must reuse one token across
threads, renew it before it expires, and renew it after a 401 without two threads fetching twice.
That mechanism lives here once; each API subclass says how to fetch a token, when it is too old,
how it is presented, and which token a failed request carried.

With a :class:`TokenFile` the token is also shared between processes (``luigi --workers N`` forks
one per task; every extract builds its own client): the first one to need a token fetches it and
writes it, with its expiry, to a file only the owner may read (mode 0600, ``flock``-ed for each
read-modify-write); the others read it. A 401 renews it once for everybody: a process whose
request failed with the token that is still in the file fetches a new one; one that finds a newer
token there simply uses it. ``validate_every_s`` makes the token be checked against the issuer
(Twitch asks apps to call ``/oauth2/validate`` hourly) at most that often, for all processes
together. The token itself never reaches a log line.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from etl_tasks.core.http_response import HttpResponse

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CachedToken:
    """A token and when (local monotonic clock) it was obtained."""

    value: str
    lifetime_s: float
    obtained_at: float

    def seconds_left(self, now: float) -> float:
        return self.obtained_at + self.lifetime_s - now


@dataclass(frozen=True)
class TokenRecord:
    """What a token file holds; times are wall-clock epoch seconds (the same in every process)."""

    token: str
    lifetime_s: float
    obtained_at: float
    validated_at: float


# Tokens a read-only TokenFile obtained, by file path: a set-up check must create no file, but the
# run that follows in the same process (etl-run validates, then runs) reuses its token.
_UNSTORED: dict[Path, TokenRecord] = {}


class TokenFile:
    """One client's token in ``<directory>/<name>-<sha256 of key>.json`` (0600, flock-ed)."""

    def __init__(
        self, directory: Path | str, key: str, name: str = "token", read_only: bool = False
    ) -> None:
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]
        self.path = Path(directory) / f"{name}-{digest}.json"
        # Read-only (set-up checks, which must create nothing): a cached token is used, a new one
        # is not stored.
        self.read_only = read_only

    @contextlib.contextmanager
    def locked(self) -> Iterator[TokenFileHandle]:
        """The file under an exclusive lock, for one read-modify-write."""
        if self.read_only:
            yield TokenFileHandle(None, self.path)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            os.fchmod(fd, 0o600)  # the file holds a credential: owner only, whatever umask says
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield TokenFileHandle(fd, self.path)
        finally:
            os.close(fd)

    def read(self) -> TokenRecord | None:
        """The stored record (None when absent or unreadable)."""
        with self.locked() as handle:
            return handle.read()


class TokenFileHandle:
    """Read and write the record of a locked token file."""

    def __init__(self, fd: int | None, path: Path) -> None:
        self._fd = fd  # None: read-only, the file is read without locking and never written
        self._path = path

    def read(self) -> TokenRecord | None:
        if self._fd is None:
            try:
                raw = self._path.read_bytes()
            except OSError:
                raw = b""
        else:
            raw = os.pread(self._fd, os.fstat(self._fd).st_size, 0)
        if not raw.strip():
            return _UNSTORED.get(self._path)
        try:
            data = json.loads(raw)
            return TokenRecord(
                token=str(data["token"]),
                lifetime_s=float(data["lifetime_s"]),
                obtained_at=float(data["obtained_at"]),
                validated_at=float(data["validated_at"]),
            )
        except (ValueError, KeyError, TypeError):
            return None  # a damaged cache only costs one token request

    def write(self, record: TokenRecord) -> None:
        if self._fd is None:
            _UNSTORED[self._path] = record
            return
        data = json.dumps(asdict(record)).encode("utf-8")
        os.pwrite(self._fd, data, 0)
        if os.fstat(self._fd).st_size > len(data):
            os.ftruncate(self._fd, len(data))


class CachedTokenAuth(ABC):
    """One token per client, fetched on first use, renewed early and after a 401."""

    def __init__(
        self,
        client_secret: str,
        monotonic: Callable[[], float] = time.monotonic,
        *,
        shared: TokenFile | None = None,
        validate_every_s: float | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._client_secret = client_secret
        self._monotonic = monotonic
        self._wall = wall
        self._shared = shared
        self._validate_every_s = validate_every_s
        self._validated_at = 0.0
        self._token: CachedToken | None = None
        self._lock = threading.Lock()
        self.tokens_fetched = 0
        self.validations = 0

    def secrets(self) -> list[str]:
        """Values no message may show: the client secret and the current token."""
        token = self._token.value if self._token else ""
        return [value for value in (self._client_secret, token) if value]

    def token(self) -> str:
        """A valid token, fetched or renewed when needed."""
        with self._lock:
            token = self._token
            if token is None or self.needs_refresh(token, self._monotonic()):
                self._token = self._current(stale=None)
            elif self._validation_due(self._validated_at):
                self._token = self._current(stale=None, check=token)
            return self._token.value

    def refresh(self, response: HttpResponse) -> None:
        """Renew the token after a 401, unless another thread already did since that request."""
        sent = self.sent_token(response)
        with self._lock:
            if self._token is None or self._token.value == sent:
                self._token = self._current(stale=sent)

    def validate(self, token: str) -> bool:
        """Whether the issuer still accepts ``token`` (subclasses call their validate endpoint)."""
        return True

    def _validation_due(self, validated_at: float) -> bool:
        every = self._validate_every_s
        return every is not None and self._wall() - validated_at >= every

    def _current(self, stale: str | None, check: CachedToken | None = None) -> CachedToken:
        """A usable token: the shared one when it is fresh, valid and not ``stale``, else new."""
        if self._shared is None:
            if check is not None and self._checked(check.value):
                return check
            return self._obtain()
        with self._shared.locked() as handle:
            record = handle.read()
            now = self._wall()
            if record is not None and record.token != stale:
                age = max(0.0, now - record.obtained_at)
                token = CachedToken(record.token, record.lifetime_s, self._monotonic() - age)
                if not self.needs_refresh(token, self._monotonic()):
                    if not self._validation_due(record.validated_at):
                        self._validated_at = record.validated_at
                        return token
                    if self._checked(token.value):
                        handle.write(TokenRecord(**{**asdict(record), "validated_at": now}))
                        return token
            token = self._obtain()
            handle.write(TokenRecord(token.value, token.lifetime_s, now, now))
            return token

    def _checked(self, token: str) -> bool:
        self.validations += 1
        valid = self.validate(token)
        if valid:
            self._validated_at = self._wall()
        else:
            logger.info("the cached access token is no longer valid; fetching a new one")
        return valid

    def _obtain(self) -> CachedToken:
        value, lifetime_s = self.fetch()
        self.tokens_fetched += 1
        self._validated_at = self._wall()  # a token just issued is valid
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
    def sent_token(self, response: HttpResponse) -> str:
        """The token the request behind ``response`` carried."""
