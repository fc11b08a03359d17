"""Start and stop `etl-scheduler --background` (luigid's daemon mode) in a test project directory;
query luigid's API."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import requests

from etl_sandbox.launcher import free_port
from tests.cli_helpers import Completed, run_command

SCHEDULER = [sys.executable, "-m", "etl_tasks.cli.scheduler"]


def scheduler_command(directory: Path, env: dict[str, str], *args: str) -> Completed:
    """``python -m etl_tasks.cli.scheduler ARGS`` run in ``directory``."""
    return run_command([*SCHEDULER, *args], directory, env, timeout=60)


def pidfile(directory: Path) -> Path:
    return directory / "output" / "luigid" / "luigid.pid"


def answers(url: str) -> bool:
    """True when luigid answers its health check (``HEAD /`` is 204)."""
    try:
        return requests.head(f"{url}/", timeout=1).status_code == 204
    except requests.RequestException:
        return False


def process_alive(pid: int) -> bool:
    """True while ``pid`` runs and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError, IndexError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def wait_for(condition: Callable[[], bool], timeout_s: float = 30) -> bool:
    """Poll ``condition`` until it holds or the (generous) deadline passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)  # bounded by the deadline
    return condition()


def stop_daemon(pid: int) -> None:
    """SIGTERM a luigid we started and wait until it is gone (SIGKILL if it does not go)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if not wait_for(lambda: not process_alive(pid)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        raise AssertionError(f"luigid pid {pid} did not stop on SIGTERM")


@contextlib.contextmanager
def running_scheduler(directory: Path, env: dict[str, str], *args: str) -> Iterator[str]:
    """A background luigid on a free port for the block; yields its URL. Always stopped after,
    by the pid luigid wrote to its pid file (we started it)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    started = scheduler_command(directory, env, "--port", str(port), "--background", *args)
    assert started.code == 0, started.output
    try:
        assert wait_for(lambda: answers(url) and pidfile(directory).exists()), started.output
        yield url
    finally:
        if pidfile(directory).exists():
            stop_daemon(int(pidfile(directory).read_text()))


def api(url: str, method: str, **arguments: Any) -> Any:
    """Call luigid's JSON API (GET /api/<method>?data=<json>); the ``response`` field."""
    answer = requests.get(f"{url}/api/{method}", params={"data": json.dumps(arguments)}, timeout=10)
    answer.raise_for_status()
    return answer.json()["response"]
