"""The shared ``luigi.cfg`` sections as Luigi config classes: ``[paths]`` and ``[http]``.

Apart from :mod:`etl_tasks.config` because these need Luigi and reading the environment and the
paths does not (the no-op rerun imports no Luigi).
"""

from __future__ import annotations

import luigi

from etl_tasks.config_section import Section


class paths(Section):
    """[paths]: where runtime data lives (relative paths are taken from the current directory)."""

    output_dir = luigi.Parameter(
        default="output", description="root of Parquet targets and reports"
    )
    logs_dir = luigi.Parameter(default="logs", description="directory of the daily log files")


class http(Section):
    """[http]: timeouts and retry policy shared by the API clients."""

    bounds = {"timeout_s": (0.001, None), "deadline_s": (0.001, None)}

    timeout_s = luigi.FloatParameter(default=30.0, description="connect+read timeout per request")
    max_retries = luigi.IntParameter(default=5, description="retries of 5xx/429/connection errors")
    backoff_base_s = luigi.FloatParameter(default=1.0, description="first backoff delay")
    backoff_max_s = luigi.FloatParameter(default=60.0, description="longest backoff delay")
    deadline_s = luigi.FloatParameter(
        default=120.0, description="longest time for a whole answer, body included (slow trickle)"
    )
