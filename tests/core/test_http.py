"""Wire-behaviour tests of etl_tasks.core.http against a real local server (tests/httpfixture.py).

Run: .venv/bin/pytest tests/core/test_http.py

Backoff sleeps go to a fake clock so the tests assert the exact waits without waiting; the HTTP
(sockets, timeouts, refused connections) is real.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import random
import socket
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import requests

from etl_tasks.core.http import (
    CursorPaginator,
    HttpClient,
    HttpResponse,
    HttpStats,
    RateLimitPacer,
    RetryPolicy,
    encode_query,
    server_time,
)
from etl_tasks.errors import AuthError, ConfigError, FatalExtractError, RetriableExtractError
from tests.httpfixture import Reply, ScriptedServer

SERVER_NOW = dt.datetime(2025, 4, 10, 15, 0, 0, tzinfo=dt.timezone.utc)  # the server's clock
LOCAL_NOW = 1_900_000_000.0  # our wall clock, years away from the server's on purpose


class FakeClock:
    """Wall clock + sleep that records waits and advances time instead of blocking."""

    def __init__(self, now: float = LOCAL_NOW) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def http_date(moment: dt.datetime) -> str:
    return email.utils.format_datetime(moment, usegmt=True)


def rate_headers(remaining: int, reset_in_s: int, limit: int = 800) -> dict[str, str]:
    """Helix-style rate headers on the server's clock (Date = SERVER_NOW)."""
    return {
        "Date": http_date(SERVER_NOW),
        "Ratelimit-Limit": str(limit),
        "Ratelimit-Remaining": str(remaining),
        "Ratelimit-Reset": str(int(SERVER_NOW.timestamp()) + reset_in_s),
    }


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as running:
        yield running


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_client(clock: FakeClock, **policy: Any) -> HttpClient:
    settings: dict[str, Any] = {"max_retries": 3, "backoff_base_s": 0.5, "jitter": False}
    settings.update(policy)
    return HttpClient(
        RetryPolicy(**settings), sleep=clock.sleep, clock=clock.time, rng=random.Random(1)
    )


def closed_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class CountingAuth:
    """Authenticator that hands out numbered tokens and counts refreshes."""

    def __init__(self) -> None:
        self.token = 1
        self.refreshes = 0

    def headers(self) -> Mapping[str, str]:
        return {"Authorization": f"Bearer token-{self.token}"}

    def refresh(self, response: HttpResponse) -> None:
        self.refreshes += 1
        self.token += 1


# --- retries -------------------------------------------------------------------------------------


def test_503_is_retried_with_exponential_backoff_then_succeeds(server, clock):
    server.script("/x", Reply(503), Reply(503), Reply(200, json={"ok": True}))
    client = make_client(clock)

    body, response = client.get_json(f"{server.url}/x")

    assert body == {"ok": True} and response.status_code == 200
    assert [r.status for r in server.requests] == [503, 503, 200]
    assert clock.sleeps == [0.5, 1.0]
    stats = client.stats.as_dict()
    assert stats["requests"] == 3 and stats["retries"] == 2 and stats["http_5xx"] == 2
    assert stats["http_429"] == 0 and stats["errors"] == 0
    assert stats["bytes_received"] == len(b'{"ok": true}')
    assert stats["wait_s"] == 1.5


def test_full_jitter_stays_below_the_exponential_ceiling(server, clock):
    server.script("/x", Reply(500), Reply(502), Reply(504), Reply(200, json={}))
    client = make_client(clock, jitter=True, backoff_base_s=1.0, backoff_max_s=3.0)

    client.get_json(f"{server.url}/x")

    ceilings = [1.0, 2.0, 3.0]
    assert len(clock.sleeps) == 3
    assert all(0.0 <= wait <= top for wait, top in zip(clock.sleeps, ceilings, strict=True))


def test_429_honours_retry_after_seconds(server, clock):
    server.script("/x", Reply(429, headers={"Retry-After": "7"}), Reply(200, json={}))
    client = make_client(clock)

    client.get_json(f"{server.url}/x")

    assert clock.sleeps == [7.0]
    assert client.stats.http_429 == 1 and client.stats.retries == 1


def test_retry_after_http_date_is_measured_against_the_server_date(server, clock):
    retry_at = http_date(SERVER_NOW + dt.timedelta(seconds=30))
    server.script(
        "/x",
        Reply(503, headers={"Date": http_date(SERVER_NOW), "Retry-After": retry_at}),
        Reply(200, json={}),
    )
    client = make_client(clock)

    client.get_json(f"{server.url}/x")

    assert clock.sleeps == [30.0]


def test_retry_after_is_capped(server, clock):
    server.script("/x", Reply(503, headers={"Retry-After": "3600"}), Reply(200, json={}))
    client = make_client(clock, max_wait_s=65.0)

    client.get_json(f"{server.url}/x")

    assert clock.sleeps == [65.0]


@pytest.mark.parametrize("status", [400, 403, 404, 422])
def test_client_errors_are_fatal_and_never_retried(server, clock, status):
    server.script("/helix/users", Reply(status, json={"message": "Must provide an ID"}))
    client = make_client(clock)

    with pytest.raises(FatalExtractError) as caught:
        client.get_json(f"{server.url}/helix/users", params=[("id", "1"), ("secret", "s3cr3tv4l")])

    assert len(server.requests) == 1 and clock.sleeps == []
    message = str(caught.value)
    assert f"HTTP {status}" in message
    assert "/helix/users" in message and "Must provide an ID" in message
    assert "s3cr3tv4l" not in message and "secret=" not in message


def test_error_excerpt_masks_secrets_the_client_knows(server, clock):
    server.script("/x", Reply(400, body="bad client secret hunter2-very-secret echoed back"))
    client = HttpClient(
        RetryPolicy(max_retries=0), sleep=clock.sleep, secrets=lambda: ["hunter2-very-secret"]
    )

    with pytest.raises(FatalExtractError) as caught:
        client.request("GET", f"{server.url}/x")

    assert "hunter2-very-secret" not in str(caught.value) and "***" in str(caught.value)


def test_accepted_status_is_returned_not_raised(server, clock):
    server.script("/videos", Reply(404, json={"error": "Not Found"}))
    client = make_client(clock)

    response = client.request("GET", f"{server.url}/videos", accept_statuses={404})

    assert response.status_code == 404 and len(server.requests) == 1


def test_exhausted_retries_raise_retriable_error_naming_attempts_and_status(server, clock):
    server.always("/x", Reply(503))
    client = make_client(clock, max_retries=2)

    with pytest.raises(RetriableExtractError) as caught:
        client.get_json(f"{server.url}/x")

    assert len(server.requests) == 3
    message = str(caught.value)
    assert "3 attempts" in message and "HTTP 503" in message and "rerun later" in message


def test_connection_refused_is_retried_then_raises(clock):
    client = make_client(clock, max_retries=2)

    with pytest.raises(RetriableExtractError) as caught:
        client.get_json(f"http://127.0.0.1:{closed_port()}/x?token=abc")

    assert client.stats.requests == 3 and client.stats.errors == 3 and len(clock.sleeps) == 2
    assert "connection failed" in str(caught.value) and "token=abc" not in str(caught.value)


def test_read_timeout_is_retried(server, clock):
    server.script("/slow", Reply(200, json={"late": True}, delay_s=0.6), Reply(200, json={"n": 2}))
    client = make_client(clock, timeout_s=(0.2, 0.2))

    body, _ = client.get_json(f"{server.url}/slow")

    assert body == {"n": 2}
    assert len(server.requests) == 2
    assert client.stats.errors == 1 and client.stats.retries == 1


def test_read_timeout_exhausted_says_so(server, clock):
    server.always("/slow", Reply(200, json={}, delay_s=0.5))
    client = make_client(clock, timeout_s=(0.2, 0.2), max_retries=1)

    with pytest.raises(RetriableExtractError, match="read timeout"):
        client.get_json(f"{server.url}/slow")


# --- 401 and authentication hooks -------------------------------------------------------------


def test_401_refreshes_credentials_and_retries_once(server, clock):
    server.script("/x", Reply(401), Reply(200, json={"ok": 1}))
    client, auth = make_client(clock), CountingAuth()

    body, _ = client.get_json(f"{server.url}/x", auth=auth)

    assert body == {"ok": 1} and auth.refreshes == 1
    sent = [r.header("Authorization") for r in server.requests]
    assert sent == ["Bearer token-1", "Bearer token-2"]
    assert clock.sleeps == []


def test_second_401_is_an_auth_error(server, clock):
    server.always("/x", Reply(401, json={"message": "Invalid OAuth token"}))
    client, auth = make_client(clock), CountingAuth()

    with pytest.raises(AuthError, match="401 again"):
        client.get_json(f"{server.url}/x", auth=auth)

    assert len(server.requests) == 2 and auth.refreshes == 1


def test_401_without_authenticator_is_fatal(server, clock):
    server.script("/x", Reply(401))
    with pytest.raises(FatalExtractError, match="HTTP 401"):
        make_client(clock).get_json(f"{server.url}/x")
    assert len(server.requests) == 1


# --- pagination --------------------------------------------------------------------------------


def page(ids: list[str], cursor: str | None) -> Reply:
    pagination = {"cursor": cursor} if cursor is not None else {}
    return Reply(200, json={"data": [{"id": i} for i in ids], "pagination": pagination})


def paginate(client: HttpClient, url: str, max_pages: int | None = None) -> CursorPaginator:
    def fetch(cursor: str | None):
        params = [("first", "2")] + ([("after", cursor)] if cursor else [])
        return client.get_json(url, params=params)

    return CursorPaginator(fetch, "/streams", max_pages=max_pages)


def test_paginator_follows_cursor_until_it_is_empty(server, clock):
    server.script("/streams", page(["1", "2"], "c1"), page(["3", "4"], "c2"), page(["5"], ""))
    pages = list(paginate(make_client(clock), f"{server.url}/streams"))

    assert [[row["id"] for row in p.data] for p in pages] == [["1", "2"], ["3", "4"], ["5"]]
    assert [p.number for p in pages] == [1, 2, 3]
    afters = [dict(r.query).get("after") for r in server.requests]
    assert afters == [None, "c1", "c2"]


def test_paginator_stops_on_missing_pagination_object(server, clock):
    server.script("/streams", page(["1"], "c1"), page(["2"], None))
    assert len(list(paginate(make_client(clock), f"{server.url}/streams"))) == 2
    assert len(server.requests) == 2


def test_paginator_stops_on_empty_page_even_with_a_cursor(server, clock):
    server.script("/streams", page(["1"], "c1"), page([], "c2"), page(["never"], None))
    pages = list(paginate(make_client(clock), f"{server.url}/streams"))

    assert [len(p.data) for p in pages] == [1, 0]
    assert len(server.requests) == 2


def test_paginator_detects_a_repeated_cursor(server, clock):
    server.script("/streams", page(["1"], "c1"), page(["2"], "c2"), page(["3"], "c1"))
    with pytest.raises(FatalExtractError, match="same cursor twice"):
        list(paginate(make_client(clock), f"{server.url}/streams"))
    assert len(server.requests) == 3


def test_paginator_rejects_a_malformed_page(server, clock):
    server.script(
        "/streams", page(["1"], "c1"), Reply(200, json={"data": {"id": "2"}, "pagination": {}})
    )
    with pytest.raises(FatalExtractError) as caught:
        list(paginate(make_client(clock), f"{server.url}/streams"))
    message = str(caught.value)
    assert "malformed API page" in message and "/streams" in message and "page 2" in message


def test_paginator_respects_max_pages(server, clock):
    server.script("/streams", page(["1"], "c1"), page(["2"], "c2"), page(["3"], "c3"))
    pages = list(paginate(make_client(clock), f"{server.url}/streams", max_pages=2))
    assert len(pages) == 2 and len(server.requests) == 2


def test_non_json_body_is_a_fatal_error_naming_the_endpoint(server, clock):
    server.script("/streams", Reply(200, body="<html>proxy login</html>"))
    with pytest.raises(FatalExtractError, match="not JSON"):
        make_client(clock).get_json(f"{server.url}/streams")


# --- rate-limit pacing ---------------------------------------------------------------------------


def make_pacer(clock: FakeClock, reserve: int = 10) -> RateLimitPacer:
    return RateLimitPacer(reserve, clock=clock.time, jitter_s=0.0)


def test_pacer_waits_for_reset_computed_from_the_date_header(server, clock):
    server.script(
        "/x",
        Reply(200, json={}, headers=rate_headers(remaining=5, reset_in_s=20)),
        Reply(200, json={}, headers=rate_headers(remaining=799, reset_in_s=1)),
        Reply(200, json={}, headers=rate_headers(remaining=798, reset_in_s=1)),
    )
    client, pacer = make_client(clock), make_pacer(clock)

    for _ in range(3):
        client.get_json(f"{server.url}/x", pacer=pacer)

    # 20 s by the server's clock, although our clock is years away from it; no wait once refilled.
    assert clock.sleeps == [20.0]
    assert client.stats.wait_s == 20.0


def test_pacer_does_not_wait_while_the_bucket_has_room(server, clock):
    server.always("/x", Reply(200, json={}, headers=rate_headers(remaining=11, reset_in_s=5)))
    client, pacer = make_client(clock), make_pacer(clock)

    client.get_json(f"{server.url}/x", pacer=pacer)
    client.get_json(f"{server.url}/x", pacer=pacer)

    assert clock.sleeps == []


def test_pacer_reserve_is_capped_for_small_buckets(clock):
    pacer = make_pacer(clock, reserve=10)
    pacer.observe(rate_headers(remaining=3, reset_in_s=6, limit=10))
    assert pacer.effective_reserve(10) == 1
    assert pacer.wait_before_request() == 0.0


def test_pacer_wait_is_capped(clock):
    pacer = make_pacer(clock)
    pacer.observe(rate_headers(remaining=0, reset_in_s=100_000))
    assert pacer.wait_before_request() == 65.0


def test_429_without_retry_after_sleeps_until_ratelimit_reset(server, clock):
    server.script(
        "/x",
        Reply(429, json={"message": "Request limit exceeded"}, headers=rate_headers(0, 12)),
        Reply(200, json={"data": []}, headers=rate_headers(799, 1)),
    )
    client, pacer = make_client(clock), make_pacer(clock)

    client.get_json(f"{server.url}/x", pacer=pacer)

    assert clock.sleeps == [12.0]
    assert client.stats.http_429 == 1 and len(server.requests) == 2


# --- small helpers ------------------------------------------------------------------------------


def test_server_time_reads_the_date_header(server, clock):
    server.script("/x", Reply(200, json={}, headers={"Date": http_date(SERVER_NOW)}))
    _, response = make_client(clock).get_json(f"{server.url}/x")
    assert server_time(response) == SERVER_NOW
    assert server_time({"Date": "not a date"}) is None and server_time({}) is None


def test_stats_merge_into_one_total():
    first = HttpStats(requests=3, retries=1, http_5xx=1, bytes_received=100, wait_s=0.5)
    second = HttpStats(requests=2, http_429=1, errors=1, bytes_received=50, wait_s=1.25)

    total = HttpStats.combine([first, second])

    assert total.as_dict() == {
        "requests": 5,
        "retries": 1,
        "http_429": 1,
        "http_5xx": 1,
        "errors": 1,
        "bytes_received": 150,
        "wait_s": 1.75,
    }


def test_url_without_scheme_is_a_config_error(clock):
    with pytest.raises(ConfigError, match="base URL"):
        make_client(clock).request("GET", "127.0.0.1:8765/twitch/helix/users")
    assert clock.sleeps == []


def test_policy_refuses_a_missing_timeout():
    with pytest.raises(ValueError, match="timeout"):
        RetryPolicy(timeout_s=(0.0, 5.0))


# --- total deadline per response (slow-trickle bodies) ----------------------------------------


@contextlib.contextmanager
def trickling_server(byte_every_s: float = 0.05) -> Iterator[str]:
    """A raw socket server whose answers announce 10,000 bytes and send one every
    ``byte_every_s``: each socket read gets data in time, so no read timeout ever fires."""
    import threading

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.1)
    stop = threading.Event()

    def answer(connection: socket.socket) -> None:
        with contextlib.suppress(OSError), connection:
            connection.recv(65536)
            connection.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: 10000\r\n\r\n"
            )
            for _ in range(10000):
                if stop.wait(byte_every_s):
                    return
                connection.sendall(b" ")

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=answer, args=(connection,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def test_a_trickling_body_ends_at_the_total_deadline_and_is_retried(clock):
    policy = RetryPolicy(max_retries=1, jitter=False, backoff_base_s=0.01,
                         timeout_s=(2.0, 2.0), deadline_s=0.3)
    client = HttpClient(policy, sleep=clock.sleep, clock=clock.time)

    with trickling_server() as url, pytest.raises(RetriableExtractError) as failure:
        client.get_json(f"{url}/trickle")

    assert "total deadline" in str(failure.value)
    assert "after 2 attempts" in str(failure.value)
    assert client.stats.requests == 2 and client.stats.errors == 2


def test_deadline_comes_from_the_http_section():
    class Section:
        timeout_s, max_retries, backoff_base_s, backoff_max_s, deadline_s = 5, 1, 0.1, 1, 42

    assert RetryPolicy.from_http_section(Section()).deadline_s == 42.0


def test_threads_share_the_pool_and_reuse_its_connections(server, clock):
    import threading

    server.always("/x", Reply(200, json={"ok": True}))
    client = HttpClient(RetryPolicy(max_retries=0), pool_size=3)
    start = threading.Barrier(3)

    def calls() -> None:
        start.wait()
        for _ in range(5):
            client.get_json(f"{server.url}/x")

    threads = [threading.Thread(target=calls) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert client.requests_by_path == {"/x": 15}
    # 15 calls on 3 threads: at most one connection per thread, each kept for the next call.
    assert 1 <= client._direct.connection_from_url(server.url).num_connections <= 3
    client.close()


def test_proxies_come_from_the_environment_once_per_host(monkeypatch, clock):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    client = make_client(clock)

    assert client.proxies_for("https://api.twitch.tv/helix/streams")["https"] == (
        "http://proxy.example:3128"
    )
    assert "http" not in client.proxies_for("http://127.0.0.1:8765/twitch/helix/streams")
    monkeypatch.setenv("HTTPS_PROXY", "http://other.example:3128")
    # Read once per host: requests would re-read the environment on every call.
    assert client.proxies_for("https://api.twitch.tv/helix/users")["https"].startswith(
        "http://proxy.example")


@pytest.mark.parametrize(
    "params",
    [
        [("id", str(i)) for i in range(100)],
        {"first": 100, "after": "eyJvIjoxMDB9==", "skipped": None, "l": ["a b", "ç", "a&b=c/d"]},
        [("started_at", "2025-04-10T00:00:00Z"), ("raw", b"by tes"), ("n", 1.5), ("t", True)],
        [("tuple", ("t1", "t2")), ("empty", ""), ("a+b", "c+d"), ("~x", "-._~")],
    ],
)
def test_the_query_is_encoded_as_requests_encodes_it_and_arrives_intact(
    server: ScriptedServer, params: Any
) -> None:
    # requests' own encoder is the reference: encode_query only skips quoting what needs none.
    assert encode_query(params) == requests.models.RequestEncodingMixin._encode_params(params)
    server.always("/q", Reply(200, {"data": []}))
    with HttpClient(RetryPolicy(max_retries=0)) as client:
        client.get_json(f"{server.url}/q", params=params)
    pairs = params.items() if isinstance(params, Mapping) else params
    expected = [
        (key, item.decode() if isinstance(item, bytes) else str(item))
        for key, value in pairs
        for item in (value if isinstance(value, (list, tuple)) else [value])
        if item is not None
    ]
    assert server.requests_to("/q")[-1].query == expected


# --- transport (urllib3): what requests used to do for us -------------------------------------


def test_a_gzip_body_is_decoded_and_counted_as_received(server):
    import gzip

    server.script("/z", Reply(200, body=gzip.compress(b'{"data": [1, 2]}'),
                             headers={"Content-Encoding": "gzip"}))
    with HttpClient(RetryPolicy(max_retries=0), user_agent="etl_tasks-test") as client:
        body, response = client.get_json(f"{server.url}/z")

    assert body == {"data": [1, 2]} and response.headers["content-encoding"] == "gzip"
    sent = server.requests[0]
    assert "gzip" in (sent.header("Accept-Encoding") or "")
    assert sent.header("User-Agent") == "etl_tasks-test"


def test_a_redirect_is_followed_as_requests_did(server):
    server.script("/old", Reply(302, headers={"Location": f"{server.url}/new"}))
    server.script("/new", Reply(200, json={"moved": True}))
    with HttpClient(RetryPolicy(max_retries=0)) as client:
        body, response = client.get_json(f"{server.url}/old")

    assert body == {"moved": True} and response.status_code == 200
    assert [r.path for r in server.requests] == ["/old", "/new"]


def test_a_proxied_host_goes_through_the_proxy_of_the_environment(server, monkeypatch):
    # The scripted server plays the forward proxy: it receives the absolute URL of the host.
    monkeypatch.setenv("HTTP_PROXY", server.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    server.script("/helix/users", Reply(200, json={"data": []}))
    with HttpClient(RetryPolicy(max_retries=0)) as client:
        body, response = client.get_json("http://api.example.invalid/helix/users",
                                         params=[("id", "1")])

    assert body == {"data": []}
    assert server.requests[0].header("Host") == "api.example.invalid"
    assert server.requests[0].query == [("id", "1")]
    assert response.request_headers["User-Agent"] == "etl_tasks"
