"""Helpers shared by the command-line entry points: dates, the --pipeline option, run records."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
from collections.abc import Sequence

from etl_tasks import pipelines as registry
from etl_tasks.errors import ConfigError
from etl_tasks.ops.runs import RunRecord, append_record

logger = logging.getLogger(__name__)

# Exit codes of our own, below Luigi's [retcode] range (10..40).
EXIT_OK = 0
EXIT_USAGE = 2
EXIT_CONFIG = 3


def parse_date(text: str) -> dt.date:
    """A YYYY-MM-DD date, or an argparse error that says what was expected."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid date {text!r}: expected YYYY-MM-DD, e.g. 2025-04-10"
        ) from None


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


def end_of_run(record: RunRecord, code: int, status: str, tasks_run: Sequence[str]) -> RunRecord:
    """Close the run record and append it to the runs log (the caller prints it, in its own
    language, as its last line). A runs log that cannot be written is logged, never raised: it
    must not change the exit code of the run it describes."""
    record.finish(code, status, tasks_run)
    try:
        append_record(record)
    except OSError as error:
        logger.error("could not append the run record to the runs log: %s", error)
    return record


def config_error_exit(error: ConfigError) -> int:
    """Log a configuration error plainly (no traceback) and return its exit code."""
    logger.error("configuration error: %s", error)
    return EXIT_CONFIG
