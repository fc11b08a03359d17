"""Start and stop the sandbox server as a subprocess (used by the demo and the tests).

with running_sandbox() as sandbox:
    sandbox.control("clock", {"now": "2025-04-10T15:00:00Z"})
    os.environ.update(sandbox.client_env())
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass

import requests


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class SandboxProcess:
    """A running sandbox and helpers for its control endpoints."""

    base_url: str
    process: subprocess.Popen

    @property
    def twitch_auth_url(self) -> str:
        return f"{self.base_url}/twitch/id"

    @property
    def twitch_api_url(self) -> str:
        return f"{self.base_url}/twitch/helix"

    @property
    def btg_url(self) -> str:
        return f"{self.base_url}/btg"

    def control(self, path: str, payload: dict | None = None) -> dict:
        """POST a control endpoint (reset, clock, faults, tokens/expire, config)."""
        response = requests.post(f"{self.base_url}/_sandbox/{path}", json=payload or {}, timeout=30)
        response.raise_for_status()
        return response.json() if response.content else {}

    def clear_faults(self) -> None:
        requests.delete(f"{self.base_url}/_sandbox/faults", timeout=10).raise_for_status()

    def stats(self) -> dict:
        response = requests.get(f"{self.base_url}/_sandbox/stats", timeout=10)
        response.raise_for_status()
        return response.json()

    def credentials(self) -> dict:
        return requests.get(f"{self.base_url}/_sandbox/credentials", timeout=10).json()

    def client_env(self) -> dict[str, str]:
        """Environment variables that point the API clients at this sandbox."""
        creds = self.credentials()
        return {
            "TWITCH_CLIENT_ID": creds["twitch"]["client_id"],
            "TWITCH_CLIENT_SECRET": creds["twitch"]["client_secret"],
            "TWITCH_AUTH_BASE_URL": self.twitch_auth_url,
            "TWITCH_API_BASE_URL": self.twitch_api_url,
            "BTG_CLIENT_ID": creds.get("btg", {}).get("client_id", ""),
            "BTG_CLIENT_SECRET": creds.get("btg", {}).get("client_secret", ""),
            "BTG_BASE_URL": self.btg_url,
        }

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def start_sandbox(
    extra_args: list[str] | None = None,
    env: dict[str, str] | None = None,
    timeout_s: float = 30,
    log_path: str | None = None,
    port: int | None = None,
) -> SandboxProcess:
    """Start ``python -m etl_sandbox.server`` on ``port`` (default: a free one); return once it
    answers.

    Its output goes to ``log_path`` (default: a temporary file), never to an undrained pipe that
    would stall the server once full."""
    port = port or free_port()
    command = [
        sys.executable,
        "-m",
        "etl_sandbox.server",
        "--port",
        str(port),
        *(extra_args or []),
    ]
    log = open(log_path, "a+b") if log_path else tempfile.TemporaryFile()  # noqa: SIM115
    process = subprocess.Popen(
        command, env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            error = log.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"sandbox exited with {process.returncode}: {error}")
        try:
            if requests.get(f"{base_url}/_sandbox/stats", timeout=1).ok:
                return SandboxProcess(base_url, process)
        except requests.ConnectionError:
            time.sleep(0.05)  # readiness poll, bounded by the deadline above
    process.kill()
    raise RuntimeError(f"sandbox did not answer within {timeout_s:.0f} s")


@contextlib.contextmanager
def running_sandbox(
    extra_args: list[str] | None = None, port: int | None = None
) -> Iterator[SandboxProcess]:
    """A sandbox for the duration of the block (on ``port``, default a free one)."""
    sandbox = start_sandbox(extra_args, port=port)
    try:
        yield sandbox
    finally:
        sandbox.stop()
