"""A tiny scriptable HTTP server on 127.0.0.1 for wire-behaviour tests (real sockets, no mocks).

A test queues the responses a path should give, runs the client under test against ``server.url``,
then asserts on what the server recorded::

    with ScriptedServer() as server:
        server.script("/helix/users", Reply(503), Reply(200, json={"data": []}))
        ...
        assert [r.status for r in server.requests] == [503, 200]

Each path has a FIFO queue of :class:`Reply`; when it is empty the path's ``always`` reply is used,
and without one the server answers ``501 unscripted request`` (not a retry status, so a client under
test fails fast instead of looping). A reply may delay before answering, to provoke read timeouts,
and may set its own ``Date`` header, to test clock-skew handling.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Reply:
    """One scripted response."""

    status: int = 200
    json: Any = None
    body: bytes | str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0

    def payload(self) -> tuple[bytes, str]:
        """Body bytes and content type."""
        if self.json is not None:
            return json.dumps(self.json).encode("utf-8"), "application/json"
        if isinstance(self.body, str):
            return self.body.encode("utf-8"), "text/plain; charset=utf-8"
        return self.body or b"", "application/octet-stream"


@dataclass(frozen=True)
class Recorded:
    """One request as the server saw it."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes
    status: int  # what the server answered

    def form(self) -> dict[str, str]:
        """The body decoded as ``application/x-www-form-urlencoded``."""
        return dict(parse_qsl(self.body.decode("utf-8")))

    def header(self, name: str) -> str | None:
        """A request header, case-insensitively."""
        lowered = {key.lower(): value for key, value in self.headers.items()}
        return lowered.get(name.lower())


class ScriptedServer:
    """ThreadingHTTPServer on 127.0.0.1:<free port> replaying scripted replies per path."""

    def __init__(self) -> None:
        self._queues: dict[str, deque[Reply]] = defaultdict(deque)
        self._always: dict[str, Reply] = {}
        self._lock = threading.Lock()
        self.requests: list[Recorded] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        # A short poll interval keeps shutdown (and so each test) fast.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def script(self, path: str, *replies: Reply) -> None:
        """Queue replies for ``path`` (answered in order, one per request)."""
        with self._lock:
            self._queues[path].extend(replies)

    def always(self, path: str, reply: Reply) -> None:
        """The reply for ``path`` once its queue is empty."""
        with self._lock:
            self._always[path] = reply

    def requests_to(self, path: str) -> list[Recorded]:
        """Recorded requests for one path, in arrival order."""
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def start(self) -> ScriptedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _next_reply(self, path: str) -> Reply:
        with self._lock:
            queue = self._queues.get(path)
            if queue:
                return queue.popleft()
            if path in self._always:
                return self._always[path]
        return Reply(501, json={"error": "unscripted request", "path": path})

    def _record(self, recorded: Recorded) -> None:
        with self._lock:
            self.requests.append(recorded)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            """Answers every method from the script."""

            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                """Keep test output clean."""

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                reply = server._next_reply(parts.path)
                server._record(
                    Recorded(
                        method=self.command,
                        path=parts.path,
                        query=parse_qsl(parts.query, keep_blank_values=True),
                        headers=dict(self.headers.items()),
                        body=body,
                        status=reply.status,
                    )
                )
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                payload, content_type = reply.payload()
                headers = {"Content-Type": content_type, **reply.headers}
                headers.setdefault("Date", self.date_time_string())
                # The client may have given up (read-timeout tests); a broken pipe is expected.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.send_response_only(reply.status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    self.wfile.flush()

            do_GET = do_POST = do_PUT = do_DELETE = _answer  # noqa: N815 - stdlib naming

        return Handler
