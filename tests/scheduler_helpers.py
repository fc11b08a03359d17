"""Start and stop `etl-scheduler --background` in a test project directory; query luigid's API."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from collections.abc import Iterator
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


@contextlib.contextmanager
def running_scheduler(directory: Path, env: dict[str, str], *args: str) -> Iterator[str]:
    """A background luigid on a free port for the block; yields its URL. Always stopped after,
    by ``--stop``, or by its pid if that failed (we started it)."""
    port = free_port()
    started = scheduler_command(directory, env, "--port", str(port), "--background", *args)
    assert started.code == 0, started.output
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        pid_path = pidfile(directory)
        pid = int(pid_path.read_text()) if pid_path.exists() else None
        stopped = scheduler_command(directory, env, "--stop")
        if stopped.code != 0 and pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        assert stopped.code == 0, stopped.output


def api(url: str, method: str, **arguments: Any) -> Any:
    """Call luigid's JSON API (GET /api/<method>?data=<json>); the ``response`` field."""
    answer = requests.get(f"{url}/api/{method}", params={"data": json.dumps(arguments)}, timeout=10)
    answer.raise_for_status()
    return answer.json()["response"]
