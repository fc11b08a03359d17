"""Helpers shared by the command-line entry points: dates, Luigi runs with exit codes, pipelines."""

from __future__ import annotations

import datetime as dt
import logging

import luigi
import luigi.retcodes
from luigi.configuration import get_config

from etl_tasks.errors import ConfigError
from etl_tasks.ops.lock import scope_luigi_process_lock
from etl_tasks.valid_dates import argparse_date

logger = logging.getLogger(__name__)

# Exit codes of our own, below Luigi's [retcode] range (10..40).
EXIT_OK = 0
EXIT_USAGE = 2
EXIT_CONFIG = 3


def parse_date(text: str) -> dt.date:
    """A YYYY-MM-DD date, or an argparse error that says what was expected."""
    return argparse_date(text)  # also refuses dates outside 2000-01-01 .. a year from today


def select_pipelines(names: list[str]) -> None:
    """Switch ``[pipelines]`` so RunAll and the report cover exactly ``names``."""
    config = get_config()
    for name in ("twitch", "btg"):
        config.set("pipelines", name, "true" if name in names else "false")


def run_luigi(task_args: list[str], workers: int = 1, scheduler_url: str | None = None) -> int:
    """Run Luigi as its own command line would and return the ``[retcode]`` exit code.

    ``run_with_retcodes`` computes the code from the execution summary (failed → 30, scheduling
    error → 35, ...) and raises SystemExit; we catch it so the caller can still write the report."""
    # Our entry points configured logging (console + dated file); Luigi adding its own console
    # handler on top would print every line twice.
    get_config().set("core", "no_configure_logging", "true")
    scope_luigi_process_lock()  # [paths] output_dir may have changed since import
    argv = [*task_args, "--workers", str(workers)]
    argv += ["--scheduler-url", scheduler_url] if scheduler_url else ["--local-scheduler"]
    logger.info("running: luigi --module etl_tasks %s", " ".join(argv))
    try:
        luigi.retcodes.run_with_retcodes(argv)
    except SystemExit as stop:
        return int(stop.code or 0)
    except ValueError as error:  # Luigi's own settings ([core], [worker], [retcode]) are bad
        raise ConfigError(f"luigi.cfg: {' '.join(str(error).split())}") from None
    return 0


def config_error_exit(error: ConfigError) -> int:
    """Log a configuration error plainly (no traceback) and return its exit code."""
    logger.error("configuration error: %s", error)
    return EXIT_CONFIG
