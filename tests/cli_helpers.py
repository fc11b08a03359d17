"""Run the installed command-line tools as subprocesses in an isolated project directory."""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

BIN = Path(sys.executable).parent

FAST_CONFIG = """
[http]
max_retries = 2
backoff_base_s = 0.01
backoff_max_s = 0.05

[btg]
poll_initial_s = 0.01
poll_max_interval_s = 0.05
poll_deadline_s = 5
"""


@dataclass
class Completed:
    """Exit code and output of a command."""

    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def project_env(
    directory: Path,
    extra: dict[str, str] | None = None,
    *,
    keep: bool = True,
    config_text: str = "",
) -> dict[str, str]:
    """Environment of a command run in ``directory``: its own luigi.cfg overlay (fast retries plus
    ``config_text``), no stray .env, a SQLite warehouse inside it."""
    merged = configparser.ConfigParser()
    merged.read_string(FAST_CONFIG)
    merged.read_string(config_text)  # later sections and keys win
    config = directory / "test-luigi.cfg"
    with open(config, "w") as handle:
        merged.write(handle)
    base = {k: v for k, v in os.environ.items() if keep or not k.startswith(("TWITCH_", "BTG_"))}
    # An ETL_ENV_FILE that does not exist is a configuration error; a test may write it later.
    (directory / ".env").touch()
    env = {
        **base,
        "LUIGI_CONFIG_PATH": str(config),
        "ETL_ENV_FILE": str(directory / ".env"),
        "WAREHOUSE_URL": f"sqlite:///{directory / 'warehouse.db'}",
        "PYTHONUNBUFFERED": "1",
    }
    env.update(extra or {})
    return env


def run_command(
    command: list[str], directory: Path, env: dict[str, str], timeout: float = 240
) -> Completed:
    """Run ``command`` (first item: a command installed next to this Python) in ``directory``."""
    executable = str(BIN / command[0]) if (BIN / command[0]).exists() else command[0]
    done = subprocess.run(
        [executable, *command[1:]],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return Completed(done.returncode, done.stdout, done.stderr)
