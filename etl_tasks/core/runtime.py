"""What every module needs about the run it is part of, without importing Luigi or Arrow.

:func:`utc_now`, :func:`output_root` (``[paths] output_dir``) and the run id's environment key;
:mod:`etl_tasks.core.stage` re-exports them for the task side.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from etl_tasks import luigi_cfg

# Set by the run driver for the processes of one run; a failure record names the attempt.
RUN_ID_ENV = "ETL_RUN_ID"


def utc_now() -> dt.datetime:
    """Aware UTC now, second precision is not enough for durations so keep microseconds."""
    return dt.datetime.now(dt.timezone.utc)


def output_root() -> Path:
    """``[paths] output_dir`` from luigi.cfg (read here so ``core`` needs no project module)."""
    return Path(luigi_cfg.get("paths", "output_dir", "output") or "output")


def logs_root() -> Path:
    """``[paths] logs_dir`` from luigi.cfg: the directory of the daily log files."""
    return Path(luigi_cfg.get("paths", "logs_dir", "logs") or "logs")
