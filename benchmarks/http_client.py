"""Client CPU per request of :class:`etl_tasks.core.http.HttpClient`.

    flock /tmp/etl-bench.lock python -m benchmarks.http_client [--calls 300] [--rounds 3]

A Get Users-shaped call: GET with 100 ``id`` query parameters, answered by a static 100-item JSON
file that ``python -m http.server`` (HTTP/1.1, keep-alive) serves from another process, so the
server's CPU is not counted. Prints ``time.process_time()`` per request for each round and the
best of them (the least disturbed by other load on the machine).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from etl_tasks.core.http import HttpClient, RetryPolicy

ITEMS = 100


def answer() -> bytes:
    """A 100-row Helix-like page (users)."""
    rows = [
        {
            "id": str(10**11 + i),
            "login": f"user{i}",
            "display_name": f"User {i}",
            "type": "",
            "broadcaster_type": "affiliate",
            "description": "Streaming games and chatting with the community every day.",
            "profile_image_url": f"https://static-cdn.example/user{i}-profile_image-300x300.png",
            "view_count": 0,
            "created_at": "2016-12-14T20:32:28Z",
        }
        for i in range(ITEMS)
    ]
    return json.dumps({"data": rows}).encode("utf-8")


def free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def static_server() -> Iterator[str]:
    """``python -m http.server`` in another process serving ``users.json``; yields its URL."""
    with tempfile.TemporaryDirectory() as root:
        Path(root, "users.json").write_bytes(answer())
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
             "--protocol", "HTTP/1.1", "--directory", root],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(100):
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                    break
                time.sleep(0.05)
            yield f"http://127.0.0.1:{port}/users.json"
        finally:
            process.terminate()
            process.wait(timeout=10)


def cpu_per_request(url: str, calls: int) -> float:
    """Seconds of this process's CPU per ``get_json`` call (one client, warmed up first)."""
    params = [("id", str(10**11 + i)) for i in range(ITEMS)]
    with HttpClient(RetryPolicy()) as client:
        body, _ = client.get_json(url, params=params)
        assert len(body["data"]) == ITEMS
        started = time.process_time()
        for _ in range(calls):
            client.get_json(url, params=params)
        return (time.process_time() - started) / calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    with static_server() as url:
        results = []
        for number in range(1, args.rounds + 1):
            seconds = cpu_per_request(url, args.calls)
            results.append(seconds)
            print(f"round {number}: {seconds * 1000:.3f} ms CPU per request")
    print(f"best of {args.rounds}: {min(results) * 1000:.3f} ms CPU per request "
          f"({args.calls} calls each)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
