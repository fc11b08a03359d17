"""HTTP plumbing shared by the API clients: timeouts, retries with backoff, pacing, counters.

:class:`HttpClient` sends through one urllib3 ``PoolManager``: a requests Session's
Request/PreparedRequest building, header dicts, hooks, cookies and adapter were about a quarter
of a Get Users call's client CPU (``benchmarks/http_client.py``), and an unthrottled day is
CPU-bound. Every call carries a timeout. Failures split in two, as in the Singer SDK:

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

Threads: one client may be used from a thread pool; its threads share the pool manager (urllib3
pools are thread-safe), which keeps ``pool_size`` connections per host for reuse. Proxy settings
are read from the environment (``*_proxy``, ``no_proxy``) once per host, and a proxied host goes
through a ``ProxyManager``; certificates come from ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` or
certifi, as with requests. Callers get an :class:`~etl_tasks.core.http_response.HttpResponse`
(status, reason, case-insensitive headers, body).

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
from urllib.parse import quote_plus, unquote, urlsplit

import certifi
import requests
import urllib3

from etl_tasks.core.closing import Closing
from etl_tasks.core.counters import Counters
from etl_tasks.core.http_response import HttpResponse
from etl_tasks.core.pagination import CursorPaginator, Page, check_envelope
from etl_tasks.core.ratelimit import RateLimitPacer, server_time
from etl_tasks.core.redact import redact
from etl_tasks.errors import AuthError, ConfigError, FatalExtractError, RetriableExtractError

__all__ = [
    "Authenticator",
    "CursorPaginator",
    "HttpClient",
    "HttpResponse",
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
        name = _quote(key)
        if isinstance(value, (list, tuple)):
            parts.extend(f"{name}={_quote(item)}" for item in value if item is not None)
        elif value is not None:
            parts.append(f"{name}={_quote(value)}")
    return "&".join(parts)


def _quote(value: Any) -> str:
    if isinstance(value, bytes):
        return quote_plus(value)
    text = value if isinstance(value, str) else str(value)
    # Letters and digits first, two C calls (ids, logins): the regex costs more than that.
    if text.isalnum() and text.isascii():
        return text
    return text if _NO_QUOTING_NEEDED.fullmatch(text) else quote_plus(text)


DEFAULT_POOL_SIZE = 10  # connections kept per host: urllib3's default
# What requests sent on every call; gzip/deflate bodies are decoded as they are read.
DEFAULT_HEADERS = {"Accept-Encoding": "gzip, deflate", "Accept": "*/*"}
_DEFAULT_NAMES = {name.lower(): name for name in (*DEFAULT_HEADERS, "User-Agent")}
# urllib3 retries nothing itself (our loop classifies and backs off) but follows redirects, as
# requests did: connect/read errors are raised as they are, any other one as MaxRetryError.
NO_RETRIES = urllib3.Retry(
    total=None, connect=False, read=False, other=0, status=0, redirect=30,
    raise_on_redirect=False,
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

    def refresh(self, response: HttpResponse) -> None:
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


def decode_json(response: HttpResponse, where: str) -> Any:
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


def check_url(where: str, url: str) -> None:
    """ConfigError unless ``url`` is an absolute http(s) URL with a host (the kinds named as
    requests named them, so the messages stay the same)."""
    try:
        parsed = urllib3.util.parse_url(url)
    except urllib3.exceptions.LocationParseError as error:
        raise unusable_url(where, "InvalidURL") from error
    if not parsed.scheme:
        raise unusable_url(where, "MissingSchema")
    if parsed.scheme not in ("http", "https"):
        raise unusable_url(where, "InvalidSchema")
    if not parsed.host:
        raise unusable_url(where, "InvalidURL")


def unusable_url(where: str, kind: str) -> ConfigError:
    """The error for a URL no request can be made with (a bad ``*_BASE_URL``)."""
    return ConfigError(
        f"{where}: not a usable URL ({kind}). Check the base URL settings in .env (each "
        "*_BASE_URL must start with http:// or https://)."
    )


def ca_settings() -> dict[str, str]:
    """Where the CA certificates come from: ``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE`` (a file
    or a directory), else certifi's bundle, as with requests."""
    bundle = (
        os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certifi.where()
    )
    return {"ca_cert_dir": bundle} if os.path.isdir(bundle) else {"ca_certs": bundle}


def proxy_manager(proxy: str, pool_kw: Mapping[str, Any]) -> urllib3.ProxyManager:
    """A manager that sends through ``proxy`` (a ``*_proxy`` value; credentials in it become
    ``Proxy-Authorization``, as requests did)."""
    proxy = requests.utils.prepend_scheme_if_needed(proxy, "http")
    credentials = urllib3.util.parse_url(proxy).auth
    headers: dict[str, str] = {}
    if credentials:
        user, _, password = credentials.partition(":")
        headers = urllib3.util.make_headers(proxy_basic_auth=f"{unquote(user)}:{unquote(password)}")
    return urllib3.ProxyManager(proxy, proxy_headers=headers, **pool_kw)


class HttpClient(Closing):
    """Timeouts, retries, pacing and counters over one urllib3 ``PoolManager``.

    ``sleep``, ``clock`` (wall time) and ``rng`` are injectable so tests can run backoff without
    waiting; the HTTP itself is always real. ``pool_size`` is how many connections per host are
    kept for reuse: the number of threads that use the client at once (fewer would make the
    extra threads open and drop a connection per request).
    """

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        stats: HttpStats | None = None,
        secrets: Callable[[], Iterable[str]] | None = None,
        user_agent: str = "etl_tasks",
        pool_size: int = DEFAULT_POOL_SIZE,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self._default_headers = {**DEFAULT_HEADERS, "User-Agent": user_agent}
        connect, read = self.policy.timeout_s
        self._pool_kw: dict[str, Any] = {
            "maxsize": max(1, pool_size),
            "block": False,  # never wait for a free connection: open one more
            "timeout": urllib3.Timeout(connect=connect, read=read),
            "retries": NO_RETRIES,
            **ca_settings(),
        }
        self._direct = urllib3.PoolManager(**self._pool_kw)
        self._proxy_managers: dict[str, urllib3.ProxyManager] = {}
        # scheme://host -> the manager that reaches it (direct or through a proxy): the proxy
        # environment is read once per host, not on every call.
        self._routes: dict[str, urllib3.PoolManager] = {}
        self._proxies: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()
        self.requests_by_path: dict[str, int] = {}
        self.stats = stats if stats is not None else HttpStats()
        self._secrets = secrets
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()

    def proxies_for(self, url: str) -> dict[str, str]:
        """Proxy settings of the environment for ``url``'s host (``*_proxy``, ``no_proxy``)."""
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc}"
        found = self._proxies.get(key)
        if found is None:
            found = dict(requests.utils.get_environ_proxies(key))
            self._proxies[key] = found
        return found

    def _route(self, where: str, url: str, origin: str) -> urllib3.PoolManager:
        """The manager for ``origin`` (``scheme://host``): a ProxyManager when the environment
        names a proxy for it, else the direct one. ConfigError for a URL no transport serves."""
        manager = self._routes.get(origin)
        if manager is not None:
            return manager
        check_url(where, url)
        proxy = requests.utils.select_proxy(url, self.proxies_for(url))
        with self._lock:
            if proxy:
                manager = self._proxy_managers.get(proxy)
                if manager is None:
                    try:
                        manager = proxy_manager(proxy, self._pool_kw)
                    except urllib3.exceptions.LocationValueError as error:
                        raise unusable_url(where, "InvalidURL") from error  # the proxy's URL
                    self._proxy_managers[proxy] = manager
            else:
                manager = self._direct
            self._routes[origin] = manager
        return manager

    def close(self) -> None:
        """Close every pooled connection (direct and through proxies)."""
        with self._lock:
            managers = [self._direct, *self._proxy_managers.values()]
        for manager in managers:
            manager.clear()

    def get_json(
        self,
        url: str,
        *,
        params: Params | None = None,
        auth: Authenticator | None = None,
        pacer: RateLimitPacer | None = None,
    ) -> tuple[Any, HttpResponse]:
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
    ) -> HttpResponse:
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
    ) -> HttpResponse | str:
        """One attempt: the response (body read, counted), or why there was none (retriable)."""
        started = time.perf_counter()
        parts = urlsplit(url)
        self._count_path(parts.path)
        manager = self._route(where, url, f"{parts.scheme}://{parts.netloc}")
        if params:
            url = f"{url}{'&' if parts.query else '?'}{encode_query(params)}"
        sent = self._headers(headers)
        body: bytes | None
        if isinstance(data, Mapping):
            body = encode_query(data).encode("ascii")
            if "content-type" not in {name.lower() for name in sent}:
                sent["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            body = data
        try:
            raw = manager.urlopen(
                method, url, body=body, headers=sent, preload_content=False, decode_content=True
            )
        except urllib3.exceptions.MaxRetryError as error:  # not a connect or read error
            return self._failed(where, attempt, error.reason or error, reading=False)
        except (urllib3.exceptions.HTTPError, OSError) as error:
            return self._failed(where, attempt, error, reading=False)
        try:
            # Read the body here too: it can time out, break, or trickle past the deadline.
            content = self._read_body(raw, started + self.policy.deadline_s)
        except ResponseDeadlineError as error:
            return self._no_response(where, attempt, str(error))
        except (urllib3.exceptions.HTTPError, OSError) as error:
            return self._failed(where, attempt, error, reading=True)
        status = raw.status
        self.stats.add(
            requests=1,
            bytes_received=len(content),
            http_429=int(status == 429),
            http_5xx=int(500 <= status <= 599),
        )
        elapsed_ms = (time.perf_counter() - started) * 1000
        logger.debug("%s -> %d in %.0f ms (attempt %d)", where, status, elapsed_ms, attempt)
        return HttpResponse(status, raw.reason or "", raw.headers, content, url, sent)

    def _failed(self, where: str, attempt: int, error: Exception, reading: bool) -> str:
        """Why an attempt got no (complete) answer, for a retry; raise when retrying is futile:
        FatalExtractError for TLS (a certificate problem does not heal) and an undecodable body,
        ConfigError for a URL urllib3 cannot parse."""
        if isinstance(error, urllib3.exceptions.LocationValueError):
            raise unusable_url(where, "InvalidURL") from error
        if isinstance(error, urllib3.exceptions.SSLError):
            self.stats.add(requests=1, errors=1)
            raise FatalExtractError(
                f"{where}: TLS handshake failed ({type(error).__name__}). Check the base URL "
                "and the system's CA certificates."
            ) from error
        if isinstance(error, urllib3.exceptions.DecodeError):
            self.stats.add(requests=1, errors=1)
            raise FatalExtractError(
                f"{where}: the body could not be decoded ({type(error).__name__}: its "
                "Content-Encoding does not match its bytes)."
            ) from error
        if isinstance(error, urllib3.exceptions.ConnectTimeoutError) and not isinstance(
            error, urllib3.exceptions.NewConnectionError
        ):
            failure = f"connect timeout after {self.policy.timeout_s[0]} s"
        elif isinstance(error, urllib3.exceptions.ReadTimeoutError):
            failure = f"no response within {self.policy.timeout_s[1]} s (read timeout)"
        elif reading:
            failure = "connection broke while reading the response"
        else:
            failure = "connection failed (refused, reset or DNS)"
        return self._no_response(where, attempt, failure)

    def _headers(self, given: Mapping[str, str]) -> dict[str, str]:
        """The defaults (User-Agent, Accept, Accept-Encoding) overridden by ``given``, whatever
        the case of its names (a plain dict: HTTPHeaderDict costs more than it saves here)."""
        sent = dict(self._default_headers)
        for name, value in given.items():
            default = _DEFAULT_NAMES.get(name.lower())
            if default is not None:
                del sent[default]
            sent[name] = value
        return sent

    def _no_response(self, where: str, attempt: int, failure: str) -> str:
        """Count an attempt that got no (complete) answer; return why, for a retry."""
        self.stats.add(requests=1, errors=1)
        logger.debug("%s -> %s (attempt %d)", where, failure, attempt)
        return failure

    def _count_path(self, path: str) -> None:
        with self._lock:
            self.requests_by_path[path] = self.requests_by_path.get(path, 0) + 1

    def _read_body(self, raw: urllib3.BaseHTTPResponse, deadline: float) -> bytes:
        """The whole (decoded) body, read before ``deadline`` (perf_counter).

        ``read1`` returns whatever has arrived (at most one socket read, bounded by the read
        timeout), so the deadline is checked however slowly the bytes come; a plain
        ``read(n)`` would wait for all ``n`` bytes. A failed read closes the connection (it
        still holds the rest of the answer: never reuse it); a complete one goes back to the
        pool."""
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
        except BaseException:
            raw.close()
            raw.release_conn()
            raise
        raw.release_conn()
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

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
        response: HttpResponse | None,
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
        response: HttpResponse | None,
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

    def _excerpt(self, response: HttpResponse) -> str:
        text = " ".join(response.text[:BODY_EXCERPT_CHARS].split())
        extra = [s for s in (self._secrets() if self._secrets else []) if s]
        return repr(redact(text, extra))

    def _exhausted(self, where: str, attempts: int, last_failure: str) -> RetriableExtractError:
        return RetriableExtractError(
            f"{where} still failing after {attempts} attempts (last: {last_failure}). The API is "
            "unavailable or throttling us; rerun later (finished stages are skipped)."
        )
