"""A TCP proxy on 127.0.0.1 that can freeze a connection mid-stream: a network partition on demand.

    python -m etl_sandbox.tcp_freeze --target 127.0.0.1:5432 --freeze-on COPY --after 1048576

A partition is the unkind network fault: nothing closes, nothing answers, every byte sent waits
in a buffer. The proxy forwards both directions of each accepted connection to ``target``; armed
with :meth:`FreezeProxy.freeze_on`, the first connection whose client sends ``marker`` (``COPY``,
``LOAD DATA``) and then ``after`` more bytes stops reading and forwarding in both directions while
keeping both sockets open, exactly what a dropped route looks like to the two ends (minus the
kernel's ACKs, which only make the buffers fill before the sender blocks).
:meth:`FreezeProxy.heal` ends the partition the way a healed network usually does for long-stalled
connections: both sides of the frozen connections are closed, and new connections go through.

Used by the warehouse partition tests (``tests/warehouse/test_partition.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import threading
import time
from dataclasses import dataclass, field

_CHUNK = 65_536


@dataclass
class _Link:
    """One proxied connection."""

    client: socket.socket
    server: socket.socket
    sent_up: int = 0  # client -> server bytes forwarded
    armed_at: int | None = None  # sent_up when the marker was seen
    frozen: threading.Event = field(default_factory=threading.Event)
    closed: threading.Event = field(default_factory=threading.Event)


class FreezeProxy:
    """Context manager: a proxy listening on ``127.0.0.1:port`` in front of ``target``."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._links: list[_Link] = []
        self._lock = threading.Lock()
        self._marker: bytes | None = None
        self._after = 0
        self.frozen = threading.Event()  # set when a connection froze
        self.frozen_at: float | None = None  # time.monotonic() of the freeze
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="freeze-proxy", daemon=True)

    def __enter__(self) -> FreezeProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def freeze_on(self, marker: bytes, after: int = 0) -> None:
        """Freeze the next connection whose client sends ``marker`` and then ``after`` bytes."""
        with self._lock:
            self._marker, self._after = marker, after

    def heal(self) -> None:
        """Close both ends of every frozen connection; later connections pass untouched."""
        with self._lock:
            self._marker = None
            frozen = [link for link in self._links if link.frozen.is_set()]
        for link in frozen:
            self._close(link)

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            links = list(self._links)
        for link in links:
            self._close(link)

    # ---- forwarding ---------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            link = _Link(client, server)
            with self._lock:
                self._links.append(link)
            for up in (True, False):
                threading.Thread(
                    target=self._pump, args=(link, up), name="freeze-proxy-pump", daemon=True
                ).start()

    def _pump(self, link: _Link, up: bool) -> None:
        source, sink = (link.client, link.server) if up else (link.server, link.client)
        try:
            while not link.closed.is_set():
                if link.frozen.is_set():
                    link.closed.wait()  # a partition: read nothing, forward nothing
                    return
                data = source.recv(_CHUNK)
                if not data:
                    with contextlib.suppress(OSError):
                        sink.shutdown(socket.SHUT_WR)
                    return
                if up:
                    data = self._up_until_freeze(link, data)
                elif link.frozen.is_set():
                    continue  # the answer is lost in the partition
                if data:
                    sink.sendall(data)
        except OSError:
            pass
        finally:
            if not link.frozen.is_set():
                self._close(link)

    def _up_until_freeze(self, link: _Link, data: bytes) -> bytes:
        """The part of ``data`` to forward before the connection freezes (all, if it does not)."""
        with self._lock:
            marker, after = self._marker, self._after
            if marker is not None and link.armed_at is None and marker in data:
                link.armed_at = link.sent_up + data.index(marker) + len(marker)
            if marker is not None and link.armed_at is not None:
                limit = link.armed_at + after - link.sent_up
                if limit <= len(data):
                    data = data[: max(limit, 0)]
                    self._marker = None  # one partition at a time
                    link.frozen.set()
                    self.frozen_at = time.monotonic()
                    self.frozen.set()
            link.sent_up += len(data)
        return data

    def _close(self, link: _Link) -> None:
        link.closed.set()
        for sock in (link.client, link.server):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True, help="host:port to forward to")
    parser.add_argument("--freeze-on", default="", help="freeze after the client sends this")
    parser.add_argument("--after", type=int, default=0, help="bytes after the marker")
    args = parser.parse_args(argv)
    host, port = args.target.rsplit(":", 1)
    with FreezeProxy(host, int(port)) as proxy:
        if args.freeze_on:
            proxy.freeze_on(args.freeze_on.encode(), args.after)
        print(f"listening on 127.0.0.1:{proxy.port} -> {args.target}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
