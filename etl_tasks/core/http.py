"""HTTP plumbing shared by the API clients: timeouts, retries with backoff, pacing, counters.

:class:`HttpClient` wraps one ``requests.Session``. Every call carries a timeout. Failures split in
two, as in the Singer SDK:

* retriable — HTTP 429/5xx (``RetryPolicy.retry_statuses``), connection errors and timeouts: retried
  with exponential backoff and full jitter, or after the wait the server asked for (``Retry-After``
  in seconds or as an HTTP date; for rate-limited APIs the ``Ratelimit-Reset`` of the pacer). When
  the retries run out: :class:`~etl_tasks.errors.RetriableExtractError` ("rerun later").
* fatal — every other 4xx: raised at once as :class:`~etl_tasks.errors.FatalExtractError` with the
  status, the URL path (never the query string) and a short, redacted excerpt of the body.

API clients plug in through an :class:`Authenticator` (headers added on every attempt; on a 401 it
refreshes its credentials and the request is retried once, a second 401 is an
:class:`~etl_tasks.errors.AuthError`) and a :class:`~etl_tasks.core.ratelimit.RateLimitPacer`
(fed every response's headers, consulted before every attempt).

Bounded waits: ``timeout_s`` bounds the connect and every socket read, and ``deadline_s`` bounds
the whole answer (headers and body), so a server that trickles a byte every few seconds, which no
per-read timeout ever catches, still ends the attempt (a retriable failure) within about
``deadline_s + read timeout``.

Threads: one client may be used from a thread pool; each thread gets its own ``requests.Session``
(sessions are not thread-safe), and proxy settings are read from the environment once per host
instead of on every call.

This module knows no pipeline: settings arrive as a :class:`RetryPolicy`.
"""

from __future__ import annotations

import dataclasses
import email.utils
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote_plus, urlsplit

import requests
import urllib3

from etl_tasks.core.closing import Closing
from etl_tasks.core.counters import Counters
from etl_tasks.core.pagination import CursorPaginator, Page, check_envelope
from etl_tasks.core.ratelimit import RateLimitPacer, server_time
from etl_tasks.core.redact import redact
from etl_tasks.errors import AuthError, ConfigError, FatalExtractError, RetriableExtractError

__all__ = [
    "Authenticator",
    "CursorPaginator",
    "HttpClient",
    "HttpStats",
    "Page",
    "RateLimitPacer",
    "RetryPolicy",
    "check_envelope",
    "decode_json",
    "server_time",
]

logger = logging.getLogger(__name__)

Params = Mapping[str, Any] | Sequence[tuple[str, Any]]
# What quote_plus leaves as it is: ids, logins, cursors and most values need no quoting at all.
_NO_QUOTING_NEEDED = re.compile(r"[A-Za-z0-9_.~-]*")


def encode_query(params: Params) -> str:
    """``params`` as a query string, exactly as ``requests`` encodes them (``urlencode`` with
    ``doseq``: a list value repeats the key, None is left out, str/bytes are single values).

    Done here because requests quotes every value through ``quote_plus`` even when there is
    nothing to quote: a Get Users call of 100 ids spent more CPU encoding its query than the
    rest of the request."""
    pairs = params.items() if isinstance(params, Mapping) else params
    parts: list[str] = []
    for key, value in pairs:
        values = value if isinstance(value, (list, tuple)) else [value]
        name = _quote(key)
        parts.extend(f"{name}={_quote(item)}" for item in values if item is not None)
    return "&".join(parts)


def _quote(value: Any) -> str:
    if isinstance(value, bytes):
        return quote_plus(value)
    text = str(value)
    return text if _NO_QUOTING_NEEDED.fullmatch(text) else quote_plus(text)

# Exceptions that mean "no (complete) HTTP response": worth another attempt.
RETRIABLE_EXCEPTIONS: tuple[type[Exception], ...] = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)
BODY_EXCERPT_CHARS = 200


class ResponseDeadlineError(Exception):
    """An answer did not arrive completely within the policy's total deadline."""


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: retry count, backoff shape, which statuses are transient, timeouts."""

    max_retries: int = 5
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    jitter: bool = True
    retry_statuses: frozenset[int] = frozenset({429, 500, 502, 503, 504})
    timeout_s: tuple[float, float] = (10.0, 30.0)  # (connect, each socket read)
    deadline_s: float = 120.0  # the whole answer, headers and body (slow-trickle bodies)
    # Cap on a wait the server asks for (Retry-After, Ratelimit-Reset): a bigger value means odd
    # headers or skewed clocks, and honouring it would stall the run.
    max_wait_s: float = 65.0

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if min(self.timeout_s) <= 0 or self.deadline_s <= 0:
            raise ValueError("timeouts must be > 0: a call without a timeout can hang forever")

    def backoff_s(self, retry_number: int, rng: random.Random) -> float:
        """Delay before retry ``retry_number`` (1-based): exponential, capped, full jitter."""
        ceiling = min(self.backoff_max_s, self.backoff_base_s * 2 ** (retry_number - 1))
        return rng.uniform(0.0, ceiling) if self.jitter else ceiling

    @classmethod
    def from_http_section(cls, section: Any) -> RetryPolicy:
        """A policy from an object with ``timeout_s``, ``max_retries``, ``backoff_base_s`` and
        ``backoff_max_s`` attributes (the ``[http]`` luigi.Config section), and optionally
        ``deadline_s`` (default: four read timeouts)."""
        timeout = float(section.timeout_s)
        deadline = getattr(section, "deadline_s", None)
        return cls(
            max_retries=int(section.max_retries),
            backoff_base_s=float(section.backoff_base_s),
            backoff_max_s=float(section.backoff_max_s),
            timeout_s=(timeout, timeout),
            deadline_s=float(deadline) if deadline else 4 * timeout,
        )


@dataclass
class HttpStats(Counters):
    """Counters for a stage sidecar. Thread-safe updates; merge two clients' stats with ``+``."""

    requests: int = 0  # attempts sent (each retry counts)
    retries: int = 0  # attempts beyond the first of a call (incl. the one after a 401 refresh)
    http_429: int = 0
    http_5xx: int = 0
    errors: int = 0  # attempts that got no HTTP response (connection error, timeout)
    bytes_received: int = 0
    wait_s: float = 0.0  # time slept pacing or backing off

    def as_dict(self) -> dict[str, int | float]:
        """Plain counters for JSON (``wait_s`` rounded to milliseconds)."""
        with self._lock:
            values = {f.name: getattr(self, f.name) for f in self._counter_fields()}
        values["wait_s"] = round(float(values["wait_s"]), 3)
        return values

    def __add__(self, other: HttpStats) -> HttpStats:
        mine, theirs = self.as_dict(), other.as_dict()
        return HttpStats(**{name: mine[name] + theirs[name] for name in mine})

    @classmethod
    def combine(cls, stats: Iterable[HttpStats]) -> HttpStats:
        """One total from several clients' stats."""
        total = cls()
        for item in stats:
            total = total + item
        return total

    @staticmethod
    def _counter_fields() -> list[dataclasses.Field[Any]]:
        return [f for f in dataclasses.fields(HttpStats) if not f.name.startswith("_")]


class Authenticator(Protocol):
    """Credentials for one API: headers for every attempt, and a refresh after a 401."""

    def headers(self) -> Mapping[str, str]:
        """Headers to add to the next attempt (may fetch or renew a token first)."""
        ...

    def refresh(self, response: requests.Response) -> None:
        """Renew credentials after ``response`` came back 401; raise AuthError if impossible."""
        ...


def describe_url(url: str) -> str:
    """Host and path of a URL: what an error message may show (the query may carry secrets)."""
    parts = urlsplit(url)
    return f"{parts.netloc}{parts.path}"


def parse_retry_after(value: str | None, server_now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta seconds or HTTP date), else None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - server_now)


def decode_json(response: requests.Response, where: str) -> Any:
    """The JSON body of a response, or FatalExtractError naming the endpoint."""
    try:
        return response.json()
    except ValueError as error:
        excerpt = " ".join(response.text[:BODY_EXCERPT_CHARS].split())
        raise FatalExtractError(
            f"{where} answered HTTP {response.status_code} with a body that is not JSON "
            f"({error}): {excerpt!r}. Check that the base URL points at the API."
        ) from error



@dataclass(frozen=True)
class Clocks:
    """The time sources an API client waits, stamps and jitters with: the system's by default;
    tests pass fakes so backoff, token expiry and pacing run without real waiting."""

    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time  # wall time (Retry-After dates, rate-limit resets)
    monotonic: Callable[[], float] = time.monotonic  # token ages, poll deadlines
    rng: random.Random | None = None


SYSTEM_CLOCKS = Clocks()


def require_http_url(key: str, value: str) -> str:
    """``value`` of the ``.env`` key ``key`` without its trailing slash, or a ConfigError naming
    the key when it is not an http(s) URL (before any request is made with it)."""
    if not value.startswith(("http://", "https://")):
        raise ConfigError(
            f"not a usable URL in {key} ({value!r}): it must start with http:// or https://; "
            "fix it in .env."
        )
    return value.rstrip("/")


class HttpClient(Closing):
    """One ``requests.Session`` with timeouts, retries, pacing and counters.

    ``sleep``, ``clock`` (wall time) and ``rng`` are injectable so tests can run backoff without
    waiting; the HTTP itself is always real.
    """

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        session: requests.Session | None = None,
        stats: HttpStats | None = None,
        secrets: Callable[[], Iterable[str]] | None = None,
        user_agent: str = "etl_tasks",
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self._given_session = session
        if session is not None:
            session.headers.setdefault("User-Agent", user_agent)
        self._user_agent = user_agent
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()
        self._proxies: dict[str, dict[str, str]] = {}
        self._verify: str | bool = (
            os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        )
        self.requests_by_path: dict[str, int] = {}
        self.stats = stats if stats is not None else HttpStats()
        self._secrets = secrets
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()

    @property
    def session(self) -> requests.Session:
        """The calling thread's session (or the one given to the constructor, for every thread)."""
        if self._given_session is not None:
            return self._given_session
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers["User-Agent"] = self._user_agent
            # Proxies come from the environment once per host (proxies_for): with trust_env,
            # requests re-reads the environment on every call.
            session.trust_env = False
            self._local.session = session
            with self._sessions_lock:
                self._sessions.append(session)
        return session

    def proxies_for(self, url: str) -> dict[str, str]:
        """Proxy settings of the environment for ``url``'s host (``*_proxy``, ``no_proxy``)."""
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc}"
        found = self._proxies.get(key)
        if found is None:
            found = dict(requests.utils.get_environ_proxies(key))
            self._proxies[key] = found
        return found

    def close(self) -> None:
        """Close the pooled connections of every thread's session."""
        if self._given_session is not None:
            self._given_session.close()
        with self._sessions_lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()

    def get_json(
        self,
        url: str,
        *,
        params: Params | None = None,
        auth: Authenticator | None = None,
        pacer: RateLimitPacer | None = None,
    ) -> tuple[Any, requests.Response]:
        """GET and decode JSON; returns ``(body, response)``."""
        response = self.request("GET", url, params=params, auth=auth, pacer=pacer)
        return decode_json(response, f"GET {describe_url(url)}"), response

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Params | None = None,
        data: Mapping[str, str] | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        auth: Authenticator | None = None,
        pacer: RateLimitPacer | None = None,
        accept_statuses: Collection[int] = (),
    ) -> requests.Response:
        """Send one logical request, retrying transient failures; return a 2xx/3xx response.

        A status in ``accept_statuses`` is returned instead of raised (e.g. a documented 404).
        """
        where = f"{method} {describe_url(url)}"
        attempt = retries_used = 0
        refreshed = False
        while True:
            attempt += 1
            if attempt > 1:
                self.stats.add(retries=1)
            self._pace(pacer)
            attempt_headers = {**(headers or {}), **(auth.headers() if auth else {})}
            outcome = self._send(method, url, where, attempt, params, data, attempt_headers)
            if isinstance(outcome, str):  # no response: connection error or timeout
                if retries_used >= self.policy.max_retries:
                    raise self._exhausted(where, attempt, outcome)
                retries_used += 1
                self._backoff(where, outcome, retries_used, None, None)
                continue
            response, status = outcome, outcome.status_code
            if pacer is not None:
                pacer.observe(response.headers)
            if status < 400 or status in accept_statuses:
                return response
            if status == 401 and auth is not None:
                if refreshed:
                    raise AuthError(
                        f"{where} answered 401 again right after the credentials were renewed: "
                        f"{self._excerpt(response)}. The API does not accept this application's "
                        "credentials; check the client id/secret in .env."
                    )
                refreshed = True
                logger.info("%s answered 401; renewing credentials and retrying once", where)
                auth.refresh(response)
                continue
            if status in self.policy.retry_statuses:
                failure = f"HTTP {status} {response.reason or ''}".strip()
                if retries_used >= self.policy.max_retries:
                    raise self._exhausted(where, attempt, failure)
                retries_used += 1
                self._backoff(where, failure, retries_used, response, pacer)
                continue
            raise FatalExtractError(
                f"{where} answered HTTP {status} {response.reason or ''}: "
                f"{self._excerpt(response)}. Client errors are not retried; check the request "
                "parameters and configuration."
            )

    def _send(
        self,
        method: str,
        url: str,
        where: str,
        attempt: int,
        params: Params | None,
        data: Mapping[str, str] | bytes | None,
        headers: Mapping[str, str],
    ) -> requests.Response | str:
        """One attempt: the response (body read, counted), or why there was none (retriable)."""
        started = time.perf_counter()
        self._count_path(url)
        try:
            extra: dict[str, Any] = {}
            if self._given_session is None:
                extra = {"proxies": self.proxies_for(url), "verify": self._verify}
            response = self.session.request(
                method,
                url,
                params=encode_query(params) if params else None,
                data=data,
                headers=headers,
                timeout=self.policy.timeout_s,
                stream=True,
                **extra,
            )
            # Read the body inside the try: it can time out too, or trickle past the deadline.
            size = self._read_body(response, started + self.policy.deadline_s)
        except ResponseDeadlineError as error:
            self.stats.add(requests=1, errors=1)
            logger.debug("%s -> %s (attempt %d)", where, error, attempt)
            return str(error)
        except requests.exceptions.SSLError as error:
            self.stats.add(requests=1, errors=1)
            # A certificate problem does not heal by retrying.
            raise FatalExtractError(
                f"{where}: TLS handshake failed ({type(error).__name__}). Check the base URL "
                "and the system's CA certificates."
            ) from error
        except (
            requests.exceptions.InvalidURL,
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema,
        ) as error:
            raise ConfigError(
                f"{where}: not a usable URL ({type(error).__name__}). Check the base URL "
                "settings in .env (each *_BASE_URL must start with http:// or https://)."
            ) from error
        except RETRIABLE_EXCEPTIONS as error:
            self.stats.add(requests=1, errors=1)
            failure = self._describe_exception(error)
            logger.debug("%s -> %s (attempt %d)", where, failure, attempt)
            return failure
        status = response.status_code
        self.stats.add(
            requests=1,
            bytes_received=size,
            http_429=int(status == 429),
            http_5xx=int(500 <= status <= 599),
        )
        elapsed_ms = (time.perf_counter() - started) * 1000
        logger.debug("%s -> %d in %.0f ms (attempt %d)", where, status, elapsed_ms, attempt)
        return response

    def _count_path(self, url: str) -> None:
        path = urlsplit(url).path
        with self._sessions_lock:
            self.requests_by_path[path] = self.requests_by_path.get(path, 0) + 1

    def _read_body(self, response: requests.Response, deadline: float) -> int:
        """Read the whole body before ``deadline`` (perf_counter); return its size in bytes.

        ``read1`` returns whatever has arrived (at most one socket read, bounded by the read
        timeout), so the deadline is checked however slowly the bytes come; a plain
        ``read(n)`` would wait for all ``n`` bytes."""
        raw = response.raw
        chunks: list[bytes] = []
        try:
            while True:
                chunk = raw.read1(64 * 1024, decode_content=True)
                if not chunk:
                    break
                chunks.append(chunk)
                if time.perf_counter() > deadline:
                    raise ResponseDeadlineError(
                        f"no complete response within {self.policy.deadline_s:g} s "
                        "(total deadline; the body arrived too slowly)"
                    )
        except ResponseDeadlineError:
            response.close()  # the connection still holds the rest: never reuse it
            raise
        except urllib3.exceptions.ReadTimeoutError as error:
            response.close()
            raise requests.exceptions.ReadTimeout(str(error)) from error
        except urllib3.exceptions.ProtocolError as error:
            response.close()
            raise requests.exceptions.ChunkedEncodingError(str(error)) from error
        except urllib3.exceptions.DecodeError as error:
            response.close()
            raise requests.exceptions.ContentDecodingError(str(error)) from error
        # What requests does itself when not streaming; the connection goes back to the pool.
        response._content = b"".join(chunks)
        response._content_consumed = True
        raw.release_conn()
        return len(response._content)

    def _pace(self, pacer: RateLimitPacer | None) -> None:
        if pacer is None:
            return
        wait = pacer.wait_before_request()
        if wait > 0:
            self._wait(wait)

    def _backoff(
        self,
        where: str,
        failure: str,
        retry_number: int,
        response: requests.Response | None,
        pacer: RateLimitPacer | None,
    ) -> None:
        delay, reason = self._retry_delay(retry_number, response, pacer)
        logger.warning(
            "%s failed (%s); retry %d/%d in %.1f s (%s)",
            where,
            failure,
            retry_number,
            self.policy.max_retries,
            delay,
            reason,
        )
        self._wait(delay)

    def _retry_delay(
        self,
        retry_number: int,
        response: requests.Response | None,
        pacer: RateLimitPacer | None,
    ) -> tuple[float, str]:
        """Delay before the next attempt and why: the server's word first, then backoff."""
        if response is not None:
            server_now = server_time(response.headers)
            now = server_now.timestamp() if server_now is not None else self._clock()
            asked = parse_retry_after(response.headers.get("Retry-After"), now)
            if asked is not None:
                return min(asked, self.policy.max_wait_s), "Retry-After"
            if response.status_code == 429 and pacer is not None:
                until_reset = pacer.wait_after_429(response.headers)
                if until_reset is not None:
                    return until_reset, "Ratelimit-Reset"
        return self.policy.backoff_s(retry_number, self._rng), "backoff"

    def _wait(self, seconds: float) -> None:
        self.stats.add(wait_s=seconds)
        self._sleep(seconds)

    def _excerpt(self, response: requests.Response) -> str:
        text = " ".join(response.text[:BODY_EXCERPT_CHARS].split())
        extra = [s for s in (self._secrets() if self._secrets else []) if s]
        return repr(redact(text, extra))

    def _describe_exception(self, error: Exception) -> str:
        # The exception text of requests repeats the URL with its query; keep only the kind.
        if isinstance(error, requests.ConnectTimeout):
            return f"connect timeout after {self.policy.timeout_s[0]} s"
        if isinstance(error, requests.ReadTimeout) or "Read timed out" in str(error):
            return f"no response within {self.policy.timeout_s[1]} s (read timeout)"
        if isinstance(error, requests.exceptions.ChunkedEncodingError):
            return "connection broke while reading the response"
        return "connection failed (refused, reset or DNS)"

    def _exhausted(self, where: str, attempts: int, last_failure: str) -> RetriableExtractError:
        return RetriableExtractError(
            f"{where} still failing after {attempts} attempts (last: {last_failure}). The API is "
            "unavailable or throttling us; rerun later (finished stages are skipped)."
        )
