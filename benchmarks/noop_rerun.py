"""A complete day's rerun: how long ``etl-run`` / ``orquestrador-btg`` take when nothing changed.

    python -m benchmarks.noop_rerun --rounds 5

In a temporary project directory against the bundled sandbox (SQLite warehouse): run
``etl-run --date 2025-04-10 --pipeline all`` once for real, then ``--rounds`` times, interleaved,

* ``etl-run --date 2025-04-10 --pipeline all`` (validation on: it calls both APIs' token endpoints
  and the warehouse, as a cron run does),
* ``etl-run --date 2025-04-10 --pipeline all --no-validate``,
* ``orquestrador-btg --data 2025-04-10``,
* ``python -c 'import etl_tasks.cli.run'`` — the interpreter and imports alone, the floor any
  command pays,

each a fresh process, timed from spawn to exit. Every rerun must exit 0, run no task, leave
``report.json`` byte-identical (nothing rewritten) and append one run record to
``output/runs.jsonl``, whose ``wall_clock_s`` is the command's own work after the interpreter
and imports are up. The script prints each round, the medians (spawn-to-exit, and the run
record's), and checks the target: the no-validate rerun ≤ 1 s spawn-to-exit (issue 11 item 4).
On a loaded machine the imports floor alone can exceed it: compare with the "imports only"
line. Exit 1 when a check or the target fails.

The first run leaves the date's no-op manifest, so the ``--no-validate`` rerun is answered by
``etl_tasks.ops.noop`` without importing Luigi, Arrow, numpy or pandas (the sidecars, the files'
inode/size/mtime and one read of the SQLite markers); the validating rerun and
``orquestrador-btg`` import Luigi for their set-up checks, then answer from the same kind of
manifest. ``import etl_tasks.cli.run`` loads no task module, so "imports only" is the interpreter
plus the command's own light modules.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from etl_sandbox.launcher import start_sandbox

DATE = "2025-04-10"
TARGET_S = 1.0
BIN = Path(sys.executable).parent


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, int, str]:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    return time.perf_counter() - started, done.returncode, done.stdout + done.stderr


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    sandbox = start_sandbox()
    try:
        sandbox.control("reset", {"seed": 42})
        sandbox.control("clock", {"now": f"{DATE}T15:00:00Z"})
        with tempfile.TemporaryDirectory(prefix="noop-bench-") as tmp:
            project = Path(tmp)
            # A named ETL_ENV_FILE must exist (a cron job's missing .env is a config error); the
            # sandbox's keys come from the environment, so the file only has to be there.
            (project / ".env").write_text("# keys come from the environment\n")
            env = {
                **os.environ,
                **sandbox.client_env(),
                "ETL_ENV_FILE": str(project / ".env"),
                "WAREHOUSE_URL": f"sqlite:///{project / 'warehouse.db'}",
                "BTG_REPORT_PATH": str(project / "landing" / "carteira"),
                "BTG_RENTABILIDADE": str(project / "landing" / "rentabilidade"),
            }
            first = subprocess.run(
                [str(BIN / "etl-run"), "--date", DATE, "--pipeline", "all"],
                cwd=project, env=env, capture_output=True, text=True, check=False,
            )
            if first.returncode != 0:
                print(first.stdout[-3000:] + first.stderr[-3000:])
                print("the first (real) run failed")
                return 1
            return measure(project, env, args.rounds)
    finally:
        sandbox.stop()


def measure(project: Path, env: dict[str, str], rounds: int) -> int:
    commands = {
        "etl-run (validating)": [str(BIN / "etl-run"), "--date", DATE, "--pipeline", "all"],
        "etl-run --no-validate": [
            str(BIN / "etl-run"), "--date", DATE, "--pipeline", "all", "--no-validate"
        ],
        "orquestrador-btg": [str(BIN / "orquestrador-btg"), "--data", DATE],
        "imports only": [sys.executable, "-c", "import etl_tasks.cli.run"],
    }
    report = project / "output" / "reports" / f"date={DATE}" / "report.json"
    runs_log = project / "output" / "runs.jsonl"
    before = report.read_bytes()
    times: dict[str, list[float]] = {name: [] for name in commands}
    own: dict[str, list[float]] = {name: [] for name in commands if name != "imports only"}
    ok = True
    for round_number in range(rounds):
        order = list(commands.items())
        if round_number % 2:
            order.reverse()  # interleaved: neither command always runs on a warmer cache
        for name, command in order:
            records = len(runs_log.read_text().splitlines())
            seconds, code, output = timed(command, project, env)
            times[name].append(seconds)
            print(f"round {round_number + 1} {name:<24} {seconds:6.3f} s  exit {code}")
            if name == "imports only":
                continue
            last = json.loads(runs_log.read_text().splitlines()[-1])
            own[name].append(float(last["wall_clock_s"]))
            checks = {
                "exit 0": code == 0,
                "no task run": last["tasks_run"] == [],
                "one run record appended": len(runs_log.read_text().splitlines()) == records + 1,
                "report.json untouched": report.read_bytes() == before,
            }
            for check, passed in checks.items():
                if not passed:
                    ok = False
                    print(f"  FAILED: {check}\n{output[-2000:]}")
    print()
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, median in medians.items():
        after = f"  (run record: {statistics.median(own[name]):.3f} s)" if name in own else ""
        print(f"median {name:<24} {median:6.3f} s{after}")
    target = medians["etl-run --no-validate"]
    verdict = "OK" if target <= TARGET_S else "MISSED"
    print(f"target: no-op rerun (--no-validate) {target:.3f} s <= {TARGET_S:.1f} s: {verdict}")
    return 0 if ok and target <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
