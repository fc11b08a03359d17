"""Twitch Helix client: app-token auth, id batching, cursor pagination, rate-limit pacing.

    client = TwitchClient.from_env()          # TWITCH_* from .env, [http]/[twitch] from luigi.cfg
    for page in client.iter_streams(page_size=100):
        ...  # page.captured_at (server clock), page.rows (raw JSON objects)
    users = client.get_users(page_ids)        # any number of ids: 100 per call

What the contract (api-contract.md A1-A5, Part C) asks of a client, and where it happens here:

* app access token (client credentials, form body) cached and renewed when less than 10 % of its
  lifetime is left or on a Helix 401; the failed request is retried once; a second 401 is fatal
  (:class:`AppTokenAuth` + :class:`~etl_tasks.core.http.HttpClient`);
* ``Authorization: Bearer`` and ``Client-Id`` on every call; multi-value filters as repeated keys,
  never comma-joined; at most 100 ids per call (:func:`chunked`);
* ``pagination.cursor`` loop with stop rules and loop detection
  (:class:`~etl_tasks.core.pagination.CursorPaginator`);
* ``Ratelimit-*`` pacing, 429 → wait for ``Ratelimit-Reset`` (:class:`RateLimitPacer`, one bucket
  per client id);
* one app token per deployment, not per client: :meth:`TwitchClient.from_env` keeps it in
  ``<output>/tokens/`` (mode 0600) for every task and ``--workers`` process, and checks it with
  ``/oauth2/validate`` at most hourly, as Twitch asks (:class:`TokenFile`);
* independent calls (id batches, one walk per broadcaster) overlap on ``concurrency`` threads
  (:func:`~etl_tasks.core.fanout.ordered_map`), results in input order, so a day is bound by the
  bucket rather than by the 100-200 ms each answer takes;
* ``/videos`` (newest first) is walked only back to the date's window (:meth:`videos_since`).

Rows come back as the API's JSON objects; typing them is the transform's job. Only the envelope is
checked here. Tokens and the client secret never reach a log line or an error message.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from etl_tasks import config, config_sections
from etl_tasks.core.closing import Closing
from etl_tasks.core.fanout import ordered_map
from etl_tasks.core.http import (
    DEFAULT_POOL_SIZE,
    SYSTEM_CLOCKS,
    Clocks,
    CursorPaginator,
    HttpClient,
    HttpStats,
    RateLimitPacer,
    RetryPolicy,
    check_envelope,
    decode_json,
    require_http_url,
)
from etl_tasks.core.http_response import HttpResponse
from etl_tasks.core.ratelimit import RateLimitStateStore
from etl_tasks.core.ratelimit_file import FileStateStore, SharedRateLimitPacer
from etl_tasks.core.redact import redact
from etl_tasks.core.token_cache import CachedToken, CachedTokenAuth, TokenFile
from etl_tasks.errors import AuthError, ConfigError, FatalExtractError
from etl_tasks.twitch.settings import twitch as twitch_settings

logger = logging.getLogger(__name__)

MAX_IDS_PER_CALL = 100  # Helix limit for repeated id filters (A5.1, A5.2)
MAX_PAGE_SIZE = 100  # Helix `first` range is 1..100 (A2)
REFRESH_WHEN_LEFT = 0.10  # renew the token when less than this fraction of its lifetime is left
VALIDATE_EVERY_S = 3600.0  # Twitch: validate app tokens hourly while they are in use
DEFAULT_CONCURRENCY = 8
TOKEN_ERROR_STATUSES = frozenset({400, 401, 403})


def shared_ratelimit() -> bool:
    """``[twitch] shared_ratelimit`` (default true): pace through the host-wide bucket file."""
    return bool(twitch_settings().shared_ratelimit)


def chunked(ids: Iterable[str], size: int = MAX_IDS_PER_CALL) -> Iterator[list[str]]:
    """Distinct ids in first-seen order, in lists of at most ``size``.

    Ids are opaque strings (A2): a non-string is a caller bug, not something to cast.
    """
    if size < 1:
        raise ValueError("size must be >= 1")
    seen: set[str] = set()
    batch: list[str] = []
    for item in ids:
        if not isinstance(item, str):
            raise TypeError(f"Twitch ids are strings, got {type(item).__name__}: {item!r}")
        if item == "" or item in seen:
            continue
        seen.add(item)
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def rfc3339(moment: dt.datetime) -> str:
    """``2025-04-10T00:00:00Z`` from an aware datetime (Helix wants RFC3339 UTC)."""
    if moment.tzinfo is None:
        raise ValueError(f"{moment!r} has no timezone; pass an aware datetime (UTC)")
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_page_size(page_size: int) -> int:
    """``page_size`` if Helix accepts it as ``first``, else a ConfigError saying how to fix it."""
    if not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ConfigError(
            f"Twitch page size must be an integer from 1 to {MAX_PAGE_SIZE}, got {page_size!r}; "
            "fix [twitch] page_size in luigi.cfg."
        )
    return page_size


@dataclass(frozen=True)
class StreamPage:
    """One page of the live-streams snapshot."""

    captured_at: dt.datetime  # server clock of the first page: one instant for the whole snapshot
    page: int  # 1-based
    rows: list[dict[str, Any]]


@dataclass(frozen=True)
class Walk:
    """The rows of one paginated query and the requests (pages) it took."""

    key: str  # what was walked: a broadcaster id or a game id
    rows: list[dict[str, Any]]
    requests: int


def created_at(row: Mapping[str, Any]) -> dt.datetime | None:
    """``created_at`` of a video/clip item as an aware datetime, None when absent or odd (the raw
    schema check names such rows)."""
    value = row.get("created_at")
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.timezone.utc)


class AppTokenAuth(CachedTokenAuth):
    """OAuth client-credentials token for Helix (A1): cached, renewed early, renewed after a 401."""

    def __init__(
        self,
        http: HttpClient,
        auth_base_url: str,
        client_id: str,
        client_secret: str,
        monotonic: Callable[[], float] = time.monotonic,
        *,
        shared: TokenFile | None = None,
        validate_every_s: float | None = VALIDATE_EVERY_S,
    ) -> None:
        super().__init__(
            client_secret, monotonic, shared=shared, validate_every_s=validate_every_s
        )
        self._http = http
        self._token_url = f"{auth_base_url.rstrip('/')}/oauth2/token"
        self._validate_url = f"{auth_base_url.rstrip('/')}/oauth2/validate"
        self.client_id = client_id

    def validate(self, token: str) -> bool:
        """``GET /oauth2/validate`` (A1): True on 200 for this client id, False on 401."""
        response = self._http.request(
            "GET",
            self._validate_url,
            headers={"Authorization": f"OAuth {token}"},
            accept_statuses={401},
        )
        if response.status_code == 401:
            return False
        body = decode_json(response, "GET /oauth2/validate")
        return isinstance(body, dict) and body.get("client_id") in (None, self.client_id)

    def needs_refresh(self, token: CachedToken, now: float) -> bool:
        """True when less than :data:`REFRESH_WHEN_LEFT` of the lifetime remains."""
        return token.seconds_left(now) < token.lifetime_s * REFRESH_WHEN_LEFT

    def headers(self) -> Mapping[str, str]:
        """Helix auth headers (A2): the token and the client it was minted for."""
        return {"Authorization": f"Bearer {self.token()}", "Client-Id": self.client_id}

    def sent_token(self, response: HttpResponse) -> str:
        return (response.request_headers.get("Authorization") or "").split(" ", 1)[-1]

    def fetch(self) -> tuple[str, float]:
        form = {
            "client_id": self.client_id,
            "client_secret": self._client_secret,
            "grant_type": "client_credentials",
        }
        response = self._http.request(
            "POST", self._token_url, data=form, accept_statuses=TOKEN_ERROR_STATUSES
        )
        if response.status_code in TOKEN_ERROR_STATUSES:
            raise AuthError(
                "TWITCH_CLIENT_ID/SECRET rejected by Twitch: "
                f"{self._error_message(response)} (HTTP {response.status_code}) — check "
                "TWITCH_CLIENT_ID and TWITCH_CLIENT_SECRET in .env"
            )
        body = decode_json(response, "POST /oauth2/token")
        token = body.get("access_token") if isinstance(body, dict) else None
        lifetime = body.get("expires_in") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise FatalExtractError(
                "Twitch token endpoint answered 200 without an access_token; check "
                "TWITCH_AUTH_BASE_URL points at the Twitch OAuth host."
            )
        if isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or lifetime <= 0:
            raise FatalExtractError(
                f"Twitch token endpoint answered an invalid expires_in ({lifetime!r}); check "
                "TWITCH_AUTH_BASE_URL points at the Twitch OAuth host."
            )
        logger.info("obtained a Twitch app access token (valid %d s)", int(lifetime))
        return token, float(lifetime)

    def _error_message(self, response: HttpResponse) -> str:
        """The ``message`` of an id.twitch.tv error body (A1), redacted and short."""
        try:
            body = response.json()
        except ValueError:
            body = None
        message = body.get("message") if isinstance(body, dict) else None
        text = message if isinstance(message, str) and message else response.reason or "rejected"
        return redact(" ".join(text.split())[:120], [self._client_secret])


class _OAuthSchemeAuth:
    """The app token presented as ``Authorization: OAuth`` (what /oauth2/validate documents)."""

    def __init__(self, inner: AppTokenAuth) -> None:
        self._inner = inner

    def headers(self) -> Mapping[str, str]:
        return {"Authorization": f"OAuth {self._inner.token()}"}

    def refresh(self, response: HttpResponse) -> None:
        self._inner.refresh(response)


class TwitchClient(Closing):
    """Helix endpoints the pipeline needs (A5), over one pooled HTTP client with shared pacing."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        auth_base_url: str,
        api_base_url: str,
        policy: RetryPolicy | None = None,
        reserve: int = 10,
        *,
        stats: HttpStats | None = None,
        pacer_store: RateLimitStateStore | None = None,
        token_file: TokenFile | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        clocks: Clocks = SYSTEM_CLOCKS,
    ) -> None:
        if not client_id or not client_secret:
            raise ConfigError(
                "TWITCH_CLIENT_ID and TWITCH_CLIENT_SECRET must both be set; add them to .env."
            )
        self.client_id = client_id
        self.auth_base_url = require_http_url("TWITCH_AUTH_BASE_URL", auth_base_url)
        self.api_base_url = require_http_url("TWITCH_API_BASE_URL", api_base_url)
        rng = clocks.rng or random.Random()
        if concurrency < 1:
            raise ConfigError(
                f"Twitch concurrency must be at least 1, got {concurrency}; fix [twitch] "
                "concurrency in luigi.cfg."
            )
        self.concurrency = concurrency
        self.http = HttpClient(
            policy,
            stats=stats,
            secrets=lambda: self.auth.secrets(),
            # A kept connection for each thread in flight: none opens and drops one per call.
            pool_size=max(concurrency, DEFAULT_POOL_SIZE),
            sleep=clocks.sleep,
            clock=clocks.clock,
            rng=rng,
        )
        self.auth = AppTokenAuth(
            self.http,
            self.auth_base_url,
            client_id,
            client_secret,
            monotonic=clocks.monotonic,
            shared=token_file,
        )
        # App-token requests share one bucket per client id (A4).
        self.pacer = RateLimitPacer(
            reserve,
            bucket=f"twitch:{client_id}",
            store=pacer_store,
            max_wait_s=self.http.policy.max_wait_s,
            clock=clocks.clock,
            rng=rng,
        )

    @classmethod
    def from_env(cls, **overrides: Any) -> TwitchClient:
        """A client from TWITCH_* (environment/.env) and the [http]/[twitch] luigi.cfg sections.

        With ``[twitch] shared_ratelimit = true`` (the default) and no ``pacer_store`` given, the
        Helix bucket is paced through ``<output>/ratelimit/``, shared by every process on the host
        (``--workers N``, parallel runs), so each one debits the same budget instead of assuming
        all of it.
        """
        settings: dict[str, Any] = {
            "client_id": config.require_env("TWITCH_CLIENT_ID"),
            "client_secret": config.require_env("TWITCH_CLIENT_SECRET"),
            "auth_base_url": config.require_env("TWITCH_AUTH_BASE_URL"),
            "api_base_url": config.require_env("TWITCH_API_BASE_URL"),
            "policy": RetryPolicy.from_http_section(config_sections.http()),
            "reserve": int(twitch_settings().ratelimit_reserve),
            "concurrency": int(twitch_settings().concurrency),
        }
        read_only = bool(overrides.pop("read_only_token", False))
        settings.update(overrides)
        if "token_file" not in settings:
            # One token for every task and process of this deployment (keyed by client and host);
            # read_only_token: use a cached one, store nothing (set-up checks create nothing).
            key = f"{settings['client_id']}@{settings['auth_base_url']}"
            settings["token_file"] = TokenFile(
                config.output_root() / "tokens", key, "twitch", read_only=read_only
            )
        client = cls(**settings)
        if "pacer_store" not in overrides and shared_ratelimit():
            store = FileStateStore(config.output_root() / "ratelimit")
            # Keyed by API host too, so two sandboxes (tests) never share one bucket file.
            bucket = f"{client.pacer.bucket}@{client.api_base_url}"
            client.pacer = SharedRateLimitPacer.like(client.pacer, store, bucket=bucket)
        return client

    @property
    def stats(self) -> HttpStats:
        """Request counters of this client (for the stage sidecar)."""
        return self.http.stats

    def requests_by_endpoint(self) -> dict[str, int]:
        """Attempts per endpoint (``/streams``, ``/videos``, ``/oauth2/token`` ...), sorted."""
        counts: dict[str, int] = {}
        prefixes = [urlsplit(base).path.rstrip("/") for base in (self.api_base_url,
                                                                  self.auth_base_url)]
        for path, count in self.http.requests_by_path.items():
            for prefix in prefixes:
                if prefix and path.startswith(prefix + "/"):
                    path = path[len(prefix):]
                    break
            counts[path] = counts.get(path, 0) + count
        return dict(sorted(counts.items()))

    def helix_requests(self) -> int:
        """Attempts sent to Helix (each costs one point of the bucket, A4)."""
        base = urlsplit(self.api_base_url).path.rstrip("/")
        return sum(c for p, c in self.http.requests_by_path.items() if p.startswith(base + "/"))

    def close(self) -> None:
        """Close the pooled HTTP connections."""
        self.http.close()

    # --- endpoints -------------------------------------------------------------------------------

    def get_users(self, ids: Iterable[str]) -> list[dict[str, Any]]:
        """Users by id (A5.1), 100 ids per call; unknown ids are simply absent."""
        return self._get_by_ids("/users", "id", ids)

    def iter_users(self, ids: Iterable[str]) -> Iterator[list[dict[str, Any]]]:
        """Users by id, one list per call of 100 ids, calls overlapping, in the order of ``ids``."""
        return self._iter_by_ids("/users", "id", ids)

    def iter_games(self, ids: Iterable[str]) -> Iterator[list[dict[str, Any]]]:
        """Games by id, one list per call of 100 ids, calls overlapping, in the order of ``ids``."""
        return self._iter_by_ids("/games", "id", ids)

    def get_games(self, ids: Iterable[str]) -> list[dict[str, Any]]:
        """Games/categories by id (A5.2), 100 ids per call; unknown ids are simply absent."""
        return self._get_by_ids("/games", "id", ids)

    def get_top_games(self, limit: int, page_size: int = MAX_PAGE_SIZE) -> list[dict[str, Any]]:
        """The ``limit`` most-watched games right now (A5.3), in API order."""
        if limit < 1:
            return []
        first = min(check_page_size(page_size), limit)
        # No page cap: a page may hold fewer rows than asked (live view); the cursor rules and
        # loop detection end the walk.
        pages = self._paginate("/games/top", [], first, max_pages=None)
        rows: list[dict[str, Any]] = []
        for page in pages:
            rows.extend(page.data)
            if len(rows) >= limit:
                break
        return rows[:limit]

    def iter_streams(
        self, page_size: int = MAX_PAGE_SIZE, max_pages: int | None = None
    ) -> Iterator[StreamPage]:
        """The live-streams snapshot (A5.4), page by page, stamped with the server's clock.

        Rows may repeat across pages (viewer counts move while we page); the caller de-duplicates.
        ``max_pages`` of None or 0 walks every page (``[twitch] max_stream_pages = 0``).
        """
        captured_at: dt.datetime | None = None
        paginator = self._paginate("/streams", [], check_page_size(page_size), max_pages)
        for page in paginator:
            if captured_at is None:
                captured_at = page.server_time
                if captured_at is None:
                    captured_at = dt.datetime.now(dt.timezone.utc)
                    logger.warning("/streams answered without a Date header; using the local clock")
            yield StreamPage(captured_at, page.number, page.data)

    def iter_streams_partitioned(
        self,
        partitions: Sequence[Sequence[str]],
        page_size: int = MAX_PAGE_SIZE,
        max_pages: int | None = None,
    ) -> Iterator[StreamPage]:
        """The live snapshot walked as several ``language`` partitions at once (one cursor walk
        each, ``concurrency`` of them in flight), pages numbered in arrival order.

        The partitions must cover every stream language exactly once
        (:func:`~etl_tasks.twitch.languages.language_partitions`); then the union is the snapshot
        one walk would give, in a fraction of the time, since one cursor can only be followed
        page after page at the speed of the answers.
        """
        first = check_page_size(page_size)
        pages: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=2 * self.concurrency)
        stop = threading.Event()

        def put(item: tuple[str, Any]) -> None:
            while not stop.is_set():
                try:
                    pages.put(item, timeout=0.1)
                    return
                except queue.Full:
                    continue

        def walk(languages: Sequence[str]) -> None:
            try:
                params = [("language", code) for code in languages]
                for page in self._paginate("/streams", params, first, None):
                    if stop.is_set():
                        return
                    put(("page", page))
            except BaseException as error:  # handed to the consumer, raised there
                put(("error", error))
            finally:
                put(("done", None))

        workers = max(1, min(self.concurrency, len(partitions)))
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="streams")
        captured_at: dt.datetime | None = None
        number = finished = 0
        try:
            for languages in partitions:
                pool.submit(walk, languages)
            while finished < len(partitions):
                kind, item = pages.get()
                if kind == "done":
                    finished += 1
                    continue
                if kind == "error":
                    raise item
                if captured_at is None:
                    captured_at = item.server_time or dt.datetime.now(dt.timezone.utc)
                number += 1
                yield StreamPage(captured_at, number, item.data)
                if max_pages and number >= max_pages:
                    return
        finally:
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)

    def get_videos(
        self, user_id: str, page_size: int = MAX_PAGE_SIZE, max_pages: int | None = None
    ) -> list[dict[str, Any]]:
        """Every video of one broadcaster (A5.5), all pages."""
        params = [("user_id", user_id)]
        pages = self._paginate("/videos", params, check_page_size(page_size), max_pages)
        return [row for page in pages for row in page.data]

    def get_clips(
        self,
        broadcaster_id: str,
        started_at: dt.datetime,
        ended_at: dt.datetime,
        page_size: int = MAX_PAGE_SIZE,
        max_pages: int | None = None,
    ) -> list[dict[str, Any]]:
        """Clips of one broadcaster created in ``[started_at, ended_at]`` (A5.6), all pages.

        Helix reaches only ~1,000 clips per query, so callers slice history into windows (a day).
        """
        if ended_at < started_at:
            raise ValueError(f"clip window ends ({ended_at}) before it starts ({started_at})")
        params = [
            ("broadcaster_id", broadcaster_id),
            ("started_at", rfc3339(started_at)),
            ("ended_at", rfc3339(ended_at)),
        ]
        pages = self._paginate("/clips", params, check_page_size(page_size), max_pages)
        return [row for page in pages for row in page.data]

    def videos_since(
        self, user_id: str, since: dt.datetime, page_size: int = MAX_PAGE_SIZE
    ) -> Walk:
        """Videos of one broadcaster back to ``since`` (A5.5: newest first, so the walk stops at
        the first page holding a video created before ``since``); older rows are left out."""
        params = [("user_id", user_id)]
        paginator = self._paginate("/videos", params, check_page_size(page_size), None)
        rows: list[dict[str, Any]] = []
        for page in paginator:
            times = [created_at(row) for row in page.data]
            # Rows without a readable created_at stay: the raw schema check names them.
            rows.extend(row for row, when in zip(page.data, times, strict=True)
                        if when is None or when >= since)
            if any(when is not None and when < since for when in times):
                break
        return Walk(user_id, rows, paginator.pages_fetched)

    def clips_in(
        self,
        key: str,
        value: str,
        started_at: dt.datetime,
        ended_at: dt.datetime,
        page_size: int = MAX_PAGE_SIZE,
    ) -> Walk:
        """Clips of one broadcaster (``key="broadcaster_id"``) or game (``"game_id"``) created in
        ``[started_at, ended_at]`` (A5.6), every page, with the requests it took."""
        if key not in ("broadcaster_id", "game_id"):
            raise ValueError(f"clips are listed by broadcaster_id or game_id, not {key!r}")
        params = [(key, value), ("started_at", rfc3339(started_at)),
                  ("ended_at", rfc3339(ended_at))]
        paginator = self._paginate("/clips", params, check_page_size(page_size), None)
        rows = [row for page in paginator for row in page.data]
        return Walk(value, rows, paginator.pages_fetched)

    def map_concurrently(
        self, function: Callable[[str], Walk], keys: Iterable[str]
    ) -> Iterator[Walk]:
        """``function(key)`` for every key on this client's threads, in the order of ``keys``."""
        return ordered_map(function, keys, self.concurrency)

    def validate_token(self) -> dict[str, Any]:
        """Check the credentials end to end: obtain a token and ask /oauth2/validate about it."""
        body, _ = self.http.get_json(
            f"{self.auth_base_url}/oauth2/validate", auth=_OAuthSchemeAuth(self.auth)
        )
        if not isinstance(body, dict) or not isinstance(body.get("expires_in"), int):
            raise FatalExtractError(
                "Twitch /oauth2/validate answered an unexpected body; check TWITCH_AUTH_BASE_URL."
            )
        if body.get("client_id") not in (None, self.client_id):
            raise AuthError(
                "the Twitch token belongs to another client id; check TWITCH_CLIENT_ID in .env"
            )
        return body

    # --- plumbing --------------------------------------------------------------------------------

    def _get_by_ids(self, path: str, key: str, ids: Iterable[str]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for batch in chunked(ids):
            # Repeated keys (id=1&id=2): a comma-joined list silently matches nothing (A2).
            body, _ = self._get(path, [(key, value) for value in batch])
            rows.extend(check_envelope(body, path))
        return rows

    def _iter_by_ids(
        self, path: str, key: str, ids: Iterable[str]
    ) -> Iterator[list[dict[str, Any]]]:
        def fetch(batch: list[str]) -> list[dict[str, Any]]:
            body, _ = self._get(path, [(key, value) for value in batch])
            return check_envelope(body, path)

        return ordered_map(fetch, chunked(ids), self.concurrency)

    def _get(self, path: str, params: Sequence[tuple[str, str]]) -> tuple[Any, HttpResponse]:
        return self.http.get_json(
            f"{self.api_base_url}{path}", params=params, auth=self.auth, pacer=self.pacer
        )

    def _paginate(
        self,
        path: str,
        params: Sequence[tuple[str, str]],
        first: int,
        max_pages: int | None,
    ) -> CursorPaginator:
        base = [*params, ("first", str(first))]

        def fetch(cursor: str | None) -> tuple[Any, HttpResponse]:
            return self._get(path, base if cursor is None else [*base, ("after", cursor)])

        return CursorPaginator(fetch, path, max_pages=max_pages or None)
