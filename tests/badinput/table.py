"""The bad-input table's machinery: one :class:`Case` per bad input, run as the real command.

Each case is its own process: most are forked from a pre-imported interpreter (tests.forkserver,
which saves ~1.5 s of imports per case), plain ``luigi`` and a few cases of every command are
started as the installed console script (``real_process``).

Every case asserts what the project charter asks of bad input: the documented exit code, a line of
output that names the problem (matched line by line, so the message is one line), no
``Traceback`` anywhere in the output, and nothing half-done left behind (no partition without its
``_meta.json``, no temporary file, and for an input refused before running, no partition, report
or warehouse row at all). A hang is a failure too: each command has a generous timeout, which
only a hang reaches (no test asserts wall-clock time).
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field, replace
from pathlib import Path

from tests.cli_helpers import Completed, project_env, run_command
from tests.forkserver import COMMANDS, run_forked

TODAY = "2025-04-11"  # ETL_TODAY of every case: the accepted window ends on 2026-04-12
# A hang guard, not a budget: a case takes seconds, but 90 s was reached (by a case that then
# finished) on a 2-core machine running the suite beside two busy loops and other suites.
HANG_TIMEOUT_S = 300


@dataclass(frozen=True)
class Case:
    """One bad input: the command, where the badness is, and what must come out."""

    id: str
    command: list[str]
    code: int
    message: str  # a regular expression one line of the output must match
    env: dict[str, str] = field(default_factory=dict)
    config: str = ""  # luigi.cfg overlay text
    env_file: str | None = None  # contents of the project's .env
    sandbox: bool = False  # credentials and base URLs of the sandbox in the environment
    refused: bool = True  # refused before running: nothing may be written under output/
    # Run as a new interpreter through the installed console script (tests.cli_helpers), not as
    # a child of the fork server (tests.forkserver): plain luigi always, and a few of each command.
    real_process: bool = False

    def __str__(self) -> str:
        return self.id


def run_case(case: Case, directory: Path) -> Completed:
    """Run the case's command in ``directory`` (a fresh project directory)."""
    if case.env_file is not None:
        (directory / ".env").write_text(case.env_file)
    env = project_env(
        directory, {"ETL_TODAY": TODAY, **case.env}, keep=case.sandbox, config_text=case.config
    )
    if case.real_process or case.command[0] not in COMMANDS:
        return run_command(case.command, directory, env, timeout=HANG_TIMEOUT_S)
    return run_forked(case.command, directory, env, timeout=HANG_TIMEOUT_S)


def real_process_for_some(cases: list[Case], per_command: int = 2) -> list[Case]:
    """The same cases, the first ``per_command`` of each command run as a real new process."""
    seen: dict[str, int] = {}
    marked = []
    for case in cases:
        name = case.command[0] if case.command else ""
        seen[name] = seen.get(name, 0) + 1
        marked.append(replace(case, real_process=True) if seen[name] <= per_command else case)
    return marked


def assert_clear_failure(case: Case, result: Completed, directory: Path) -> None:
    """The checks every bad input must pass (see the module docstring)."""
    output = result.output
    assert "Traceback" not in output, output[-4000:]
    assert result.code == case.code, f"exit {result.code}, expected {case.code}:\n{output[-3000:]}"
    pattern = re.compile(case.message)
    assert any(pattern.search(line) for line in output.splitlines()), (
        f"no line matches {case.message!r}:\n{output[-3000:]}"
    )
    assert_nothing_half_done(directory / "output")
    if case.refused:
        assert_nothing_written(directory)


def assert_nothing_half_done(output: Path) -> None:
    """Every partition present is complete, and no temporary file is left."""
    for data in output.rglob("data.parquet"):
        assert (data.parent / "_meta.json").is_file(), f"partial partition {data.parent}"
    leftovers = [p for p in output.rglob("*") if p.is_file() and ".tmp" in p.name]
    assert not leftovers, f"temporary files left: {leftovers}"


def assert_nothing_written(directory: Path) -> None:
    """A refused input wrote no partition, no sidecar, no report and no warehouse row."""
    output = directory / "output"
    written = [
        p
        for p in output.rglob("*")
        if p.is_file()
        and (p.suffix in (".parquet", ".json", ".txt", ".html"))
        and "ratelimit" not in p.parts  # the shared rate-limit state, not data
    ]
    assert not written, f"a refused input wrote {written}"
    database = directory / "warehouse.db"
    if database.is_file():
        with sqlite3.connect(database) as connection:
            tables = {r[0] for r in connection.execute("SELECT name FROM sqlite_master")}
            if "etl_load_audit" in tables:
                assert connection.execute("SELECT count(*) FROM etl_load_audit").fetchone()[0] == 0
