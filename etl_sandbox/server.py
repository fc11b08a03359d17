"""Run the sandbox: one HTTP server on 127.0.0.1 speaking Twitch (``/twitch``) and BTG (``/btg``).

    etl-sandbox --port 8765 --seed 42
    python -m etl_sandbox.server --host 127.0.0.1 --port 8765 --seed 42 [--twitch-users N]
        [--twitch-ratelimit 800] [--twitch-token-ttl 5011271] [--set KEY=VALUE ...]
        [--log-level DEBUG]

Knobs come from ``SANDBOX_*`` environment variables, then from the flags (flags win); they can be
changed at run time with ``POST /_sandbox/config``. ``--port 0`` picks a free port; the start-up
line ``sandbox listening on http://127.0.0.1:PORT`` (INFO, stderr) says which. SIGTERM or SIGINT
stop it cleanly. Only 127.0.0.1 is accepted as bind address: the sandbox is for loopback tests.
Control endpoints (clock, faults, expired tokens, credentials): etl_sandbox/README.md.

Exit codes: 0 stopped by SIGTERM/SIGINT; 2 bad arguments or cannot start (e.g. port in use).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from urllib.parse import urlsplit

from etl_sandbox.app import CONTROL_PREFIX, SandboxApp
from etl_sandbox.control import handle_control
from etl_sandbox.framework import Headers, Request, Response, SandboxApi, setting_key
from etl_sandbox.twitch_api import TwitchApi
from etl_tasks.cli.parsers import document

log = logging.getLogger("etl_sandbox")

LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 8765
MAX_BODY_BYTES = 16 * 1024 * 1024
BTG_MODULE = "etl_sandbox.btg_api"


def mount_apis() -> tuple[list[SandboxApi], dict[str, str]]:
    """Every available API, plus why an optional one could not be mounted."""
    apis: list[SandboxApi] = [TwitchApi()]
    errors: dict[str, str] = {}
    try:
        from etl_sandbox.btg_api import BtgApi
    except ImportError as error:
        # The BTG API is a separate module; until it exists the sandbox serves Twitch alone.
        # Any other import failure inside it is reported loudly instead of hidden.
        if getattr(error, "name", None) != BTG_MODULE:
            log.error("BTG sandbox API not mounted: %s", error)
            errors["btg"] = str(error)
    else:
        apis.append(BtgApi())
    return apis, errors


class SandboxRequestHandler(BaseHTTPRequestHandler):
    """Reads one HTTP/1.1 request, hands it to the app, writes the answer (keep-alive capable)."""

    protocol_version = "HTTP/1.1"
    server_version = "etl-sandbox"
    # Idle keep-alive connections are closed after this long; clients simply reconnect.
    timeout = 120
    # Headers and body go out in two writes; with Nagle on, a keep-alive client waits for the
    # delayed ACK (~40 ms) on every request.
    disable_nagle_algorithm = True
    server: SandboxHTTPServer

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def version_string(self) -> str:
        """``Server`` header value."""
        return self.server_version

    def date_time_string(self, timestamp: float | None = None) -> str:
        """``Date`` header from the simulated clock: clients take capture times from it."""
        when = self.server.app.ctx.clock.timestamp() if timestamp is None else timestamp
        return formatdate(when, usegmt=True)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silenced: the stdlib line carries the query string, where a token request may put
        its client secret. :meth:`_serve` logs its own line without it."""

    def log_message(self, format: str, *args: object) -> None:
        # The default writes every request to stderr; keep it at DEBUG (stderr may be a pipe
        # nobody reads, and a full pipe would block the server).
        log.debug("%s " + format, self.address_string(), *args)

    def _serve(self) -> None:
        started = time.perf_counter()
        body = self._read_body()
        if body is None:
            return
        headers = Headers(self.headers.items())
        path = urlsplit(self.path).path
        app = self.server.app
        if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
            request = Request(self.command, path, {}, headers, body)
            response: Response | None = handle_control(app, request)
        else:
            response = app.handle(self.command, self.path, headers, body)
        if response is None:
            log.debug("%s %s -> connection dropped (injected fault)", self.command, path)
            self.close_connection = True
            return
        self._write(response)
        # The query string is left out on purpose: token requests may carry a client secret there.
        log.debug("%s %s -> %d (%.1f ms)", self.command, path, response.status,
                  (time.perf_counter() - started) * 1000)

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.send_error(400, "Content-Length is not a number")
            return None
        if length > MAX_BODY_BYTES:
            self.send_error(413, f"body larger than {MAX_BODY_BYTES} bytes")
            return None
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes | None:
        chunks: list[bytes] = []
        total = 0
        while True:
            size_line = self.rfile.readline(1024).split(b";")[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                self.send_error(400, "malformed chunked body")
                return None
            if size == 0:
                while self.rfile.readline(1024).strip():
                    pass  # trailers are ignored
                return b"".join(chunks)
            total += size
            if total > MAX_BODY_BYTES:
                self.send_error(413, f"body larger than {MAX_BODY_BYTES} bytes")
                return None
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _write(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            if name.lower() not in ("content-length", "date", "server", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)


class SandboxHTTPServer(ThreadingHTTPServer):
    """Threaded HTTP server that refuses to bind anywhere but the loopback address."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, app: SandboxApp, host: str = LOOPBACK, port: int = DEFAULT_PORT) -> None:
        if host != LOOPBACK:
            raise ValueError(f"the sandbox binds only to {LOOPBACK} (got {host!r}); it is a "
                             "loopback test server and must not be reachable from the network")
        self.app = app
        super().__init__((host, port), SandboxRequestHandler)

    def handle_error(self, request: object, client_address: tuple[str, int]) -> None:
        """A client that hangs up mid-exchange is routine (DEBUG); anything else is a bug."""
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            log.debug("client %s went away: %s", client_address, error)
        else:
            log.exception("unhandled error serving %s", client_address)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<bound port>``."""
        return f"http://{LOOPBACK}:{self.server_address[1]}"


def settings_from(environ: dict[str, str], args: argparse.Namespace) -> dict[str, str]:
    """``SANDBOX_*`` environment variables overridden by the command-line flags."""
    settings = {key: value for key, value in environ.items() if key.startswith("SANDBOX_")}
    flags = {
        "SANDBOX_TWITCH_USERS": args.twitch_users,
        "SANDBOX_TWITCH_RATELIMIT": args.twitch_ratelimit,
        "SANDBOX_TWITCH_TOKEN_TTL": args.twitch_token_ttl,
    }
    settings.update({key: str(value) for key, value in flags.items() if value is not None})
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        settings[setting_key(key)] = value
    return settings


def build_server(seed: int, settings: dict[str, str], port: int = DEFAULT_PORT,
                 host: str = LOOPBACK) -> SandboxHTTPServer:
    """Mount the APIs, generate the data and bind the socket (not yet serving)."""
    apis, mount_errors = mount_apis()
    app = SandboxApp(apis, seed=seed, settings=settings, mount_errors=mount_errors)
    server = SandboxHTTPServer(app, host, port)
    app.ctx.base_url = server.base_url
    return server


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="etl-sandbox", description=__doc__.split("\n")[0])
    document(parser, __doc__)
    parser.add_argument("--host", default=LOOPBACK, help="bind address; only 127.0.0.1 is allowed")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="TCP port (0 = any free)")
    parser.add_argument("--seed", type=int, default=42, help="dataset seed (reset can change it)")
    parser.add_argument("--twitch-users", type=int, help="Twitch users (SANDBOX_TWITCH_USERS)")
    parser.add_argument("--twitch-ratelimit", type=int,
                        help="Helix bucket size per client id (SANDBOX_TWITCH_RATELIMIT)")
    parser.add_argument("--twitch-token-ttl", type=int,
                        help="app token lifetime, seconds (SANDBOX_TWITCH_TOKEN_TTL)")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE",
                        help="any other SANDBOX_* knob (prefix optional), repeatable")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING"])
    args = parser.parse_args(argv)
    if args.host != LOOPBACK:
        parser.error(f"--host must be {LOOPBACK}: the sandbox never listens on other addresses")
    return args


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``etl-sandbox``: serve until SIGTERM/SIGINT, then exit 0."""
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    try:
        settings = settings_from(dict(os.environ), args)
        server = build_server(args.seed, settings, port=args.port)
    except (ValueError, OSError) as error:
        log.error("sandbox cannot start: %s", error)
        return 2

    def stop(signum: int, frame: FrameType | None) -> None:
        # shutdown() blocks until serve_forever returns, so it must run off the serving thread.
        log.info("sandbox stopping (signal %d)", signum)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    mounted = ", ".join(f"{api.name} at {api.prefix}" for api in server.app.apis)
    log.info("sandbox listening on %s", server.base_url)
    log.info("seed %d; mounted: %s", args.seed, mounted)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    log.info("sandbox stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
