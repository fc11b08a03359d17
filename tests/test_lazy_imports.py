"""What a command imports before it needs Luigi, and the one luigi.cfg reader it uses until then.

Each check runs in a fresh interpreter (``sys.modules`` of this test process already holds Luigi):
the package and the entry points import no Luigi, Arrow, numpy or pandas at import time; the task
classes are still there on first access, and eagerly under plain Luigi; ``etl_tasks.luigi_cfg``
reads the same values as Luigi's own parser from the same files (packaged defaults lowest,
``./luigi.cfg`` over them, ``LUIGI_CONFIG_PATH`` last, ``%()s`` and ``${ENV}`` interpolation).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("luigi", "pyarrow", "numpy", "pandas")
ENTRY_POINTS = (
    "etl_tasks.cli.run",
    "etl_tasks.cli.validate",
    "etl_tasks.cli.backfill",
    "etl_tasks.cli.invalidate",
    "etl_tasks.__main__",
)


def python(code: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> str:
    """Run ``code`` in a fresh interpreter; its stdout (it must exit 0)."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.parametrize("module", ENTRY_POINTS)
def test_an_entry_point_imports_no_heavy_library_before_it_parses(module: str) -> None:
    found = python(
        f"import sys, {module}\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    assert found.strip() == ""


def test_the_task_classes_load_on_first_access_and_eagerly_under_luigi() -> None:
    lazy = python(
        "import sys, etl_tasks\n"
        "before = 'luigi' in sys.modules\n"
        "run_all = etl_tasks.RunAll\n"
        "print(before, run_all.__name__, 'TwitchLoadStreams' in etl_tasks.__all__)"
    )
    assert lazy.split() == ["False", "RunAll", "True"]
    eager = python(
        "import luigi, etl_tasks\n"
        "print('RunAll' in vars(etl_tasks), 'BtgLoadFundos' in vars(etl_tasks))"
    )
    assert eager.split() == ["True", "True"]


def test_the_light_reader_reads_what_luigi_reads(tmp_path: Path) -> None:
    (tmp_path / "luigi.cfg").write_text(
        "[core]\nlog_level = WARNING\n[paths]\nbase = /data\noutput_dir = %(base)s/out\n"
        "[retcode]\ntask_failed = 31\n",
    )
    extra = tmp_path / "extra.cfg"
    extra.write_text("[paths]\nlogs_dir = ${NOOP_TEST_LOGS}/logs\n[retcode]\nnot_run = 26\n")
    env = {"LUIGI_CONFIG_PATH": str(extra), "NOOP_TEST_LOGS": "/var/x"}
    keys = [
        ("core", "log_level"),
        ("paths", "output_dir"),
        ("paths", "logs_dir"),
        ("retcode", "task_failed"),
        ("retcode", "not_run"),
        ("retcode", "missing_data"),
        ("worker", "check_complete_on_run"),
        ("paths", "absent"),
    ]
    light = python(
        "import json, sys\nfrom etl_tasks import luigi_cfg\n"
        f"values = [luigi_cfg.get(s, k) for s, k in {keys!r}]\n"
        "assert 'luigi' not in sys.modules\n"
        "print(json.dumps(values))",
        cwd=tmp_path,
        env=env,
    )
    luigi = python(
        "import json\nfrom etl_tasks.config import install_packaged_defaults\n"
        "from luigi.configuration import get_config\n"
        "install_packaged_defaults()\n"
        f"print(json.dumps([get_config().get(s, k, None) for s, k in {keys!r}]))",
        cwd=tmp_path,
        env=env,
    )
    assert json.loads(light) == json.loads(luigi)
    assert json.loads(light)[:6] == ["WARNING", "/data/out", "/var/x/logs", "31", "26", "20"]


def test_a_value_set_in_memory_is_not_the_files_configuration(tmp_path: Path) -> None:
    out = python(
        "from etl_tasks import luigi_cfg\n"
        "first = luigi_cfg.memory_matches_files()\n"
        "from luigi.configuration import get_config\n"
        "from etl_tasks.config import install_packaged_defaults\n"
        "install_packaged_defaults()\n"
        "get_config().set('core', 'lock_pid_dir', '/tmp/x')\n"  # our own per-process value
        "loaded = luigi_cfg.memory_matches_files()\n"
        "get_config().set('twitch', 'top_broadcasters', '5')\n"
        "print(first, loaded, luigi_cfg.memory_matches_files())",
        cwd=tmp_path,
    )
    assert out.split() == ["True", "True", "False"]
