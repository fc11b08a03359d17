"""Run ``orquestrador-btg`` as cron does (a subprocess), optionally measuring its peak RSS.

    project = prepare_project(tmp_path)          # luigi.cfg with fast polling, own output/logs
    run = orquestrador(project, warehouse_url, ["--data", "2025-04-10"], measure_rss=True)
    run.code, run.output, run.peak_rss_mib
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

CONFIG = """\
[paths]
output_dir = {root}/output
logs_dir = {root}/logs

[btg]
poll_initial_s = 0.01
poll_max_interval_s = 0.05
poll_deadline_s = 5
not_found_grace_s = 2

[http]
max_retries = 2
backoff_base_s = 0.01
backoff_max_s = 0.05
"""


@dataclass
class Run:
    code: int
    output: str
    peak_rss_mib: int | None = None


def prepare_project(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "luigi.cfg").write_text(CONFIG.format(root=root), encoding="utf-8")
    (root / ".env").touch()  # empty: the environment is the configuration (missing = error)
    return root


# The child's peak RSS, from a fresh parent whose only child it is.
MEASURE = (
    "import resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "sys.stdout.write(done.stdout + done.stderr)\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024\n"
    "sys.stdout.write(f'\\nPEAK_RSS_MIB={peak}\\n')\n"
    "sys.exit(done.returncode)\n"
)


def orquestrador(project: Path, warehouse: str, args: list[str],
                 measure_rss: bool = False) -> Run:
    env = dict(os.environ)
    env.update({
        "LUIGI_CONFIG_PATH": str(project / "luigi.cfg"),
        "ETL_ENV_FILE": str(project / ".env"),
        "BTG_WAREHOUSE_URL": warehouse,
        "WAREHOUSE_URL": f"sqlite:///{project / 'unused.db'}",
        "BTG_REPORT_PATH": str(project / "landing" / "carteira"),
        "BTG_RENTABILIDADE": str(project / "landing" / "rentabilidade"),
    })
    env.pop("ETL_TODAY", None)
    command = [sys.executable, "-m", "etl_tasks.btg", *args]
    if measure_rss:
        command = [sys.executable, "-c", MEASURE, *command]
    done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    output = done.stdout + done.stderr
    peak = None
    if measure_rss:
        output, _, tail = output.rpartition("PEAK_RSS_MIB=")
        peak = int(tail.strip())
    return Run(done.returncode, output, peak)


