"""Two deployments on one host never block each other; two runs of one deployment still do.

A deployment is an output directory (two checkouts, two customers). Luigi's own process lock is
keyed on the command line only, so it must live in a directory of the deployment, like our run
locks; otherwise the second checkout's ``etl-run --date D`` exits 10 ("Pid(s) already running")
while nothing of its own runs. Every overlap here is held open by the sandbox (BTG tickets stay
"Processando" until the test releases them), never by timing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from etl_tasks.ops.lock import current_holder
from tests.cli_helpers import BIN, project_env, run_command
from tests.httpfixture import ScriptedServer
from tests.ops.test_overlap import SLOW_POLLING, table_counts

DATE = dt.date(2025, 4, 10)
ETL_RUN = ["etl-run", "--date", DATE.isoformat(), "--pipeline", "btg", "--no-validate"]
PLAIN_LUIGI = ["luigi", "--module", "etl_tasks", "BtgLoadRentabilidade", "--date",
               DATE.isoformat(), "--local-scheduler"]
EXTRACT_RUNNING = "running   BtgExtract"  # Luigi's worker line when a task starts


class Background:
    """A command running in a project directory, its output in a file (never an undrained pipe)."""

    def __init__(self, command: list[str], directory: Path, env: dict[str, str]) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.log = directory / f"{command[0]}.out"
        self._handle = open(self.log, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [str(BIN / command[0]), *command[1:]],
            cwd=directory,
            env=env,
            stdout=self._handle,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def output(self) -> str:
        return self.log.read_text()

    def wait_for(self, text: str, deadline_s: float = 60) -> None:
        """Poll the output until ``text`` appears; fail if the process ends first."""
        deadline = time.monotonic() + deadline_s
        while text not in self.output():
            assert self.process.poll() is None, f"ended with {self.process.returncode}:\n" + (
                self.output()[-3000:]
            )
            assert time.monotonic() < deadline, f"never saw {text!r}:\n{self.output()[-3000:]}"
            time.sleep(0.05)  # polling an observable condition, bounded by the deadline

    def finish(self, timeout: float = 180) -> int:
        code = self.process.wait(timeout=timeout)
        self._handle.close()
        return code

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        self._handle.close()


@contextlib.contextmanager
def background(command: list[str], directory: Path, env: dict[str, str]) -> Iterator[Background]:
    run = Background(command, directory, env)
    try:
        yield run
    finally:
        run.stop()  # never leave a run polling the shared sandbox behind a failed assertion


def hold_tickets(sandbox) -> None:
    sandbox.control("config", {"SANDBOX_BTG_PROCESSING_POLLS": "1000000"})


def release_tickets(sandbox) -> None:
    sandbox.control("config", {"SANDBOX_BTG_PROCESSING_POLLS": "0"})


def test_two_deployments_run_the_same_date_at_once_and_both_succeed(
    sandbox, tmp_path: Path
) -> None:
    hold_tickets(sandbox)
    first_dir, second_dir = tmp_path / "customer-a", tmp_path / "customer-b"
    first_dir.mkdir()
    second_dir.mkdir()
    first_env = project_env(first_dir, config_text=SLOW_POLLING)
    second_env = project_env(second_dir, config_text=SLOW_POLLING)
    with background(ETL_RUN, first_dir, first_env) as first:
        first.wait_for(EXTRACT_RUNNING)
        with background(ETL_RUN, second_dir, second_env) as second:
            # Both are inside their extracts at the same time: neither was refused.
            second.wait_for(EXTRACT_RUNNING)
            assert first.process.poll() is None
            assert current_holder("btg", DATE, root=first_dir / "output") is not None
            assert current_holder("btg", DATE, root=second_dir / "output") is not None

            # The same deployment is still one run at a time: a third run in the first
            # directory exits 10, names the holder, asks nothing and writes no report.
            report = first_dir / "output" / "reports" / f"date={DATE}" / "report.json"
            before = report.read_bytes() if report.is_file() else None
            with ScriptedServer() as server:
                again = run_command(ETL_RUN, first_dir, {**first_env, "BTG_BASE_URL": server.url})
                assert server.requests == []
            assert again.code == 10, again.output[-2000:]
            assert f"another run of btg for {DATE} is in progress (pid {first.process.pid}" in (
                again.output
            )
            assert "NENHUM ERRO" not in again.output
            assert (report.read_bytes() if report.is_file() else None) == before  # untouched

            release_tickets(sandbox)
            assert second.finish() == 0, second.output()[-3000:]
        assert first.finish() == 0, first.output()[-3000:]
    for directory in (first_dir, second_dir):
        counts = table_counts(directory / "warehouse.db")
        assert counts["btg_fundos"] > 0 and counts["btg_rentabilidade"] > 0, directory
        report = (directory / "output" / "reports" / f"date={DATE}" / "report.txt").read_text()
        assert "SUCCESS" in report


def test_plain_luigi_is_one_process_per_command_in_a_deployment_not_per_host(
    sandbox, tmp_path: Path
) -> None:
    hold_tickets(sandbox)
    mine, neighbour = tmp_path / "mine", tmp_path / "neighbour"
    mine.mkdir()
    neighbour.mkdir()
    my_env = project_env(mine, config_text=SLOW_POLLING)
    with background(PLAIN_LUIGI, mine, my_env) as first:
        first.wait_for(EXTRACT_RUNNING)
        # Same command, same deployment: Luigi's process lock refuses it with its exit code 10.
        with ScriptedServer() as server:
            refused = run_command(PLAIN_LUIGI, mine, {**my_env, "BTG_BASE_URL": server.url})
            assert server.requests == []
        assert refused.code == 10, refused.output[-2000:]
        assert "already running" in refused.output
        # Same command in another deployment: it runs (here it fails fast on a server of its
        # own that knows no BTG route, which proves it got past the lock and asked).
        with ScriptedServer() as server:
            other_env = project_env(neighbour, {"BTG_BASE_URL": server.url})
            elsewhere = run_command(PLAIN_LUIGI, neighbour, other_env)
            assert server.requests, elsewhere.output[-2000:]
        assert elsewhere.code != 10, elsewhere.output[-2000:]
        assert "already running" not in elsewhere.output
        release_tickets(sandbox)
        assert first.finish() == 0, first.output()[-3000:]
