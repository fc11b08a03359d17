"""A network partition during a whole ``etl-run``'s PostgreSQL load (issue 12 item 2, end to end).

The Twitch warehouse is reached through the freezing proxy; the first ``COPY`` freezes. The run
must end (not hang with its run lock held) with a failure that names the warehouse and the limit
that fired, and after the partition heals a plain rerun of the same date must exit 0 with every
load done.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from etl_sandbox.tcp_freeze import FreezeProxy
from tests.cli_helpers import project_env, run_command
from tests.warehouse.test_partition import through

DATE = "2025-04-10"
LIMITS = """
[warehouse]
statement_timeout_s = 3
stall_timeout_s = 2
"""

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_a_partition_mid_copy_fails_the_run_and_the_rerun_finishes(
    sandbox, pg_url: str, tmp_path: Path
) -> None:
    parts = urlsplit(pg_url)
    with FreezeProxy(parts.hostname or "127.0.0.1", parts.port or 5432) as proxy:
        env = project_env(
            tmp_path, {"TWITCH_WAREHOUSE_URL": through(pg_url, proxy)}, config_text=LIMITS
        )
        proxy.freeze_on(b"COPY")
        failed = run_command(["etl-run", "--date", DATE, "--no-validate"], tmp_path, env)
        assert proxy.frozen.is_set()
        assert failed.code != 0, failed.output[-3000:]
        report = json.loads((tmp_path / f"output/reports/date={DATE}/report.json").read_text())
        assert report["status"] == "FAILED"
        named = [e for e in report["errors"] if f"127.0.0.1:{proxy.port}" in e]
        assert named, report["errors"]
        assert any("timeout_s" in error for error in named), named  # which limit fired
        proxy.heal()
        rerun = run_command(["etl-run", "--date", DATE, "--no-validate"], tmp_path, env)
        assert rerun.code == 0, rerun.output[-3000:]
    report = json.loads((tmp_path / f"output/reports/date={DATE}/report.json").read_text())
    assert report["status"] == "SUCCESS"
