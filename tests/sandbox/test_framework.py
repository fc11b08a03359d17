"""The sandbox framework and server: request parsing, clock, stats, faults, control surface, CLI.

Most tests mount a tiny echo API (a real :class:`SandboxApi`, not a mock) in an in-process
:class:`SandboxHTTPServer` on a free loopback port and talk to it over HTTP with ``requests``; the
CLI tests start the real ``python -m etl_sandbox.server`` subprocess.
"""

from __future__ import annotations

import http.client
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
import requests

from etl_sandbox.app import SandboxApp
from etl_sandbox.faults import FaultRegistry, FaultRuleError, parse_rule
from etl_sandbox.framework import (
    BadRequestBody,
    Clock,
    Headers,
    Request,
    Response,
    SandboxApi,
    SandboxContext,
    Stats,
    json_response,
    setting_key,
)
from etl_sandbox.server import SandboxHTTPServer


class EchoApi(SandboxApi):
    """Answers with what it received; records the control calls it gets."""

    name = "echo"
    prefix = "/echo"

    def __init__(self) -> None:
        self.resets: list[int] = []
        self.expired = 0
        self.configured: list[list[str]] = []

    def reset(self, ctx: SandboxContext) -> None:
        self.resets.append(ctx.seed)

    def handle(self, request: Request, ctx: SandboxContext) -> Response:
        if request.path == "/boom":
            raise RuntimeError("a bug in the API")
        if request.path == "/json":
            try:
                return json_response(200, {"parsed": request.json()})
            except BadRequestBody as error:
                return json_response(400, {"error": str(error)})
        return json_response(200, {
            "method": request.method, "path": request.path, "query": request.query,
            "header": request.headers.get("x-echo"), "body": request.body.decode(),
            "level": ctx.setting("echo_level", "unset"),
        })

    def fault_response(self, status: int, ctx: SandboxContext) -> Response:
        return json_response(status, {"echo_fault": status}, {"X-Fault": "yes"})

    def expire_tokens(self) -> None:
        self.expired += 1

    def credentials(self) -> dict[str, str]:
        return {"client_id": "echo-client", "client_secret": "echo-secret"}

    def stats(self) -> dict[str, Any]:
        return {"tokens_issued": 3}

    def configure(self, ctx: SandboxContext, changed: set[str]) -> None:
        if ctx.settings.get("SANDBOX_ECHO_LEVEL") == "bad":
            raise ValueError("SANDBOX_ECHO_LEVEL must not be 'bad'")
        self.configured.append(sorted(changed))


@pytest.fixture
def echo() -> Iterator[tuple[str, EchoApi, SandboxApp]]:
    api = EchoApi()
    app = SandboxApp([api], seed=1, settings={"SANDBOX_ECHO_LEVEL": "1"})
    server = SandboxHTTPServer(app, port=0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server.base_url, api, app
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# ----- framework pieces ------------------------------------------------------------------------

def test_headers_are_case_insensitive_and_join_repeats() -> None:
    headers = Headers([("Client-Id", "a"), ("X-Many", "1"), ("x-many", "2")])
    assert headers["client-id"] == "a" and headers.get("CLIENT-ID") == "a"
    assert headers["X-MANY"] == "1, 2" and len(headers) == 2
    assert "client-ID" in headers and "missing" not in headers


def test_request_body_parsers() -> None:
    request = Request("POST", "/x", {}, Headers(), b'{"a": [1, "\xc3\xa9"]}')
    assert request.json() == {"a": [1, "é"]}
    with pytest.raises(BadRequestBody):
        Request("POST", "/x", {}, Headers(), b"{nope").json()
    with pytest.raises(BadRequestBody):
        Request("POST", "/x", {}, Headers(), b"").json()
    form = Request("POST", "/x", {}, Headers(), b"a=1&a=2&b=&c=%C3%A7").form()
    assert form == {"a": ["1", "2"], "b": [""], "c": ["ç"]}
    with pytest.raises(BadRequestBody):
        Request("POST", "/x", {}, Headers(), b"a=\xff").form()


def test_clock_ticks_from_where_it_was_set() -> None:
    clock = Clock()
    assert abs(clock.timestamp() - time.time()) < 60  # real time, not the simulated 2025 clock
    clock.set(datetime(2025, 4, 10, 15, 0))  # naive is UTC
    first = clock.now()
    assert first.tzinfo is not None
    assert timedelta(0) <= first - datetime(2025, 4, 10, 15, 0, tzinfo=timezone.utc) < timedelta(
        seconds=1)
    time.sleep(0.02)
    assert clock.now() > first
    clock.advance(3600)
    assert clock.now() - first >= timedelta(hours=1)
    clock.reset()
    assert abs(clock.timestamp() - time.time()) < 60  # real time, not the simulated 2025 clock


def test_stats_are_thread_safe() -> None:
    stats = Stats()

    def bump() -> None:
        for _ in range(2000):
            stats.incr("hits")

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stats.incr("other", 5)
    assert stats.snapshot() == {"hits": 16000, "other": 5}
    stats.clear()
    assert stats.snapshot() == {} and stats.get("hits") == 0


def test_settings_keys_and_typed_values() -> None:
    assert setting_key("twitch-ratelimit") == "SANDBOX_TWITCH_RATELIMIT"
    assert setting_key("SANDBOX_X") == "SANDBOX_X"
    ctx = SandboxContext(Clock(), Stats(), 1, "http://127.0.0.1:1",
                         {"SANDBOX_A": "12", "SANDBOX_B": "x", "SANDBOX_C": " "})
    assert ctx.int_setting("a", 5) == 12 and ctx.int_setting("c", 5) == 5
    with pytest.raises(ValueError, match="SANDBOX_B"):
        ctx.int_setting("b", 1)
    with pytest.raises(ValueError, match="below"):
        ctx.int_setting("a", 1, minimum=100)


@pytest.mark.parametrize("payload", [
    [], {"api": "nope", "path": "/x", "status": 503},
    {"api": "echo", "path": "x", "status": 503}, {"api": "echo", "path": "/x", "status": 42},
    {"api": "echo", "path": "/x", "status": True}, {"api": "echo", "path": "/x", "status": 503,
                                                    "count": 0},
    {"api": "echo", "path": "/x", "status": 503, "headers": {"a": 1}},
])
def test_fault_rules_are_validated(payload: Any) -> None:
    with pytest.raises(FaultRuleError):
        parse_rule(payload, {"echo"})


def test_fault_registry_consumes_counts_oldest_first() -> None:
    registry = FaultRegistry()
    registry.add(parse_rule({"api": "echo", "path": "/a", "status": 500, "count": 2}, {"echo"}))
    registry.add(parse_rule({"api": "echo", "path": "*", "status": 502, "method": "post"},
                            {"echo"}))
    assert registry.take("echo", "GET", "/b") is None
    assert [registry.take("echo", "GET", "/a").status for _ in range(2)] == [500, 500]
    assert registry.take("echo", "GET", "/a") is None
    assert registry.take("echo", "POST", "/a").status == 502
    assert registry.pending() == []


# ----- the server with the echo API ------------------------------------------------------------

def test_dispatch_strips_the_prefix_and_keeps_the_request(echo: Any) -> None:
    base, _, _ = echo
    response = requests.post(f"{base}/echo/reports/Ticket?id=1&id=2&blank=",
                             data="payload", headers={"X-Echo": "hi"}, timeout=5)
    assert response.status_code == 200
    assert response.json() == {"method": "POST", "path": "/reports/Ticket",
                               "query": {"id": ["1", "2"], "blank": [""]}, "header": "hi",
                               "body": "payload", "level": "1"}
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert requests.get(f"{base}/echo", timeout=5).json()["path"] == "/"
    chunked = requests.post(f"{base}/echo/c", data=iter([b"ab", b"cd"]), timeout=5)
    assert chunked.json()["body"] == "abcd"


def test_unknown_prefix_bugs_and_bad_bodies(echo: Any) -> None:
    base, _, _ = echo
    missing = requests.get(f"{base}/elsewhere", timeout=5)
    assert missing.status_code == 404 and "/echo" in missing.json()["message"]
    bug = requests.get(f"{base}/echo/boom", timeout=5)
    assert bug.status_code == 500 and bug.json()["status"] == 500
    bad = requests.post(f"{base}/echo/json", data="{", timeout=5)
    assert bad.status_code == 400 and "not valid JSON" in bad.json()["error"]


def test_date_header_comes_from_the_simulated_clock(echo: Any) -> None:
    base, _, app = echo
    app.ctx.clock.set(datetime(2025, 4, 10, 15, 0, tzinfo=timezone.utc))
    served = parsedate_to_datetime(requests.get(f"{base}/echo/x", timeout=5).headers["Date"])
    assert served.strftime("%Y-%m-%dT%H:%M") == "2025-04-10T15:00"


def test_faults_fire_before_dispatch(echo: Any) -> None:
    base, _, _ = echo
    control = f"{base}/_sandbox/faults"
    requests.post(control, json={"api": "echo", "path": "/x", "status": 503, "count": 2},
                  timeout=5).raise_for_status()
    requests.post(control, json={"api": "echo", "path": "/y", "status": 502,
                                 "body": "<html>bad gateway</html>", "method": "GET"},
                  timeout=5).raise_for_status()
    first = requests.get(f"{base}/echo/x", timeout=5)
    assert first.status_code == 503 and first.json() == {"echo_fault": 503}
    assert first.headers["X-Fault"] == "yes"
    assert requests.get(f"{base}/echo/x", timeout=5).status_code == 503
    assert requests.get(f"{base}/echo/x", timeout=5).status_code == 200
    assert requests.post(f"{base}/echo/y", timeout=5).status_code == 200  # method differs
    html = requests.get(f"{base}/echo/y", timeout=5)
    assert html.status_code == 502 and html.text == "<html>bad gateway</html>"
    assert html.headers["Content-Type"].startswith("text/plain")
    requests.post(control, json={"api": "echo", "path": "/z", "status": 0}, timeout=5)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{base}/echo/z", timeout=5)
    requests.post(control, json={"api": "echo", "path": "/z", "status": 500, "count": 9},
                  timeout=5)
    assert requests.get(control, timeout=5).json()["faults"][0]["remaining"] == 9
    assert requests.delete(control, timeout=5).json() == {"cleared": 1, "faults": []}
    assert requests.get(f"{base}/echo/z", timeout=5).status_code == 200


def test_stats_document(echo: Any) -> None:
    base, _, _ = echo
    requests.get(f"{base}/echo/a", timeout=5)
    requests.get(f"{base}/echo/a", timeout=5)
    requests.get(f"{base}/echo/boom", timeout=5)
    stats = requests.get(f"{base}/_sandbox/stats", timeout=5).json()
    assert stats["requests"] == {"echo:GET /a": 2, "echo:GET /boom": 1}
    assert stats["responses"] == {"echo:GET /a": {"200": 2}, "echo:GET /boom": {"500": 1}}
    assert stats["statuses"] == {"200": 2, "500": 1} and stats["total_requests"] == 3
    assert stats["tokens_issued"] == {"echo": 3} and stats["echo"] == {"tokens_issued": 3}


def test_control_reset_clock_tokens_credentials(echo: Any) -> None:
    base, api, app = echo
    control = f"{base}/_sandbox"
    requests.get(f"{base}/echo/a", timeout=5)
    assert requests.post(f"{control}/clock", json={"now": "2025-04-10T15:00:00Z"},
                         timeout=5).json()["now"] == "2025-04-10T15:00:00Z"
    advanced = requests.post(f"{control}/clock", json={"advance_seconds": 90}, timeout=5).json()
    assert advanced["now"].startswith("2025-04-10T15:01:3")
    assert requests.post(f"{control}/tokens/expire", timeout=5).status_code == 200
    assert api.expired == 1
    assert requests.get(f"{control}/credentials", timeout=5).json() == {
        "echo": {"client_id": "echo-client", "client_secret": "echo-secret"}}
    reset = requests.post(f"{control}/reset", json={"seed": 9}, timeout=5).json()
    assert reset["seed"] == 9 and api.resets == [1, 9]
    assert abs(app.ctx.clock.timestamp() - time.time()) < 60  # real, not simulated
    assert requests.get(f"{control}/stats", timeout=5).json()["requests"] == {}
    requests.post(f"{control}/reset", timeout=5)
    assert api.resets[-1] == 1  # no seed: the start-up seed


def test_control_config_changes_knobs_and_reset_restores_them(echo: Any) -> None:
    base, api, app = echo
    control = f"{base}/_sandbox/config"
    answer = requests.post(control, json={"echo_level": 7, "SANDBOX_NEW": True}, timeout=5)
    assert answer.json()["settings"] == {"SANDBOX_ECHO_LEVEL": "7", "SANDBOX_NEW": "true"}
    assert api.configured == [["SANDBOX_ECHO_LEVEL", "SANDBOX_NEW"]]
    assert requests.get(f"{base}/echo/a", timeout=5).json()["level"] == "7"
    rejected = requests.post(control, json={"echo_level": "bad"}, timeout=5)
    assert rejected.status_code == 400 and "must not be 'bad'" in rejected.json()["error"]
    assert app.ctx.settings["SANDBOX_ECHO_LEVEL"] == "7"
    requests.post(control, json={"new": None}, timeout=5)
    assert "SANDBOX_NEW" not in requests.get(control, timeout=5).json()["settings"]
    requests.post(f"{base}/_sandbox/reset", json={}, timeout=5)
    assert requests.get(f"{base}/echo/a", timeout=5).json()["level"] == "1"


@pytest.mark.parametrize(("method", "path", "body", "status"), [
    ("POST", "/reset", b"{not json", 400),
    ("POST", "/reset", b'{"seed": "x"}', 400),
    ("POST", "/clock", b"{}", 400),
    ("POST", "/clock", b'{"now": "tomorrow"}', 400),
    ("POST", "/clock", b'{"advance_seconds": "1"}', 400),
    ("POST", "/faults", b'{"api": "echo"}', 400),
    ("POST", "/config", b'{"k": [1]}', 400),
    ("GET", "/reset", b"", 405),
    ("GET", "/nothing", b"", 404),
])
def test_control_errors(echo: Any, method: str, path: str, body: bytes, status: int) -> None:
    base, _, _ = echo
    response = requests.request(method, f"{base}/_sandbox{path}", data=body, timeout=5)
    assert response.status_code == status
    assert "error" in response.json()


def test_server_refuses_non_loopback_hosts() -> None:
    app = SandboxApp([EchoApi()], seed=1, settings={})
    for host in ("0.0.0.0", "localhost", "::"):
        with pytest.raises(ValueError, match=r"127\.0\.0\.1"):
            SandboxHTTPServer(app, host=host, port=0)


# ----- the real command line -------------------------------------------------------------------

def test_cli_rejects_another_bind_host() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "etl_sandbox.server", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "127.0.0.1" in result.stderr


def test_cli_serves_and_stops_cleanly_on_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "etl_sandbox.server", "--port", "0", "--seed", "5",
         "--twitch-users", "50", "--set", "twitch_ratelimit=7"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        lines = []
        match = None
        while match is None and len(lines) < 50:  # other start-up lines may come first
            lines.append(process.stderr.readline())
            match = re.search(r"sandbox listening on (http://127\.0\.0\.1:\d+)$",
                              lines[-1].strip())
            assert lines[-1], f"sandbox exited: {lines}"
        assert match, lines
        base = match.group(1)
        stats = requests.get(f"{base}/_sandbox/stats", timeout=5).json()
        assert stats["seed"] == 5 and stats["twitch"]["users"] == 50
        settings = requests.get(f"{base}/_sandbox/config", timeout=5).json()["settings"]
        assert settings["SANDBOX_TWITCH_RATELIMIT"] == "7"
        connection = http.client.HTTPConnection("127.0.0.1", int(base.rsplit(":", 1)[1]),
                                                timeout=5)
        connection.request("GET", "/_sandbox/credentials")  # an idle keep-alive connection
        assert connection.getresponse().read()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert "sandbox stopped" in process.stderr.read()
        connection.close()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# ----- the shared sandbox subprocess -----------------------------------------------------------

def test_shared_sandbox_control_surface(sandbox: Any) -> None:
    credentials = sandbox.credentials()
    assert credentials["twitch"] == {"client_id": "sandboxtwitchclientid0000000001",
                                     "client_secret": "sandbox-twitch-secret"}
    stats = sandbox.stats()
    assert stats["clock"].startswith("2025-04-10T15:00:0") and stats["seed"] == 42
    assert stats["mount_errors"] == {}
    sandbox.control("faults", {"api": "twitch", "path": "/helix/streams", "status": 0})
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{sandbox.twitch_api_url}/streams", timeout=5)
    assert sandbox.stats()["responses"]["twitch:GET /helix/streams"] == {"0": 1}
