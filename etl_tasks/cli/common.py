"""Helpers shared by the command-line entry points: dates, the --pipeline option, run records."""

from __future__ import annotations

import argparse
import datetime as dt
import logging

from etl_tasks import pipelines as registry
from etl_tasks.errors import ConfigError
from etl_tasks.ops.runs import end_of_run  # noqa: F401  (the commands import it from here)
from etl_tasks.valid_dates import argparse_date

logger = logging.getLogger(__name__)

# Exit codes of our own, below Luigi's [retcode] range (10..40).
EXIT_OK = 0
EXIT_USAGE = 2
EXIT_CONFIG = 3


def parse_date(text: str) -> dt.date:
    """A YYYY-MM-DD date, or an argparse error that says what was expected."""
    return argparse_date(text)  # also refuses dates outside 2000-01-01 .. a year from today


def parse_pipelines(text: str) -> list[str]:
    """A ``--pipeline`` value: a registered name, a comma-separated list, or ``all``."""
    try:
        return registry.parse_selection(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_pipeline_option(parser: argparse.ArgumentParser, what: str = "run") -> None:
    """``--pipeline NAME[,NAME…]|all``; the default is the registry's default pipelines."""
    default = registry.selection_text(registry.defaults())
    parser.add_argument(
        "--pipeline",
        type=parse_pipelines,
        default=registry.defaults(),
        metavar="|".join([*registry.names(), "all"]),
        help=f"pipelines to {what}: a name, a comma-separated list, or all (default: {default})",
    )


def validated(pipelines: list[str]) -> bool:
    """The set-up checks of a run (:func:`etl_tasks.validate.validated`), imported when a command
    validates: they need Luigi and the API clients, a ``--no-validate`` rerun needs neither."""
    from etl_tasks.validate import validated as run_validation

    return run_validation(pipelines)


def config_error_exit(error: ConfigError) -> int:
    """Log a configuration error plainly (no traceback) and return its exit code."""
    logger.error("configuration error: %s", error)
    return EXIT_CONFIG
